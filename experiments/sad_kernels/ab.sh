#!/bin/bash
# A/B of the encoder through the CLI: an older commit (OLD, a `git archive` of it) against this tree (NEW), the
# same clips, alternately; prints seconds and bytes and whether the files are identical.
#   OLD=/tmp/vqv-old NEW=$PWD CLIPS="a.npy b.npy" ARGS="--size native" ROUNDS=1 experiments/sad_kernels/ab.sh
set -u
OUT=${OUT:-/tmp/sad_ab}; mkdir -p "$OUT"
PY=${PY:-python}
for clip in $CLIPS; do
  n=$(basename "$clip" .npy)
  for r in $(seq "${ROUNDS:-1}"); do
    for v in old new; do
      d=$NEW; [ $v = old ] && d=$OLD
      s=$(date +%s.%N)
      (cd "$d" && PYTHONPATH="$d" $PY -P -m vqcodec.cli.main encode -f ${ARGS:-} "$clip" "$OUT/${n}_$v.vqv" > "$OUT/${n}_$v.log" 2>&1)
      e=$(date +%s.%N)
      echo "$n $v $(echo "$e - $s" | bc) s $(stat -c %s "$OUT/${n}_$v.vqv") B"
    done
  done
  cmp -s "$OUT/${n}_old.vqv" "$OUT/${n}_new.vqv" && echo "$n same bytes" || echo "$n BYTES DIFFER"
done
