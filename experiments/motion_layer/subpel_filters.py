"""Which sub-pixel interpolation filter should the motion layer use? RD of `--motion` with the
prediction (decoder and encoder search alike) interpolated by each filter, against motion off, on the
benchmark's 3 validation clips (variants.py's protocol). Every filter is separable, integer, with
edge clamping: bilinear (shipped), a 4-tap cubic (HEVC's chroma taps at quarter phases), an 8-tap
windowed sinc (HEVC's luma taps, the kind Cool-chic 4.1 uses).

    FILTERS=bilinear,cubic4,sinc8 PYTHONPATH=. python experiments/motion_layer/subpel_filters.py
"""
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import variants  # noqa: E402  (the clips, the motion-off curve, report())

from vqcodec.coding import motion, motion_search  # noqa: E402

#: per filter: (first tap's offset, taps per quarter phase 0..3); each row sums to the same total
FILTERS = {
    "bilinear": (0, [[4, 0], [3, 1], [2, 2], [1, 3]]),
    "cubic4": (-1, [[0, 64, 0, 0], [-4, 54, 16, -2], [-4, 36, 36, -4], [-2, 16, 54, -4]]),
    "sinc8": (-3, [[0, 0, 0, 64, 0, 0, 0, 0], [-1, 4, -10, 58, 17, -5, 1, 0],
                   [-1, 4, -11, 40, 40, -11, 4, -1], [0, 1, -5, 17, 58, -10, 4, -1]]),
}


def phase_planes(ref: np.ndarray, reach: int, name: str) -> np.ndarray:
    """``ref`` (H, W, 3) uint8 edge-padded by ``reach`` and interpolated at the 16 quarter phases:
    (16, H + 2 reach, W + 2 reach, 3), plane ``fy * 4 + fx``."""
    first, rows = FILTERS[name]
    taps = np.array(rows, np.int64)
    total = int(taps[0].sum()) ** 2
    n = taps.shape[1]
    lo, hi = reach - first, reach + n - 1 + first
    pad = np.pad(ref.astype(np.int64), ((lo, hi), (lo, hi), (0, 0)), mode="edge")
    h, w = ref.shape[0] + 2 * reach, ref.shape[1] + 2 * reach
    horiz = [sum(taps[fx, k] * pad[:, k:k + w] for k in range(n)) for fx in range(4)]
    planes = []
    for fy in range(4):
        for fx in range(4):
            acc = sum(taps[fy, k] * horiz[fx][k:k + h] for k in range(n))
            planes.append(np.clip((acc + total // 2) // total, 0, 255))
    return np.stack(planes).astype(np.int32)


def use(name: str) -> None:
    """Route the decoder's prediction and the encoder's search through filter ``name``."""
    def init(self, ref, reach):
        self.reach = reach
        self.h, self.w = ref.shape[:2]
        self.planes = phase_planes(ref, reach, name)

    def predict_blocks(ref, vectors, mask, block):
        bh, bw = block
        by, bx = np.nonzero(mask)
        v = vectors[by, bx].astype(np.int64)
        reach = int(np.abs(v).max(initial=0)) // 4 + 2
        planes = phase_planes(ref, reach, name)
        ys = reach + by[:, None] * bh + np.arange(bh)[None, :] + (v[:, :1] >> 2)
        xs = reach + bx[:, None] * bw + np.arange(bw)[None, :] + (v[:, 1:] >> 2)
        phase = ((v[:, 0] & 3) * 4 + (v[:, 1] & 3))[:, None, None]
        return planes[phase, ys[:, :, None], xs[:, None, :]].astype(np.uint8)

    motion_search.PhasePlanes.__init__ = init
    motion.predict_blocks = predict_blocks


if __name__ == "__main__":
    for name in os.environ.get("FILTERS", "bilinear,cubic4,sinc8").split(","):
        use(name)
        variants.report(name, variants.curve(True))
