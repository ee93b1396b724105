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

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import numpy as np

from vqcodec.coding.block_subsets import BlockSubset
from vqcodec.coding.side_thread import InTurn

#: Blocks per chunk of bent prices: a 720p slice's 3,600 blocks in up to 8 chunks.
CHUNK_BLOCKS = 512


class BentPricing:
    """A slice's bent paths, searched and priced. ``search()`` -> (frame 0's vectors (H', W', 2), bends, the slice
    with every block on its bent path); ``price(source, trial, lam)`` prices a slice, or a row of blocks, as the
    straight blocks are priced -> (it as priced, SSE, extra bits, the residual's options and codes or None);
    ``straight`` (H', W', 2): the straight vectors; ``lam``: one, or one per block (H', W'). ``per_block``: a block's
    price reads that block alone (no conditional coders), so only the bent blocks are priced, in chunks; else the
    whole slice at once. ``side``: the thread that starts at once (the search, then chunks), else all of it in
    :meth:`result`."""

    def __init__(self, search: Callable, price: Callable, source: np.ndarray, straight: np.ndarray, lam,
                 block: tuple[int, int, int], per_block: bool = True, side: ThreadPoolExecutor | None = None) -> None:
        self._search, self._price, self._source, self._straight = search, price, source, straight
        self._lam, self._block, self._per_block = lam, block, per_block
        self._searched: Future = Future()
        self._subsets: list[BlockSubset] = []
        self._chunks = InTurn([])
        self._job: Future | None = None if side is None else side.submit(self._side)

    def _side(self) -> None:
        self._search_once()
        self._chunks.take()

    def _search_once(self) -> None:
        try:
            vec, path, trial = self._search()
            if not self._per_block:
                self._chunks = InTurn([lambda: self._price(self._source, trial, self._lam)])
            else:
                ids = np.flatnonzero((vec != self._straight).any(-1) | path.any(axis=(-2, -1)))
                self._subsets = [BlockSubset(ids[i:i + CHUNK_BLOCKS], vec.shape[:2], self._block)
                                 for i in range(0, len(ids), CHUNK_BLOCKS)]
                self._chunks = InTurn([lambda sub=sub: self._chunk(sub, trial) for sub in self._subsets])
            self._searched.set_result((vec, path, trial))
        except BaseException as e:
            self._searched.set_exception(e)
            raise

    def _chunk(self, sub: BlockSubset, trial: np.ndarray):
        return self._price(sub.frames(self._source), sub.frames(trial), sub.values(self._lam))

    def result(self):
        """(vectors, bends, the slice as priced, SSE, extra bits, the residual's options and codes or None), the
        calling thread taking chunks beside the side thread. Per block, a block whose path does not bend has an
        infinite SSE, and no residual is returned where no block bends."""
        if self._job is None:
            self._search_once()
        vec, path, trial = self._searched.result()
        self._chunks.take()
        if self._job is not None:
            self._job.result()
        if not self._per_block:
            return (vec, path, *self._chunks.results[0])
        grid = vec.shape[:2]
        sse, extra, chosen = np.full(grid, np.inf), np.zeros(grid), None
        trial = np.array(trial, copy=True)
        for sub, (row, d, e, ch) in zip(self._subsets, self._chunks.results):
            sub.put_frames(trial, row)
            sub.put(sse, d)
            sub.put(extra, e)
            if ch is not None:
                if chosen is None:
                    chosen = tuple(np.zeros((*grid, *c.shape[2:]), c.dtype) for c in ch)
                for full, c in zip(chosen, ch):
                    sub.put(full, c)
        return vec, path, trial, sse, extra, chosen
