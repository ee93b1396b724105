"""bikes 320x240 (32 frames, native size) at Q3-Q12 with the decoder (full_synthesis(): the release before's files) and
with the light synthesis; writes OUT.json. usage: rd_native.py OUT.json"""
import json, sys, numpy as np, torch
from fractions import Fraction
from vqcodec import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.metrics import psnr
torch.set_num_threads(2)
light = load_model(); full = light.full_synthesis()
x = np.load("/work/s32/bikes320.npy")[:32]
out = {}
for name, m in (("decoder", full), ("light", light)):
    rows = []
    for q in (3, 5, 7, 9, 11, 12):
        b = encode_frames(x, Fraction(16), model=m, quality=q, prior="empirical-static")
        rows.append([q, len(b) * 8 / x[..., 0].size, psnr(x, decode_bytes(b, model=m))])
        print(name, q, f"{rows[-1][1]:.4f} {rows[-1][2]:.3f}", flush=True)
    out[name] = rows
json.dump({"bikes320_32": out}, open(sys.argv[1], "w"))
