"""The learned prior's integer tables (:mod:`vqcodec.entropy.learned_prior`): a static table scaled
by the class's static weight plus integer spikes on the candidate codes, one row per symbol.

:func:`mixture_tables` builds the rows (the decoder needs whole rows to find each symbol);
:func:`mixture_intervals` gives only what the coder uses of each row for a known symbol, its start
(the sum of the entries before it) and its frequency, without building the rows: the encoder and
its rate estimates read K entries fewer per symbol. Both are integer only and agree exactly
(tests/test_learned_prior.py).
"""
from __future__ import annotations

import numpy as np

from vqcodec.entropy.rans import TOTAL

W_BITS = 16
W_ONE = 1 << W_BITS


def _class_bases(static: np.ndarray, weights: np.ndarray, used: np.ndarray, base_cache: dict | None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """For each class in ``used``: the static part of its rows ``((static - 1) * w0 >> 16) + 1``
    (u, K) and the mass it leaves for the spikes (u,); cached per class in ``base_cache``."""
    if base_cache is None:
        base_cache = {}
    fm1 = static - 1
    need = [int(c) for c in used if int(c) not in base_cache]
    if need:
        a = weights[need, 0]
        b = ((fm1[None, :] * a[:, None]) >> W_BITS) + 1
        for i, c in enumerate(need):
            base_cache[c] = (b[i], TOTAL - int(b[i].sum()))
    bases = np.stack([base_cache[int(c)][0] for c in used])
    rests = np.array([base_cache[int(c)][1] for c in used], np.int64)
    return bases, rests


def _spikes(weights: np.ndarray, cls: np.ndarray, rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's spike per candidate slot ``R * w_j // (2**16 - w0)`` (n, M), and the rounding rest
    that goes to slot 0 besides (n,)."""
    w = weights[cls]                                  # (n, 1 + M)
    denom = W_ONE - w[:, 0]
    r = np.where((denom > 0)[:, None], rest[:, None] * w[:, 1:] // np.maximum(denom, 1)[:, None], 0)
    return r, rest - r.sum(axis=1)


def _classes(cls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The classes used, and each symbol's index among them."""
    used = np.unique(cls)
    lut_idx = np.full(int(used.max()) + 1, -1, np.int64)
    lut_idx[used] = np.arange(used.size)
    return used, lut_idx[cls]


def mixture_tables(static: np.ndarray, weights: np.ndarray, cls: np.ndarray, cands: np.ndarray,
                   base_cache: dict | None = None) -> np.ndarray:
    """Per-symbol integer tables ``(n, K)`` of the mixture (see the learned prior's docstring). Integer only."""
    cls = np.asarray(cls, np.int64)
    cands = np.asarray(cands, np.int64)
    n = cls.size
    k = static.shape[0]
    if n == 0:
        return np.zeros((0, k), np.int64)
    used, j = _classes(cls)
    bases, rests = _class_bases(static, weights, used, base_cache)
    rows = bases[j]                                   # (n, K) copy
    r, extra = _spikes(weights, cls, rests[j])
    ar = np.arange(n)
    for s in range(r.shape[1]):                       # slot by slot: candidates may repeat in a row
        rows[ar, cands[:, s]] += r[:, s]
    rows[ar, cands[:, 0]] += extra
    return rows


def mixture_intervals(static: np.ndarray, weights: np.ndarray, cls: np.ndarray, cands: np.ndarray,
                      symbols: np.ndarray, base_cache: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(start, freq)`` of each symbol under its row of :func:`mixture_tables` (int64, (n,) each):
    the row's entries before the symbol summed, and its entry."""
    cls = np.asarray(cls, np.int64)
    cands = np.asarray(cands, np.int64)
    sym = np.asarray(symbols, np.int64)
    if cls.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    used, j = _classes(cls)
    bases, rests = _class_bases(static, weights, used, base_cache)
    r, extra = _spikes(weights, cls, rests[j])
    r[:, 0] += extra
    freq = bases[j, sym] + np.where(cands == sym[:, None], r, 0).sum(axis=1)
    start = (np.cumsum(bases, axis=1) - bases)[j, sym] + np.where(cands < sym[:, None], r, 0).sum(axis=1)
    return start, freq
