"""Priors: the probability tables every code symbol is entropy-coded with, behind one interface.

A :class:`Prior` answers one question: given a :class:`SliceContext` (which stream, which latent
time slice, the codes already decoded before it: earlier slices, the reference GOP's last slices,
the lower stage, and which positions of the slice are coded rather than copied), what integer table
(or tables, one per coded position) codes this slice's symbols? The GOP coder
(:mod:`vqcodec.coding.gop_coding`) asks that for every slice of every stream, on both sides, so a new
prior needs no codec change. Tables are integers summing to ``2**PRECISION_BITS`` (see
:mod:`vqcodec.entropy.rans`), computed with integer arithmetic only, so decoding is bit-exact.

The kinds here ignore the context beyond the stream's name (one table per stream):

* ``"uniform"`` (:class:`UniformPrior`): no side info, ``log2(K)`` bits per symbol.
* ``"empirical-static"`` (:class:`EmpiricalStaticPrior`): per-stream tables measured on training
  data and shipped with the model weights (:meth:`~EmpiricalStaticPrior.to_bytes`); nothing in
  the file header.
* ``"empirical-adaptive"`` (:class:`EmpiricalAdaptivePrior`): per-stream histograms of the file
  being coded, sent as side info in the header (:meth:`~EmpiricalAdaptivePrior.params`). Counts
  are quantised on a log scale (1, 2, 4 or 8 steps per octave, chosen per stream to minimise
  payload + side info; a stream may also fall back to uniform) and zstd-compressed. The
  *quantised* histogram that is sent is exactly what both sides turn into tables, with integer
  arithmetic only.

The learned conditional prior (``"learned"``) is :mod:`vqcodec.entropy.learned_prior`.
:func:`prior_from_header` rebuilds a table prior on the decoder side. Every byte string read back
is validated and problems raise :class:`~vqcodec.entropy.rans.EntropyError` with a one-line message.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

import msgpack
import numpy as np

from vqcodec.entropy.blob import MAX_BLOB, unpack_msgpack, zstd_compress, zstd_decompress
from vqcodec.entropy.rans import MAX_ALPHABET, MAX_SYMBOLS, PRECISION_BITS, EntropyError, check_freqs, freqs_from_counts, uniform_freqs

__all__ = [
    "StreamSymbols", "SliceContext", "extended_slices", "grid_ratio", "Prior", "UniformPrior", "EmpiricalStaticPrior",
    "EmpiricalAdaptivePrior", "prior_from_header", "check_stream_name",
    "check_codebook_size", "stream_symbols",
]

MAX_STREAMS = 4096            # streams described by one side-info blob
MAX_NAME_LEN = 128


# ------------------------------------------------------------------------------ stream records
@dataclass
class StreamSymbols:
    """One stream of one GOP on the encoder side; ``symbols`` is flattened on use."""

    name: str
    codebook_size: int
    symbols: np.ndarray


@dataclass(frozen=True)
class SliceContext:
    """What a prior may condition one latent time slice of one stream on: everything here is
    already decoded when the slice is.

    ``ext`` is the stream's *extended* array ``(2 + T, H, W)`` int64: slots 0 and 1 hold the
    reference GOP's last two slices (``-1`` where there is no reference), slot ``2 + t`` the
    GOP's slice ``t``; only slots ``< 2 + t`` may be read (later ones are not decoded yet).
    ``lower_ext`` is the same for the stream that conditions this one (the previous stage of the
    level, or ``top.0`` for ``bottom.0``), whose slice ``t`` is known, with ``lower_ratio`` the
    grid ratio between the two (``None`` when there is no lower stream). ``coded`` (H, W) bool is
    the complement of the copy map: the positions of slice ``t`` whose symbols are coded, in
    C order; copied positions are already filled in ``ext[2 + t]`` for every stage.
    ``stage_exts`` are the extended arrays of the same level's stages before this one (stage 0
    first), every slice of them decoded.
    """

    name: str
    codebook_size: int
    t: int
    ext: np.ndarray
    lower_ext: np.ndarray | None
    lower_ratio: tuple[int, int, int] | None
    coded: np.ndarray
    stage_exts: tuple[np.ndarray, ...] = ()

    @property
    def n_coded(self) -> int:
        return int(np.count_nonzero(self.coded))


def extended_slices(cur: np.ndarray | None, ref: np.ndarray | None, grid: tuple[int, int, int]) -> np.ndarray:
    """A stream's extended array (see :class:`SliceContext`): ``(2 + T, H, W)`` int64 holding the
    reference GOP's last two slices of ``ref`` (if any) then ``cur`` (if given), ``-1`` elsewhere."""
    t, h, w = grid
    e = np.full((2 + t, h, w), -1, np.int64)
    if ref is not None:            # the reference's grid may hold more slices (a trimmed GOP after a whole one)
        pv = np.asarray(ref).reshape(-1, h, w)
        n = min(2, t)
        e[2 - n:2] = pv[len(pv) - n:]
    if cur is not None:
        e[2:] = np.asarray(cur).reshape(grid)
    return e


