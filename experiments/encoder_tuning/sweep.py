"""Encoder constants swept through the real codec (session 28). Command line: ``VARIANT QS CLIPS...``, where
VARIANT is ``label:module.NAME=value;...`` (modules under ``vqcodec.coding``; ``kw.NAME=value`` passes an
``encode_frames`` keyword; ``label:`` alone = the code as it stands; the environment's INTRA_SCALE, where set,
scales the first slice's coders' lambda). Each clip's first 32 frames at each
quality, default options (bfloat16 networks on this CPU), encoded and decoded in-process on 2 threads: one
JSON row per (clip, quality) with the bytes, the PSNR of the real decode and the encode seconds."""
import importlib
import json
import os
import sys
import time

import numpy as np
import torch

from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.metrics import psnr
from vqcodec.weights import load_model

torch.set_num_threads(2)
label, _, spec = sys.argv[1].partition(":")
kw = {}
for item in filter(None, spec.split(";")):
    name, val = item.split("=")
    if name.startswith("kw."):
        kw[name[3:]] = eval(val)
        continue
    mod, attr = name.rsplit(".", 1)
    setattr(importlib.import_module("vqcodec.coding." + mod), attr, eval(val))
if os.environ.get("INTRA_SCALE"):
    import vqcodec.coding.motion_search as ms
    _choose, _scale = ms.choose_intra, float(os.environ["INTRA_SCALE"])
    ms.choose_intra = lambda coder, source, recon, first, lam, *a, **k: _choose(coder, source, recon, first, lam * _scale,
                                                                                *a, **k)
m = load_model()
for path in sys.argv[3:]:
    x = np.load(path)[:32]
    for q in [int(v) for v in sys.argv[2].split(",")]:
        t = time.perf_counter()
        d = encode_frames(x, 16, model=m, quality=q, **kw)
        te = time.perf_counter() - t
        y = decode_bytes(d, model=m)
        print(json.dumps({"label": label, "clip": path.split('/')[-1][:30], "q": q, "bytes": len(d), "psnr": psnr(y, x),
                          "encode_s": round(te, 3)}), flush=True)
