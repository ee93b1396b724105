#!/bin/bash
# 96-frame 720p: encode + decode through the CLI, this tree then the one before (session 34's end)
for v in new old; do
  d=/work/main; [ $v = old ] && d=/tmp/vqv-head
  s=$(date +%s.%N)
  (cd $d && PYTHONPATH=$d /work/venv/bin/python -P -m vqcodec.cli.main encode -f --size native /work/s32/hd/hd96.npy /work/s35/hd2_$v.vqv > /work/s35/hd2_$v.enc.log 2>&1)
  m=$(date +%s.%N)
  (cd $d && PYTHONPATH=$d /work/venv/bin/python -P -m vqcodec.cli.main decode -f /work/s35/hd2_$v.vqv /work/s35/hd2_$v.npy > /work/s35/hd2_$v.dec.log 2>&1)
  e=$(date +%s.%N)
  echo "$v encode $(echo "$m - $s" | bc) s decode $(echo "$e - $m" | bc) s $(stat -c %s /work/s35/hd2_$v.vqv) B $(sha256sum /work/s35/hd2_$v.npy | cut -c1-12)"
done
