"""Regenerate the intra-coder golden fixtures (by hand, only when the version-9 format changes on purpose: a
changed file means files in the wild stop decoding).

    python tests/golden/make_golden_intra.py

Writes golden_intra.vqv (version 9.0: the shipped model at quality 6 with the default options, so the shipped
conditional coders refine blocks of the refresh GOP's first slice; the conditional golden's clip, a 40-frame
64x64 textured diagonal pan; two GOPs, the second predicted, refresh 0), golden_intra_codes.npz (per GOP: the
VQ indices and copy maps, the motion layer's arrays and the coders' symbols) and golden_intra_frames.npy.
Refuses a file whose first slice has no block refined by a coder.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path


HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from make_golden_conditional import QUALITY, golden_input  # noqa: E402
from make_golden_residual import gop_arrays, write_golden  # noqa: E402

from vqcodec.coding.decoder import read_gop_codes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.formats import VqvReader  # noqa: E402
from vqcodec.weights import load_model  # noqa: E402


def make(stem: str, version: tuple[int, int], network_float: str) -> None:
    """STEM's files: the golden clip at QUALITY, refresh 0, the networks in ``network_float``."""
    import torch
    torch.set_num_threads(1)
    model = load_model()
    data = encode_frames(golden_input(), 16, model=model, quality=QUALITY, refresh=0, network_float=network_float)
    reader = VqvReader(io.BytesIO(data))
    assert reader.version == version and reader.intra_coder and reader.network_float == network_float, reader.version
    arrays = {}
    for g in read_gop_codes(reader, model):
        arrays.update(gop_arrays(g))
        arrays[f"gop{g.index}_motion_conditional_symbols"] = g.codes.motion.coder_symbols
    refined = int((arrays["gop0_motion_residual"][0] > 0).sum())
    if not refined:
        raise SystemExit("no block of the first slice took a coder: choose another clip")
    write_golden(stem, data, arrays, model, f"first-slice blocks refined by a coder: {refined}")


if __name__ == "__main__":
    make("golden_intra", (9, 0), "float32")
