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
    ``t-1`` and ``t-2`` from the previous GOP's last slices in a predicted GOP, else class 0
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
    touches a decoder-side decision; :mod:`vqcodec.entropy.rans` hands the integer tables to the coder
    exactly. Floats are used only when fitting (the fitted integers are what is shipped).

Decoding is sequential per stream and per latent time slice (one batched numpy pass per slice:
features, table rows, one constriction call); encoding computes all tables of a stream at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple, Sequence

import msgpack
import numpy as np

from vqcodec.codes import Codes, lower_stream, parse_stream_name, stream_name
from vqcodec.entropy.blob import unpack_msgpack, zstd_compress, zstd_decompress
from vqcodec.entropy.mixture import W_BITS, W_ONE, mixture_intervals, mixture_tables
from vqcodec.entropy.rans import PRECISION_BITS, TOTAL, EntropyError, TableRows, check_freqs, freqs_from_counts
from vqcodec.entropy.priors import (MAX_STREAMS, Prior, SliceContext, check_codebook_size, check_stream_name, extended_slices,
                                    grid_ratio)

__all__ = [
    "LearnedPrior", "StreamModel", "mixture_tables", "stream_context", "N_SLOTS",
    "N_CLASSES", "W_BITS",
]

MAGIC = "vqv-learned-prior"
VERSION = 1
CONTEXT_VERSION = 1          # the definition of candidates and classes below
W0_MIN = 1 << 6              # the static part keeps >= 1/1024 of the mass: every code stays codable
N_SUCC = 32                   # most frequent training successors of P
N_COOC = 8                    # most frequent training co-occurrents of the lower stage's code
N_SLOTS = 1 + 4 + N_SUCC + N_COOC  # P, 4 neighbours of P, successors, co-occurrents
N_CLASSES = 1 + 3 * 4 * 3     # class 0: no P; else (history 3) x (lower 4) x (neighbours 3)
MAX_K = 1 << 16               # candidate tables are stored as uint16
MAX_PRIOR_BLOB = 256 << 20


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
        k = check_codebook_size(self.k)
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


