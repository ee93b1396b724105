"""Entropy coding of discrete code streams with integer frequency tables (rANS via constriction).

Everything that defines *what* the coder does is integer arithmetic, so encoder and decoder build
bit-identical models on every machine:

* A coding table ("freqs") is an int64 array of shape ``(K,)`` (one table for every symbol) or
  ``(n, K)`` (one table per symbol, for conditional priors) whose rows sum to exactly
  ``2**PRECISION_BITS`` with every entry ``>= 1`` (so every symbol stays codable).
* :func:`freqs_from_counts` turns histograms into such tables with integer largest-remainder
  rounding (no floats).

Why ``PRECISION_BITS = 24``
    constriction's default ANS coder works with 24-bit probabilities, and its ``Categorical`` model
    with ``perfect=False`` quantises a float table ``p`` (K entries, normaliser ``Z = sum(p)``) as::

        cdf[i] = floor(cumsum(p)[:i] * (2**24 - K) / Z) + i      # "1 + proportional share"

    We hand it ``p = (freqs - 1) / 2**24`` in float64. Every partial sum is a multiple of 2**-24
    below 1 (exact in float64), ``Z = (2**24 - K) / 2**24`` is exact, the scale
    ``(2**24 - K) / Z`` is exactly ``2**24``, and every product is an exact integer. Hence
    constriction's ``cdf[i]`` is *exactly* ``sum(freqs[:i])``: the model that the coder uses is our
    integer table, bit for bit, with no second quantisation (``tests/test_entropy.py`` checks
    this), and :func:`ideal_bits` is exactly the information content the coder pays for.
    24 bits also leaves room for alphabets up to 2**20 symbols (65536 is plenty) while the cheapest
    symbol still costs at most 24 bits.

Bytes: the ANS coder's uint32 words, little-endian. ANS is a stack, so several streams are pushed
in reverse order and popped in forward order from one coder (:func:`encode_streams`).
Decoding an exhausted coder silently yields zeros, so callers store symbol counts; after decoding
we require the coder to be back in its empty initial state, which catches truncated, extended or
garbled payloads and wrong counts/tables with high probability (not with certainty: a payload
decoded with *more* symbols than were encoded may only produce trailing zeros).
"""
from __future__ import annotations

from typing import Callable, Sequence

import constriction
import numpy as np

from vqcodec.errors import one_line

__all__ = [
    "PRECISION_BITS", "TOTAL", "MAX_ALPHABET", "MAX_SYMBOLS", "EntropyError",
    "freqs_from_counts", "uniform_freqs", "check_freqs", "TableRows", "TableSet", "SelectedRows", "symbol_freqs",
    "symbol_intervals", "interval_tables", "information_bits", "bits_of_freqs", "encode", "decode", "ideal_bits",
    "encode_streams", "decode_streams",
]

PRECISION_BITS: int = 24
TOTAL: int = 1 << PRECISION_BITS
MAX_ALPHABET: int = 1 << 20          # every symbol needs >= 1 of the 2**24 slots
MAX_SYMBOLS: int = 1 << 28           # per stream, bounds memory when counts come from a file
_CHUNK_ELEMS = 1 << 21               # float64 entries per batched-table chunk (16 MiB)
_SUM_BITS = 38                       # totals are brought below 2**38 so count * 2**24 fits int64
_POW2 = np.int64(1) << np.arange(63, dtype=np.int64)

# constriction (Rust) looks NumPy's C API up, running Python code, on the first array it is given. A
# stop signal's exception raised in that code (vqv's SIGTERM handler, Ctrl-C) makes it panic with a
# Rust backtrace on stderr; so the lookup is done here, at import, before any coding or output.
constriction.stream.stack.AnsCoder().encode_reverse(
    np.zeros(1, np.int32), constriction.stream.model.Categorical(np.array([0.5, 0.5]), perfect=False))


