"""Frame timing for the video reader: presentation timestamps in, frames at a constant rate out.

:func:`timed` turns (timestamp, frame) pairs in decoding order into times relative to the first frame,
repairing broken timestamps (missing, going backwards, or jumping by more than :data:`MAX_GAP_SECONDS`:
from there on frames are one source period apart). :func:`constant_rate` keeps every frame at the
source's rate (repeating or dropping one only where a variable-rate file drifts from its timestamps);
:func:`resample` picks, for each output time ``k / fps``, the latest source frame at or before it.
The rules are the module docstring of :mod:`vqcodec.io.reader`.

Both are bounded (:class:`_FrameBudget`): a header's frame rate (1/1000000 fps) or timestamps far
apart cannot ask for millions of frames from a few: past :data:`MAX_FRAMES_PER_SOURCE_FRAME` output
frames per source frame plus :data:`MAX_EXTRA_SECONDS` of output, the reader stops with one line.
"""
from __future__ import annotations

import math
from collections import deque
from fractions import Fraction
from typing import Callable, Iterator

import numpy as np

from vqcodec.errors import VqvError

__all__ = ["MAX_GAP_SECONDS", "MAX_FRAMES_PER_SOURCE_FRAME", "MAX_EXTRA_SECONDS", "TimingError", "timed",
           "resample", "constant_rate", "resampled_count"]

#: A timestamp jump longer than this is a broken timestamp (a discontinuity), not a pause.
MAX_GAP_SECONDS = 30
#: The most output frames one source frame may become on average (a 0.25 fps slideshow at 60 fps: 240) ...
MAX_FRAMES_PER_SOURCE_FRAME = 256
#: ... plus this many seconds of output (pauses of a screen recording, a slideshow's last image).
MAX_EXTRA_SECONDS = 60
#: Frames read ahead of the one being timed, so that timestamps broken from the start (packed
#: B-frames: 1, 3, 2, 5, 4, ...) are found before any frame has been timed by them.
_TIMESTAMP_LOOKAHEAD = 4


def timed(stamped: Iterator[tuple[Fraction | None, object]],
          period: Fraction) -> Iterator[tuple[Fraction, object]]:
    """(time, item) from (timestamp or None, item) in decoding order: times relative to the first
    frame, increasing. From the first broken timestamp on (missing, not increasing, or a jump of
    more than :data:`MAX_GAP_SECONDS`), found :data:`_TIMESTAMP_LOOKAHEAD` frames ahead, frames
    are one ``period`` apart."""
    pending: deque = deque()
    broken = False
    last_stamp: Fraction | None = None
    first_stamp: Fraction | None = None
    prev_t: Fraction | None = None

    def place(stamp, item):
        nonlocal first_stamp, prev_t
        if prev_t is None:
            t, first_stamp = Fraction(0), stamp
        elif broken:
            t = prev_t + period
        else:
            t = stamp - first_stamp
        prev_t = t
        return t, item

    for stamp, item in stamped:
        if not broken:
            if stamp is None or (last_stamp is not None and not 0 < stamp - last_stamp <= MAX_GAP_SECONDS):
                broken = True
            last_stamp = stamp
        pending.append((stamp, item))
        if len(pending) > _TIMESTAMP_LOOKAHEAD:
            yield place(*pending.popleft())
    while pending:
        yield place(*pending.popleft())


class TimingError(VqvError):
    """A video's frame rate or timestamps ask for far more output frames than it has."""


class _FrameBudget:
    """Counts source and output frames; refuses more than :data:`MAX_FRAMES_PER_SOURCE_FRAME` output
    frames per source frame plus :data:`MAX_EXTRA_SECONDS` of output, before they are made."""

    def __init__(self, fps: Fraction, what: str) -> None:
        self.fps, self.what = fps, what
        self.sources = self.outputs = 0
        self.extra = math.ceil(fps * MAX_EXTRA_SECONDS)

    def take(self, n: int = 1) -> None:
        self.outputs += n
        limit = self.sources * MAX_FRAMES_PER_SOURCE_FRAME + self.extra
        if self.outputs > limit:
            raise TimingError(
                f"{self.what}: its frame rate or timestamps ask for more than {limit} frames at {_rate(self.fps)} fps "
                f"from {self.sources} source frames (a declared rate such as 1/1000000 fps, or frames far apart: "
                "damaged or hostile file; --fps sets another rate)")


def resample(timed: Iterator[tuple[Fraction, np.ndarray]], fps: Fraction,
             period: Fraction, what: str = "the video") -> Iterator[np.ndarray]:
    """For each output time k/fps yield the latest source frame with time <= t.

    ``timed`` yields (time, frame) pairs in presentation order, times relative to the first frame
    (the first one is 0). ``period`` is the duration of one source frame, used to end the output
    at the end of the last source frame. Bounded by :class:`_FrameBudget`.
    """
    k = 0
    prev: np.ndarray | None = None
    prev_t = Fraction(0)
    budget = _FrameBudget(fps, what)
    for t, frame in timed:
        budget.sources += 1
        while prev is not None and Fraction(k) / fps < t:
            budget.take()
            yield prev
            k += 1
        prev, prev_t = frame, t
    if prev is None:
        return
    end = prev_t + period
    while Fraction(k) / fps < end:
        budget.take()
        yield prev
        k += 1


def constant_rate(timed: Iterator[tuple[Fraction, np.ndarray]], fps: Fraction, what: str,
                  warn: Callable[[str], None]) -> Iterator[np.ndarray]:
    """Every source frame once, at ``fps``, unless that drifts from the timestamps by more than a
    frame: then a frame is repeated (a long gap) or dropped (frames closer than 1/fps) to catch up,
    as ffmpeg's ``-vsync cfr`` does, and ``warn`` is told once. A constant-rate file (timestamps
    within rounding of one period apart) comes out frame for frame as stored."""
    k = 0  # frames yielded
    prev: np.ndarray | None = None
    prev_t = Fraction(0)
    warned = False
    budget = _FrameBudget(fps, what)
    for t, frame in timed:
        budget.sources += 1
        if prev is not None:
            due = t * fps  # this frame's place in the output, in frames
            n = 1 if abs(due - (k + 1)) <= 1 else max(0, round(due - k))
            if n != 1 and not warned:
                warned = True
                warn(f"{what}: variable frame rate (a {float(t - prev_t) * 1000:.0f} ms frame gap at "
                      f"{float(prev_t):.2f} s; {1000 / float(fps):.0f} ms at its {_rate(fps)} fps): coded at "
                      f"a constant {_rate(fps)} fps, repeating or dropping frames to keep its timing "
                      f"(--fps sets another rate)")
            budget.take(n)
            for _ in range(n):
                yield prev
            k += n
        prev, prev_t = frame, t
    if prev is not None:
        yield prev


def _rate(fps: Fraction) -> str:
    return f"{float(fps):.3f}".rstrip("0").rstrip(".")


def resampled_count(n: int, src_fps: Fraction, fps: Fraction) -> int:
    return max(1, math.ceil(Fraction(n) / src_fps * fps))
