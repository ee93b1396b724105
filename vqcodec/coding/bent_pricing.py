"""The bent paths' prices of a slice's blocks, computed only where a block's bent path differs from its straight one,
in fixed chunks that either of the decisions' two threads takes.

Without the conditional coders every step of pricing a predicted block (its SSE, the motion residual's options, the
enhancement estimate) reads that block alone, so a block whose bent path is its straight path would be priced as its
straight prediction was, and then lose (the bend costs bits and gains nothing): its bent price is never read, and
:class:`BentPricing` gives it an infinite distortion instead. The other blocks are priced a chunk at a time, each chunk
gathered into a slice of one row of blocks; the chunks are cut by block index alone, so which thread prices one never
changes a number (the decisions' bytes are those of pricing the whole slice: ``tests/test_bent_pricing.py``). The side
thread searches the bent paths and starts on the chunks; the main thread joins it once its straight prices are done.
"""
from __future__ import annotations

import itertools
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import numpy as np

#: Blocks per chunk of bent prices: a 720p slice's 3,600 blocks in up to 8 chunks.
CHUNK_BLOCKS = 512


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


class BentPricing:
    """A slice's bent paths, searched and priced. ``search()`` -> (frame 0's vectors (H', W', 2), bends, the slice
    with every block on its bent path); ``price(source_row, trial_row, lam_row)`` prices a row of blocks as the
    straight blocks are priced -> (the row as priced, SSE (1, n), extra bits (1, n), the residual's (option, codes)
    or None); ``straight`` (H', W', 2): the straight vectors; ``lam``: one, or one per block (H', W'); ``side``: the
    thread that starts at once."""

    def __init__(self, search: Callable, price: Callable, source: np.ndarray, straight: np.ndarray, lam,
                 block: tuple[int, int, int], side: ThreadPoolExecutor | None = None) -> None:
        self._search, self._price, self._source, self._straight = search, price, source, straight
        self._lam, self._block = lam, block
        self._searched: Future = Future()
        self._chunks: list[np.ndarray] = []
        self._priced: list = []
        self._next = itertools.count()
        # on ``side``'s thread where given (else in :meth:`result`): the search, then chunks
        self._job: Future | None = None if side is None else side.submit(self._side)

    def _side(self) -> None:
        self._search_once()
        self._take_chunks()

    def _search_once(self) -> None:
        try:
            vec, path, trial = self._search()
            moved = (vec != self._straight).any(-1) | path.any(axis=(-2, -1))
            ids = np.flatnonzero(moved)
            self._chunks = [ids[i:i + CHUNK_BLOCKS] for i in range(0, len(ids), CHUNK_BLOCKS)]
            self._priced = [None] * len(self._chunks)
            self._searched.set_result((vec, path, trial))
        except BaseException as e:
            self._searched.set_exception(e)
            raise

    def _take_chunks(self) -> None:
        # each chunk goes to whichever thread asks first (itertools.count is atomic under the interpreter lock)
        for k in iter(self._next.__next__, None):
            if k >= len(self._chunks):
                return
            ids = self._chunks[k]
            lam = self._lam if np.ndim(self._lam) == 0 else np.reshape(self._lam, -1)[ids].reshape(1, -1)
            self._priced[k] = self._price(gather_blocks(self._source, ids, self._block),
                                          gather_blocks(self._searched.result()[2], ids, self._block), lam)

    def result(self):
        """(vectors, bends, the slice as priced, SSE (H', W'; infinite where the path is straight), extra bits,
        the residual's (option, codes) or None), the calling thread pricing chunks beside the side thread."""
        if self._job is None:
            self._search_once()
        vec, path, trial = self._searched.result()
        self._take_chunks()
        if self._job is not None:
            self._job.result()
        grid = vec.shape[:2]
        sse, extra, chosen = np.full(grid, np.inf), np.zeros(grid), None
        trial = np.array(trial, copy=True)
        for ids, (row, d, e, ch) in zip(self._chunks, self._priced):
            scatter_blocks(trial, ids, row, self._block)
            sse.flat[ids], extra.flat[ids] = d.reshape(-1), e.reshape(-1)
            if ch is not None:
                if chosen is None:
                    chosen = tuple(np.zeros((*grid, *c.shape[2:]), c.dtype) for c in ch)
                for full, c in zip(chosen, ch):
                    full.reshape(-1, *full.shape[2:])[ids] = c.reshape(len(ids), *c.shape[2:])
        return vec, path, trial, sse, extra, chosen
