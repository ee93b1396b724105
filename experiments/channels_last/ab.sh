#!/bin/bash
# alternating: head (before) and main (after)
cd /work/s35
for r in 1 2; do
  for t in head main; do
    tree=/tmp/vqv-head; [ $t = main ] && tree=/work/main
    PYTHONPATH=$tree /work/venv/bin/python ab.py $t /work/s34/bikes64_128.npy /work/s32/bikes320.npy
  done
done
for t in head main; do
  tree=/tmp/vqv-head; [ $t = main ] && tree=/work/main
  PYTHONPATH=$tree /work/venv/bin/python ab.py $t hd32.npy
done
