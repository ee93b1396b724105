"""RD with and without the motion layer on the benchmark's validation clips (protocol cut)."""
import sys, time, json
from pathlib import Path
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from motion_eval import psnr
from benchmarks.clips import load_clips
from vqcodec.weights import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
import bjontegaard as bd
m = load_model()
frames = int(sys.argv[1]); qs = [int(q) for q in sys.argv[2].split(",")]
clips = load_clips(f"corpus:{sys.argv[4] if len(sys.argv) > 4 else 'data/corpus'}", None, Path("data/cache"), print, frames=frames)
out = {}
for c in clips:
    x = c.frames
    res = {"off": [], "on": []}
    for q in qs:
        for key, mo in (("off", False), ("on", True)):
            t = time.time(); d = encode_frames(x, 16, model=m, quality=q, motion=mo); te = time.time() - t
            t = time.time(); y = decode_bytes(d, model=m); td = time.time() - t
            res[key].append([q, len(d) * 8 / x[..., 0].size, psnr(y, x), te, td])
    out[c.name] = res
    print(c.name, x.shape, " ".join(f"Q{a[0]}:{a[1]:.3f}/{a[2]:.2f}->{b[1]:.3f}/{b[2]:.2f}" for a, b in zip(res["off"], res["on"])), flush=True)
json.dump(out, open(sys.argv[3], "w"), indent=1)
