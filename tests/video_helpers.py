"""Shared by the video reader tests (test_video_io*.py): a tiny synthetic clip, written and read back,
and the check of a one-line VideoError.
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from vqcodec.errors import VqvError
from vqcodec.io.writer import VideoWriter
from vqcodec.io.reader import VideoError, VideoInfo, open_video


T, H, W = 12, 37, 51  # odd on purpose


def make_clip(t: int = T, h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    """Smooth moving colour pattern plus a little noise (codec-friendly, not trivial)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    frames = []
    for i in range(t):
        r = 128 + 90 * np.sin((xx + 2 * i) / 7.0)
        g = 128 + 80 * np.cos((yy - i) / 5.0)
        b = (xx * 3 + yy * 2 + 5 * i) % 200 + 20
        f = np.stack([r, g, b], -1) + rng.normal(0, 1, (h, w, 3))
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
    return np.stack(frames)


def write(path, clip, fps=Fraction(24), frame_count=None):
    """``clip`` to ``path``; .mp4/.mkv in 4:4:4 (full chroma: the reader tests compare colours closely)."""
    pix = "yuv444p" if Path(str(path)).suffix in (".mp4", ".mkv") else None
    with VideoWriter(path, clip.shape[2], clip.shape[1], fps, frame_count=frame_count, pix_fmt=pix) as w:
        for f in clip:
            w.write(f)


def read(path, **kw) -> tuple[VideoInfo, np.ndarray]:
    info, it = open_video(path, **kw)
    return info, np.stack(list(it))


def leftovers(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith("."))


def _expect_error(path, match, **kw):
    with pytest.raises(VideoError) as ei:
        info, it = open_video(path, **kw)
        for _ in it:
            pass
    msg = str(ei.value)
    assert "\n" not in msg and msg
    assert isinstance(ei.value, VqvError)
    assert match in msg, msg
    return msg
