#!/bin/bash
# 96-frame 720p (docs/speed.md, "Session 32": bikes' first 64 frames at 320x240, forwards then 63..32 backwards, tiled 4x3), encode + decode
# through the CLI, this tree (/work/main) then an older commit's `git archive` (/tmp/vqv-old); paths as this session had them
for v in new old; do
  d=/work/main; [ $v = old ] && d=/tmp/vqv-old
  s=$(date +%s.%N)
  (cd $d && PYTHONPATH=$d /work/venv/bin/python -P -m vqcodec.cli.main encode -f --size native /work/s32/hd/hd96.npy /work/s34/hd_$v.vqv > /work/s34/hd_$v.enc.log 2>&1)
  m=$(date +%s.%N)
  (cd $d && PYTHONPATH=$d /work/venv/bin/python -P -m vqcodec.cli.main decode -f /work/s34/hd_$v.vqv /work/s34/hd_$v.npy > /work/s34/hd_$v.dec.log 2>&1)
  e=$(date +%s.%N)
  echo "$v encode $(echo "$m - $s" | bc) s decode $(echo "$e - $m" | bc) s $(stat -c %s /work/s34/hd_$v.vqv) B $(sha256sum /work/s34/hd_$v.npy | cut -c1-12)"
done
cmp -s /work/s34/hd_new.vqv /work/s34/hd_old.vqv && echo "same bytes" || echo "BYTES DIFFER"
