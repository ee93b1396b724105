"""The encoder's rate-distortion strength and motion lambda, measured around the shipped settings on
real files: validation clips (32 frames) and the moving training clips (64 frames), Q2-Q12, BD-rate
against the shipped encoder in the same run (mean curve of each group, pchip over the RD front).

    CONFIGS="rdo=0.7;rdo=1.4;mls=0.25" PYTHONPATH=. python experiments/motion_layer/rdo_sweep.py
"""
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("CORPUS", "/work/data/corpus")
os.environ.setdefault("CACHE", "/work/data/cache")
import variants as V  # noqa: E402
from vector_contexts import long_clips  # noqa: E402

import vqcodec.coding.encoder as encmod  # noqa: E402
from vqcodec.coding.decoder import decode_bytes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402

GROUPS = {"validation": [(c.name, c.frames) for c in V.clips],
          "moving": [(n, f[:64]) for n, f in long_clips()]}
SHIPPED_MLS = encmod.MOTION_LAMBDA_SCALE_RESIDUAL


def curves(rdo: float, mls: float):
    encmod.MOTION_LAMBDA_SCALE_RESIDUAL = mls
    out = {}
    for g, clips in GROUPS.items():
        out[g] = []
        for _, frames in clips:
            pts = []
            for q in V.QS:
                d = encode_frames(frames, 16, model=V.m, quality=q, rdo_strength=rdo)
                pts.append((len(d) * 8 / frames[..., 0].size, V.psnr(decode_bytes(d, model=V.m), frames)))
            out[g].append(pts)
    encmod.MOTION_LAMBDA_SCALE_RESIDUAL = SHIPPED_MLS
    return out


base = curves(1.0, SHIPPED_MLS)
for cfg in os.environ.get("CONFIGS", "rdo=0.7;rdo=1.4;mls=0.25").split(";"):
    kv = dict(p.split("=") for p in cfg.split(","))
    got = curves(float(kv.get("rdo", 1.0)), float(kv.get("mls", SHIPPED_MLS)))
    parts = []
    for g in GROUPS:
        per = [V.bdr(o, n) for o, n in zip(base[g], got[g])]
        mean = V.bdr(np.mean(np.array(base[g]), 0), np.mean(np.array(got[g]), 0))
        parts.append(f"{g}: mean curve {mean:+.2f}% (per clip {' '.join(f'{r:+.1f}' for r in per)})")
    print(f"{cfg:12s} " + "; ".join(parts), flush=True)