# ------------------------------------------------------------------------------------ the prior
class LearnedPrior(Prior):
    """The learned conditional prior. Shipped in a weights file's ``priors["learned"]``; no side
    info in the file header (``params() == b""``)."""

    kind = "learned"

    def __init__(self, models: Mapping[str, StreamModel]):
        if len(models) > MAX_STREAMS:
            raise EntropyError("learned prior: too many streams")
        self.models = {check_stream_name(n): m.validate(n) for n, m in models.items()}
        self._bases: dict[str, dict] = {}

    def params(self) -> bytes:
        return b""

    # ---------------------------------------------------------------------------- tables
    def _model(self, name: str, k: int) -> StreamModel | None:
        m = self.models.get(name)
        if m is not None and m.k != k:
            raise EntropyError(f"stream {name}: prior has {m.k} symbols, stream has {k}")
        return m

    def check_streams(self, streams: Sequence[tuple[str, int]]) -> None:
        """Raise :class:`EntropyError` if a stream's codebook size differs from the prior's."""
        for name, k in streams:
            self._model(name, k)

    def slice_tables(self, ctx: SliceContext) -> np.ndarray | TableRows:
        """One integer table per coded position of the slice (see the module docstring), built a
        block of rows at a time as the coder takes them."""
        k = ctx.codebook_size
        m = self._model(ctx.name, k)
        if m is None:                                     # unknown stream: uniform, no context
            return freqs_from_counts(np.zeros(k, np.int64))
        low_ext, ratio = ctx.lower_ext, ctx.lower_ratio
        if ratio is None:
            low_ext = None
        if m.cooc.shape[0] and low_ext is not None and int(low_ext.max(initial=-1)) >= m.cooc.shape[0]:
            raise EntropyError(f"stream {ctx.name}: lower stream alphabet exceeds the prior's table")
        cls, cands = stream_context(ctx.ext, np.array([ctx.t]), m, low_ext, ratio)
        coded = np.asarray(ctx.coded, bool).reshape(-1)
        cls, cands, bases = cls[coded], cands[coded], self._bases.setdefault(ctx.name, {})
        return TableRows(cls.size, k, lambda rows: mixture_tables(m.static, m.weights, cls[rows], cands[rows], bases),
                         lambda sym: mixture_intervals(m.static, m.weights, cls, cands, sym, bases))

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
        return zstd_compress(msgpack.packb(body, use_bin_type=True))

    @classmethod
    def from_bytes(cls, data: bytes) -> "LearnedPrior":
        what = "learned prior"
        data = bytes(data)
        if len(data) > MAX_PRIOR_BLOB:
            raise EntropyError(f"{what}: too large")
        obj = unpack_msgpack(zstd_decompress(data, what, MAX_PRIOR_BLOB), what)
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
            check_stream_name(name)
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
    def fit(cls, sequences: Sequence[Sequence[Codes]], codebook_sizes: Mapping[str, int],
            *, sources: Sequence[int] | None = None, iters: int = 3, em_iters: int = 15,
            smoothing: float = 16.0) -> "LearnedPrior":
        """Fit on training codes. ``sequences``: runs of consecutive GOPs of one video, each GOP
        the :class:`~vqcodec.codes.Codes` the encoder produced (copy maps included: copied
        positions are not coded, so only coded positions are fitted); ``codebook_sizes``: name ->
        K. Prediction from the previous GOP is learned from consecutive GOPs of a run, and every
        GOP is also seen once as a refresh GOP (no reference, its first slice all coded).
        ``sources`` names the video each run comes from (default: every run its own): the
        cross-fitting folds split by video, so the same video coded at two qualities never sits
        on both sides (the mixture weights would then trust the candidate tables too much)."""
        names = sorted(codebook_sizes, key=_stream_order)
        gops = [[(c.stream_arrays(), _coded_maps(c)) for c in seq] for seq in sequences]
        grids = {n: next(g[n].shape for seq in gops for g, _ in seq if n in g) for n in names}
        samples = _fit_views(gops, sources)
        models: dict[str, StreamModel] = {}
        for name in names:
            k = int(codebook_sizes[name])
            low = lower_stream(name)
            low = low if low in codebook_sizes else None
            ratio = grid_ratio(grids[name], grids[low]) if low else None
            if ratio is None:
                low = None
            kl = int(codebook_sizes[low]) if low else 0
            data = _stream_samples(samples, name, low, grids)
            if not data or not sum(d.symbols.size for d in data):
                continue
            x, cl, cd = _cross_fitted_contexts(data, k, kl, ratio, grids[name])
            static, w = _fit_mixture(x, cl, cd == x[:, None], k, iters, em_iters, smoothing)
            succ, cooc = _candidate_tables(data, k, kl, ratio, grids[name])
            models[name] = StreamModel(k, static, succ, cooc, _quantise_weights(w))
        return cls(models)


def _fit_views(gops: list, sources: Sequence[int] | None) -> list[tuple]:
    """Each training sample: (fold, gop, its coded maps, reference-or-None); the refresh view of GOPs
    that have a predecessor is added too, so class 0 and slice 0 are learned for both."""
    samples = []
    src = list(range(len(gops))) if sources is None else [int(v) for v in sources]
    if len(src) != len(gops):
        raise ValueError("sources must name one video per sequence")
    for j, seq in enumerate(gops):
        for i, (g, coded) in enumerate(seq):
            if i > 0:
                samples.append((src[j] % 2, g, coded, seq[i - 1][0]))
            refresh = {n: np.concatenate([np.ones_like(m[:1]), m[1:]]) for n, m in coded.items()}
            samples.append((src[j] % 2, g, refresh, None))
    return samples


def _stream_samples(samples: list[tuple], name: str, low: str | None, grids: Mapping[str, tuple]) -> list["_FitSample"]:
    """The samples of stream ``name`` (with its lower stream ``low``, if any), ready for fitting."""
    data = []
    for fold, g, coded, pv in samples:
        if name not in g:
            continue
        mask = coded[name].reshape(-1)
        data.append(_FitSample(
            fold, extended_slices(g[name], None if pv is None else pv.get(name), grids[name]),
            extended_slices(g[low], None if pv is None else pv.get(low), grids[low]) if low else None,
            np.asarray(g[name]).reshape(-1).astype(np.int64)[mask], mask))
    return data


