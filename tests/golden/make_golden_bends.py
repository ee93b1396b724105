"""Regenerate the bent-path golden fixtures (by hand, only when the bent paths' format changes on purpose,
or after make_tiny_linear.py: a changed file means files in the wild stop decoding).

    python tests/golden/make_golden_bends.py

Writes golden_bends.vqv (version 7.0: tiny_linear.pt's top quality, 1 top + 2 bottom stages, with the
motion layer, its residual (options ((1, 1),)) and bent paths; a 40-frame 32x40 juddering pan: the
picture moves 3 pixels left, then 2 back right, frame after frame, so no straight path fits a slice
(the tiny models' slices are 2 frames); two GOPs, the second predicted, refresh 0),
golden_bends_codes.npz (per GOP: the VQ indices and copy maps, the motion flags and vectors, each
predicted block's residual option and codes, and its bends) and golden_bends_frames.npy. Refuses to
write a file in which a GOP has no bent block.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from conftest import pan_video  # noqa: E402
from make_golden_residual import make_golden  # noqa: E402


#: Each frame's step (dy, dx) in whole pixels from the frame before: 3 right, then 2 back, and so on.
JUDDER = ((0, 3), (0, -2))


def path_video(steps: np.ndarray, h: int = 32, w: int = 40) -> np.ndarray:
    """The textured picture of conftest.pan_video seen through an h x w window that moves ``steps``
    (T, 2) whole pixels (dy, dx) into each frame: frame k shows the picture at the steps' running sum, so
    the true displacement of frame k from frame i is the sum of the steps i+1..k."""
    pos = np.cumsum(np.asarray(steps, np.int64), 0)
    pos -= pos.min(0)
    canvas = pan_video(1, h + int(pos[:, 0].max()) + 1, w + int(pos[:, 1].max()) + 1)[0]
    return np.stack([canvas[y:y + h, x:x + w] for y, x in pos])


def judder_steps(frames: int = 40) -> np.ndarray:
    return np.array([JUDDER[k % 2] for k in range(frames)], np.int64)


def golden_input() -> np.ndarray:
    return path_video(judder_steps())


def main() -> None:
    make_golden("golden_bends", golden_input(), (7, 0), lambda c: c.motion.bends.any(axis=(-2, -1)).sum(),
                "bent blocks")


if __name__ == "__main__":
    main()
