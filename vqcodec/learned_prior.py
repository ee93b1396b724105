"""The learned conditional prior ("learned"): code indices predicted from their temporal context.

Why: in video the codes of one latent time slice largely repeat (or predictably follow) the codes of
the slice before it. Coding every symbol with one static table throws that away.

Model (per stream ``level.stage``, per symbol at latent position ``(t, y, x)``)
    A mixture of the stream's own static table and a few integer "copy" spikes on *candidate* codes
    taken from already-decoded context::

        p(v) = w0[c] * static(v) + sum_j w_j[c] * [v == cand_j]

    Candidates (``N_SLOTS`` of them): the same stream's code at ``(t-1, y, x)`` ("P"), its four
    spatial neighbours at ``t-1`` (edge-clamped), the ``N_SUCC`` most frequent training successors
    of P (``succ`` table), and the ``N_COOC`` most frequent training co-occurrents of the lower
    stage's code at the same position (stage ``s-1``; for ``bottom.0`` the parent ``top.0`` code)
    (``cooc`` table). Each slot has its own weight (rank 1 of the successors weighs more than rank
    16): together they approximate the transition table P -> v compactly.
    The weights ``w`` come from a small integer table indexed by a context class ``c`` built from
    agreement features: is P available, did P repeat ``t-2`` (history), did the lower stage (or the
    parent) repeat at this position, how many of P's neighbours repeated. Slice ``t = 0`` takes its
    ``t-1`` and ``t-2`` from the previous GOP's last slices when GOP context is on, else class 0
    (static table + lower-stage candidates only).

    Everything is fitted on training codes (``fit``): static tables and the mixture weights by EM,
    successor / co-occurrence tables by counting.

Bit-exact everywhere by construction
    The decoder's tables are computed with integer numpy only (:func:`mixture_tables`)::

        base[v] = ((static[v] - 1) * A >> 16) + 1          A = w0[c]  (weights sum to 2**16)
        R       = 2**24 - sum(base)
        r_j     = R * w_j[c] // (2**16 - A);   spike j adds r_j at cand_j; the rounding rest goes
                                                to cand_0

    so every row sums to exactly ``2**PRECISION_BITS`` with every entry ``>= 1`` and no float ever
    touches a decoder-side decision; :mod:`vqcodec.entropy` hands the integer tables to the coder
    exactly. Floats are used only when fitting (the fitted integers are what is shipped).

Decoding is sequential per stream and per latent time slice (one batched numpy pass per slice:
features, table rows, one constriction call); encoding computes all tables of a stream at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import msgpack
import numpy as np

from .entropy import (PRECISION_BITS, TOTAL, EntropyError, PayloadDecoder, check_freqs, encode_streams,
                      freqs_from_counts)
from .priors import (MAX_STREAMS, StreamSpec, StreamSymbols, _check_k, _check_name,
                     _symbols_of, _unpack, _unzstd, _zstd)

__all__ = [
    "LearnedPrior", "StreamModel", "mixture_tables", "stream_context", "N_SLOTS", "N_CLASSES",
    "W_BITS", "lower_stream",
]

MAGIC = "vqv-learned-prior"
VERSION = 1
CONTEXT_VERSION = 1          # the definition of candidates and classes below
W_BITS = 16
W_ONE = 1 << W_BITS
W0_MIN = 1 << 6              # the static part keeps >= 1/1024 of the mass: every code stays codable
N_SUCC = 32                   # most frequent training successors of P
N_COOC = 8                    # most frequent training co-occurrents of the lower stage's code
N_SLOTS = 1 + 4 + N_SUCC + N_COOC  # P, 4 neighbours of P, successors, co-occurrents
N_CLASSES = 1 + 3 * 4 * 3     # class 0: no P; else (history 3) x (lower 4) x (neighbours 3)
MAX_K = 1 << 16               # candidate tables are stored as uint16
MAX_PRIOR_BLOB = 256 << 20


def lower_stream(name: str) -> str | None:
    """The stream whose code at the same place conditions ``name``: stage s-1 of the same level,
    ``top.0`` for ``bottom.0``, nothing for ``top.0`` (or an unparsable name)."""
    level, _, st = name.rpartition(".")
    if not st.isdigit():
        return None
    s = int(st)
    if s > 0:
        return f"{level}.{s - 1}"
    if level == "bottom":
        return "top.0"
    return None


# ------------------------------------------------------------------------------------- model data
@dataclass
class StreamModel:
    """The fitted integers of one stream."""

    k: int
    static: np.ndarray          # (K,) int64 freq table (sums to 2**24)
    succ: np.ndarray            # (K, N_SUCC) int64, values < K
    cooc: np.ndarray            # (K_lower, N_COOC) int64, values < K; K_lower may be 0 (no lower stream)
    weights: np.ndarray         # (N_CLASSES, N_SLOTS + 1) int64, rows sum to 2**16, col 0 >= W0_MIN

    def validate(self, name: str) -> "StreamModel":
        k = _check_k(self.k)
        if k > MAX_K:
            raise EntropyError(f"learned prior: stream {name} alphabet {k} > {MAX_K}")
        st = check_freqs(self.static)
        if st.shape != (k,):
            raise EntropyError(f"learned prior: stream {name} static table has wrong size")
        succ = np.asarray(self.succ, np.int64)
        cooc = np.asarray(self.cooc, np.int64)
        if succ.shape != (k, N_SUCC) or (succ.size and (succ.min() < 0 or succ.max() >= k)):
            raise EntropyError(f"learned prior: stream {name} bad successor table")
        if cooc.ndim != 2 or cooc.shape[1] != N_COOC or cooc.shape[0] > MAX_K or \
                (cooc.size and (cooc.min() < 0 or cooc.max() >= k)):
            raise EntropyError(f"learned prior: stream {name} bad co-occurrence table")
        w = np.asarray(self.weights, np.int64)
        if w.shape != (N_CLASSES, N_SLOTS + 1) or w.min() < 0 or \
                np.any(w.sum(axis=1) != W_ONE) or np.any(w[:, 0] < W0_MIN):
            raise EntropyError(f"learned prior: stream {name} bad weight table")
        for a in (st, succ, cooc, w):
            a.setflags(write=False)
        return StreamModel(k, st, succ, cooc, w)


# ------------------------------------------------------------------------------ integer core
def mixture_tables(static: np.ndarray, weights: np.ndarray, cls: np.ndarray, cands: np.ndarray,
                   base_cache: dict | None = None) -> np.ndarray:
    """Per-symbol integer tables ``(n, K)`` of the mixture (see module docstring). Integer only."""
    cls = np.asarray(cls, np.int64)
    cands = np.asarray(cands, np.int64)
    n = cls.size
    k = static.shape[0]
    if n == 0:
        return np.zeros((0, k), np.int64)
    used = np.unique(cls)
    if base_cache is None:
        base_cache = {}
    fm1 = static - 1
    need = [int(c) for c in used if int(c) not in base_cache]
    if need:
        a = weights[need, 0]
        b = ((fm1[None, :] * a[:, None]) >> W_BITS) + 1
        for i, c in enumerate(need):
            base_cache[c] = (b[i], TOTAL - int(b[i].sum()))
    lut_idx = np.full(int(used.max()) + 1, -1, np.int64)
    lut_idx[used] = np.arange(used.size)
    bases = np.stack([base_cache[int(c)][0] for c in used])
    rests = np.array([base_cache[int(c)][1] for c in used], np.int64)
    j = lut_idx[cls]
    rows = bases[j]                                   # (n, K) copy
    rest = rests[j]                                   # R per row
    w = weights[cls]                                  # (n, 1 + M)
    denom = W_ONE - w[:, 0]
    safe = np.maximum(denom, 1)
    ar = np.arange(n)
    given = np.zeros(n, np.int64)
    for s in range(cands.shape[1]):
        r = np.where(denom > 0, rest * w[:, 1 + s] // safe, 0)
        rows[ar, cands[:, s]] += r
        given += r
    rows[ar, cands[:, 0]] += rest - given
    return rows


def _clamp_shift(a: np.ndarray, axis: int, d: int) -> np.ndarray:
    """``a`` shifted by ``d`` along ``axis`` with edge replication (neighbour lookup)."""
    n = a.shape[axis]
    idx = np.clip(np.arange(n) + d, 0, n - 1)
    return np.take(a, idx, axis=axis)


def stream_context(ext: np.ndarray, ts: np.ndarray, m: StreamModel | None, low_ext: np.ndarray | None,
                   low_ratio: tuple[int, int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Context classes ``(n,)`` and candidates ``(n, N_SLOTS)`` of slices ``ts`` of one stream.

    ``ext`` is the stream's extended array ``(2 + T, H, W)``: slices 0 and 1 are the previous
    GOP's last two slices (``-1`` when unavailable), slice ``2 + t`` is the GOP's slice ``t``.
    Only slices before each ``t`` are read. ``low_ext`` is the lower / parent stream's extended
    array (its current-GOP slices are all known), ``low_ratio`` the grid ratio (1s for a lower
    stage, e.g. (2, 2, 2) for bottom.0 -> top.0). Symbols are ordered (t, y, x) C-order.
    """
    ts = np.asarray(ts, np.int64)
    p = ext[ts + 1]                                   # (nt, H, W)
    pp = ext[ts]
    nbrs = [_clamp_shift(p, 1, -1), _clamp_shift(p, 1, 1), _clamp_shift(p, 2, -1), _clamp_shift(p, 2, 1)]
    pnb = [_clamp_shift(pp, 1, -1), _clamp_shift(pp, 1, 1), _clamp_shift(pp, 2, -1), _clamp_shift(pp, 2, 1)]
    nt, h, w = p.shape
    avail = p >= 0
    # lower / parent stream at this position, now and one slice earlier
    if low_ext is not None and low_ratio is not None:
        rt, ry, rx = low_ratio
        yy = np.arange(h) // ry
        xx = np.arange(w) // rx
        tc = ts // rt
        tp = (ts - 1) // rt                               # floor: t=0 -> previous GOP's last slice
        lc = low_ext[2 + tc][:, yy][:, :, xx]
        lp = low_ext[2 + tp][:, yy][:, :, xx]
        same_slice = (tc == tp)[:, None, None]
        low_feat = np.where(same_slice, 3, np.where(lp < 0, 2, (lc == lp).astype(np.int64)))
        if m is not None and m.cooc.shape[0] > 0 and int(lc.max(initial=0)) < m.cooc.shape[0]:
            cooc = m.cooc[lc]                             # (nt, H, W, N_COOC)
        else:
            cooc = None
    else:
        low_feat = np.full(p.shape, 2, np.int64)
        cooc = None
    hist = np.where(pp < 0, 2, (p == pp).astype(np.int64))
    nrep = sum(((a == b) & (b >= 0)).astype(np.int64) for a, b in zip(nbrs, pnb))
    nb_feat = np.where(nrep >= 4, 2, np.where(nrep >= 2, 1, 0))
    cls = np.where(avail, 1 + (hist * 4 + low_feat) * 3 + nb_feat, 0)
    fallback = cooc[..., 0] if cooc is not None else np.zeros(p.shape, np.int64)
    pc = np.where(avail, p, fallback)
    cand = [pc] + [np.where(avail, a, fallback) for a in nbrs]
    if m is not None:
        succ = m.succ[np.maximum(p, 0)]
        cand += [np.where(avail, succ[..., i], fallback) for i in range(N_SUCC)]
    else:
        cand += [pc] * N_SUCC
    cand += [cooc[..., i] for i in range(N_COOC)] if cooc is not None else [pc] * N_COOC
    cands = np.stack([c.reshape(-1) for c in cand], axis=1).astype(np.int64)
    return cls.reshape(-1).astype(np.int64), cands


