#!/bin/bash
# Alternating in-process encodes of one clip (.npy, $1): OLD (a checkout of the commit before) then NEW (default:
# this tree), twice, each through phases.py (total wall and sha, and the motion phases). Run from the repository root.
set -eu
SCRIPT=$(realpath experiments/decision_threads/phases.py)
CLIP=$(realpath "$1")
NEW=$(realpath "${NEW:-.}")
for r in 1 2; do
  for tree in "${OLD:?OLD=a checkout of the commit before}" "$NEW"; do
    (cd "$tree" && PYTHONPATH="$tree" "${PY:-python}" "$SCRIPT" "$CLIP" 2>&1 \
      | sed "s#^#$(basename "$tree") r$r #" | grep -E "wall|block_lambdas|decide_gop|_decide_motion")
  done
done
