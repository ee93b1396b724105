#!/bin/sh
# The CLI as a user runs it: a 320x240 64-frame clip encoded once per network float, then decoded to .npy
# (wall time with start-up), ROUNDS alternating rounds. Usage: cli_decode.sh CLIP.npy OUTDIR ROUNDS
set -e
clip=$1; out=$2; rounds=${3:-3}
mkdir -p "$out"
for f in float32 bfloat16; do
  vqv encode "$clip" "$out/$f.vqv" --size native --network-float $f -y -q
done
for r in $(seq "$rounds"); do
  for f in float32 bfloat16; do
    s=$(date +%s.%N); vqv decode "$out/$f.vqv" "$out/$f.npy" -y -q; e=$(date +%s.%N)
    echo "round $r $f decode $(echo "$e - $s" | bc) s"
  done
done
