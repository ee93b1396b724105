#!/bin/bash
# 96-frame 720p (docs/speed.md, "Session 32": bikes' first 64 frames at 320x240, forwards then 63..32 backwards, tiled 4x3), encode + decode
# through the CLI: this tree (/work/main) and an older commit's `git archive` ($OLD), in the order $ORDER; files in $OUT named
# $PREFIX_new / $PREFIX_old. Defaults: session 34's run; session 35 (experiments/channels_last) ran
# OLD=/tmp/vqv-head OUT=/work/s35, then again with PREFIX=hd2.
OLD=${OLD:-/tmp/vqv-old} OUT=${OUT:-/work/s34} PREFIX=${PREFIX:-hd} ORDER=${ORDER:-"new old"}
for v in $ORDER; do
  d=/work/main; [ $v = old ] && d=$OLD
  f=$OUT/${PREFIX}_$v
  s=$(date +%s.%N)
  (cd $d && PYTHONPATH=$d /work/venv/bin/python -P -m vqcodec.cli.main encode -f --size native /work/s32/hd/hd96.npy $f.vqv > $f.enc.log 2>&1)
  m=$(date +%s.%N)
  (cd $d && PYTHONPATH=$d /work/venv/bin/python -P -m vqcodec.cli.main decode -f $f.vqv $f.npy > $f.dec.log 2>&1)
  e=$(date +%s.%N)
  echo "$v encode $(echo "$m - $s" | bc) s decode $(echo "$e - $m" | bc) s $(stat -c %s $f.vqv) B $(sha256sum $f.npy | cut -c1-12)"
done
cmp -s $OUT/${PREFIX}_new.vqv $OUT/${PREFIX}_old.vqv && echo "same bytes" || echo "BYTES DIFFER"