class EntropyError(ValueError):
    """Invalid table, symbols or payload for the entropy coder. ``str(e)`` is one line (capped, as
    the container's errors are: a message may quote a stream name or a constriction error)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


# --------------------------------------------------------------------------------------- tables
def _bit_length(x: np.ndarray) -> np.ndarray:
    """Integer bit length of non-negative int64 values (0 -> 0), without floats."""
    return np.searchsorted(_POW2, x, side="right").astype(np.int64)


def _as_counts(counts) -> np.ndarray:
    c = np.asarray(counts)
    if c.dtype == np.bool_ or c.dtype.kind not in "iu":
        raise EntropyError(f"counts must be an integer array, got dtype {c.dtype}")
    if c.ndim not in (1, 2):
        raise EntropyError(f"counts must be 1-D or 2-D, got shape {c.shape}")
    k = c.shape[-1]
    if not 1 <= k <= MAX_ALPHABET:
        raise EntropyError(f"alphabet size {k} outside [1, {MAX_ALPHABET}]")
    if c.size and c.dtype.kind == "u" and int(c.max()) > np.iinfo(np.int64).max:
        raise EntropyError("counts too large")
    c = c.astype(np.int64)
    if c.size and int(c.min()) < 0:
        raise EntropyError("counts must be >= 0")
    return c


def freqs_from_counts(counts) -> np.ndarray:
    """Integer coding table(s) from non-negative integer counts.

    ``counts`` of shape ``(K,)`` or ``(n, K)`` (per row). Each row of the result sums to exactly
    ``2**PRECISION_BITS``; every symbol gets 1 slot, the remaining ``2**P - K`` slots are shared in
    proportion to the counts with largest-remainder rounding (ties -> lower index). Consequences:
    zero counts get exactly 1; ``counts[i] >= counts[j]`` implies ``freqs[i] >= freqs[j]``;
    all-zero rows are (near-)uniform. Rows whose total is >= 2**38 are first scaled down by a
    power of two (floor), which keeps every product inside int64. Pure integer arithmetic.
    """
    c = _as_counts(counts)
    one_d = c.ndim == 1
    k = c.shape[-1]
    c = c.reshape(-1, k).copy()
    if c.shape[0] == 0:
        return np.zeros((0, k), np.int64)
    # 1) keep the row sum inside int64 (max < 2**43 and K <= 2**20), 2) keep total < 2**38.
    s1 = np.maximum(_bit_length(c.max(axis=1)) - 43, 0)
    if s1.any():
        c >>= s1[:, None]
    tot = c.sum(axis=1)
    s2 = np.maximum(_bit_length(tot) - _SUM_BITS, 0)
    if s2.any():
        c >>= s2[:, None]
        tot = c.sum(axis=1)
    zero = tot == 0
    if zero.any():
        c[zero] = 1
        tot[zero] = k
    free = TOTAL - k
    num = c * free                                   # < 2**38 * 2**24
    q = num // tot[:, None]
    r = num - q * tot[:, None]
    left = free - q.sum(axis=1)                      # 0 <= left < #(r > 0)
    order = np.argsort(-r, axis=1, kind="stable")     # remainder desc, index asc
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(k, dtype=order.dtype), order.shape), axis=1)
    f = 1 + q + (rank < left[:, None])
    f = f.astype(np.int64)
    return f[0] if one_d else f


def uniform_freqs(k: int) -> np.ndarray:
    """The (near-)uniform table for an alphabet of ``k`` symbols."""
    return freqs_from_counts(np.zeros(int(k), np.int64))


class TableRows:
    """Per-symbol tables ``(n, K)`` built a block of rows at a time by ``make(rows)`` (a slice): the
    coder takes them block by block, so a large slice never holds all of them at once (one 720p
    slice of the learned prior would be 118 MB per stage). Each block is checked as it is built.
    ``intervals(symbols)``, if given, returns each of the n symbols' ``(start, freq)`` under its
    row without building the rows (:func:`symbol_intervals`); it must agree with ``make``."""

    ndim = 2

    def __init__(self, n: int, k: int, make: Callable[[slice], np.ndarray],
                 intervals: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        self.shape = (int(n), int(k))
        self._make = make
        self.intervals = intervals

    def rows(self, sl: slice) -> np.ndarray:
        block = check_freqs(self._make(sl))
        if block.shape != (sl.stop - sl.start, self.shape[1]):
            raise EntropyError(f"table block of shape {block.shape} for rows {sl.start}..{sl.stop}")
        return block

    def probs(self, sl: slice, block: np.ndarray) -> np.ndarray:
        """The float hand-over to the coder of ``block``, rows ``sl``."""
        return _probs(block)


class TableSet:
    """A fixed set of tables ``freqs`` (R, K), checked once, that per-symbol tables pick rows of
    (context tables): :meth:`select` gives the tables of ``n`` symbols from each one's row index, with
    no check per block, and the coder takes each row's float hand-over from here (computed once: the
    same floats as per call, so the same bytes)."""

    def __init__(self, freqs: np.ndarray) -> None:
        f = check_freqs(freqs)
        if f.ndim != 2:
            raise EntropyError(f"a table set must be 2-D, got shape {f.shape}")
        self.freqs = f
        self.starts = np.cumsum(f, axis=1) - f
        self.probs = _probs(f)

    def select(self, rows: np.ndarray) -> SelectedRows:
        """The tables of ``rows.size`` symbols, symbol i under row ``rows[i]``."""
        return SelectedRows(self, rows)


class SelectedRows(TableRows):
    """Per-symbol tables that are rows of a :class:`TableSet` (already checked)."""

    def __init__(self, table_set: TableSet, rows: np.ndarray) -> None:
        rows = np.asarray(rows, np.int64).reshape(-1)
        if rows.size and (int(rows.min()) < 0 or int(rows.max()) >= len(table_set.freqs)):
            raise EntropyError(f"table row outside the set's {len(table_set.freqs)}")
        super().__init__(rows.size, table_set.freqs.shape[1], self.rows, self._intervals)
        self._set, self._rows = table_set, rows

    def rows(self, sl: slice) -> np.ndarray:
        return self._set.freqs[self._rows[sl]]

    def probs(self, sl: slice, block: np.ndarray) -> np.ndarray:
        return self._set.probs[self._rows[sl]]

    def freqs_of(self, sym: np.ndarray) -> np.ndarray:
        """Each symbol's frequency under its row."""
        return self._set.freqs[self._rows, sym]

    def _intervals(self, sym: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._set.starts[self._rows, sym], self.freqs_of(sym)


def table_rows(freqs: np.ndarray | TableRows, sl: slice) -> np.ndarray:
    """Rows ``sl`` of per-symbol tables, given whole or as :class:`TableRows`."""
    return freqs.rows(sl) if isinstance(freqs, TableRows) else freqs[sl]


def _block_probs(freqs: np.ndarray | TableRows, sl: slice) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``sl`` of per-symbol tables and their float hand-over to the coder."""
    block = table_rows(freqs, sl)
    return block, (freqs.probs(sl, block) if isinstance(freqs, TableRows) else _probs(block))


def symbol_freqs(freqs: np.ndarray | TableRows, symbols: np.ndarray) -> np.ndarray:
    """The frequency of each symbol under its table (one shared table, or one per symbol)."""
    if freqs.ndim == 1:
        return freqs[symbols]
    if isinstance(freqs, TableRows) and freqs.intervals is not None:
        return freqs.intervals(symbols)[1]
    out = np.empty(symbols.size, np.int64)
    for sl in _chunks(symbols.size, freqs.shape[-1]):
        out[sl] = table_rows(freqs, sl)[np.arange(sl.stop - sl.start), symbols[sl]]
    return out


def symbol_intervals(freqs: np.ndarray | TableRows, symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each symbol's ``(start, freq)`` under its table: the sum of the entries before it and its
    own entry, int64 (n,) each. That is all the coder uses of a table to code a known symbol."""
    if freqs.ndim == 1:
        return (np.cumsum(freqs) - freqs)[symbols], freqs[symbols]
    if isinstance(freqs, TableRows) and freqs.intervals is not None:
        return freqs.intervals(symbols)
    start, freq = np.empty(symbols.size, np.int64), np.empty(symbols.size, np.int64)
    for sl in _chunks(symbols.size, freqs.shape[-1]):
        block, ar = table_rows(freqs, sl), np.arange(sl.stop - sl.start)
        freq[sl] = block[ar, symbols[sl]]
        start[sl] = (np.cumsum(block, axis=1) - block)[ar, symbols[sl]]
    return start, freq


def interval_tables(start: np.ndarray, freq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per symbol a 3-entry table and the symbol's index in it under which the coder does exactly
    what it does under the symbol's own K-entry table: an rANS step reads only the symbol's start
    and frequency, and the hand-over to constriction is exact for any K (module docstring). So a
    payload is coded from ``(start, freq)`` alone, to the same bytes. Needs ``freq <= 2**24 - 2``
    (true of every table with K >= 3 entries, each >= 1)."""
    start, freq = np.asarray(start, np.int64), np.asarray(freq, np.int64)
    tail = TOTAL - start - freq
    if start.size and (int(freq.min()) < 1 or int(freq.max()) > TOTAL - 2 or int(start.min()) < 0
                       or int(tail.min()) < 0):
        raise EntropyError("a symbol's interval lies outside its table")
    first, last = start == 0, tail == 0
    one = np.ones_like(start)
    tables = np.stack([np.where(first, freq, np.where(last, one, start)),
                       np.where(first, one, np.where(last, start - 1, freq)),
                       np.where(first, tail - 1, np.where(last, freq, tail))], axis=1)
    symbols = np.where(first, 0, np.where(last, 2, 1)).astype(np.int32)
    return symbols, tables.view(_IntervalTables)


class _IntervalTables(np.ndarray):
    """:func:`interval_tables`' tables: int64, C-contiguous, every row 3 entries >= 1 summing to 2**24 by
    construction (the intervals checked there), so :func:`check_freqs` takes them as they are."""


def check_freqs(freqs) -> np.ndarray:
    """Validate a table (``(K,)`` or ``(n, K)``) and return it as C-contiguous int64
    (:class:`TableRows` are checked block by block as they are built)."""
    if type(freqs) is _IntervalTables:
        return freqs
    if isinstance(freqs, TableRows):
        if not 1 <= freqs.shape[1] <= MAX_ALPHABET:
            raise EntropyError(f"alphabet size {freqs.shape[1]} outside [1, {MAX_ALPHABET}]")
        return freqs
    f = np.asarray(freqs)
    if f.dtype == np.bool_ or f.dtype.kind not in "iu":
        raise EntropyError(f"freqs must be an integer array, got dtype {f.dtype}")
    if f.ndim not in (1, 2):
        raise EntropyError(f"freqs must be 1-D or 2-D, got shape {f.shape}")
    k = f.shape[-1]
    if not 1 <= k <= MAX_ALPHABET:
        raise EntropyError(f"alphabet size {k} outside [1, {MAX_ALPHABET}]")
    if f.size and (int(f.min()) < 1 or int(f.max()) > TOTAL):
        raise EntropyError("every frequency must be in [1, 2**PRECISION_BITS]")
    f = np.ascontiguousarray(f, dtype=np.int64)
    if f.size and not np.all(f.sum(axis=-1) == TOTAL):
        raise EntropyError(f"frequency tables must sum to exactly 2**{PRECISION_BITS}")
    return f


def _check_symbols(symbols, freqs: np.ndarray) -> np.ndarray:
    s = np.asarray(symbols)
    if s.size == 0:
        s = s.astype(np.int32)
    if s.dtype == np.bool_ or s.dtype.kind not in "iu":
        raise EntropyError(f"symbols must be integers, got dtype {s.dtype}")
    s = s.reshape(-1)
    k = freqs.shape[-1]
    if s.size and (int(s.min()) < 0 or int(s.max()) >= k):
        raise EntropyError(f"symbol out of range(0, {k})")
    if freqs.ndim == 2 and freqs.shape[0] != s.size:
        raise EntropyError(f"{s.size} symbols but {freqs.shape[0]} per-symbol tables")
    return np.ascontiguousarray(s, dtype=np.int32)


def _probs(f: np.ndarray) -> np.ndarray:
    """The exact float64 hand-over to constriction (see module docstring)."""
    return np.ascontiguousarray((f - 1).astype(np.float64) / TOTAL)


def _model(f: np.ndarray):
    return constriction.stream.model.Categorical(_probs(f), perfect=False)


def _chunks(n: int, k: int) -> list[slice]:
    rows = max(1, _CHUNK_ELEMS // k)
    return [slice(a, min(n, a + rows)) for a in range(0, n, rows)]


# ------------------------------------------------------------------------------------- coding
def _push(coder, symbols: np.ndarray, freqs: np.ndarray) -> None:
    n, k = symbols.size, freqs.shape[-1]
    if n == 0 or k == 1:                             # a 1-symbol alphabet costs 0 bits
        return
    if freqs.ndim == 1:
        coder.encode_reverse(symbols, _model(freqs))
        return
    family = constriction.stream.model.Categorical(perfect=False)
    for sl in reversed(_chunks(n, k)):               # stack: last chunk first
        coder.encode_reverse(np.ascontiguousarray(symbols[sl]), family, _block_probs(freqs, sl)[1])


def _pop(coder, freqs: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` symbols (int32) and each one's frequency under its table; per-symbol tables are built
    once per block (a learned prior's blocks are the costly part of decoding)."""
    k = freqs.shape[-1]
    if n == 0 or k == 1:
        sym = np.zeros(n, np.int32)
        return sym, symbol_freqs(freqs, sym)
    if freqs.ndim == 1:
        sym = np.asarray(coder.decode(_model(freqs), n), dtype=np.int32)
        return sym, freqs[sym]
    if isinstance(freqs, SelectedRows) and n * k <= _CHUNK_ELEMS:      # context tables: one block, no copies
        return _pop_rows(coder, freqs._set, freqs._rows)
    family = constriction.stream.model.Categorical(perfect=False)
    syms, got = [], []
    for sl in _chunks(n, k):
        block, probs = _block_probs(freqs, sl)
        s = np.asarray(coder.decode(family, probs), dtype=np.int32)
        syms.append(s)
        got.append(block[np.arange(s.size), s])
    return np.concatenate(syms), np.concatenate(got)


def _pop_rows(coder, table_set: TableSet, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symbols under rows ``rows`` of ``table_set`` (one block: the set's float hand-over, computed once) and
    each one's frequency."""
    family = constriction.stream.model.Categorical(perfect=False)
    sym = np.asarray(coder.decode(family, table_set.probs[rows]), dtype=np.int32)
    return sym, table_set.freqs[rows, sym]


def _check_n(n, freqs: np.ndarray) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise EntropyError(f"symbol count must be an int, got {type(n).__name__}")
    n = int(n)
    if not 0 <= n <= MAX_SYMBOLS:
        raise EntropyError(f"symbol count {n} outside [0, {MAX_SYMBOLS}]")
    if freqs.ndim == 2 and freqs.shape[0] != n:
        raise EntropyError(f"count {n} but {freqs.shape[0]} per-symbol tables")
    return n


def encode_streams(streams: Sequence[tuple[np.ndarray, np.ndarray]]) -> bytes:
    """Code several ``(symbols, freqs)`` streams into one payload (one ANS coder, no padding)."""
    checked = []
    for symbols, freqs in streams:
        f = check_freqs(freqs)
        checked.append((_check_symbols(symbols, f), f))
    coder = constriction.stream.stack.AnsCoder()
    for s, f in reversed(checked):                   # ANS is a stack: push the last stream first
        _push(coder, s, f)
    words = np.asarray(coder.get_compressed(), dtype=np.uint32)
    return words.astype("<u4").tobytes()


def decode_streams(data: bytes, specs: Sequence[tuple[np.ndarray, int]]) -> list[np.ndarray]:
    """Inverse of :func:`encode_streams`; ``specs`` is a list of ``(freqs, n)``."""
    checked = []
    for freqs, n in specs:
        f = check_freqs(freqs)
        checked.append((f, _check_n(n, f)))
    dec = PayloadDecoder(data)
    out = [dec.pop(f, n) for f, n in checked]
    dec.finish()
    return out


class PayloadDecoder:
    """Pops symbols off one payload stream by stream, so a later stream's tables may depend on
    what was decoded before (the learned prior); :meth:`finish` checks nothing is left over."""

    def __init__(self, data: bytes) -> None:
        buf = bytes(data)
        if len(buf) % 4:
            raise EntropyError(f"payload length {len(buf)} is not a multiple of 4 bytes")
        words = np.frombuffer(buf, dtype="<u4").astype(np.uint32)
        try:
            self._coder = constriction.stream.stack.AnsCoder(np.ascontiguousarray(words))
        except (ValueError, KeyError, RuntimeError) as e:
            raise EntropyError(f"invalid entropy-coded payload: {e}") from None

    @property
    def exhausted(self) -> bool:
        """Nothing is left to decode: the coder is back in its empty state, where it pops zeros."""
        return self._coder.is_empty()

    def pop(self, freqs: np.ndarray, n: int) -> np.ndarray:
        """``n`` symbols (int32) under one ``(K,)`` table or ``(n, K)`` per-symbol tables."""
        return self.pop_with_bits(freqs, n)[0]

    def pop_with_bits(self, freqs: np.ndarray, n: int) -> tuple[np.ndarray, float]:
        """As :meth:`pop`, with the symbols' :func:`information_bits` (from the same table blocks)."""
        try:
            sym, f = _pop(self._coder, freqs, n)
        except (ValueError, KeyError, RuntimeError) as e:
            raise EntropyError(f"corrupt entropy-coded payload: {e}") from None
        return sym, bits_of_freqs(f)

    def pop_rows(self, table_set: TableSet, rows: np.ndarray) -> tuple[np.ndarray, float]:
        """As :meth:`pop_with_bits` under ``table_set.select(rows)``, for int64 ``rows`` known to be rows of the
        set (a decoder's hot loop: the conditional coders' symbols, channel by channel): the same symbols and bits,
        without the per-call checks and copies."""
        n, k = rows.size, table_set.freqs.shape[1]
        if n == 0 or k == 1 or n * k > _CHUNK_ELEMS:
            return self.pop_with_bits(table_set.select(rows), n)
        try:
            sym, f = _pop_rows(self._coder, table_set, rows)
        except (ValueError, KeyError, RuntimeError) as e:
            raise EntropyError(f"corrupt entropy-coded payload: {e}") from None
        return sym, bits_of_freqs(f)

    def finish(self, causes: str = "wrong counts, wrong tables or damaged bytes") -> None:
        if not self._coder.is_empty():
            raise EntropyError(f"corrupt entropy-coded payload: data left over after decoding ({causes})")


def encode(symbols: np.ndarray, freqs: np.ndarray) -> bytes:
    """Code one stream. ``freqs``: ``(K,)`` shared table or ``(n, K)`` one table per symbol."""
    return encode_streams([(symbols, freqs)])


def decode(data: bytes, freqs: np.ndarray, n: int) -> np.ndarray:
    """Decode ``n`` symbols (int32) coded by :func:`encode` with the same table(s)."""
    return decode_streams(data, [(freqs, n)])[0]


def ideal_bits(symbols: np.ndarray, freqs: np.ndarray) -> float:
    """Information content ``sum(-log2(freqs[s] / 2**P))`` of the symbols under the table(s).

    Because the coder's model equals the integer table exactly, the real payload exceeds this
    only by the ANS flush/word rounding (a few tens of bits per payload). Reporting only: this
    uses floats and is never fed back into coding decisions that the decoder must reproduce.
    """
    f = check_freqs(freqs)
    return information_bits(f, _check_symbols(symbols, f))


def information_bits(freqs: np.ndarray | TableRows, symbols: np.ndarray) -> float:
    """:func:`ideal_bits` of checked int32 symbols and tables, without checking them again (the
    GOP coder reports every stream's bits this way)."""
    return bits_of_freqs(symbol_freqs(freqs, symbols)) if symbols.size else 0.0


def bits_of_freqs(freqs_of_symbols: np.ndarray) -> float:
    """Information content of symbols whose table frequencies are ``freqs_of_symbols``."""
    if freqs_of_symbols.size == 0:
        return 0.0
    return float(freqs_of_symbols.size * PRECISION_BITS - np.log2(freqs_of_symbols.astype(np.float64)).sum())
