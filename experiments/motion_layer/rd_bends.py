"""RD of bent paths on and off (format 7.0 against --no-motion-bends; real files, decoded, Q2-Q12): the
benchmark's 3 validation clips (32 frames) and the moving training clips (session 14's ``npy:`` clips:
MOVING=DIR of bikes.npy, bbb.npy, balle.npy, motionmov.npy, (64, 64, 64, 3) centre crops at 16 fps of
bikes 0-63, bigbuckbunny 32-84, balle-jbart 0-63, motion.mov 0-63). BS / BFB override the bend search's
reach and the bent flag's estimated bits. Writes OUT.json; bd_bends.py OUT.json gives the BD-rates.

    CORPUS=data/corpus CACHE=data/cache MOVING=moving_npy PYTHONPATH=. python experiments/motion_layer/rd_bends.py OUT.json
"""
import json, os, sys, time
from pathlib import Path
import numpy as np
from benchmarks.clips import load_clips
from vqcodec.weights import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.metrics import psnr
m = load_model()
import vqcodec.coding.motion_search as _ms
_ms.BEND_SEARCH = int(os.environ.get("BS", _ms.BEND_SEARCH)); _ms.BEND_FLAG_BITS = float(os.environ.get("BFB", _ms.BEND_FLAG_BITS))
QS = [int(q) for q in os.environ.get("QS", "2,3,4,5,6,7,8,9,10,11,12").split(",")]
val = load_clips("corpus:" + os.environ.get("CORPUS", "data/corpus"), None, Path(os.environ.get("CACHE", "data/cache")), lambda *a: None, frames=32)
clips = [("val:" + c.name.split("/")[-1], c.frames) for c in val]
clips += [("mov:" + n, np.load(Path(os.environ.get("MOVING", "moving_npy")) / f"{n}.npy")) for n in ("bikes", "bbb", "balle", "motionmov")]
out = {}
kw = json.loads(os.environ.get("KW", "{}"))
for name, fr in clips:
    for on in (False, True):
        pts = []
        for q in QS:
            t = time.perf_counter()
            d = encode_frames(fr, 16, model=m, quality=q, motion_bends=on, **kw)
            dt = time.perf_counter() - t
            y = decode_bytes(d, model=m)
            pts.append((len(d) * 8 / fr[..., 0].size, psnr(y, fr), dt))
        out[f"{name}|{int(on)}"] = pts
        print(name, on, " ".join(f"{b:.4f}/{p:.2f}" for b, p, _ in pts), f"enc {sum(p[2] for p in pts):.1f}s", flush=True)
json.dump(out, open(sys.argv[1], "w"))
