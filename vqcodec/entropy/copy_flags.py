"""Copy decisions (temporal skip) of one level: their context model and how they are coded.

For every position of every latent time slice the bitstream says whether the position's whole code
stack is copied from the previous slice (1) or coded (0). A GOP's first slice copies from the
previous GOP's last slice when the GOP is predicted; in a refresh GOP it has no decisions at all.

The decisions are coded with an adaptive binary model and a checkerboard context, so a whole slice
is coded in two batched passes (no per-symbol loop):

* pass 0: the positions with ``(y + x)`` even; context = the previous slice's decision at the same
  position (copied / coded / none) and how many of its four neighbours were copied there
  (none / some / all);
* pass 1: the odd positions; context = the previous slice's decision at the same position and how
  many of the four *current* neighbours (all from pass 0, already known) were copied.

That is 2 x 3 x 3 = 18 contexts. Each keeps integer counts; the probability of "copied" is the
Krichevsky-Trofimov estimate ``(2 c1 + 1) / (2 (c0 + c1) + 2)`` turned into an integer table with
integer arithmetic, the counts grow after each pass and are halved past :data:`COUNT_LIMIT`, so the
model follows the video. Both sides compute the same integers on every machine. The state carries
over from one GOP to the next while GOPs are predicted and starts afresh at a refresh point.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from vqcodec.entropy.rans import TOTAL

N_PASSES = 2
N_PREV = 3                  # previous slice's decision here: coded, copied, none
N_NEIGH = 3                 # copied neighbours: none, some, all
N_CONTEXTS = N_PASSES * N_PREV * N_NEIGH
COUNT_LIMIT = 1 << 10       # counts are halved past this: recent slices weigh more


@lru_cache(maxsize=16)
def checkerboard(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (H, W) of pass 0 (``(y + x)`` even) and pass 1 (read-only: shared)."""
    even = (np.add.outer(np.arange(h), np.arange(w)) % 2) == 0
    odd = ~even
    even.setflags(write=False)
    odd.setflags(write=False)
    return even, odd


#: A position's 4-neighbours, as (dy + 1, dx + 1): what the medians below read.
FOUR_NEIGHBOURS = ((0, 1), (2, 1), (1, 0), (1, 2))