def grid_ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> tuple[int, int, int] | None:
    """How many cells of grid ``a`` one cell of grid ``b`` covers per axis (``None``: not a multiple)."""
    if any(y == 0 or x % y for x, y in zip(a, b)):
        return None
    return tuple(x // y for x, y in zip(a, b))        # type: ignore[return-value]


def check_stream_name(name) -> str:
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LEN:
        raise EntropyError(f"invalid stream name {str(name)[:40]!r}")
    return name


def check_codebook_size(k) -> int:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) \
            or not 1 <= int(k) <= MAX_ALPHABET:
        raise EntropyError(f"invalid codebook size {k!r}")
    return int(k)


def stream_symbols(s: StreamSymbols) -> np.ndarray:
    check_stream_name(s.name)
    k = check_codebook_size(s.codebook_size)
    sym = np.asarray(s.symbols).reshape(-1)
    if sym.size == 0:
        return np.zeros(0, np.int32)
    if sym.dtype == np.bool_ or sym.dtype.kind not in "iu":
        raise EntropyError(f"stream {s.name}: symbols must be integers, got {sym.dtype}")
    if int(sym.min()) < 0 or int(sym.max()) >= k:
        raise EntropyError(f"stream {s.name}: symbol out of range(0, {k})")
    if sym.size > MAX_SYMBOLS:
        raise EntropyError(f"stream {s.name}: more than {MAX_SYMBOLS} symbols")
    return sym.astype(np.int32)


# ------------------------------------------------------------------------------------- priors
@lru_cache(maxsize=64)
def _uniform(k: int) -> np.ndarray:
    f = uniform_freqs(k)
    f.setflags(write=False)
    return f


class Prior(ABC):
    """The probability model of every coded symbol (see the module docstring)."""

    kind: str = ""

    def params(self) -> bytes:
        """Side info for the file header (``b""`` if none)."""
        return b""

    @abstractmethod
    def slice_tables(self, ctx: SliceContext) -> np.ndarray:
        """The int64 table ``(K,)`` shared by the coded positions of ``ctx``'s slice, or one
        table per coded position ``(ctx.n_coded, K)``, in C order; each sums to ``2**24``."""


class _TablePrior(Prior):
    """One table per stream, whatever the context."""

    def slice_tables(self, ctx: SliceContext) -> np.ndarray:
        return self.table(ctx.name, ctx.codebook_size)

    @abstractmethod
    def table(self, name: str, codebook_size: int) -> np.ndarray:
        """The int64 coding table (sum ``2**PRECISION_BITS``) used for stream ``name``."""


class UniformPrior(_TablePrior):
    """Every symbol of a ``K``-symbol stream costs about ``log2(K)`` bits."""

    kind = "uniform"

    def table(self, name: str, codebook_size: int) -> np.ndarray:
        return _uniform(check_codebook_size(codebook_size))


