"""Motion probe: the P-slice coder's adaptive rate models (ideal adaptive code lengths) and the
median vector predictor."""
from __future__ import annotations

import math

import numpy as np


class Bin:
    """Adaptive binary model, counts start at 1: ideal code length of each decision."""

    def __init__(self, n: int = 1):
        self.c = np.ones((n, 2))

    def cost(self, b: int, ctx: int = 0) -> float:
        return -math.log2(self.c[ctx, b] / self.c[ctx].sum())

    def update(self, b: int, ctx: int = 0) -> None:
        self.c[ctx, b] += 1


class ResidualModel:
    """A coded block's K symbols in index order: the position of the last non-zero one (its
    log2 class under an adaptive histogram whose counts start at 1, then the class's low bits
    bypass); per index before it an adaptive zero flag (counts start at 1); for every non-zero
    symbol a bypass sign bit and the magnitude minus one under an adaptive geometric law per index
    (mean starts at 1 from one pseudo observation). Each index is coded at most once per block, so
    updating after the block is exactly coding in order."""

    def __init__(self, k: int):
        self.k = k
        self.last = np.ones(int(k).bit_length())
        self.z = np.ones((k, 2))
        self.sum = np.ones(k)
        self.n = np.ones(k)

    def _parts(self, s: np.ndarray):
        m = np.abs(s)
        nz = m > 0
        last = int(np.flatnonzero(nz)[-1]) + 1                          # 1..K
        g = last.bit_length() - 1
        flagged = np.arange(self.k) < last - 1                          # zero flags coded here
        return m, nz, last, g, flagged

    def cost(self, s: np.ndarray) -> float:
        m, nz, last, g, flagged = self._parts(s)
        bits = -math.log2(self.last[g] / self.last.sum()) + g
        pz = self.z[:, 1] / self.z.sum(1)
        bits += float(np.where(flagged, np.where(nz, -np.log2(pz), -np.log2(1 - pz)), 0.0).sum())
        mu = self.sum / self.n
        q = mu / (1 + mu)
        k = np.maximum(m - 1, 0)
        return bits + float(np.where(nz, 1.0 - np.log2(1 - q) - k * np.log2(q), 0.0).sum())

    def update(self, s: np.ndarray) -> None:
        m, nz, last, g, flagged = self._parts(s)
        self.last[g] += 1
        idx = np.flatnonzero(flagged)
        self.z[idx, nz[idx].astype(int)] += 1
        self.sum += np.where(nz, m - 1, 0)
        self.n += nz


class VectorModel:
    """A vector difference, per component (y, x): adaptive zero flag, bypass sign, and |d|-1 as
    exp-Golomb order 0 with adaptive prefix bins (context: component, bin index up to 7) and bypass
    suffix bits."""

    def __init__(self):
        self.zero = Bin(2)
        self.prefix = Bin(16)

    def _walk(self, d: np.ndarray, apply: bool) -> float:
        bits = 0.0
        for c in range(2):
            v = int(d[c])
            bits += self.zero.cost(int(v != 0), c)
            if apply:
                self.zero.update(int(v != 0), c)
            if v == 0:
                continue
            u = abs(v) - 1
            n = (u + 1).bit_length() - 1                               # prefix length
            for j in range(n + 1):
                b = int(j < n)
                ctx = c * 8 + min(j, 7)
                bits += self.prefix.cost(b, ctx)
                if apply:
                    self.prefix.update(b, ctx)
            bits += 1 + n                                              # sign + suffix
        return bits

    def cost(self, d: np.ndarray) -> float:
        return self._walk(d, False)

    def cost_seq(self, ds: list) -> float:
        """Bits of several differences coded one after the other (the model adapting between them)."""
        if len(ds) == 1:
            return self.cost(ds[0])
        saved = self.zero.c.copy(), self.prefix.c.copy()
        bits = sum(self._walk(d, True) for d in ds)
        self.zero.c, self.prefix.c = saved
        return bits

    def update(self, d: np.ndarray) -> None:
        self._walk(d, True)


def median_predictor(vecs: dict, by: int, bx: int, gw: int) -> np.ndarray:
    """H.264-style: median of left, top, top-right (top-left when top-right is missing) among
    already-coded blocks of this slice; a block not coded in MC mode, or outside, counts as (0, 0)."""
    zero = np.zeros(2, np.int64)
    left = vecs.get((by, bx - 1), zero)
    top = vecs.get((by - 1, bx), zero)
    tr = vecs.get((by - 1, bx + 1), zero) if bx + 1 < gw else vecs.get((by - 1, bx - 1), zero)
    if by == 0:                                                        # only the left one exists
        return left.copy()
    return np.median(np.stack([left, top, tr]), axis=0).astype(np.int64)

