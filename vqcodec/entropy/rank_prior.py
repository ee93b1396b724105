"""The rank prior ("rank"): a bottom code is coded by how near its codeword lies to a prediction
from the slice before (a temporally conditioned prior over the codebook's geometry, no training).

Why: the bottom latent changes little from one latent time slice to the next where the scene does,
but rarely to exactly the same code, so the learned prior's spikes on the codes before find little
(docs/DESIGN.md, "Rank prior"). The codeword *nearest* the previous slice's latent is, though, often
the one chosen, and the near ones next: coded by its rank among the codewords sorted by distance to
that prediction, a code costs fewer bits (experiments/temporal_prior/ has the measurements).

Model, per coded position of slice ``t`` of stream ``bottom.s`` (``C_j``: stage j's codewords as
integers, ``round(codeword x 2^12)``; codes of slot ``t - 1``: the slice before, or the previous
GOP's last slice at ``t = 0`` of a predicted GOP)::

    r      = sum_{j <= s} C_j[code_j(t-1)] - sum_{j < s} C_j[code_j(t)]    (int64; what stage s adds)
    key[k] = |C_s[k]|^2 - 2 r . C_s[k]                                      (|r - C_s[k]|^2 - |r|^2)

The code's *rank* (its place in ascending ``(key, k)`` order) is the symbol coded, under one table
``F_s`` shared by the slice: rank ``p`` is in bucket ``b = bitlength(p + 1) - 1`` (1, 2, 4, ... ranks),
whose mass (integer counts :data:`BUCKET_COUNTS`, fitted on training clips) is shared equally by its
ranks. The stage's codes of slice t-1 and the lower stages of slice t are decoded before (the payload
codes stage by stage, each slice after the one before), so the decoder computes the same keys and maps
each decoded rank back to its code. Every step is integer: the dot products go through float64 only
when every product and partial sum is an integer below 2^53 (exact). The encoder counts a code's rank
without sorting; the decoder sorts each position's keys once.

Where there is no slice before (slice 0 of a refresh GOP) and for the other levels, the tables are the
model's empirical-static ones (uniform without them).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from vqcodec.codes import parse_stream_name
from vqcodec.entropy.priors import Prior, SliceContext, UniformPrior
from vqcodec.entropy.rans import PRECISION_BITS, EntropyError

RANK_LEVEL = "bottom"             # the level whose codes are ranked
WEIGHT_SHIFT = 12                 # codewords are scaled by 2^12 before rounding
EXACT_FLOAT = 1 << 53
MAX_CODEWORD = 1 << 28            # scaled codewords beyond this (65536 as floats) could overflow int64 keys
MAX_REACH = 1 << 62
#: Per stage (the last row for every later stage): counts of the ranks' log2 buckets 0 (rank 0), 1
#: (ranks 1-2), 2 (3-6), ... 10 (1023-), measured on 23 training clips of the open corpus at Q3-Q8
#: (experiments/temporal_prior/fit_buckets.py).
BUCKET_COUNTS = np.array([
    [669, 247, 354, 346, 356, 312, 568, 535, 381, 333, 1],
    [177, 118, 154, 222, 260, 401, 455, 643, 830, 840, 1],
    [80, 110, 152, 249, 343, 439, 580, 624, 732, 791, 2],
    [47, 92, 145, 238, 297, 461, 566, 668, 792, 795, 1],
    [44, 86, 127, 235, 328, 386, 581, 688, 815, 812, 1],
    [23, 44, 106, 203, 304, 432, 590, 728, 866, 805, 1],
], np.int64)


def rank_frequencies(stage: int, k: int) -> np.ndarray:
    """The frequencies of ranks 0..k-1 for ``stage`` (int64, each >= 1, summing to 2^24): bucket b's
    mass ``size_b + floor((2^24 - k) * c_b / sum c)``, the rest to bucket 0; within a bucket each rank
    gets ``mass // size``, its first rank also the remainder."""
    counts = BUCKET_COUNTS[min(stage, len(BUCKET_COUNTS) - 1)]
    n_buckets = max(1, int(k).bit_length())                     # buckets 0..bitlength(k)-1 cover ranks 0..k-1
    starts = (1 << np.arange(n_buckets + 1, dtype=np.int64)) - 1
    sizes = np.minimum(starts[1:], k) - starts[:-1]
    c = np.array([counts[min(b, len(counts) - 1)] for b in range(n_buckets)], np.int64)
    total = 1 << PRECISION_BITS
    mass = sizes + (total - k) * c // int(c.sum())
    mass[0] += total - int(mass.sum())
    out = np.repeat(mass // sizes, sizes)
    out[starts[:-1]] += mass % sizes
    return out


class RankedTables(NamedTuple):
    """The rank prior's answer for one slice: its codes are coded as ranks under ``freqs`` (K,), the
    ranks in each coded position's ascending ``(keys, index)`` order (``keys``: (n, K) int64)."""

    freqs: np.ndarray
    keys: np.ndarray

    def ranks_of(self, codes: np.ndarray) -> np.ndarray:
        """Each position's code (n,) -> its rank (n,): how many codewords come before it."""
        codes = np.asarray(codes, np.int64)
        ordered = self._ordered()
        if ordered is not None:
            return (ordered < np.take_along_axis(ordered, codes[:, None], axis=1)).sum(1)
        mine = np.take_along_axis(self.keys, codes[:, None], axis=1)
        index = np.arange(self.keys.shape[1])[None]
        return ((self.keys < mine) | ((self.keys == mine) & (index < codes[:, None]))).sum(1)

    def codes_of(self, ranks: np.ndarray) -> np.ndarray:
        """Each position's decoded rank (n,) -> its code (n,)."""
        rows, ranks = np.arange(len(self.keys)), np.asarray(ranks, np.int64)
        ordered = self._ordered()
        if ordered is not None:       # sorting the values (twice as fast as an argsort) puts each code at its rank
            return np.sort(ordered, axis=1)[rows, ranks] % self.keys.shape[1]
        return np.argsort(self.keys, axis=1, kind="stable")[rows, ranks]

    def _ordered(self) -> np.ndarray | None:
        """``key x K + index``: unique and in (key, index) order; None where it would leave int64 (or
        for no positions), and the keys are compared as they are."""
        n, k = self.keys.shape
        if not n or int(np.abs(self.keys).max()) >= (1 << 62) // k - k:
            return None
        return self.keys * k + np.arange(k)[None]


class RankPrior(Prior):
    """The rank prior over integer codebooks (see the module docstring)."""

    kind = "rank"

    def __init__(self, codebooks: list[np.ndarray], fallback: Prior | None = None) -> None:
        """``codebooks``: the bottom quantiser's float codewords per stage, (K, C) each."""
        scaled = [np.rint(np.asarray(c, np.float64) * (1 << WEIGHT_SHIFT)) for c in codebooks]
        if any(not np.isfinite(c).all() or np.abs(c).max(initial=0) >= MAX_CODEWORD for c in scaled):
            raise EntropyError("the rank prior needs codewords below 65536 in magnitude")
        self.codebooks = [c.astype(np.int64) for c in scaled]
        self.norms = [(c * c).sum(1) for c in self.codebooks]
        self.float_t = [np.ascontiguousarray(c.T, np.float64) for c in self.codebooks]    # the same integers
        self.fallback = fallback if fallback is not None else UniformPrior()
        self._freqs: dict[tuple[int, int], np.ndarray] = {}

    @classmethod
    def from_network(cls, net, fallback: Prior | None = None) -> "RankPrior":
        return cls([layer.codebook.detach().cpu().float().numpy() for layer in net.bottom_quantizer.layers], fallback)

    def slice_tables(self, ctx: SliceContext) -> np.ndarray | RankedTables:
        parsed = parse_stream_name(ctx.name)
        if parsed is None or parsed[0] != RANK_LEVEL or ctx.ext[1 + ctx.t].min() < 0:
            return self.fallback.slice_tables(ctx)
        s = parsed[1]
        if s >= len(self.codebooks) or len(ctx.stage_exts) != s or self.codebooks[s].shape[0] != ctx.codebook_size:
            raise EntropyError(f"stream {ctx.name}: the rank prior's codebooks do not fit this stream")
        coded = ctx.coded
        r = self.codebooks[s][ctx.ext[1 + ctx.t][coded]]
        for j, ext in enumerate(ctx.stage_exts):
            r = r + self.codebooks[j][ext[1 + ctx.t][coded]] - self.codebooks[j][ext[2 + ctx.t][coded]]
        return RankedTables(self._rank_freqs(s, ctx.codebook_size), self._keys(s, r))

    def _keys(self, s: int, r: np.ndarray) -> np.ndarray:
        """``|C_s[k]|^2 - 2 r . C_s[k]`` for every row of ``r`` (n, C) and codeword k, exactly."""
        cb = self.codebooks[s]
        reach = int(np.abs(r).max(initial=0)) * int(np.abs(cb).max(initial=0)) * cb.shape[1]
        if reach < EXACT_FLOAT:
            dots = (r.astype(np.float64) @ self.float_t[s]).astype(np.int64)     # exact integers already
        elif reach < MAX_REACH:
            dots = r @ cb.T
        else:
            raise EntropyError("rank prior: a prediction too large for exact integer distances")
        return self.norms[s][None] - 2 * dots

    def _rank_freqs(self, s: int, k: int) -> np.ndarray:
        key = (s, k)
        if key not in self._freqs:
            self._freqs[key] = rank_frequencies(s, k)
        return self._freqs[key]
