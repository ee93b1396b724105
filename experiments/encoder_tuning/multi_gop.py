"""The whole of session 28 on a multi-GOP clip: bikes 64x64, 96 frames (3 GOPs, a refresh every 2), Q3/4/6/9/12, run
once with session 27's code on PYTHONPATH (a worktree of 1f45664) and once with this; LABEL CLIPS... (.npy)."""
import sys, json, numpy as np, torch
torch.set_num_threads(2)
from vqcodec.weights import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.metrics import psnr
m = load_model()
for path in sys.argv[2:]:
    x = np.load(path)
    for q in (3, 4, 6, 9, 12):
        d = encode_frames(x, 16, model=m, quality=q, refresh=2)
        print(json.dumps({"label": sys.argv[1], "clip": path.split("/")[-1][:30], "q": q, "bytes": len(d), "psnr": psnr(decode_bytes(d, model=m), x), "frames": len(x)}), flush=True)