def median_of_neighbours(values: np.ndarray, have: np.ndarray,
                         shifts=FOUR_NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """Per position of ``values`` (H, W, ...): the lower median of its in-grid neighbours' values (``shifts``, as
    (dy + 1, dx + 1); the 4-neighbours) where ``have`` (H, W) is true (int64, 0 where it has none), and whether it
    has any. Integers only: the motion layer's vector predictions and the scalar layer's first-slice contexts
    (version 11) read it."""
    h, w = have.shape
    rest = values.shape[2:]
    pv = np.pad(np.asarray(values, np.int64), ((1, 1), (1, 1)) + ((0, 0),) * len(rest))
    pf = np.pad(np.asarray(have, bool), 1)
    vals = np.stack([pv[a:a + h, b:b + w] for a, b in shifts])                 # (N, H, W, ...)
    near = np.stack([pf[a:a + h, b:b + w] for a, b in shifts])                 # (N, H, W)
    near_ = near.reshape(near.shape + (1,) * len(rest))
    keyed = np.where(near_, vals, np.int64(1 << 40))
    keyed.sort(axis=0)
    n = near.sum(0)
    idx = np.maximum((n - 1) // 2, 0).reshape((1, h, w) + (1,) * len(rest))
    med = np.take_along_axis(keyed, np.broadcast_to(idx, (1, h, w) + rest), axis=0)[0]
    return np.where(n.reshape((h, w) + (1,) * len(rest)) > 0, med, 0), n > 0


def _neighbour_sums(f: np.ndarray) -> np.ndarray:
    """Per position of ``f`` (H, W), the sum of its in-grid 4-neighbours."""
    n = np.zeros_like(f)
    n[1:] += f[:-1]
    n[:-1] += f[1:]
    n[:, 1:] += f[:, :-1]
    n[:, :-1] += f[:, 1:]
    return n


@lru_cache(maxsize=16)
def _neighbour_counts(h: int, w: int) -> np.ndarray:
    n = _neighbour_sums(np.ones((h, w), np.int64))
    n.setflags(write=False)
    return n


def _neighbour_feature(flags: np.ndarray) -> np.ndarray:
    """(H, W) -> 0/1/2: none / some / all of a position's in-grid 4-neighbours are set."""
    n = _neighbour_sums(flags.astype(np.int64))
    return np.where(n == 0, 0, np.where(n == _neighbour_counts(*flags.shape), 2, 1))


class LabelledChannel:
    """A channel for :meth:`CopyFlagModel.code_slice` that tags what passes through it with ``label``
    (for the per-stream bit report of ``gop_coding``'s channels)."""

    def __init__(self, channel, label: str) -> None:
        self.channel, self.label = channel, label

    def code(self, tables: np.ndarray, n: int, symbols: np.ndarray | None) -> np.ndarray:
        return self.channel.code(tables, n, symbols, self.label)


class CopyFlagModel:
    """The adaptive context model of one level's copy decisions (integer state only)."""

    def __init__(self) -> None:
        self.counts = np.zeros((N_CONTEXTS, 2), np.int64)

    def clone(self) -> "CopyFlagModel":
        m = CopyFlagModel()
        m.counts = self.counts.copy()
        return m

    def tables(self, ctx: np.ndarray) -> np.ndarray:
        """Integer tables ``(n, 2)`` (coded, copied), each summing to ``2**24``."""
        c = self.counts[np.asarray(ctx, np.int64)]
        num = 2 * c[:, 1] + 1
        den = 2 * (c[:, 0] + c[:, 1]) + 2
        f1 = np.clip(num * TOTAL // den, 1, TOTAL - 1)
        return np.stack([TOTAL - f1, f1], axis=1)

    def update(self, ctx: np.ndarray, flags: np.ndarray) -> None:
        ctx = np.asarray(ctx, np.int64)
        f = np.asarray(flags, np.int64)
        self.counts[:, 1] += np.bincount(ctx, weights=f, minlength=N_CONTEXTS).astype(np.int64)
        self.counts[:, 0] += np.bincount(ctx, weights=1 - f, minlength=N_CONTEXTS).astype(np.int64)
        big = self.counts.sum(axis=1) > COUNT_LIMIT
        self.counts[big] = (self.counts[big] + 1) >> 1

    @staticmethod
    def contexts(pass_: int, prev: np.ndarray | None, cur: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
        """Context id (H, W) of every position for ``pass_``. ``prev``: the previous slice's
        decisions (None: unavailable); ``cur``: this slice's decisions known so far (pass 1)."""
        h, w = shape
        prev_feat = np.full((h, w), 2, np.int64) if prev is None else prev.astype(np.int64)
        if pass_ == 0:
            neigh = np.zeros((h, w), np.int64) if prev is None else _neighbour_feature(prev)
        else:
            neigh = _neighbour_feature(cur)
        return (pass_ * N_PREV + prev_feat) * N_NEIGH + neigh

    def code_slice(self, channel, flags: np.ndarray | None, prev: np.ndarray | None,
                   shape: tuple[int, int], where: np.ndarray | None = None) -> np.ndarray:
        """Code one slice's decisions through ``channel`` (see ``gop_coding.SymbolChannel``): the
        encoder passes ``flags`` (H, W) bool, the decoder ``None``; both get the decisions back.
        ``where`` (H, W) bool, if given: only those positions have a decision; the rest are 0."""
        h, w = shape
        out = np.zeros((h, w), bool)
        masks = checkerboard(h, w)
        if flags is not None and where is not None and (flags & ~where).any():
            raise ValueError("a decision set outside the positions that can have one")
        for p, mask in enumerate(masks):
            if where is not None:
                mask = mask & where
            ctx = self.contexts(p, prev, out, shape)[mask]
            sym = channel.code(self.tables(ctx), int(mask.sum()), None if flags is None else flags[mask])
            out[mask] = np.asarray(sym, bool)
            self.update(ctx, out[mask])
        return out

    def estimate_bits(self, prev: np.ndarray | None, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Encoder's rate estimate (H, W) of coding each position as (coded, copied), from the
        pass-0 view of the context (this slice's neighbours are not decided yet). Floats: used
        only for decisions, never by the decoder."""
        h, w = shape
        ctx = self.contexts(0, prev, None, shape)
        t = self.tables(ctx.reshape(-1)).astype(np.float64)
        bits = 24.0 - np.log2(t)
        return bits[:, 0].reshape(h, w), bits[:, 1].reshape(h, w)
