"""The motion lambda at the enhanced points (session 29): ``LABEL MOTION_FACTOR COPY_FACTOR QS CLIPS...``: the
encoder's motion lambda at Q10-Q12 (the enhancement step's, x MOTION_LAMBDA_SCALE_RESIDUAL) times MOTION_FACTOR,
and the enhancement layer's own copy decisions' lambda times COPY_FACTOR; rows as sweep.py's. (Run on the
encoder before the factors were built: they now multiply the built x2 / x0.5.)"""
import json
import sys
import time

import numpy as np
import torch

import vqcodec.coding.encoder as enc
from vqcodec.coding import rdo
from vqcodec.coding.decoder import decode_bytes
from vqcodec.metrics import psnr
from vqcodec.weights import load_model

torch.set_num_threads(2)
label, motion_factor, copy_factor = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
_motion = enc.GopEncoder._motion_lambda
enc.GopEncoder._motion_lambda = lambda self, i: _motion(self, i) * (motion_factor if self.enhancement is not None else 1)
_decide = enc.GopEncoder._decide_enhancement


def decide(self, *a, **k):
    strength = self.settings.rdo_strength
    scalar_lambda = rdo.scalar_lambda
    rdo.scalar_lambda = lambda step, s: scalar_lambda(step, s) * (copy_factor if s == strength else 1)
    try:
        return _decide(self, *a, **k)
    finally:
        rdo.scalar_lambda = scalar_lambda


enc.GopEncoder._decide_enhancement = decide
m = load_model()
for path in sys.argv[5:]:
    x = np.load(path)[:32]
    for q in [int(v) for v in sys.argv[4].split(",")]:
        t = time.perf_counter()
        d = enc.encode_frames(x, 16, model=m, quality=q)
        te = time.perf_counter() - t
        y = decode_bytes(d, model=m)
        print(json.dumps({"label": label, "clip": path.split('/')[-1][:30], "q": q, "bytes": len(d), "psnr": psnr(y, x),
                          "encode_s": round(te, 3)}), flush=True)
