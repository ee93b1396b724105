"""At the scalar points (Q7-Q9), the motion decisions' lambda x f and the scalar layer's copy decisions'
lambda x g.
    PYTHONPATH=. python experiments/scalar_lambda/copy_sweep.py 7,8,9 0.5:1,0.5:0.5,0.5:2 CLIPS... > logs/copy_lambda.jsonl
(run against the encoder before MOTION_LAMBDA_SCALE_SCALAR existed: with it, f multiplies the shipped 0.5)"""
import sys, json
import numpy as np
import vqcodec.coding.encoder as E
import vqcodec.coding.rdo as R
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
from vqcodec.metrics import psnr
m = load_model()
S = {"f": 1.0, "g": 1.0, "in": False}
orig_ml, orig_ds, orig_sl = E.GopEncoder._motion_lambda, E.GopEncoder._decide_scalar, R.scalar_lambda
def ml(self, i):
    lam = orig_ml(self, i)
    return lam * S["f"] if (self.scalar is not None and self.enhancement is None) else lam
def ds(self, *a, **k):
    S["in"] = True
    try: return orig_ds(self, *a, **k)
    finally: S["in"] = False
def sl(step, strength):
    return orig_sl(step, strength) * (S["g"] if S["in"] else 1.0)
E.GopEncoder._motion_lambda, E.GopEncoder._decide_scalar, R.scalar_lambda = ml, ds, sl
vs = [tuple(float(v) for v in p.split(":")) for p in sys.argv[2].split(",")]
for path in sys.argv[3:]:
    x = np.load(path)[:32]
    for q in [int(v) for v in sys.argv[1].split(",")]:
        for k, (f, g) in enumerate(vs):
            S["f"], S["g"] = f, g
            d = encode_frames(x, 16, model=m, quality=q); y = decode_bytes(d, model=m)
            print(json.dumps({"clip": path.split('/')[-1][:30], "q": q, "k": k, "f": f, "g": g, "bytes": len(d), "psnr": psnr(y, x)}), flush=True)
