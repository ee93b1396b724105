"""The motion decisions' lambda at the scalar points (Q7-Q9) and enhanced points (Q10-Q12) times a factor
(the high-rate formula of rdo.scalar_lambda against the stage points' measured slopes: Q6 323, Q7 1479).
    PYTHONPATH=. python experiments/scalar_lambda/lam_sweep.py QS FACTORS CLIPS... > logs/X.jsonl   (k 0 = shipped; k i = FACTORS[i-1])"""
import sys, json
import numpy as np
import vqcodec.coding.encoder as E
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
from vqcodec.metrics import psnr
m = load_model()
orig = E.GopEncoder._motion_lambda
F = {"f": 1.0}
def patched(self, i):
    lam = orig(self, i)
    return lam * F["f"] if (self.scalar is not None or self.enhancement is not None) else lam
E.GopEncoder._motion_lambda = patched
facs = [1.0] + [float(v) for v in sys.argv[2].split(",")]
for path in sys.argv[3:]:
    x = np.load(path)[:32]
    for q in [int(v) for v in sys.argv[1].split(",")]:
        for k, f in enumerate(facs):
            F["f"] = f
            if k == 0 or q >= 7:
                d = encode_frames(x, 16, model=m, quality=q); y = decode_bytes(d, model=m)
            print(json.dumps({"clip": path.split('/')[-1][:30], "q": q, "k": k, "f": f, "bytes": len(d), "psnr": psnr(y, x)}), flush=True)
