"""Experiment (session 24, not built): the motion decisions' lambda per slice, lam x (1 + S (t - C) / 4) (earlier slices, referenced
by more of the GOP, decided at a lower lambda: x264's mb-tree idea), S from argv; k = S in the output.
    PYTHONPATH=. python experiments/intra_slice/lambda_slope.py 3,4,5,6,7,8,9,10,12 0,0.3,0.6 4 CLIPS... > out.jsonl"""
import sys, json, numpy as np
import vqcodec.coding.motion_search as MS
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
from vqcodec.metrics import psnr
m = load_model()
orig = MS.decide_slice
S = {"s": 0.0, "c": 4.0}
def scaled(source, recon, before, rate, lam, *a, **kw):
    t = sys._getframe(1).f_locals.get("t", 4)
    return orig(source, recon, before, rate, lam * max(0.2, 1 + S["s"] * (t - S["c"]) / 4), *a, **kw)
MS.decide_slice = scaled
slopes = [float(v) for v in sys.argv[2].split(",")]
S["c"] = float(sys.argv[3])
for path in sys.argv[4:]:
    x = np.load(path)[:32]
    for q in [int(v) for v in sys.argv[1].split(",")]:
        for s in slopes:
            S["s"] = s
            d = encode_frames(x, 16, model=m, quality=q); y = decode_bytes(d, model=m)
            print(json.dumps({"clip": path.split('/')[-1][:30], "q": q, "k": s, "bytes": len(d), "psnr": psnr(y, x)}), flush=True)
