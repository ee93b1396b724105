"""The entropy model of a scalar-quantised latent: integer tables conditioned on the slice before.

A latent ``z`` of shape (C, T, H, W) quantised with step ``Δ`` gives integer symbols
``s = clip(round(z / Δ), -limit, limit)`` (clipping is the encoder's choice; the decoder never needs
it). They are coded slice by slice (``t`` = 0, 1, ...). The symbol at ``(c, t, y, x)`` is coded with the
table of channel ``c`` and context class

    0                                     for t = 0 (no slice before it in the GOP)
    1 + CONTEXT_CLIP + clip(s[c, t-1, y, x], ±CONTEXT_CLIP)   otherwise

so a decoder that has the slice before knows every table of the next slice. In a version-11 file
(``first_slice_context``) the first slice of a refresh GOP, which has no slice before it, is coded in two
checkerboard passes: the first under class 0, the second under the class the lower median of each symbol's
in-grid 4-neighbours (all of the first pass, same channel) would have as the symbol before it
(:func:`neighbour_medians`): the tables the ladder already has, picked by integers. This is the design of
``docs/scalar_layer_design.md``; ``docs/MODEL_CARD.md`` has the measurement (one slice of
context takes 16-35% off a plain per-channel table).

Everything the decoder uses is integer: the tables are ``entropy.freqs_from_counts`` of training
histograms, stored as int32, and the class of a symbol is integer arithmetic on decoded symbols. No
network and no float decides a table, so files decode the same on every machine. The step is
``step_num / STEP_DEN`` so that it too is an exact integer on the wire.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import msgpack
import numpy as np

from vqcodec.codes import STEP_DEN
from vqcodec.entropy.blob import MAX_BLOB, unpack_msgpack, zstd_compress, zstd_decompress
from vqcodec.entropy.rans import (MAX_ALPHABET, MAX_SYMBOLS, PRECISION_BITS, EntropyError, PayloadDecoder, SelectedRows,
                                  TableSet, encode_streams, freqs_from_counts)
from vqcodec.entropy.copy_flags import checkerboard, median_of_neighbours
from vqcodec.errors import ModelDataError

__all__ = ["ScalarTables", "CONTEXT_CLIP", "N_CLASSES", "STEP_DEN", "MAX_CHANNELS", "context_classes",
           "encode_symbols", "decode_symbols", "quantise"]

CONTEXT_CLIP = 6
N_CLASSES = 2 * CONTEXT_CLIP + 2
MAX_CHANNELS = 4096
PSEUDO_COUNT_DEN = 16            # fitting adds 1/16 to every count
MAX_LIMIT = (MAX_ALPHABET - 1) // 2
_MAGIC = "vqv-scalar"


def context_classes(prev: np.ndarray | None, shape: tuple[int, int, int]) -> np.ndarray:
    """The class (int64, shape (C, H, W)) of every symbol of a slice, given the decoded slice before
    it (``None`` for the first slice of a GOP)."""
    if prev is None:
        return np.zeros(shape, np.int64)
    return 1 + CONTEXT_CLIP + np.clip(np.asarray(prev, np.int64), -CONTEXT_CLIP, CONTEXT_CLIP)


def neighbour_medians(s: np.ndarray, have: np.ndarray) -> np.ndarray:
    """Per position of ``s`` (C, H, W), the lower median of the symbols of its in-grid 4-neighbours where
    ``have`` (H, W) is true (0 where it has none): int64 (:func:`~vqcodec.entropy.copy_flags.median_of_neighbours`)."""
    return np.moveaxis(median_of_neighbours(np.moveaxis(np.asarray(s), 0, -1), have)[0], -1, 0)


def quantise(z: np.ndarray, step_num: int, limit: int) -> np.ndarray:
    """Symbols (int32, same shape) of a latent: the nearest multiple of the step, clipped to ±limit."""
    s = np.rint(np.asarray(z, np.float64) * (STEP_DEN / step_num))
    return np.clip(s, -limit, limit).astype(np.int32)


@dataclass(frozen=True)
class ScalarTables:
    """Per channel and context class, an integer table over the symbols ``-limit..limit`` (stored at
    ``symbol + limit``): ``freqs`` int64 of shape (C, N_CLASSES, 2 * limit + 1), rows summing to
    ``2**PRECISION_BITS`` with every entry >= 1."""

    step_num: int
    limit: int
    freqs: np.ndarray
    first_slice_context: bool = False     # version 11: a refresh GOP's first slice in two passes (see above)

    def __post_init__(self) -> None:
        if not isinstance(self.step_num, int) or not 1 <= self.step_num <= 1 << 30:
            raise ModelDataError(f"scalar tables: step {self.step_num!r}/{STEP_DEN} out of range")
        if not isinstance(self.limit, int) or not 1 <= self.limit <= MAX_LIMIT:
            raise ModelDataError(f"scalar tables: symbol limit {self.limit!r} out of range")
        f = np.asarray(self.freqs)
        if f.ndim != 3 or not 1 <= f.shape[0] <= MAX_CHANNELS or f.shape[1:] != (N_CLASSES, 2 * self.limit + 1):
            raise ModelDataError(f"scalar tables: shape {f.shape} does not fit {N_CLASSES} classes and limit {self.limit}")
        try:
            table_set = TableSet(f.reshape(-1, f.shape[2]))       # row: channel * N_CLASSES + class
        except EntropyError as e:
            raise ModelDataError(str(e)) from None
        object.__setattr__(self, "freqs", table_set.freqs.reshape(f.shape))
        object.__setattr__(self, "_table_set", table_set)

    @property
    def step(self) -> float:
        return self.step_num / STEP_DEN

    @property
    def channels(self) -> int:
        return int(self.freqs.shape[0])

    @property
    def alphabet(self) -> int:
        return 2 * self.limit + 1

    # ------------------------------------------------------------------------------ encoder side
    def quantise(self, z: np.ndarray) -> np.ndarray:
        return quantise(z, self.step_num, self.limit)

    def dequantise(self, s: np.ndarray) -> np.ndarray:
        return np.asarray(s, np.float32) * np.float32(self.step)

    # ------------------------------------------------------------------------------ both sides
    def slice_tables(self, prev: np.ndarray | None, shape: tuple[int, int, int],
                     coded: np.ndarray | None = None) -> SelectedRows:
        """The tables of one slice's C·H·W symbols in (c, y, x) order (rows of the checked set); with
        ``coded`` (H, W) bool, of the coded positions' symbols only (channel by channel, each in
        row-major order)."""
        c, h, w = shape
        if c != self.channels:
            raise EntropyError(f"scalar layer: {c} channels, the tables have {self.channels}")
        rows = np.arange(c, dtype=np.int64)[:, None, None] * N_CLASSES + context_classes(prev, shape)
        rows = rows.ravel() if coded is None else rows[:, coded].ravel()
        return self._table_set.select(rows)

    def symbol_bits(self, prev: np.ndarray | None, s: np.ndarray) -> np.ndarray:
        """Bits (H, W) of coding each position's C symbols ``s`` (C, H, W) after slice ``prev``:
        the encoder's rate estimate (floats; never used by a decoder)."""
        rows = np.arange(s.shape[0], dtype=np.int64)[:, None, None] * N_CLASSES + context_classes(prev, s.shape)
        f = self.freqs.reshape(-1, self.alphabet)[rows, np.asarray(s, np.int64) + self.limit]
        return (PRECISION_BITS - np.log2(f.astype(np.float64))).sum(0)

    def first_slice_bits(self, s: np.ndarray) -> tuple[float, float]:
        """Bits of a refresh GOP's first slice ``s`` (C, H, W) coded in one pass and in two (the encoder's
        choice between them; floats, never used by a decoder)."""
        first, second = checkerboard(*s.shape[1:])
        plain = self.symbol_bits(None, s)
        context = np.where(second, self.symbol_bits(neighbour_medians(s, first), s), plain)
        return float(plain.sum()), float(context.sum())

    def offset(self, s: np.ndarray) -> np.ndarray:
        """Symbols -> coder symbols ``s + limit`` (int32, C-contiguous)."""
        return np.ascontiguousarray(np.asarray(s, np.int64).ravel() + self.limit, dtype=np.int32)

    def unoffset(self, coded: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return (np.asarray(coded, np.int64) - self.limit).astype(np.int32).reshape(shape)

    # ------------------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, symbol_gops: Iterable[np.ndarray], step_num: int, limit: int,
            coded: Iterable[np.ndarray] | None = None) -> "ScalarTables":
        """Tables from the symbols (C, T, H, W) of training GOPs, counted by channel and class; with
        ``coded`` (one (T, H, W) bool map per GOP), only the positions the encoder coded (not the
        copies), each in the class its slice before gives it."""
        counts = None
        masks = iter(coded) if coded is not None else None
        for s in symbol_gops:
            s = np.asarray(s, np.int64)
            keep = None if masks is None else np.broadcast_to(np.asarray(next(masks), bool)[None], s.shape)
            if s.ndim != 4:
                raise ValueError(f"symbols must be (C, T, H, W), got {s.shape}")
            c = s.shape[0]
            if counts is None:
                counts = np.zeros((c, N_CLASSES, 2 * limit + 1), np.int64)
            cls_ = np.empty(s.shape, np.int64)
            cls_[:, 0] = 0
            cls_[:, 1:] = context_classes(s[:, :-1], s[:, 1:].shape)
            sym = np.clip(s, -limit, limit) + limit
            idx = (np.arange(c)[:, None, None, None] * N_CLASSES + cls_) * (2 * limit + 1) + sym
            idx = idx.ravel() if keep is None else idx[keep]
            counts += np.bincount(idx, minlength=counts.size).reshape(counts.shape)
        if counts is None:
            raise ValueError("no training symbols")
        # a pseudo-count of 1/16 per symbol: one never seen in training stays codable at a bounded
        # cost (add-one cost 2-4% more bits on the probe's latents, 1/16 and less are all within 0.1%)
        freqs = freqs_from_counts((counts * PSEUDO_COUNT_DEN + 1).reshape(-1, 2 * limit + 1)).reshape(counts.shape)
        return cls(int(step_num), int(limit), freqs)

    # ------------------------------------------------------------------------------ bytes
    def to_bytes(self) -> bytes:
        body = {"magic": _MAGIC, "v": 1, "precision": PRECISION_BITS, "step_num": self.step_num,
                "limit": self.limit, "channels": self.channels, "classes": N_CLASSES,
                "freqs": self.freqs.astype("<i4").tobytes()}
        return zstd_compress(msgpack.packb(body, use_bin_type=True))

    @classmethod
    def from_bytes(cls, data: bytes) -> "ScalarTables":
        what = "scalar tables"
        obj = unpack_msgpack(zstd_decompress(bytes(data), what, MAX_BLOB, ModelDataError), what, ModelDataError)
        if not isinstance(obj, dict) or obj.get("magic") != _MAGIC or obj.get("v") != 1:
            raise ModelDataError(f"{what}: unknown format")
        if obj.get("precision") != PRECISION_BITS or obj.get("classes") != N_CLASSES:
            raise ModelDataError(f"{what}: precision or context classes differ from this decoder's")
        step_num, limit, channels, raw = (obj.get(k) for k in ("step_num", "limit", "channels", "freqs"))
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (step_num, limit, channels)):
            raise ModelDataError(f"{what}: bad fields")
        if not isinstance(raw, bytes) or not 1 <= channels <= MAX_CHANNELS or not 1 <= limit <= MAX_LIMIT:
            raise ModelDataError(f"{what}: bad fields")
        if len(raw) != 4 * channels * N_CLASSES * (2 * limit + 1):
            raise ModelDataError(f"{what}: {len(raw)} bytes of tables for {channels} channels and limit {limit}")
        freqs = np.frombuffer(raw, "<i4").astype(np.int64).reshape(channels, N_CLASSES, 2 * limit + 1)
        return cls(step_num, limit, freqs)


