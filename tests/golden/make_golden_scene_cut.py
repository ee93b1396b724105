"""Regenerate the scene-cut golden fixtures (by hand, only when the version-12 format changes on purpose:
a changed file means files in the wild stop decoding).

    python tests/golden/make_golden_scene_cut.py

Writes golden_scene_cut.vqv (version 12.0: the shipped model at quality 4, float32 networks, 40 frames at the
sample clip's default coded size, 80x64: its first 14 frames, then its frames 30-55 turned upside down and
mirrored, a scene cut inside the fourth slice; so GOP 0 ends after 14 frames and GOP 1, a refresh GOP, holds the
other 26), golden_scene_cut_codes.npz (the VQ indices and copy maps and the motion layer's arrays of both GOPs)
and golden_scene_cut_frames.npy. Refuses a file whose GOPs are not cut so.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from make_golden_residual import gop_arrays, write_golden  # noqa: E402

from vqcodec.coding.decoder import read_gop_codes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.formats import VqvReader  # noqa: E402
from vqcodec.io.reader import open_video, resize_frames  # noqa: E402
from vqcodec.pipeline import coded_size  # noqa: E402
from vqcodec.weights import load_model  # noqa: E402

QUALITY = 4
CUT = 14
SAMPLE = Path(__file__).parent.parent.parent / "vqcodec" / "samples" / "sample.mp4"


def sample_clip(n: int) -> np.ndarray:
    """The sample clip's first ``n`` frames at its default coded size (80x64)."""
    info, frames = open_video(SAMPLE)
    w, h = coded_size(info.width, info.height, None, 16)
    return resize_frames(np.stack([f for _, f in zip(range(n), frames)]), w, h)


def golden_input() -> np.ndarray:
    """40 frames with a scene cut at frame 14 (the sample clip's 0-13, then its 30-55 upside down and mirrored)."""
    clip = sample_clip(56)
    return np.ascontiguousarray(np.concatenate([clip[:CUT], clip[30:56, ::-1, ::-1]]))


def main() -> None:
    import torch
    torch.set_num_threads(1)
    model = load_model()
    data = encode_frames(golden_input(), 16, model=model, quality=QUALITY, network_float="float32")
    reader = VqvReader(io.BytesIO(data))
    if reader.version != (12, 0) or reader.header.short_gops != ((0, CUT),) or reader.is_refresh(1) is not True:
        raise SystemExit(f"the encoder wrote {reader.version} with GOPs {reader.header.short_gops}: choose another clip")
    arrays = {}
    for g in read_gop_codes(reader, model):
        arrays.update(gop_arrays(g))
    write_golden("golden_scene_cut", data, arrays, model, "GOP 0 cut short at a scene cut, GOP 1 a refresh")


if __name__ == "__main__":
    main()
