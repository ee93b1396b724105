"""Regenerate the trimmed-GOP golden fixtures (by hand, only when the version-13 format changes on purpose:
a changed file means files in the wild stop decoding).

    python tests/golden/make_golden_trimmed.py

Writes golden_trimmed.vqv (version 13.0: the shipped model at quality 4, float32 networks, 51 frames at the sample
clip's default coded size, 80x64: its first 14 frames, then its frames 20-56 turned upside down and mirrored, a
scene cut inside the fourth slice; so GOP 0 holds 14 frames coded over 16, GOP 1, a refresh GOP, 32, and GOP 2, the
last, 5 frames coded over 8 and predicted from GOP 1), golden_trimmed_codes.npz (the VQ indices and copy maps and
the motion layer's arrays of the three GOPs, each over its own grid) and golden_trimmed_frames.npy. Refuses a file
whose GOPs are not so.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from make_golden_residual import gop_arrays, write_golden  # noqa: E402
from make_golden_scene_cut import CUT, QUALITY, sample_clip  # noqa: E402

from vqcodec.coding.decoder import read_gop_codes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.formats import VqvReader  # noqa: E402
from vqcodec.weights import load_model  # noqa: E402



def golden_input() -> np.ndarray:
    """51 frames with a scene cut at frame 14 (the sample clip's 0-13, then its 20-56 upside down and mirrored)."""
    clip = sample_clip(57)
    return np.ascontiguousarray(np.concatenate([clip[:CUT], clip[20:57, ::-1, ::-1]]))


def main() -> None:
    import torch
    torch.set_num_threads(1)
    model = load_model()
    data = encode_frames(golden_input(), 16, model=model, quality=QUALITY, network_float="float32")
    reader = VqvReader(io.BytesIO(data))
    h = reader.header
    coded = [h.gop_coded_frames(i) for i in range(h.gop_count)]
    if reader.version != (13, 0) or h.short_gops != ((0, CUT),) or coded != [16, 32, 8] \
            or [reader.is_refresh(i) for i in range(3)] != [True, True, False]:
        raise SystemExit(f"the encoder wrote {reader.version} with GOPs {h.short_gops} over {coded}: choose another clip")
    arrays = {}
    for g in read_gop_codes(reader, model):
        arrays.update(gop_arrays(g))
    write_golden("golden_trimmed", data, arrays, model, "GOP 0 cut short and trimmed, GOP 1 whole, GOP 2 trimmed")


if __name__ == "__main__":
    main()
