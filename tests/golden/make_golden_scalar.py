"""Regenerate the scalar-point golden fixtures (by hand, only when the scalar layer's format changes
on purpose: a changed file means files in the wild stop decoding).

    python tests/golden/make_golden_scalar.py

Writes tiny_scalar.pt (tiny.pt with a quality ladder: VQ 1+0, 1+1, 1+2, then scalar points at steps
0.5, 0.2, 0.08 fitted on synthetic clips), golden_scalar.vqv (its quality 6, two GOPs, copy mode on
the top level and the scalar layer), golden_scalar_codes.npz (indices, symbols, copy maps) and
golden_scalar_frames.npy.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from conftest import synthetic_video  # noqa: E402

from vqcodec.coding.decoder import decode_bytes, read_gop_codes  # noqa: E402
from vqcodec.coding.encoder import encode_frames
from vqcodec.formats import VqvReader  # noqa: E402
from vqcodec.release.prior_fitting import fit_ladder  # noqa: E402
from vqcodec.weights import load_model, save_weights  # noqa: E402

POINTS = [(1, 0, None), (1, 1, None), (1, 2, None), (1, 0, 0.5), (1, 0, 0.2), (1, 0, 0.08)]


def main() -> None:
    base = load_model(HERE / "tiny.pt")
    ladder = fit_ladder(base, [synthetic_video(32, 32, 32, seed=s) for s in range(6)], POINTS)
    save_weights(base.net, HERE / "tiny_scalar.pt", precision="float",
                 priors={**base.priors, "scalar": ladder.to_bytes()}, card=base.card)
    model = load_model(HERE / "tiny_scalar.pt")
    frames = synthetic_video(40, 48, 40, seed=21)
    data = encode_frames(frames, 16, model=model, quality=6, motion=False, network_float="float32")
    (HERE / "golden_scalar.vqv").write_bytes(data)
    arrays = {}
    for g in read_gop_codes(VqvReader(io.BytesIO(data)), model):
        top = g.codes.level("top")
        arrays[f"gop{g.index}_top"] = top.indices
        arrays[f"gop{g.index}_top_copied"] = top.copy_map()
        arrays[f"gop{g.index}_scalar"] = g.codes.scalar.symbols
        arrays[f"gop{g.index}_scalar_copied"] = g.codes.scalar.copy_map()
    np.savez_compressed(HERE / "golden_scalar_codes.npz", **arrays)
    np.save(HERE / "golden_scalar_frames.npy", decode_bytes(data, model=model))
    print(f"golden_scalar.vqv: {len(data)} bytes")


if __name__ == "__main__":
    main()
