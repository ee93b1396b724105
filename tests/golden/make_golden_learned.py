"""Regenerate the learned-prior golden fixtures (by hand, only when the learned prior's context or
table definition, or the format, changes on purpose).

    python tests/golden/make_golden_learned.py

Writes tiny_learned.pt (the tiny test model with an empirical-static and a learned prior),
golden_learned.vqv (3 GOPs, learned prior, GOP context on), golden_learned_codes.npz and
golden_learned_frames.npy. test_learned_prior.py checks today's decoder against them.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from conftest import synthetic_video  # noqa: E402
from test_learned_prior import make_tiny_learned_weights  # noqa: E402

from vqcodec import codec  # noqa: E402
from vqcodec.formats import VqvReader  # noqa: E402
from vqcodec.weights import load_model  # noqa: E402


def main() -> None:
    weights = make_tiny_learned_weights(HERE / "tiny_learned.pt", seed=0)
    model = load_model(weights)
    frames = synthetic_video(72, 48, 40, seed=7)
    data = codec.encode_frames(frames, 16, model=model, quality=3, prior="learned", gop_context=True)
    reader = VqvReader(io.BytesIO(data))
    assert reader.header.gop_context and [c.uses_context for c in reader] == [False, True, True]
    (HERE / "golden_learned.vqv").write_bytes(data)
    codes = [c for _, c, _ in codec.read_gop_codes(reader, model)]
    np.savez(HERE / "golden_learned_codes.npz", **{f"gop{i}_{lv.name}": lv.indices for i, c in enumerate(codes)
                                                   for lv in c.levels})
    np.save(HERE / "golden_learned_frames.npy", codec.decode_bytes(data, model=model))
    print(f"golden_learned.vqv: {len(data)} bytes")


if __name__ == "__main__":
    main()
