"""Scene cuts: where a frame cannot be predicted from the one before, so that a GOP may end there (format 12.0).

A slice (4 frames) that straddles a cut holds two scenes: the network codes them together and the next slice is
predicted from a frame of the new scene coded that way. Ending the GOP just before the cut (padded, as the last GOP
of a file is) and starting a refresh GOP at it codes each scene alone. The encoder does so only where the cut falls
inside a slice: on the moving training clips a split at a cut between slices cost bits (docs/DESIGN.md, "Scene
cuts").

The test is x264's in spirit (is the frame cheaper coded alone than predicted?) on a small grey copy of the frames:
per 8x8 block the mean absolute error of the best whole-pixel move within :data:`SEARCH` pixels against the block's
own mean absolute deviation (its texture); a cut where the median block's ratio exceeds :data:`CUT_RATIO`.
"""
from __future__ import annotations

import numpy as np

#: The short side of the grey copy the test runs on (frames larger than this are averaged down by whole factors).
TEST_SIDE = 64
BLOCK = 8
SEARCH = 4
#: Median over blocks of (motion-compensated error / (texture + TEXTURE_FLOOR)). On the open corpus's videos at 64
#: pixels: the five cuts of bikes.mp4 1.14-3.10; every other frame pair at most 0.82 (fast motion 0.65).
CUT_RATIO = 1.0
TEXTURE_FLOOR = 2.0


def grey(frame: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> float32 (h, w) grey, averaged down by the whole factor that brings its short side
    nearest above :data:`TEST_SIDE`."""
    f = frame.astype(np.float32).mean(-1)
    k = max(1, min(f.shape) // TEST_SIDE)
    if k > 1:
        h, w = f.shape[0] // k * k, f.shape[1] // k * k
        f = f[:h, :w].reshape(h // k, k, w // k, k).mean((1, 3))
    return f


def cut_ratio(before: np.ndarray, after: np.ndarray) -> float:
    """The test's statistic for two grey frames of one size (0 when they hold no whole block)."""
    h, w = after.shape[0] // BLOCK * BLOCK, after.shape[1] // BLOCK * BLOCK
    if h == 0 or w == 0:
        return 0.0
    a, b = before[:h, :w], after[:h, :w]
    padded = np.pad(a, SEARCH, mode="edge")
    moved = np.lib.stride_tricks.sliding_window_view(padded, (h, w))      # (2 SEARCH + 1)^2 moves, one array
    err = np.abs(moved - b).reshape(-1, h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean((2, 4))
    best = err.min(0)
    shape = (h // BLOCK, BLOCK, w // BLOCK, BLOCK)
    blocks = b.reshape(shape)
    texture = np.abs(blocks - blocks.mean((1, 3), keepdims=True)).mean((1, 3))
    return float(np.median(best / (texture + TEXTURE_FLOOR)))


class SceneCuts:
    """Told a file's frames in order, says before which of them the GOP ends: a frame that begins a new scene
    (:func:`cut_ratio`) inside a slice of ``slice_frames``; in the first slice of a GOP that itself began at a cut
    only after a whole slice (a fade flags several frames in a row: one short GOP, not one per frame)."""

    def __init__(self, slice_frames: int) -> None:
        self.slice_frames = slice_frames
        self._last: np.ndarray | None = None

    def _next(self, frame: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        g = grey(frame)
        last, self._last = self._last, g
        return last, g

    def is_cut(self, frame: np.ndarray) -> bool:
        """Whether ``frame`` begins a new scene (the first frame never does)."""
        last, g = self._next(frame)
        return last is not None and cut_ratio(last, g) > CUT_RATIO

    def ends_gop(self, frame: np.ndarray, gop_frames: int, gop_began_at_cut: bool) -> bool:
        """Whether the GOP of ``gop_frames`` frames so far (``gop_began_at_cut``: one that began at a cut) ends before
        ``frame``; every frame is told once, and the test runs only where a cut would end the GOP."""
        last, g = self._next(frame)
        if last is None or gop_frames % self.slice_frames == 0:
            return False
        if gop_frames < self.slice_frames and gop_began_at_cut:
            return False
        return cut_ratio(last, g) > CUT_RATIO
