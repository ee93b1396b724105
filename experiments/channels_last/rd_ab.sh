#!/bin/bash
cd /work/s35
C="/work/s26/clips/*.npy"
PYTHONPATH=/tmp/vqv-head /work/venv/bin/python rd_ab.py head 3,4,5,6,7,8,9,10,11,12 $C
PYTHONPATH=/work/main /work/venv/bin/python rd_ab.py main 3,4,5,6,7,8,9,10,11,12 $C