# --------------------------------------------------------------------------------- GOP layout
def _extended(cur: np.ndarray | None, prev: np.ndarray | None, grid: tuple[int, int, int]) -> np.ndarray:
    t, h, w = grid
    e = np.full((2 + t, h, w), -1, np.int64)
    if prev is not None:
        pv = np.asarray(prev).reshape(grid)
        n = min(2, t)
        e[2 - n:2] = pv[t - n:]
    if cur is not None:
        e[2:] = np.asarray(cur).reshape(grid)
    return e


def _ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> tuple[int, int, int] | None:
    if any(y == 0 or x % y for x, y in zip(a, b)):
        return None
    return tuple(x // y for x, y in zip(a, b))        # type: ignore[return-value]


# ------------------------------------------------------------------------------------ the prior
class LearnedPrior:
    """The learned conditional prior. Shipped in a weights file's ``priors["learned"]``; no side
    info in the file header (``params() == b""``)."""

    kind = "learned"

    def __init__(self, models: Mapping[str, StreamModel]):
        if len(models) > MAX_STREAMS:
            raise EntropyError("learned prior: too many streams")
        self.models = {_check_name(n): m.validate(n) for n, m in models.items()}
        self._bases: dict[str, dict] = {}

    def params(self) -> bytes:
        return b""

    # ---------------------------------------------------------------------------- tables
    def _model(self, name: str, k: int) -> StreamModel | None:
        m = self.models.get(name)
        if m is not None and m.k != k:
            raise EntropyError(f"stream {name}: prior has {m.k} symbols, stream has {k}")
        return m

    def _slice_tables(self, name: str, k: int, ext: np.ndarray, ts: np.ndarray,
                      exts: dict[str, np.ndarray], grids: Mapping[str, tuple[int, int, int]]) -> np.ndarray:
        m = self._model(name, k)
        low = lower_stream(name)
        low_ext = exts.get(low) if low is not None else None
        ratio = _ratio(grids[name], grids[low]) if low_ext is not None else None
        if ratio is None:
            low_ext = None
        if m is None:                                     # unknown stream: uniform, no context
            return np.broadcast_to(freqs_from_counts(np.zeros(k, np.int64)), (len(ts) * ext[0].size, k))
        if m.cooc.shape[0] and low_ext is not None and int(low_ext.max(initial=-1)) >= m.cooc.shape[0]:
            raise EntropyError(f"stream {name}: lower stream alphabet exceeds the prior's table")
        cls, cands = stream_context(ext, ts, m, low_ext, ratio)
        return mixture_tables(m.static, m.weights, cls, cands, self._bases.setdefault(name, {}))

    def gop_tables(self, streams: Sequence[StreamSymbols], grids: Mapping[str, tuple[int, int, int]],
                   prev: Mapping[str, np.ndarray] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Encoder side: ``(symbols, (n, K) tables)`` of every stream, in coding order."""
        exts: dict[str, np.ndarray] = {}
        out = []
        for s in streams:
            sym = _symbols_of(s)
            g = tuple(int(v) for v in grids[s.name])
            if sym.size != int(np.prod(g)):
                raise EntropyError(f"stream {s.name}: {sym.size} symbols do not fit grid {g}")
            ext = _extended(sym, None if prev is None else prev.get(s.name), g)
            exts[s.name] = ext
            tabs = self._slice_tables(s.name, int(s.codebook_size), ext, np.arange(g[0]), exts, grids)
            out.append((sym, tabs))
        return out

    def encode_gop(self, streams: Sequence[StreamSymbols], grids: Mapping[str, tuple[int, int, int]],
                   prev: Mapping[str, np.ndarray] | None = None) -> bytes:
        return encode_streams(self.gop_tables(streams, grids, prev))

    def stream_bits(self, streams: Sequence[StreamSymbols], grids: Mapping[str, tuple[int, int, int]],
                    prev: Mapping[str, np.ndarray] | None = None) -> dict[str, float]:
        """Ideal information content per stream (reporting only: floats)."""
        out = {}
        for s, (sym, tabs) in zip(streams, self.gop_tables(streams, grids, prev)):
            if sym.size == 0 or tabs.shape[1] == 1:
                out[s.name] = 0.0
                continue
            p = tabs[np.arange(sym.size), sym].astype(np.float64)
            out[s.name] = float(sym.size * PRECISION_BITS - np.log2(p).sum())
        return out

    def decode_gop(self, payload: bytes, specs: Sequence[StreamSpec], grids: Mapping[str, tuple[int, int, int]],
                   prev: Mapping[str, np.ndarray] | None = None) -> list[np.ndarray]:
        """Decoder side: one pass per stream and latent time slice, each batched."""
        dec = PayloadDecoder(payload)
        exts: dict[str, np.ndarray] = {}
        out = []
        for spec in specs:
            name = _check_name(spec.name)
            k = _check_k(spec.codebook_size)
            g = tuple(int(v) for v in grids[name])
            if int(spec.count) != int(np.prod(g)):
                raise EntropyError(f"stream {name}: count {spec.count} does not fit grid {g}")
            ext = _extended(None, None if prev is None else prev.get(name), g)
            exts[name] = ext
            hw = g[1] * g[2]
            for t in range(g[0]):
                tabs = self._slice_tables(name, k, ext, np.array([t]), exts, grids)
                sym = dec.pop(check_freqs(tabs) if tabs.ndim == 2 else tabs, hw)
                ext[2 + t] = np.asarray(sym, np.int64).reshape(g[1], g[2])
            out.append(ext[2:].reshape(-1).astype(np.int32))
        dec.finish("wrong counts, wrong tables, damaged bytes or a damaged context GOP")
        return out

    # ---------------------------------------------------------------------------- bytes
    def to_bytes(self) -> bytes:
        streams = {}
        for n in sorted(self.models):
            m = self.models[n]
            streams[n] = {"k": m.k, "static": m.static.astype("<u4").tobytes(),
                          "succ": m.succ.astype("<u2").tobytes(),
                          "cooc_rows": int(m.cooc.shape[0]), "cooc": m.cooc.astype("<u2").tobytes(),
                          "weights": m.weights.astype("<u4").tobytes()}
        body = {"magic": MAGIC, "v": VERSION, "ctx": CONTEXT_VERSION, "precision": PRECISION_BITS,
                "w_bits": W_BITS, "slots": N_SLOTS, "succ": N_SUCC, "cooc": N_COOC, "classes": N_CLASSES,
                "streams": streams}
        return _zstd(msgpack.packb(body, use_bin_type=True))

    @classmethod
    def from_bytes(cls, data: bytes) -> "LearnedPrior":
        what = "learned prior"
        data = bytes(data)
        if len(data) > MAX_PRIOR_BLOB:
            raise EntropyError(f"{what}: too large")
        obj = _unpack(_unzstd(data, what, MAX_PRIOR_BLOB), what)
        if not isinstance(obj, dict) or obj.get("magic") != MAGIC or obj.get("v") != VERSION:
            raise EntropyError(f"{what}: unknown format")
        want = {"ctx": CONTEXT_VERSION, "precision": PRECISION_BITS, "w_bits": W_BITS,
                "slots": N_SLOTS, "succ": N_SUCC, "cooc": N_COOC, "classes": N_CLASSES}
        for key, val in want.items():
            if obj.get(key) != val or isinstance(obj.get(key), bool):
                raise EntropyError(f"{what}: {key} {obj.get(key)!r} != {val} (made by another version)")
        streams = obj.get("streams")
        if not isinstance(streams, dict) or len(streams) > MAX_STREAMS:
            raise EntropyError(f"{what}: bad stream map")
        models = {}
        for name, e in streams.items():
            _check_name(name)
            if not isinstance(e, dict) or set(e) != {"k", "static", "succ", "cooc_rows", "cooc", "weights"}:
                raise EntropyError(f"{what}: malformed entry for stream {name}")
            k, rows = e["k"], e["cooc_rows"]
            if not (type(k) is int and 1 <= k <= MAX_K and type(rows) is int and 0 <= rows <= MAX_K):
                raise EntropyError(f"{what}: bad sizes for stream {name}")
            sizes = {"static": 4 * k, "succ": 2 * k * N_SUCC, "cooc": 2 * rows * N_COOC,
                     "weights": 4 * N_CLASSES * (N_SLOTS + 1)}
            for key, size in sizes.items():
                if not isinstance(e[key], bytes) or len(e[key]) != size:
                    raise EntropyError(f"{what}: bad {key} table for stream {name}")
            models[name] = StreamModel(
                k, np.frombuffer(e["static"], "<u4").astype(np.int64),
                np.frombuffer(e["succ"], "<u2").astype(np.int64).reshape(k, N_SUCC),
                np.frombuffer(e["cooc"], "<u2").astype(np.int64).reshape(rows, N_COOC),
                np.frombuffer(e["weights"], "<u4").astype(np.int64).reshape(N_CLASSES, N_SLOTS + 1))
        return cls(models)

    # ---------------------------------------------------------------------------- fitting
    @classmethod
    def fit(cls, sequences: Sequence[Sequence[Mapping[str, np.ndarray]]], codebook_sizes: Mapping[str, int],
            *, iters: int = 3, em_iters: int = 15, smoothing: float = 16.0) -> "LearnedPrior":
        """Fit on training codes. ``sequences``: runs of consecutive GOPs of one video, each GOP a
        dict ``stream name -> (T, H, W)`` indices (all streams of the top operating point);
        ``codebook_sizes``: name -> K. GOP context is learned from consecutive GOPs of a run, and
        every GOP is also seen once without it (the first GOP of a run, ``--gop-context off``)."""
        names = sorted(codebook_sizes, key=_stream_order)
        grids = {n: next(g[n].shape for seq in sequences for g in seq if n in g) for n in names}
        # each training sample: (gop, prev-or-None); the no-context view of GOPs that have a
        # predecessor is added too, so class 0 and slice 0 are learned for both modes
        samples = []
        for j, seq in enumerate(sequences):
            for i, g in enumerate(seq):
                samples.append((j % 2, g, seq[i - 1] if i > 0 else None))
                if i > 0:
                    samples.append((j % 2, g, None))
        models: dict[str, StreamModel] = {}
        for name in names:
            k = int(codebook_sizes[name])
            low = lower_stream(name)
            low = low if low in codebook_sizes else None
            ratio = _ratio(grids[name], grids[low]) if low else None
            if ratio is None:
                low = None
            kl = int(codebook_sizes[low]) if low else 0
            data = []                                   # (fold, ext, low_ext, symbols)
            for fold, g, pv in samples:
                if name not in g:
                    continue
                data.append((fold,
                             _extended(g[name], None if pv is None else pv.get(name), grids[name]),
                             _extended(g[low], None if pv is None else pv.get(low), grids[low]) if low else None,
                             np.asarray(g[name]).reshape(-1).astype(np.int64)))
            if not data:
                continue
            x = np.concatenate([d[3] for d in data])
            # cross-fitting: the candidate tables that the mixture weights are fitted against come
            # from the other fold, so the weights reflect how the tables do on unseen video
            cl_parts, cd_parts = [], []
            for fold in (0, 1):
                other = [d for d in data if d[0] != fold] or data
                succ, cooc = _candidate_tables(other, k, kl, ratio, grids[name])
                proto = StreamModel(k, np.ones(k, np.int64), succ, cooc, _default_weights())
                for d in data:
                    if d[0] == fold:
                        c, cd = stream_context(d[1], np.arange(grids[name][0]), proto, d[2], ratio)
                        cl_parts.append(c)
                        cd_parts.append(cd)
            x = np.concatenate([d[3] for fold in (0, 1) for d in data if d[0] == fold])
            cl = np.concatenate(cl_parts)
            cd = np.concatenate(cd_parts)
            hit = cd == x[:, None]                       # (N, M)
            glob = np.bincount(x, minlength=k)
            static = freqs_from_counts(glob + 1)
            # classes are shrunk toward their group's pooled weights (group 0: no P, group 1: the
            # rest), so rare or unseen classes behave like the average instead of like noise
            group = np.minimum(cl, 1)
            start = np.zeros(N_SLOTS + 1)
            start[0] = 0.5
            start[1:] = 0.5 / N_SLOTS
            w = np.tile(start, (N_CLASSES, 1))
            pooled = np.tile(start, (2, 1))
            n_cls = np.bincount(cl, minlength=N_CLASSES).astype(np.float64)
            n_grp = np.bincount(group, minlength=2).astype(np.float64)
            for _ in range(iters):
                ps = static[x].astype(np.float64) / TOTAL
                for _ in range(em_iters):
                    for level in (0, 1):                   # 0: pooled per group, 1: per class
                        wc = pooled[group] if level == 0 else w[cl]
                        lik = np.concatenate([wc[:, :1] * ps[:, None], wc[:, 1:] * hit], axis=1)
                        resp = lik / lik.sum(axis=1, keepdims=True)
                        if level == 0:
                            acc = np.stack([np.bincount(group, weights=resp[:, j], minlength=2)
                                            for j in range(N_SLOTS + 1)], axis=1)
                            pooled = (acc + 1e-3) / (n_grp[:, None] + 1e-3 * (N_SLOTS + 1))
                        else:
                            acc = np.stack([np.bincount(cl, weights=resp[:, j], minlength=N_CLASSES)
                                            for j in range(N_SLOTS + 1)], axis=1)
                            pri = pooled[np.minimum(np.arange(N_CLASSES), 1)]
                            w = (acc + smoothing * pri) / (n_cls[:, None] + smoothing)
                # refit the static part on what the spikes do not explain (EM for the base)
                base_counts = np.bincount(x, weights=resp[:, 0], minlength=k)
                static = freqs_from_counts(np.rint(base_counts).astype(np.int64) + 1)
            succ, cooc = _candidate_tables(data, k, kl, ratio, grids[name])
            models[name] = StreamModel(k, static, succ, cooc, _quantise_weights(w))
        return cls(models)


def _candidate_tables(data, k: int, kl: int, ratio, grid) -> tuple[np.ndarray, np.ndarray]:
    """Successor table (most frequent codes following P, other than P) and co-occurrence table
    (most frequent code given the lower stage's code at the same place), by counting."""
    x = np.concatenate([d[3] for d in data])
    glob = np.bincount(x, minlength=k)
    trans = np.zeros(k * k, np.int64)
    for d in data:
        e = d[1]
        p, c = e[1:-1].reshape(-1), e[2:].reshape(-1)
        ok = (p >= 0) & (p != c)
        trans += np.bincount(p[ok] * k + c[ok], minlength=k * k)
    score = trans.reshape(k, k) * (k + 1) + glob[None, :]      # ties and unseen rows: global
    score[np.arange(k), np.arange(k)] = -1
    succ = _pad_cols(np.argsort(-score, axis=1, kind="stable")[:, :N_SUCC], N_SUCC)
    if not kl:
        return succ, np.zeros((0, N_COOC), np.int64)
    co = np.zeros(kl * k, np.int64)
    rt, ry, rx = ratio
    tt, hh, ww = grid
    for d in data:
        le, e = d[2], d[1]
        lc = le[2:][np.arange(tt) // rt][:, np.arange(hh) // ry][:, :, np.arange(ww) // rx]
        co += np.bincount(lc.reshape(-1) * k + e[2:].reshape(-1), minlength=kl * k)
    sc = co.reshape(kl, k) * (k + 1) + glob[None, :]
    return succ, _pad_cols(np.argsort(-sc, axis=1, kind="stable")[:, :N_COOC], N_COOC)


def _pad_cols(a: np.ndarray, n: int) -> np.ndarray:
    """Tiny alphabets have fewer candidates than slots: repeat the last one."""
    a = a.astype(np.int64)
    return a if a.shape[1] >= n else np.pad(a, ((0, 0), (0, n - a.shape[1])), mode="edge")


def _stream_order(name: str):
    level, _, st = name.rpartition(".")
    return (0 if level == "top" else 1, level, int(st) if st.isdigit() else 0)


def _default_weights() -> np.ndarray:
    w = np.zeros((N_CLASSES, N_SLOTS + 1), np.int64)
    w[:, 0] = W_ONE
    return w


def _quantise_weights(w: np.ndarray) -> np.ndarray:
    """Float mixture weights -> integer rows summing to 2**16 with the static part >= W0_MIN."""
    q = np.floor(np.asarray(w)[:, 1:] * W_ONE).astype(np.int64)
    q = np.maximum(q, 0)
    over = q.sum(axis=1) - (W_ONE - W0_MIN)
    for i in np.nonzero(over > 0)[0]:                     # scale spikes down to leave W0_MIN
        q[i] = q[i] * (W_ONE - W0_MIN) // q[i].sum()
    out = np.concatenate([(W_ONE - q.sum(axis=1))[:, None], q], axis=1)
    return out


def load_learned(priors: Mapping[str, bytes]) -> LearnedPrior | None:
    """The model's learned prior, if it ships one."""
    blob = priors.get("learned")
    return None if blob is None else LearnedPrior.from_bytes(blob)


# --------------------------------------------------------------------------------- training run
def gop_arrays(codes) -> dict[str, np.ndarray]:
    """One clip's :class:`~vqcodec.codes.Codes` -> ``{stream name: (T, H, W) int64}``."""
    return {f"{lv.name}.{s}": np.asarray(lv.indices[s], np.int64) for lv in codes.levels for s in range(lv.stages)}


def clip_sequences(net, clips: Sequence[np.ndarray], keys: Sequence[tuple[int, int]], batch: int = 4
                   ) -> list[list[dict[str, np.ndarray]]]:
    """Encode clips at the top operating point; clips whose ``keys`` (segment, start frame) follow
    each other (same segment, start + clip length) form one run of consecutive GOPs."""
    q = len(net.cfg.operating_points)
    gops: list[dict[str, np.ndarray]] = []
    for i in range(0, len(clips), batch):
        codes = net.encode(np.stack(clips[i:i + batch]), q)
        gops += [gop_arrays(c) for c in codes.unbatch()]
    seqs: list[list[dict[str, np.ndarray]]] = []
    for i, g in enumerate(gops):
        follows = i > 0 and keys[i][0] == keys[i - 1][0] and keys[i][1] == keys[i - 1][1] + len(clips[i - 1])
        if follows:
            seqs[-1].append(g)
        else:
            seqs.append([g])
    return seqs


def codebook_sizes(net) -> dict[str, int]:
    cfg = net.cfg
    out = {}
    if not cfg.single_level:
        out.update({f"top.{s}": cfg.top_codebook for s in range(cfg.top_stages)})
    out.update({f"bottom.{s}": cfg.bottom_codebook for s in range(max(cfg.bottom_stages, 0))})
    return out


def sequence_bits(prior: LearnedPrior, seqs, *, context: bool = True) -> dict[str, float]:
    """Ideal bits per stream of runs of GOPs (the first GOP of a run without context)."""
    out: dict[str, float] = {}
    for seq in seqs:
        prev = None
        for g in seq:
            names = sorted(g, key=_stream_order)
            streams = [StreamSymbols(n, prior.models[n].k if n in prior.models else int(g[n].max()) + 1,
                                     g[n].reshape(-1)) for n in names]
            bits = prior.stream_bits(streams, {n: g[n].shape for n in names}, prev if context else None)
            for n, b in bits.items():
                out[n] = out.get(n, 0.0) + b
            prev = g
    return out


def train_prior(*, model_path=None, checkpoint=None, data: str, cache_dir, max_clips: int | None = None,
                out=None, threads: int | None = None, log=print) -> dict:
    """``vqv train-prior``: encode training clips, fit the learned prior, store it.

    Written into the weights file's ``priors["learned"]`` (other priors and the card kept; the
    manifest's SHA-256 updated if the file is listed there), or to ``out`` as raw prior bytes.
    Re-saving a weights file changes its digest: files coded with the old weights need the old file.
    """
    import json  # noqa: PLC0415
    import os  # noqa: PLC0415
    import time  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    import torch  # noqa: PLC0415

    from .data import ClipSpec, build_dataset  # noqa: PLC0415
    from .errors import VqvError  # noqa: PLC0415
    from .weights import MANIFEST, WEIGHTS_DIR, load_model, net_from_checkpoint, save_weights  # noqa: PLC0415

    if threads is not None:
        torch.set_num_threads(int(threads))
    model = None
    if checkpoint is not None and model_path is not None:
        raise VqvError("give --model or --checkpoint, not both")
    if checkpoint is not None:
        if out is None:
            raise VqvError("--checkpoint needs --out (there is no weights file to write the prior into)")
        net = net_from_checkpoint(checkpoint)
        with torch.no_grad():                        # what users get: half-precision weights
            for p in list(net.parameters()) + [b for b in net.buffers() if b.is_floating_point()]:
                p.copy_(p.half().float())
    else:
        model = load_model(model_path)
        net = model.net
    if max_clips is not None and max_clips < 1:
        raise VqvError("--max-clips must be at least 1")
    ds = build_dataset(data, "train", ClipSpec(32, 64, 16.0), cache_dir, train=False, progress=False)
    n = len(ds)
    idx = list(range(n))
    if max_clips is not None and max_clips < n:
        # runs of two consecutive clips spread over the set, so GOP-to-GOP context is learned too
        starts = np.linspace(0, max(n - 2, 0), max(1, max_clips // 2)).astype(int)
        idx = sorted({int(v) for v in starts} | {min(n - 1, int(v) + 1) for v in starts})[:max_clips]
    t0 = time.time()
    clips = [ds[i].numpy() for i in idx]
    keys = [tuple(int(v) for v in ds.clips[i]) for i in idx]
    seqs = clip_sequences(net, clips, keys)
    log(f"encoded {len(clips)} training clips ({sum(len(q) for q in seqs)} GOPs in {len(seqs)} runs) "
        f"in {time.time() - t0:.0f}s")
    t1 = time.time()
    sizes = codebook_sizes(net)
    prior = LearnedPrior.fit(seqs, sizes)
    blob = prior.to_bytes()
    log(f"fitted the learned prior in {time.time() - t1:.0f}s ({len(blob)} bytes)")
    bits = sequence_bits(prior, seqs)
    base = LearnedPrior({n: StreamModel(m.k, freqs_from_counts(
        sum(np.bincount(g[n].reshape(-1), minlength=m.k) for q in seqs for g in q) + 1),
        m.succ, m.cooc, _default_weights()) for n, m in prior.models.items()})
    static_bits = sequence_bits(base, seqs)
    ncodes = sum(g[n].size for q in seqs for g in q for n in g)
    rep = {"clips": len(clips), "gops": sum(len(q) for q in seqs), "runs": len(seqs), "prior_bytes": len(blob),
           "bits_per_code_learned": sum(bits.values()) / ncodes,
           "bits_per_code_static": sum(static_bits.values()) / ncodes,
           "bits_per_stream_learned": {k: round(v, 1) for k, v in bits.items()},
           "bits_per_stream_static": {k: round(v, 1) for k, v in static_bits.items()}}
    if out is not None:
        out = Path(out)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        tmp.write_bytes(blob)
        os.replace(tmp, out)
        rep["written_to"] = str(out)
        return rep
    path = Path(model.path)
    blob_state = torch.load(path, map_location="cpu", weights_only=True)
    half = any(v.dtype == torch.float16 for v in blob_state["state_dict"].values())
    sha = save_weights(net, path, half=half, priors={**model.priors, "learned": blob}, card=model.card)
    rep["written_to"] = str(path)
    rep["sha256"] = sha
    if MANIFEST.is_file():
        entries = json.loads(MANIFEST.read_text())
        changed = False
        for entry in entries.values():
            if (WEIGHTS_DIR / entry["file"]).resolve() == path.resolve():
                entry["sha256"] = sha
                changed = True
        if changed:
            tmp = MANIFEST.with_suffix(".tmp")
            tmp.write_text(json.dumps(entries, indent=2) + "\n")
            os.replace(tmp, MANIFEST)
            rep["manifest_updated"] = True
    return rep
