"""Some of a slice's blocks decided again on their own, as one row of blocks, and merged back into the slice's decision.

A slice is decided twice (:func:`~vqcodec.coding.motion_search.decide_gop`): the second time with the vector
predictions the coder will use, starting from the vectors the first found. Without the conditional coders every step
of a block's decision (its searches, its prices, flag against codes) reads that block alone, so a block whose vector
prediction and searched vector are both unchanged decides as it did the first time. Only the others are decided
again: gathered into one row of blocks (:func:`~vqcodec.coding.bent_pricing.gather_blocks`), each reading the
reference where its own place on the grid does (:class:`ShiftedPlanes`), so every number is the one the whole slice
gives that block (``tests/test_block_subsets.py``).
"""
from __future__ import annotations

import numpy as np

from vqcodec.coding.bent_pricing import gather_blocks, scatter_blocks
from vqcodec.coding.motion import SUBPEL


class ShiftedPlanes:
    """A slice's phase planes (:class:`~vqcodec.coding.motion_search.PhasePlanes`) as a row of blocks gathered from
    its grid reads them: block ``k`` of the row reads where block ``ids[k]`` of the grid (row-major, ``width`` blocks a
    row) does. A whole-pixel offset is added to each block's vectors, so the phase, and every integer, is the same."""

    def __init__(self, planes, ids: np.ndarray, width: int, block: tuple[int, int, int]) -> None:
        bh, bw = block[1:]
        ys, xs = np.divmod(np.asarray(ids, np.int64), width)
        self.reach, self._planes = planes.reach, planes
        self._offset = np.stack([ys * bh, (xs - np.arange(len(ids))) * bw], -1)[None] * SUBPEL     # (1, n, 2)

    def sads(self, vectors: np.ndarray, block: tuple[int, int], targets: np.ndarray) -> np.ndarray:
        return self._planes.sads(vectors + self._offset, block, targets)

    def blocks(self, vectors: np.ndarray, block: tuple[int, int]) -> np.ndarray:
        return self._planes.blocks(vectors + self._offset, block)


class BlockSubset:
    """Blocks ``ids`` (row-major indices) of a slice's grid (H', W') of blocks ``block`` (bt, bh, bw)."""

    def __init__(self, ids: np.ndarray, grid: tuple[int, int], block: tuple[int, int, int]) -> None:
        self.ids, self.grid, self.block = ids, grid, block

    def frames(self, frames: np.ndarray) -> np.ndarray:
        """A slice (t, H, W, c) -> its blocks as one row of blocks (t, bh, n bw, c)."""
        return gather_blocks(frames, self.ids, self.block)

    def values(self, a) -> np.ndarray:
        """Per-block values (H', W', ...) -> (1, n, ...); a scalar stays one."""
        if np.ndim(a) == 0:
            return a
        a = np.asarray(a)
        return a.reshape(-1, *a.shape[2:])[self.ids][None]

    def planes(self, planes) -> ShiftedPlanes:
        return ShiftedPlanes(planes, self.ids, self.grid[1], self.block)

    def merged(self, decision, part, searched: np.ndarray):
        """``decision`` (a :class:`~vqcodec.coding.motion_search.SliceDecision` of the whole slice) with the blocks
        decided again in ``part`` (one of the row), and ``searched`` (H', W', 2) the vectors the search found."""

        def put(whole: np.ndarray | None, row: np.ndarray | None) -> np.ndarray | None:
            if whole is None:
                return None
            out = np.array(whole, copy=True)
            out.reshape(-1, *out.shape[2:])[self.ids] = row.reshape(len(self.ids), *row.shape[2:])
            return out

        frames = np.array(decision.frames, copy=True)
        scatter_blocks(frames, self.ids, part.frames, self.block)
        chosen = None if decision.chosen is None else tuple(put(w, r) for w, r in zip(decision.chosen, part.chosen))
        return type(decision)(put(decision.flags, part.flags), put(decision.vectors, part.vectors), frames, chosen,
                              searched, put(decision.bends, part.bends))