def _cross_fitted_contexts(data: Sequence["_FitSample"], k: int, kl: int, ratio, grid
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The coded symbols ``x`` (N,), their classes (N,) and candidate codes (N, M), fold 0 then fold 1.
    Cross-fitting: the candidate tables that the mixture weights are fitted against come from the
    other fold, so the weights reflect how the tables do on unseen video."""
    cl_parts, cd_parts = [], []
    for fold in (0, 1):
        other = [d for d in data if d.fold != fold] or data
        succ, cooc = _candidate_tables(other, k, kl, ratio, grid)
        proto = StreamModel(k, np.ones(k, np.int64), succ, cooc, _default_weights())
        for d in data:
            if d.fold == fold:
                c, cd = stream_context(d.ext, np.arange(grid[0]), proto, d.low_ext, ratio)
                cl_parts.append(c[d.coded])
                cd_parts.append(cd[d.coded])
    x = np.concatenate([d.symbols for fold in (0, 1) for d in data if d.fold == fold])
    return x, np.concatenate(cl_parts), np.concatenate(cd_parts)


def _fit_mixture(x: np.ndarray, cl: np.ndarray, hit: np.ndarray, k: int, iters: int, em_iters: int,
                 smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """EM for one stream: the static table and the mixture weights (N_CLASSES, N_SLOTS + 1, float)
    of symbols ``x`` with classes ``cl``, where ``hit`` (N, M) says which candidates equal the symbol."""
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
    return static, w


class _FitSample(NamedTuple):
    """One GOP of one stream, as :meth:`LearnedPrior.fit` sees it."""

    fold: int                   # cross-fitting fold (by source video)
    ext: np.ndarray             # the stream's extended slices (see :class:`~vqcodec.entropy.priors.SliceContext`)
    low_ext: np.ndarray | None  # the same for its lower / parent stream
    symbols: np.ndarray         # its coded symbols, (t, y, x) C order
    coded: np.ndarray           # (T * H * W,) bool: which positions are coded (not copied)


def _candidate_tables(data: Sequence[_FitSample], k: int, kl: int, ratio, grid) -> tuple[np.ndarray, np.ndarray]:
    """Successor table (most frequent codes following P, other than P) and co-occurrence table
    (most frequent code given the lower stage's code at the same place, at coded positions), by
    counting."""
    glob = np.bincount(np.concatenate([d.symbols for d in data]), minlength=k)
    trans = np.zeros(k * k, np.int64)
    for d in data:
        e = d.ext
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
        lc = d.low_ext[2:][np.arange(tt) // rt][:, np.arange(hh) // ry][:, :, np.arange(ww) // rx]
        m = d.coded
        co += np.bincount(lc.reshape(-1)[m] * k + d.ext[2:].reshape(-1)[m], minlength=kl * k)
    sc = co.reshape(kl, k) * (k + 1) + glob[None, :]
    return succ, _pad_cols(np.argsort(-sc, axis=1, kind="stable")[:, :N_COOC], N_COOC)


def _coded_maps(codes: Codes) -> dict[str, np.ndarray]:
    """``{stream name: (T, H, W) bool}``: where each stream's symbols are coded (not copied)."""
    return {stream_name(lv.name, s): ~lv.copy_map() for lv in codes.levels for s in range(lv.stages)}


def _pad_cols(a: np.ndarray, n: int) -> np.ndarray:
    """Tiny alphabets have fewer candidates than slots: repeat the last one."""
    a = a.astype(np.int64)
    return a if a.shape[1] >= n else np.pad(a, ((0, 0), (0, n - a.shape[1])), mode="edge")


def _stream_order(name: str):
    level, stage = parse_stream_name(name) or (name, 0)
    return (0 if level == "top" else 1, level, stage)


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
