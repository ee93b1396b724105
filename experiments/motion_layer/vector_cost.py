"""The motion search's vector-cost weight, swept: the search prices a candidate at SAD + F x sqrt(lambda)
x its estimated bits (F = 1 shipped); real files with every other choice as shipped, validation clips.

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

ORIGINAL = motion_search.search_vectors


def curve(factor: float, qs: list[int]):
    motion_search.search_vectors = lambda t, r, b, s, pred=None, mu=0.0: ORIGINAL(t, r, b, s, pred, mu * factor)
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
    motion_search.search_vectors = ORIGINAL
    return rows


def main():
    qs = qualities("2,3,4,5,6,7,8,9")
    fs = [float(f) for f in os.environ.get("FS", "0.5,1,2,4").split(",")]
    res = {f: curve(f, qs) for f in fs}
    base = res[1.0] if 1.0 in res else res[fs[0]]
    for f, rows in res.items():
        r = bd.bd_rate([b for _, b, _, _ in base], [p for _, _, p, _ in base], [b for _, b, _, _ in rows],
                       [p for _, _, p, _ in rows], method="pchip", require_matching_points=False)
        print(f"F={f}: BD-rate {r:+.2f}%  " + "  ".join(f"Q{q} {b:.4f}/{p:.2f} v{100 * v:.0f}%" for q, b, p, v in rows),
              flush=True)


if __name__ == "__main__":
    main()
