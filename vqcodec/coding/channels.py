"""The two ends of one GOP's entropy-coded payload: the encoder's channel records the symbols it is
given with their tables, the decoder's pops them off the payload and checks that it is used up
exactly. :func:`vqcodec.coding.gop_coding.code_gop` walks a GOP through either, so the two sides run
the same code. Tables are integer rows summing to 2^24, one per slice or one per symbol; the rank
prior's (:class:`~vqcodec.entropy.rank_prior.RankedTables`) code each symbol's rank instead."""
from __future__ import annotations

import numpy as np

from vqcodec.entropy.rank_prior import RankedTables
from vqcodec.entropy.rans import (
    EntropyError,
    PayloadDecoder,
    TableSet,
    bits_of_freqs,
    check_freqs,
    encode_streams,
    information_bits,
    interval_tables,
    symbol_intervals,
    uniform_freqs,
)

END_CHECK = np.array([0xA5, 0x3C], np.int32)        # coded last in a version-2 payload (2 bytes)
_BYTE_TABLE = uniform_freqs(256)
# What a version-2 payload can hold. END_CHECK lies at the bottom of the rANS stack and leaves the
# coder's state at 2**29 or more, so every symbol coded above it adds its ideal bits to the stream,
# less at most 1/32 bit of rounding (the state is at least 2**5 times any frequency). The symbols
# decoded so far therefore carry at most 8 bits per payload byte plus 1/32 bit per symbol: more,
# and the payload has run out and is yielding symbols no encoder wrote. The bound is checked with
# twice that rounding and a margin for the float sum of ideal bits.
_ROUNDING_BITS_PER_SYMBOL = 1 / 16
_MARGIN_BITS = 64
_RAN_OUT = "corrupt entropy-coded payload: it ends before its symbols do"
_CAUSES = "wrong counts, wrong tables, damaged bytes or a damaged reference GOP"


class EncodeChannel:
    """Records ``(symbols, tables)`` pairs for one payload, and their ideal bits per label."""

    def __init__(self) -> None:
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self.bits: dict[str, float] = {}

    def code(self, tables: np.ndarray | RankedTables, n: int, symbols: np.ndarray | None, label: str = ""
             ) -> np.ndarray:
        if isinstance(tables, RankedTables):          # the rank prior: the codes' ranks are what is coded
            sym = self.checked(symbols, n, tables.keys.shape[1], label)
            self.code(tables.freqs, n, tables.ranks_of(sym), label)
            return sym
        sym, pair, bits = self.prepare(tables, n, symbols, label)
        self.add(pair, bits, label)
        return sym

    @staticmethod
    def prepare(tables: np.ndarray, n: int, symbols: np.ndarray | None, label: str = ""
                ) -> tuple[np.ndarray, tuple | None, float]:
        """The checked symbols, the ``(symbols, tables)`` pair to code (None for none) and its bits."""
        sym = EncodeChannel.checked(symbols, n, tables.shape[-1], label)
        if n and tables.ndim == 2 and tables.shape[-1] > 3:
            # per-symbol tables: keep only each symbol's (start, freq), which codes to the same
            # bytes as the whole rows (interval_tables) without building them twice or holding them
            start, freq = symbol_intervals(tables, sym)
            return sym, interval_tables(start, freq), bits_of_freqs(freq)
        if n:
            return sym, (sym, tables), information_bits(tables, sym)
        return sym, None, 0.0

    @staticmethod
    def checked(symbols: np.ndarray | None, n: int, k: int, label: str = "") -> np.ndarray:
        """``symbols`` as C-contiguous int32, checked: ``n`` of them, each in range(k)."""
        sym = np.asarray(symbols).reshape(-1)
        if sym.size != n:
            raise EntropyError(f"{label}: {sym.size} symbols where {n} are coded")
        if n and (int(sym.min()) < 0 or int(sym.max()) >= k):
            raise EntropyError(f"{label}: symbol out of range(0, {k})")
        return np.ascontiguousarray(sym, dtype=np.int32)

    def add(self, pair: tuple | None, bits: float, label: str) -> None:
        if pair is not None:
            self.bits[label] = self.bits.get(label, 0.0) + bits
            self.pairs.append(pair)

    def payload(self, end_check: bool = True) -> bytes:
        return encode_streams(self.pairs + ([(END_CHECK, _BYTE_TABLE)] if end_check else []))

    def check_not_exhausted(self) -> None:
        """Nothing to check on the encoder's side (see :meth:`DecodeChannel.check_not_exhausted`)."""


class DecodeChannel:
    """Pops symbols off one payload; :meth:`finish` checks that the payload was used up exactly.

    With ``end_check`` (version 2) a payload that runs out is refused as soon as it is seen, not
    after every symbol of the GOP has been decoded from nothing: when the coder is empty (only
    END_CHECK could have brought it there) or the symbols decoded so far carry more information
    than the payload has bits (see ``_ROUNDING_BITS_PER_SYMBOL``). A version-1 payload has no
    such floor: an all-zero stream codes to no bytes at all, so only :meth:`finish` can check it.
    """

    def __init__(self, payload: bytes, end_check: bool = True) -> None:
        self._dec = PayloadDecoder(payload)
        self._end_check = end_check
        self._payload_bits = 8 * len(payload)
        self._info = 0.0            # ideal bits of the symbols decoded so far
        self._symbols = 0
        self.bits: dict[str, float] = {}

    def check_not_exhausted(self) -> None:
        """Raise if the payload has run out (version 2); called before each slice's tables are built."""
        if not self._end_check:
            return
        room = self._payload_bits + _MARGIN_BITS + self._symbols * _ROUNDING_BITS_PER_SYMBOL
        if self._dec.exhausted or self._info > room:
            raise EntropyError(f"{_RAN_OUT} ({_CAUSES})")

    def code(self, tables: np.ndarray | RankedTables, n: int, symbols: np.ndarray | None = None, label: str = ""
             ) -> np.ndarray:
        if isinstance(tables, RankedTables):
            return tables.codes_of(self.code(tables.freqs, n, None, label))
        self.check_not_exhausted()
        sym, b = self._dec.pop_with_bits(check_freqs(tables), n)
        return self._counted(sym, b, label)

    def code_rows(self, table_set: TableSet, rows: np.ndarray, label: str = "") -> np.ndarray:
        """As :meth:`code` under ``table_set.select(rows)`` for ``rows`` (int64) known to be rows of the set: the
        same symbols, checks and bits at less cost a call (the conditional coders' symbols, channel by channel)."""
        self.check_not_exhausted()
        sym, b = self._dec.pop_rows(table_set, rows)
        return self._counted(sym, b, label)

    def _counted(self, sym: np.ndarray, bits: float, label: str) -> np.ndarray:
        """``sym``, just decoded with ``bits`` of information, counted towards the exhaustion check."""
        self.bits[label] = self.bits.get(label, 0.0) + bits
        self._info += bits
        self._symbols += sym.size
        return sym

    def finish(self) -> None:
        self.check_not_exhausted()
        if self._end_check and not np.array_equal(self._dec.pop(_BYTE_TABLE, END_CHECK.size), END_CHECK):
            raise EntropyError(f"{_RAN_OUT} ({_CAUSES})")
        self._dec.finish(_CAUSES)
