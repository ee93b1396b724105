"""Decode frames/s at 320x240 (bikes' first 64 frames, area-resized), default quality, with whichever vqcodec is importable."""
import json, sys, time
import numpy as np, torch
import vqcodec
from vqcodec import load_model, encode_frames, decode_bytes
torch.set_num_threads(2)
fr = np.load(sys.argv[2], mmap_mode="r")[:32].copy() if len(sys.argv) > 2 else np.load("bikes320.npy")   # bikes' first 64 frames, area-resized to 320x240
m = load_model()
t0 = time.perf_counter(); data = encode_frames(fr, 16, model=m); te = time.perf_counter() - t0
ts = []
for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 2):
    t0 = time.perf_counter(); out = decode_bytes(data, model=m); ts.append(time.perf_counter() - t0)
print(json.dumps({"code": vqcodec.__file__, "bytes": len(data), "enc_s": round(te, 1), "dec_s": [round(t, 2) for t in ts],
                  "dec_fps": round(len(fr) / min(ts), 2)}), flush=True)
