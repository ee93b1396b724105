"""What the temporal-prior probes share: the shipped model, the benchmark's validation clips (32 frames,
64x64; CORPUS and CACHE say where), MOTION=1 for --motion files, a clip coded and read back as codes, and
the bits of ranks coded by their log2 bucket."""
import io
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from benchmarks.clips import load_clips
from formats.container import VqvReader
from vqcodec.codes import Codes
from vqcodec.coding.decoder import read_gop_codes
from vqcodec.coding.encoder import encode_frames
from vqcodec.weights import load_model

MODEL = load_model()
CLIPS = load_clips("corpus:" + os.environ.get("CORPUS", "/work/data/corpus"), None,
                   Path(os.environ.get("CACHE", "/work/data/cache")), lambda *a: None, frames=32)
MOTION = os.environ.get("MOTION", "0") == "1"


def qualities(default: str) -> list[int]:
    """The qualities to run: QS from the environment, else ``default`` ("4,6")."""
    return [int(q) for q in os.environ.get("QS", default).split(",")]


class Coded(NamedTuple):
    data: bytes                 # the .vqv file
    codes: Codes                # its (only) GOP's codes
    flagged: np.ndarray         # (T, H, W) the motion layer's predicted blocks (all false without it)


def code_clip(frames: np.ndarray, quality: int) -> Coded:
    """One 32-frame clip encoded as the codec does (with --motion if MOTION) and its codes read back."""
    data = encode_frames(frames, 16, model=MODEL, quality=quality, motion=MOTION)
    g = next(iter(read_gop_codes(VqvReader(io.BytesIO(data)), MODEL)))
    copied = g.codes.level("bottom").copy_map()
    return Coded(data, g.codes, g.codes.motion.flags if g.codes.motion is not None else np.zeros_like(copied))


def bucket_bits(ranks) -> float:
    """Bits a rank costs coded as its log2 bucket (plug-in entropy) plus the bucket's width."""
    b = np.floor(np.log2(np.asarray(ranks) + 1)).astype(int)
    p = np.bincount(b) / len(b)
    return float(-(p[p > 0] * np.log2(p[p > 0])).sum() + b.mean())


def bottom_parts(coded: Coded, books):
    """A coded clip's bottom VQ level for the rank probes: (indices (S, T, H, W), copy map, predicted
    blocks, the partial sums of its codewords stage by stage (S + 1, T, H, W, D), part[0] = 0) with the
    codebooks ``books`` (one per stage); None at a scalar point (no VQ codes in the bottom level)."""
    lv = coded.codes.level("bottom")
    idx, copied = lv.indices, lv.copy_map()
    if idx.shape[0] == 0:
        return None
    cw = np.stack([books[s][idx[s]] for s in range(idx.shape[0])])
    return idx, copied, coded.flagged, np.concatenate([np.zeros_like(cw[:1]), np.cumsum(cw, 0)])
