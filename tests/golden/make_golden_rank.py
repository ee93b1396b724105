"""Regenerate the rank-prior golden fixtures (by hand, only when the rank prior's format changes on
purpose, or after make_tiny_linear.py: a changed file means files in the wild stop decoding).

    python tests/golden/make_golden_rank.py

Writes golden_rank.vqv (version 6.0: tiny_linear.pt's top quality, 1 top + 2 bottom stages, prior
"rank", no motion layer; a 40-frame 32x40 synthetic scene, two GOPs, the second predicted, refresh 0,
so slice 0 of GOP 1 ranks against GOP 0's last slice), golden_rank_codes.npz (per GOP: the VQ indices
and copy maps) and golden_rank_frames.npy.
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
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.formats import VqvReader  # noqa: E402
from vqcodec.weights import load_model  # noqa: E402

QUALITY = 3


def golden_input() -> np.ndarray:
    return synthetic_video(40, 32, 40, seed=5)


def main() -> None:
    import torch
    torch.set_num_threads(1)
    model = load_model(HERE / "tiny_linear.pt")
    data = encode_frames(golden_input(), 16, model=model, quality=QUALITY, prior="rank", refresh=0, motion=False, network_float="float32")
    reader = VqvReader(io.BytesIO(data))
    assert reader.version == (6, 0) and reader.header.prior == "rank", (reader.version, reader.header.prior)
    arrays = {}
    for g in read_gop_codes(reader, model):
        for lv in g.codes.levels:
            arrays[f"gop{g.index}_{lv.name}"] = lv.indices
            arrays[f"gop{g.index}_{lv.name}_copied"] = lv.copy_map()
    (HERE / "golden_rank.vqv").write_bytes(data)
    np.savez_compressed(HERE / "golden_rank_codes.npz", **arrays)
    np.save(HERE / "golden_rank_frames.npy", decode_bytes(data, model=model))
    print(f"golden_rank.vqv: {len(data)} bytes")


if __name__ == "__main__":
    main()
