"""How much of a GOP is predicted from each block, and the motion decisions' lambda per block from it
(x264's macroblock tree, on vqv's slices): a block that many later blocks are predicted from, directly or
through others, is worth more quality than its own distortion says; one that nothing reads, less.

Before a GOP's motion decisions, a lookahead estimates its motion field cheaply: for each slice t >= 1 the
search's vectors on the source frames (slice t against the source frame before it) and which blocks would
be predicted (that prediction's squared error plus lambda x its vector's bits against the network
reconstruction's plus lambda x its codes' bits: the decision without residuals, coders or bent paths).
Then, from the last slice back, every predicted block hands :data:`ALPHA` x (1 + its own propagation) to the
blocks of the slice before that its vector reads, by overlap area; a block's lambda is the GOP's times
(1 + its propagation) ^ -:data:`STRENGTH`, normalised to a geometric mean of 1 over the GOP (the lambda is
moved between blocks, not lowered). Floats, in the encoder only: the decoder reads what was decided.
Measured: experiments/propagation/README.md.
"""
from __future__ import annotations

import numpy as np

from vqcodec.coding.motion import SUBPEL
from vqcodec.coding.motion_search import (FLAG_BITS, _predicted, block_sse, search_planes, search_slice,
                                          vector_bits)
from vqcodec.coding.side_thread import SIDE_THREAD_BLOCKS, in_turn

#: The share of a predicted block's worth that its reference inherits, and how strongly lambda follows it.
ALPHA, STRENGTH = 0.5, 0.5


def lookahead_field(source: np.ndarray, recon: np.ndarray, rates: np.ndarray, lam: float, search: int,
                    block: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The estimated motion field of a GOP (``source`` and the network's ``recon`` (T, H, W, 3), ``rates``
    (T', H', W') the bits of each position's codes): flags (T', H', W') and vectors (T', H', W', 2). Its
    slices are independent: where they are large enough, this thread and the decisions' second thread take them
    in turn (the same numbers either way)."""
    bt, bh, bw = block
    flags = np.zeros(rates.shape, bool)
    vectors = np.zeros((*rates.shape, 2), np.int64)

    def one(t: int) -> None:
        ref, sl = source[t * bt - 1], slice(t * bt, (t + 1) * bt)
        planes = search_planes(ref, bt, search)
        vectors[t] = search_slice(source[sl], ref, lam, search, block, None, None, planes, None)
        d_mc = block_sse(_predicted(recon[sl], ref, vectors[t], None, block, planes), source[sl], (bh, bw))
        d_net = block_sse(recon[sl], source[sl], (bh, bw))
        flags[t] = d_mc + lam * (FLAG_BITS + vector_bits(vectors[t], 0)) < d_net + lam * rates[t]

    in_turn([lambda t=t: one(t) for t in range(1, rates.shape[0])], rates[0].size >= SIDE_THREAD_BLOCKS)
    return flags, vectors


def propagation(flags: np.ndarray, vectors: np.ndarray, block: tuple[int, int]) -> np.ndarray:
    """Each block's propagated worth (T', H', W'), in units of one block, from a motion field."""
    t_, hb, wb = flags.shape
    p = np.zeros(flags.shape)
    rows, cols = np.meshgrid(np.arange(hb), np.arange(wb), indexing="ij")
    for t in range(t_ - 1, 0, -1):
        y = rows + vectors[t, ..., 0] / (SUBPEL * block[0])      # where the block reads, in blocks
        x = cols + vectors[t, ..., 1] / (SUBPEL * block[1])
        by, bx = np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)
        fy, fx = y - by, x - bx
        amount = np.where(flags[t], ALPHA * (1.0 + p[t]), 0.0)
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                np.add.at(p[t - 1], (np.clip(by + dy, 0, hb - 1), np.clip(bx + dx, 0, wb - 1)), amount * wy * wx)
    return p


def block_lambdas(source: np.ndarray, recon: np.ndarray, rates: np.ndarray, lam: float, search: int,
                  block: tuple[int, int, int]) -> np.ndarray:
    """The motion decisions' lambda of every block of a GOP (T', H', W'), around ``lam``."""
    flags, vectors = lookahead_field(source, recon, rates, lam, search, block)
    scale = (1.0 + propagation(flags, vectors, block[1:])) ** -STRENGTH
    return lam * scale / np.exp(np.log(scale).mean())
