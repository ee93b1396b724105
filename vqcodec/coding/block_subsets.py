"""Some of a slice's blocks decided on their own, as one row of blocks, and merged into a decision of the slice.

Without the conditional coders every step of a block's motion decision, once its vector is searched (its bent path's
search, its prices, flag against codes), reads that block alone: deciding some of a slice's blocks gives each the
decision that deciding the whole slice gives it. :func:`~vqcodec.coding.gop_decisions.decide_in_two` uses this to
decide each block once where a slice is decided twice. The blocks are gathered into one row of blocks
(:func:`gather_blocks`), each reading the reference where its own place on the grid does
(:class:`ShiftedPlanes`), so every number is the one the whole slice gives that block (``tests/test_block_subsets.py``).
"""
from __future__ import annotations

import numpy as np

from vqcodec.coding.motion import SUBPEL


def gather_blocks(frames: np.ndarray, ids: np.ndarray, block: tuple[int, int, int]) -> np.ndarray:
    """Blocks ``ids`` (row-major indices on the grid) of a slice (t, H, W, c) as one row of blocks (t, bh, n bw, c)."""
    t, h, w, c = frames.shape
    bh, bw = block[1:]
    hb, wb = np.divmod(ids, w // bw)
    b = frames.reshape(t, h // bh, bh, w // bw, bw, c)[:, hb, :, wb]          # (n, t, bh, bw, c)
    return np.ascontiguousarray(b.transpose(1, 2, 0, 3, 4)).reshape(t, bh, len(ids) * bw, c)


def scatter_blocks(frames: np.ndarray, ids: np.ndarray, row: np.ndarray, block: tuple[int, int, int]) -> None:
    """The inverse of :func:`gather_blocks`: ``row`` (t, bh, n bw, c) written back into ``frames`` in place."""
    t, h, w, c = frames.shape
    bh, bw = block[1:]
    hb, wb = np.divmod(ids, w // bw)
    moved = row.reshape(t, bh, len(ids), bw, c).transpose(2, 0, 1, 3, 4)
    frames.reshape(t, h // bh, bh, w // bw, bw, c)[:, hb, :, wb] = moved


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

    def put(self, whole: np.ndarray, row: np.ndarray) -> None:
        """Per-block values of these blocks (1, n, ...) written into the slice's (H', W', ...) in place."""
        whole.reshape(-1, *whole.shape[2:])[self.ids] = row.reshape(len(self.ids), *row.shape[2:])

    def put_frames(self, frames: np.ndarray, row: np.ndarray) -> None:
        """:meth:`frames`' inverse: a row of these blocks (t, bh, n bw, c) written into the slice in place."""
        scatter_blocks(frames, self.ids, row, self.block)

    def planes(self, planes) -> ShiftedPlanes:
        return ShiftedPlanes(planes, self.ids, self.grid[1], self.block)

    def of(self, decision):
        """A decision of the whole slice restricted to these blocks: as one of the row would be."""
        return type(decision)(*(None if a is None else self.values(a) for a in decision[:2]),
                              self.frames(decision.frames),
                              None if decision.chosen is None else tuple(map(self.values, decision.chosen)),
                              *(None if a is None else self.values(a) for a in decision[4:]))

    def merged(self, into, part, searched: np.ndarray):
        """``into`` (a :class:`~vqcodec.coding.motion_search.SliceDecision` of the whole slice) with these blocks'
        decisions ``part`` (one of the row; None where there are no blocks), and ``searched`` (H', W', 2) the vectors
        the search found."""

        def put(whole: np.ndarray | None, row: np.ndarray | None) -> np.ndarray | None:
            if row is None:
                return whole
            out = np.zeros((*self.grid, *row.shape[2:]), row.dtype) if whole is None else np.array(whole, copy=True)
            self.put(out, row)
            return out

        if part is None:
            return into._replace(searched=searched)
        frames = np.array(into.frames, copy=True)
        self.put_frames(frames, part.frames)
        chosen = None if part.chosen is None else \
            tuple(put(w, r) for w, r in zip(into.chosen or [None] * len(part.chosen), part.chosen))
        return type(into)(put(into.flags, part.flags), put(into.vectors, part.vectors), frames, chosen, searched,
                          put(into.bends, part.bends))