class _FittedTablePrior(_TablePrior):
    """Shared lookup: known stream -> its table (sizes must agree), unknown -> uniform."""

    _tables: dict[str, np.ndarray]

    def table(self, name: str, codebook_size: int) -> np.ndarray:
        k = check_codebook_size(codebook_size)
        f = self._tables.get(name)
        if f is None:
            return _uniform(k)
        if f.shape[0] != k:
            raise EntropyError(f"stream {name}: prior has {f.shape[0]} symbols, stream has {k}")
        return f

    @property
    def tables(self) -> dict[str, np.ndarray]:
        return dict(self._tables)


class EmpiricalStaticPrior(_FittedTablePrior):
    """Per-stream tables measured on training data, shipped with the model weights."""

    kind = "empirical-static"
    _MAGIC = "vqv-static-prior"

    def __init__(self, tables: Mapping[str, np.ndarray]):
        if len(tables) > MAX_STREAMS:
            raise EntropyError(f"too many streams ({len(tables)})")
        out = {}
        for name, f in tables.items():
            f = check_freqs(f)
            if f.ndim != 1:
                raise EntropyError(f"stream {name}: static table must be 1-D")
            f = f.copy()
            f.setflags(write=False)
            out[check_stream_name(name)] = f
        self._tables = out

    @classmethod
    def from_counts(cls, counts: Mapping[str, np.ndarray], pseudocount: int = 1
                    ) -> "EmpiricalStaticPrior":
        """Tables from training histograms; ``pseudocount`` is added to every count so symbols
        unseen in training stay reasonably cheap (a table entry of 1 would cost 24 bits)."""
        if pseudocount < 0:
            raise ValueError("pseudocount must be >= 0")
        return cls({name: freqs_from_counts(np.asarray(c, dtype=np.int64) + int(pseudocount))
                    for name, c in counts.items()})

    def to_bytes(self) -> bytes:
        body = {"magic": self._MAGIC, "v": 1, "precision": PRECISION_BITS,
                "tables": {n: self._tables[n].astype("<u4").tobytes()
                           for n in sorted(self._tables)}}
        return zstd_compress(msgpack.packb(body, use_bin_type=True))

    @classmethod
    def from_bytes(cls, data: bytes) -> "EmpiricalStaticPrior":
        what = "static prior"
        obj = unpack_msgpack(zstd_decompress(bytes(data), what), what)
        if not isinstance(obj, dict) or obj.get("magic") != cls._MAGIC or obj.get("v") != 1:
            raise EntropyError(f"{what}: unknown format")
        if obj.get("precision") != PRECISION_BITS:
            raise EntropyError(f"{what}: precision {obj.get('precision')!r} != {PRECISION_BITS}")
        tabs = obj.get("tables")
        if not isinstance(tabs, dict) or len(tabs) > MAX_STREAMS:
            raise EntropyError(f"{what}: bad table map")
        out = {}
        for name, blob in tabs.items():
            check_stream_name(name)
            if not isinstance(blob, bytes) or len(blob) % 4 or \
                    not 4 <= len(blob) <= 4 * MAX_ALPHABET:
                raise EntropyError(f"{what}: bad table for stream {name}")
            out[name] = np.frombuffer(blob, dtype="<u4").astype(np.int64)
        return cls(out)


# ---------------------------------------------------------------- adaptive-prior quantisation
_STEPS = (1, 2, 4, 8)         # log-scale resolutions: codes per octave
_OCTAVES = 31                 # counts are clipped to 2**31 before quantisation
_FRAC = 8                     # extra fractional bits of the dequantised weights


def _qmax(step: int) -> int:
    return 1 + _OCTAVES * step                       # <= 249 for step 8: fits a byte


