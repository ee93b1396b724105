"""Shared by the hostile-file tests (test_hostile*.py): where the committed tiny model lives, forged
one-GOP files for a model, and the checks that a failure is a project error of one capped line, in
bounded memory.
"""
from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import hostile_files as hf
import numpy as np
import pytest

from vqcodec.coding.decoder import read_gop_codes
from vqcodec.coding.gops import GOP_FRAMES, gop_layout, layout_streams, padded_size
from vqcodec.entropy.priors import EmpiricalAdaptivePrior, StreamSymbols
from vqcodec.entropy.rans import EntropyError
from vqcodec.errors import VqvError, is_user_error
from vqcodec.formats import GopChunk, VqvFormatError, VqvReader
from vqcodec.formats.errors import MAX_MESSAGE_CHARS


GOLDEN = Path(__file__).parent / "golden"
PROJECT_ERRORS = (VqvFormatError, EntropyError, VqvError)
PRIORS = ("uniform", "empirical-static", "empirical-adaptive", "learned", "rank")
MiB = 1 << 20


# --------------------------------------------------------------------------- helpers


def decode_codes(data: bytes, model) -> list:
    """Read the file and entropy-decode every GOP's codes (the path of `vqv codes` and `decode`)."""
    return list(read_gop_codes(VqvReader(io.BytesIO(data)), model))


def read_all(data: bytes) -> list[GopChunk]:
    """Read and verify the whole container (no codec)."""
    return list(VqvReader(io.BytesIO(data)))


def project_error(fn, *args, **kwargs) -> Exception:
    """Run ``fn``; it must raise a project error whose message is one line of at most 400 chars."""
    with pytest.raises(Exception) as info:
        fn(*args, **kwargs)
    e = info.value
    assert isinstance(e, PROJECT_ERRORS) and is_user_error(e), f"{type(e).__name__}: {e}"
    check_message(e)
    return e


def check_message(e: Exception) -> None:
    msg = str(e)
    assert msg and "\n" not in msg and len(msg) <= MAX_MESSAGE_CHARS, repr(msg[:500])


def peak_mib(fn, *args) -> float:
    """Peak of Python/numpy allocations while ``fn`` runs (tracemalloc), in MiB."""
    tracemalloc.start()
    try:
        fn(*args)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / MiB


def forged(model, *, side=(40, 48), coded=None, quality=1, prior="uniform", copy_mode=False, payload=b"",
           counts=None, frames=32, params=None) -> bytes:
    """A one-GOP file for ``model`` (source size ``side``, coded size ``coded`` or the same) whose
    chunk's symbol counts match what the codec expects for a refresh GOP with nothing copied (so
    only the payload is wrong), unless ``counts`` are given."""
    coded = coded or side
    pw, ph = padded_size(coded[0], coded[1], model.cfg.stride)
    layout = gop_layout(model, model.point(quality), GOP_FRAMES, ph, pw)
    if counts is None:
        counts = [lv.grid[0] * lv.grid[1] * lv.grid[2] for lv in layout for _ in range(lv.stages)]
    if params is None:
        params = adaptive_params(layout) if prior == "empirical-adaptive" else b""
    hmap = hf.header_map(model_digest=model.digest, source_width=side[0], source_height=side[1],
                         coded_width=coded[0], coded_height=coded[1], frame_count=frames, quality=quality,
                         prior=prior, prior_params=params, copy_mode=copy_mode)
    version = (6, 0) if prior == "rank" else (2, 0)          # the rank prior is a 6.x prior
    return hf.VqvFile(hmap, [hf.chunk(0, frames, counts, payload)], version).bytes()


def adaptive_params(layout) -> bytes:
    """Valid empirical-adaptive side info for a layout (every symbol seen once)."""
    return EmpiricalAdaptivePrior.fit(
        [StreamSymbols(n, k, np.arange(k)) for n, k in layout_streams(layout)]).params()


# A payload the rANS decoder accepts (its last word is not zero) but far too short for its symbols.
SHORT_PAYLOAD = bytes([7]) * 8
