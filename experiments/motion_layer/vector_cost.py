"""The motion search's vector-cost weight, swept: the search prices a candidate at SAD + F x sqrt(lambda)
x its estimated bits (VECTOR_COST_SCALE; x264's is 1); real files with every other choice as shipped,
validation clips. BD-rate against the first run (FS's first F, searched once).

    FS=0.5,1,2,4 QS=2,3,4,5,6,7,8,9 PYTHONPATH=. python experiments/motion_layer/vector_cost.py
"""
import io
import os
import sys
from pathlib import Path

import bjontegaard as bd
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "temporal_prior"))
from common import CLIPS, MODEL, qualities  # noqa: E402

from formats.container import VqvReader  # noqa: E402
from vqcodec.coding import motion_search  # noqa: E402
from vqcodec.coding.decoder import decode_bytes, read_gop_codes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.coding.motion import VECTOR_LABEL  # noqa: E402
from vqcodec.metrics import psnr  # noqa: E402

PREDICTIONS = motion_search.coder_predictions
LAMBDA_SCALE = __import__("vqcodec.coding.encoder", fromlist=["x"]).MOTION_LAMBDA_SCALE_RESIDUAL
if os.environ.get("MOVING", "0") == "1":      # the moving training clips, 64 frames, instead
    from types import SimpleNamespace
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from vector_contexts import long_clips
    CLIPS = [SimpleNamespace(name=n, frames=f[:64]) for n, f in long_clips()]


def curve(factor: float, twice: bool, qs: list[int], lam_scale: float | None = None):
    """The encoder with VECTOR_COST_SCALE = factor, searching each slice against the coder's own
    predictions (twice, as shipped) or only against the slice before's vectors (once); ``lam_scale``:
    MOTION_LAMBDA_SCALE_RESIDUAL instead of the shipped one."""
    from vqcodec.coding import encoder
    encoder.MOTION_LAMBDA_SCALE_RESIDUAL = LAMBDA_SCALE if lam_scale is None else lam_scale
    motion_search.VECTOR_COST_SCALE = factor
    motion_search.coder_predictions = PREDICTIONS if twice else (lambda flags, vectors, pred: pred)
    rows = []
    for q in qs:
        bits = vbits = 0.0
        mse = []
        for c in CLIPS:
            data = encode_frames(c.frames, 16, model=MODEL, quality=q)
            bits += 8 * len(data)
            vbits += sum(g.bits.get(VECTOR_LABEL, 0.0) for g in read_gop_codes(VqvReader(io.BytesIO(data)), MODEL))
            mse.append(10 ** (-psnr(decode_bytes(data, model=MODEL), c.frames) / 10))
        px = sum(c.frames[..., 0].size for c in CLIPS)
        rows.append((q, bits / px, -10 * np.log10(np.mean(mse)), vbits / bits))
    return rows


def front(rows):
    """The curve's RD front: by rate, each point better than every cheaper one (pchip needs it monotone)."""
    out = []
    for q, b, p, v in sorted(rows, key=lambda r: r[1]):
        if not out or p > out[-1][2]:
            out.append((q, b, p, v))
    return out


def main():
    qs = qualities("2,3,4,5,6,7,8,9")
    fs = [float(f) for f in os.environ.get("FS", "0.5,1,2,4").split(",")]
    runs = [(f, False) for f in fs] + ([(f, True) for f in fs] if os.environ.get("TWO_PHASE", "0") == "1" else [])
    runs = [(f, twice, None) for f, twice in runs]
    if os.environ.get("RUNS"):          # e.g. RUNS=1:once,2:twice,2:twice:0.5 (F, search, motion lambda scale)
        runs = [(float(r[0]), r[1] == "twice", float(r[2]) if len(r) > 2 else None)
                for r in (x.split(":") for x in os.environ["RUNS"].split(","))]
    base = None
    for f, twice, lam_scale in runs:
        rows = curve(f, twice, qs, lam_scale)
        base = base or front(rows)
        r = bd.bd_rate([b for _, b, _, _ in base], [p for _, _, p, _ in base], [b for _, b, _, _ in front(rows)],
                       [p for _, _, p, _ in front(rows)], method="pchip", require_matching_points=False)
        print(f"F={f}{' two-phase' if twice else ''}{'' if lam_scale is None else f' lambda x{lam_scale}'}: BD-rate {r:+.2f}% against the first  "
              + "  ".join(f"Q{q} {b:.4f}/{p:.2f} v{100 * v:.0f}%" for q, b, p, v in rows), flush=True)


if __name__ == "__main__":
    main()