@lru_cache(maxsize=None)
def _weights(step: int) -> np.ndarray:
    """Dequantised weight of every code: 0 -> 0, q -> floor(2**((q-1)/step + _FRAC)).

    Integer only (exact integer roots of powers of two), hence identical on every machine.
    """
    w = [0]
    for q in range(1, _qmax(step) + 1):
        x = 1 << (q - 1 + step * _FRAC)
        for _ in range(int(math.log2(step))):
            x = math.isqrt(x)                        # floor(sqrt(floor(sqrt(x)))) = floor(x**.25)
        w.append(x)
    arr = np.array(w, dtype=np.int64)
    arr.setflags(write=False)
    return arr


def _quantise(counts: np.ndarray, step: int) -> np.ndarray:
    """Encoder side only (floats are fine: the codes are what gets sent)."""
    c = np.minimum(counts.astype(np.int64), 1 << _OCTAVES)
    q = np.zeros(c.shape, np.int64)
    nz = c > 0
    q[nz] = 1 + np.rint(step * np.log2(c[nz].astype(np.float64))).astype(np.int64)
    return np.clip(q, 0, _qmax(step)).astype(np.uint8)


def _table_from_codes(codes: np.ndarray, step: int) -> np.ndarray:
    return freqs_from_counts(_weights(step)[codes.astype(np.int64)])


def _bits_from_counts(counts: np.ndarray, freqs: np.ndarray) -> float:
    nz = counts > 0
    return float((counts[nz] * (PRECISION_BITS - np.log2(freqs[nz].astype(np.float64)))).sum())


