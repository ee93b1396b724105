"""Regenerate the bfloat16 golden fixtures (by hand, only when the version-10 format changes on purpose: a
changed file means files in the wild stop decoding).

    python tests/golden/make_golden_bfloat16.py

Writes golden_bfloat16.vqv (version 10.0: the intra golden's encode, the shipped model at quality 6 with the
default options and the conditional golden's clip, its networks in bfloat16), golden_bfloat16_codes.npz (per
GOP: the VQ indices and copy maps, the motion layer's arrays and the coders' symbols) and
golden_bfloat16_frames.npy. Refuses a file whose first slice has no block refined by a coder.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from make_golden_intra import make  # noqa: E402

if __name__ == "__main__":
    make("golden_bfloat16", (10, 0), "bfloat16")
