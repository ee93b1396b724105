"""Regenerate the conditional-coder golden fixtures (by hand, only when the version-8 format changes on
purpose: a changed file means files in the wild stop decoding).

    python tests/golden/make_golden_conditional.py

Writes golden_conditional.vqv (version 8.0: the shipped model (4 x 8 x 8 blocks, which the shipped
conditional coders need) at quality 6 with the default motion options and the shipped conditional coders;
a 40-frame 64x64 textured diagonal pan, 2 pixels down and 3 right per frame; two GOPs, the second
predicted, refresh 0), golden_conditional_codes.npz (per GOP: the VQ indices and copy maps, the motion
flags, vectors, residual options and codes, bends and the coders' symbols) and
golden_conditional_frames.npy. Refuses a file in which a GOP has no block taking a coder.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from conftest import pan_video  # noqa: E402
from make_golden_residual import gop_arrays, write_golden  # noqa: E402

from vqcodec.coding.decoder import read_gop_codes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.formats import VqvReader  # noqa: E402
from vqcodec.weights import load_model  # noqa: E402

QUALITY = 6


def golden_input() -> np.ndarray:
    return pan_video(40, 64, 64, dx=3, dy=2)


def main() -> None:
    import torch
    torch.set_num_threads(1)
    model = load_model()
    data = encode_frames(golden_input(), 16, model=model, quality=QUALITY, refresh=0, intra_coder=False, network_float="float32")   # 8.0
    reader = VqvReader(io.BytesIO(data))
    assert reader.version == (8, 0) and reader.conditional_coder, reader.version
    first = len(reader.motion_residual) + 1
    arrays, counts = {}, []
    for g in read_gop_codes(reader, model):
        arrays.update(gop_arrays(g))
        arrays[f"gop{g.index}_motion_conditional_symbols"] = g.codes.motion.coder_symbols
        counts.append(int((g.codes.motion.residual >= first).sum()))
    if not all(counts):
        raise SystemExit(f"blocks taking a coder per GOP {counts}: choose a clip where every GOP has some")
    write_golden("golden_conditional", data, arrays, model, f"blocks taking a coder per GOP: {counts}")


if __name__ == "__main__":
    main()