class EmpiricalAdaptivePrior(_FittedTablePrior):
    """Per-stream histograms of the file being coded, sent in the header.

    Build with :meth:`fit` (encoder) or :meth:`from_params` (decoder). Streams it has no table
    for are coded uniformly.
    """

    kind = "empirical-adaptive"
    _VERSION = 1

    def __init__(self, entries: Mapping[str, tuple[int, int, np.ndarray]]):
        """``entries``: name -> (codebook_size, step, codes) with uint8 ``codes`` of length K."""
        if len(entries) > MAX_STREAMS:
            raise EntropyError(f"too many streams ({len(entries)})")
        self._entries: dict[str, tuple[int, int, np.ndarray]] = {}
        self._tables = {}
        for name, (k, step, codes) in entries.items():
            check_stream_name(name)
            k = check_codebook_size(k)
            if isinstance(step, (bool, np.bool_)) or step not in _STEPS:
                raise EntropyError(f"stream {name}: invalid quantiser step {step!r}")
            codes = np.asarray(codes)
            if codes.shape != (k,) or codes.dtype != np.uint8:
                raise EntropyError(f"stream {name}: histogram must be {k} uint8 codes")
            if int(codes.max()) > _qmax(step):
                raise EntropyError(f"stream {name}: histogram code out of range")
            codes = codes.copy()
            codes.setflags(write=False)
            self._entries[name] = (k, int(step), codes)
            f = _table_from_codes(codes, step)
            f.setflags(write=False)
            self._tables[name] = f
        self._params: bytes | None = None

    # -------------------------------------------------------------------------- encoder side
    @classmethod
    def fit(cls, streams: Iterable[StreamSymbols], steps: Sequence[int] = _STEPS) -> "EmpiricalAdaptivePrior":
        """Histogram every stream name over the whole file (the coded symbols of every GOP). Per stream, keep the quantiser step (or plain uniform, no side info) that
        minimises ideal payload bits + compressed side-info bits."""
        counts: dict[str, np.ndarray] = {}
        for s in streams:
            sym = stream_symbols(s)
            k = int(s.codebook_size)
            if s.name in counts and counts[s.name].shape[0] != k:
                raise EntropyError(f"stream {s.name}: inconsistent codebook sizes")
            h = np.bincount(sym, minlength=k).astype(np.int64)
            counts[s.name] = counts[s.name] + h if s.name in counts else h
        entries = {}
        for name, c in counts.items():
            k = c.shape[0]
            if k == 1 or not c.any():
                continue
            best_bits = _bits_from_counts(c, _uniform(k))
            best = None
            for step in steps:
                if step not in _STEPS:
                    raise ValueError(f"step must be one of {_STEPS}")
                codes = _quantise(c, step)
                bits = _bits_from_counts(c, _table_from_codes(codes, step))
                bits += 8 * (len(zstd_compress(codes.tobytes())) + len(name) + 4)
                if bits < best_bits:
                    best_bits, best = bits, (k, step, codes)
            if best is not None:
                entries[name] = best
        return cls(entries)

    def params(self) -> bytes:
        """Compact side info: 1 tag byte (0 raw msgpack, 1 zstd) + ``[version, [[name, K,
        step, codes], ...]]`` sorted by name. ``b""`` when no stream needs a table."""
        if self._params is None:
            if not self._entries:
                self._params = b""
            else:
                body = [self._VERSION, [[n, k, step, codes.tobytes()]
                                        for n, (k, step, codes) in sorted(self._entries.items())]]
                raw = msgpack.packb(body, use_bin_type=True)
                z = zstd_compress(raw)
                self._params = b"\x01" + z if len(z) < len(raw) else b"\x00" + raw
        return self._params

    # -------------------------------------------------------------------------- decoder side
    @classmethod
    def from_params(cls, data: bytes, specs: Sequence[tuple[str, int]] | None = None
                    ) -> "EmpiricalAdaptivePrior":
        """Rebuild from :meth:`params`. ``specs`` (``(name, codebook_size)`` of every stream the
        file has), if given, are checked against the sent histograms."""
        what = "adaptive prior params"
        data = bytes(data)
        if not data:
            entries = {}
        else:
            if len(data) > MAX_BLOB:
                raise EntropyError(f"{what}: too large")
            tag, body = data[0], data[1:]
            if tag == 1:
                body = zstd_decompress(body, what)
            elif tag != 0:
                raise EntropyError(f"{what}: unknown tag {tag}")
            obj = unpack_msgpack(body, what)
            if not (isinstance(obj, list) and len(obj) == 2 and obj[0] == cls._VERSION
                    and isinstance(obj[1], list) and len(obj[1]) <= MAX_STREAMS):
                raise EntropyError(f"{what}: unknown format")
            entries = {}
            for e in obj[1]:
                if not (isinstance(e, list) and len(e) == 4 and isinstance(e[0], str)
                        and isinstance(e[1], int) and isinstance(e[2], int)
                        and isinstance(e[3], bytes)):
                    raise EntropyError(f"{what}: malformed stream entry")
                name, k, step, blob = e
                check_stream_name(name)
                k = check_codebook_size(k)
                if name in entries or len(blob) != k:
                    raise EntropyError(f"{what}: bad entry for stream {name}")
                entries[name] = (k, step, np.frombuffer(blob, dtype=np.uint8))
        prior = cls(entries)
        prior._params = data
        for name, k in specs or ():
            prior.table(name, k)                          # raises on a size mismatch
        return prior

    @property
    def steps(self) -> dict[str, int]:
        return {n: e[1] for n, e in self._entries.items()}


def prior_from_header(kind: str, params: bytes, specs: Sequence[tuple[str, int]] | None = None,
                      static: EmpiricalStaticPrior | None = None) -> Prior:
    """Decoder side: rebuild the prior named in a file header."""
    if kind == "uniform":
        if params:
            raise EntropyError("uniform prior takes no params")
        return UniformPrior()
    if kind == "empirical-static":
        if params:
            raise EntropyError("static prior takes no params")
        if static is None:
            raise EntropyError("file uses the static prior but the model ships none")
        return static
    if kind == "empirical-adaptive":
        return EmpiricalAdaptivePrior.from_params(params, specs)
    raise EntropyError(f"unknown prior kind {str(kind)[:40]!r}")
