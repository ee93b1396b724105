"""Decode frames/s of the benchmark's three clips at Q3/6/9/12 with whichever vqcodec is importable (python -P).
Encodes each clip once (prior auto, 2 threads), then best-of-N decodes; prints one JSON line per file."""
import json, sys, time
import numpy as np, torch
import vqcodec
from vqcodec import load_model, encode_frames, decode_bytes
torch.set_num_threads(2)
clips = np.load(sys.argv[2] if len(sys.argv) > 2 else "clips3.npz")   # dump_clips.py
m = load_model()
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
for name in clips.files:
    fr = clips[name]
    for q in (3, 6, 9, 12):
        data = encode_frames(fr, 16, model=m, quality=q)
        ts = []
        for _ in range(rounds):
            t0 = time.perf_counter(); out = decode_bytes(data, model=m); ts.append(time.perf_counter() - t0)
        print(json.dumps({"code": vqcodec.__file__, "clip": name, "q": q, "bytes": len(data),
                          "ms": round(min(ts) * 1000, 1), "fps": round(len(fr) / min(ts), 1)}), flush=True)
