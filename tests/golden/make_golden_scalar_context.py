"""Regenerate the scalar-context golden fixtures (by hand, only when the version-11 format changes on purpose:
a changed file means files in the wild stop decoding).

    python tests/golden/make_golden_scalar_context.py

Writes golden_scalar_context.vqv (version 11.0: the shipped model at quality 9, float32 networks, the first 32
frames of the shipped sample clip at the default coded size, 80x64: one refresh GOP whose scalar layer's first
slice is coded in two checkerboard passes), golden_scalar_context_codes.npz (the VQ indices and copy maps, the
motion layer's arrays, the scalar layer's symbols) and golden_scalar_context_frames.npy. Refuses a file the
encoder did not give the context to.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from make_golden_residual import gop_arrays, write_golden  # noqa: E402

from vqcodec.coding.decoder import read_gop_codes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.formats import VqvReader  # noqa: E402
from vqcodec.io.reader import open_video, resize_frames  # noqa: E402
from vqcodec.pipeline import coded_size  # noqa: E402
from vqcodec.weights import load_model  # noqa: E402

QUALITY = 9
SAMPLE = REPO / "vqcodec" / "samples" / "sample.mp4"


def golden_input() -> np.ndarray:
    """The sample clip's first 32 frames at its default coded size (as ``vqv encode`` reads them)."""
    info, frames = open_video(SAMPLE)
    w, h = coded_size(info.width, info.height, None, 16)
    return resize_frames(np.stack([f for _, f in zip(range(32), frames)]), w, h)


def main() -> None:
    import torch
    torch.set_num_threads(1)
    model = load_model()
    data = encode_frames(golden_input(), 16, model=model, quality=QUALITY, network_float="float32")
    reader = VqvReader(io.BytesIO(data))
    if reader.version != (11, 0) or not reader.scalar_context:
        raise SystemExit(f"the encoder wrote {reader.version}: choose another clip")
    arrays = {}
    for g in read_gop_codes(reader, model):
        arrays.update(gop_arrays(g))
        arrays[f"gop{g.index}_scalar"] = g.codes.scalar.symbols
        arrays[f"gop{g.index}_scalar_copied"] = g.codes.scalar.copy_map()
    write_golden("golden_scalar_context", data, arrays, model, "the scalar layer's first slice in two passes")


if __name__ == "__main__":
    main()
