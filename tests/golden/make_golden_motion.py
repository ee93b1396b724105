"""Regenerate the motion-layer golden fixtures (by hand, only when the motion layer's format changes on
purpose: a changed file means files in the wild stop decoding).

    python tests/golden/make_golden_motion.py

Writes golden_motion.vqv (version 3.0: tiny_enhanced.pt's quality 3 with the motion layer, a pan of
40 frames, two GOPs, the second predicted), golden_motion_codes.npz (the motion flags and vectors and
the enhancement symbols of each GOP) and golden_motion_frames.npy.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from conftest import pan_video  # noqa: E402

from vqcodec.coding.decoder import decode_bytes, read_gop_codes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.formats import VqvReader  # noqa: E402
from vqcodec.weights import load_model  # noqa: E402


def main() -> None:
    model = load_model(HERE / "tiny_enhanced.pt")
    frames = pan_video(40, 32, 40, dx=1, dy=1)
    data = encode_frames(frames, 16, model=model, quality=3, motion=True, refresh=0, network_float="float32")
    (HERE / "golden_motion.vqv").write_bytes(data)
    arrays = {}
    for g in read_gop_codes(VqvReader(io.BytesIO(data)), model):
        arrays[f"gop{g.index}_motion_predicted"] = g.codes.motion.flags
        arrays[f"gop{g.index}_motion_vectors"] = g.codes.motion.vectors
        arrays[f"gop{g.index}_enhancement"] = g.codes.enhancement.symbols
    np.savez_compressed(HERE / "golden_motion_codes.npz", **arrays)
    np.save(HERE / "golden_motion_frames.npy", decode_bytes(data, model=model))
    print(f"golden_motion.vqv: {len(data)} bytes")


if __name__ == "__main__":
    main()
