"""Regenerate the version-2.0 golden fixtures (by hand, only when the format or the coding of
copy decisions changes on purpose: a changed file means files in the wild stop decoding).

    python tests/golden/make_golden_v2.py

Writes golden_v2.vqv (tiny_learned.pt, learned prior, 4 GOPs, copy mode, refresh every 2 GOPs),
golden_v2_codes.npz (indices and copy maps) and golden_v2_frames.npy. The version-1.0 fixtures
(golden.vqv, golden_learned.vqv) were written by release 0.1 and are never regenerated.
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
from vqcodec.weights import load_model  # noqa: E402


def main() -> None:
    model = load_model(HERE / "tiny_learned.pt")
    still = np.repeat(synthetic_video(1, 48, 40, seed=3), 40, axis=0)
    frames = np.concatenate([still, synthetic_video(60, 48, 40, seed=7)])
    data = encode_frames(frames, 16, model=model, quality=3, prior="learned", refresh=2, motion=False, network_float="float32")
    reader = VqvReader(io.BytesIO(data))
    assert reader.header.copy_mode and reader.refresh_points() == [0, 2]
    (HERE / "golden_v2.vqv").write_bytes(data)
    arrays = {}
    for g in read_gop_codes(reader, model):
        for lv in g.codes.levels:
            arrays[f"gop{g.index}_{lv.name}"] = lv.indices
            arrays[f"gop{g.index}_{lv.name}_copied"] = lv.copy_map()
    np.savez(HERE / "golden_v2_codes.npz", **arrays)
    np.save(HERE / "golden_v2_frames.npy", decode_bytes(data, model=model))
    print(f"golden_v2.vqv: {len(data)} bytes")


if __name__ == "__main__":
    main()
