"""Regenerate the golden .vqv fixtures (run by hand only when the format version changes).

    python tests/golden/make_golden.py

Writes tiny.pt (a tiny test model, independent of the shipped one), golden.vqv, golden_codes.npz
and golden_frames.npy. test_golden.py checks today's reader against them.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from conftest import make_tiny_weights, synthetic_video  # noqa: E402

from vqcodec import codec  # noqa: E402
from vqcodec.weights import load_model  # noqa: E402


def main() -> None:
    weights = make_tiny_weights(HERE / "tiny.pt", seed=0)
    model = load_model(weights)
    frames = synthetic_video(40, 48, 40, seed=7)
    data = codec.encode_frames(frames, 16, model=model, quality=2, prior="empirical-adaptive")
    (HERE / "golden.vqv").write_bytes(data)
    import io
    from vqcodec.formats import VqvReader
    codes = [c for _, c, _ in codec.read_gop_codes(VqvReader(io.BytesIO(data)), model)]
    np.savez(HERE / "golden_codes.npz", **{f"gop{i}_{lv.name}": lv.indices for i, c in enumerate(codes)
                                           for lv in c.levels})
    np.save(HERE / "golden_frames.npy", codec.decode_bytes(data, model=model))
    print(f"golden.vqv: {len(data)} bytes")


if __name__ == "__main__":
    main()
