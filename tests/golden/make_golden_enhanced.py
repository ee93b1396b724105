"""Regenerate the enhanced-point golden fixtures (by hand, only when the enhancement layer's format
changes on purpose: a changed file means files in the wild stop decoding).

    python tests/golden/make_golden_enhanced.py

Writes tiny_enhanced.pt (tiny.pt with a version-2 quality ladder: VQ 1+1, a scalar point at step
0.2, and that point with enhancement layers at steps 24 and 8, 32 basis directions, fitted on
synthetic clips), golden_enhanced.vqv (its quality 3, two GOPs, copy mode on), golden_enhanced_codes.npz
(scalar and enhancement symbols, the enhancement copy maps) and golden_enhanced_frames.npy.
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

POINTS = [(1, 1, None), (1, 0, 0.2), (1, 0, 0.2, 24.0), (1, 0, 0.2, 8.0)]


def main() -> None:
    base = load_model(HERE / "tiny.pt")
    ladder = fit_ladder(base, [synthetic_video(32, 32, 32, seed=s) for s in range(6)], POINTS,
                        enhancement_channels=32)
    save_weights(base.net, HERE / "tiny_enhanced.pt", precision="float",
                 priors={**base.priors, "scalar": ladder.to_bytes()}, card=base.card)
    model = load_model(HERE / "tiny_enhanced.pt")
    frames = synthetic_video(40, 48, 40, seed=22)
    data = encode_frames(frames, 16, model=model, quality=3, motion=False, network_float="float32")
    (HERE / "golden_enhanced.vqv").write_bytes(data)
    arrays = {}
    for g in read_gop_codes(VqvReader(io.BytesIO(data)), model):
        arrays[f"gop{g.index}_scalar"] = g.codes.scalar.symbols
        arrays[f"gop{g.index}_enhancement"] = g.codes.enhancement.symbols
        arrays[f"gop{g.index}_enhancement_copied"] = g.codes.enhancement.copy_map()
    np.savez_compressed(HERE / "golden_enhanced_codes.npz", **arrays)
    np.save(HERE / "golden_enhanced_frames.npy", decode_bytes(data, model=model))
    print(f"golden_enhanced.vqv: {len(data)} bytes")


if __name__ == "__main__":
    main()
