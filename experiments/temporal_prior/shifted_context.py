"""How much a *shifted* temporal context would save the scalar layer: each slice's symbols are coded
under the table their channel and the symbol of the slice before *at the same position* select; on
a pan, the slice before's symbol at the position the content came from predicts better. Here each
slice may shift its context by a whole number of latent cells (dy, dx) in -R..R (edge cells repeat),
the best shift per slice (an oracle an encoder can compute exactly: it has the symbols) + its side
information; bits under the shipped tables of the coded (not copied) positions, against the shipped
context. Files of today's default encoder (motion on), Q7-Q12.

    PYTHONPATH=. python experiments/temporal_prior/shifted_context.py
"""
import io
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "motion_layer"))
from benchmarks.clips import load_clips  # noqa: E402
from vqcodec.coding.decoder import read_gop_codes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.formats.container import VqvReader  # noqa: E402
from vqcodec.weights import load_model  # noqa: E402

R = int(os.environ.get("R", "2"))
m = load_model()
val = load_clips("corpus:" + os.environ.get("CORPUS", "/work/data/corpus"), None,
                 Path(os.environ.get("CACHE", "/work/data/cache")), lambda *a: None, frames=32)
clips = [(c.name.split("/")[-1], c.frames) for c in val]
if os.environ.get("MOVING", "1") == "1":
    from vector_contexts import long_clips
    clips += [(n, f[:64]) for n, f in long_clips()]
SIDE = np.log2((2 * R + 1) ** 2)


def shifted(prev, dy, dx):
    c, h, w = prev.shape
    p = np.pad(prev, ((0, 0), (R, R), (R, R)), mode="edge")
    return p[:, R - dy:R - dy + h, R - dx:R - dx + w]      # the cell (y - dy, x - dx) of the slice before


for q in [int(v) for v in os.environ.get("QS", "7,8,9,10,11,12").split(",")]:
    tables = m.ladder.tables[m.ladder.point(q).step_num]
    tot = {}
    for name, frames in clips:
        data = encode_frames(frames, 16, model=m, quality=q)
        base = best = file_bits = 0.0
        used = 0
        for g in read_gop_codes(VqvReader(io.BytesIO(data)), m):
            s, cp = g.codes.scalar.symbols, g.codes.scalar.copy_map()
            for t in range(1, s.shape[1]):
                keep = ~cp[t]
                if not keep.any():
                    continue
                costs = {}
                for dy in range(-R, R + 1):
                    for dx in range(-R, R + 1):
                        costs[dy, dx] = float(tables.symbol_bits(shifted(s[:, t - 1], dy, dx), s[:, t])[keep].sum())
                k = min(costs, key=costs.get)
                base += costs[0, 0]
                best += costs[k] + SIDE
                used += k != (0, 0)
        file_bits = len(data) * 8
        tot[name] = (base, best, file_bits)
        print(f"Q{q} {name:28s} scalar bits (t>=1, coded) {base:8.0f} -> {best:8.0f} ({100 * (best / base - 1):+.1f}%, "
              f"{100 * (best - base) / file_bits:+.2f}% of the file; shifted slices {used})", flush=True)
    b = sum(v[0] for v in tot.values()); n = sum(v[1] for v in tot.values()); f = sum(v[2] for v in tot.values())
    print(f"Q{q} all: {100 * (n / b - 1):+.1f}% of those bits, {100 * (n - b) / f:+.2f}% of the files", flush=True)