def encode_symbols(tables: ScalarTables, s: np.ndarray) -> bytes:
    """One GOP's symbols (C, T, H, W) -> a payload of their own (slice by slice)."""
    s = np.asarray(s)
    if s.ndim != 4 or int(np.abs(s).max(initial=0)) > tables.limit:
        raise EntropyError(f"scalar symbols of shape {s.shape} outside the tables' range")
    shape = (s.shape[0], *s.shape[2:])
    streams = [(tables.offset(s[:, t]), tables.slice_tables(s[:, t - 1] if t else None, shape))
               for t in range(s.shape[1])]
    return encode_streams(streams)


def decode_symbols(tables: ScalarTables, data: bytes, shape: tuple[int, int, int, int]) -> np.ndarray:
    """Inverse of :func:`encode_symbols` for a GOP of ``shape`` (C, T, H, W); the payload must be
    used up exactly."""
    c, t_, h, w = (int(v) for v in shape)
    if c * t_ * h * w > MAX_SYMBOLS:
        raise EntropyError(f"scalar layer of shape {shape} exceeds the symbol limit")
    dec = PayloadDecoder(data)
    out = np.zeros((c, t_, h, w), np.int32)
    for t in range(t_):
        if dec.exhausted:
            raise EntropyError("scalar layer: the payload ends before its symbols do")
        rows = tables.slice_tables(out[:, t - 1] if t else None, (c, h, w))
        out[:, t] = tables.unoffset(dec.pop(rows, c * h * w), (c, h, w))
    dec.finish()
    return out
