"""Encode every .npy clip of the given folders at the given qualities (prior empirical-static, one torch
thread), decode, and write [quality, bpp, PSNR, encode seconds] per clip to OUT.json. Imports rdoq.py first
(its environment switches; none set: the shipped encoder). ENC_KW (json): more encode_frames options,
e.g. '{"preset": "fast"}'.   usage: rd.py OUT.json Q,Q,... DIR [DIR ...]"""
import json, os, sys, time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rdoq  # noqa: F401,E402  (patches the encoder by its environment switches)
from vqcodec.coding.decoder import decode_bytes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.metrics import psnr  # noqa: E402
from vqcodec.weights import load_model  # noqa: E402

torch.set_num_threads(1)
m = load_model(os.environ.get("MODEL") or None)     # MODEL: a weights file (default: the shipped model)
qs = [int(q) for q in sys.argv[2].split(",")]
kw = {"prior": "empirical-static", **json.loads(os.environ.get("ENC_KW", "{}"))}
out = {}
for d in sys.argv[3:]:
    for p in sorted(Path(d).glob("*.npy")):
        x = np.load(p)
        res = []
        for q in qs:
            t = time.time(); b = encode_frames(x, 16, model=m, quality=q, **kw); te = time.time() - t
            res.append([q, len(b) * 8 / x[..., 0].size, psnr(x, decode_bytes(b, model=m)), te])
        out[p.stem] = res
        print(p.stem, " ".join(f"Q{a[0]}:{a[1]:.4f}/{a[2]:.2f}" for a in res), flush=True)
json.dump(out, open(sys.argv[1], "w"), indent=1)
