"""Low-level wire helpers: LEB128 varints, u32, CRC32, a bounded in-memory cursor, limits."""

from __future__ import annotations

import operator
import struct
import zlib
from typing import Any

import numpy as np

from .errors import VqvFormatError

def is_int(v: object) -> bool:
    """An int and not a bool (msgpack gives both; a header field that is an int is never true/false)."""
    return isinstance(v, int) and not isinstance(v, bool)


def int_pair(p: object) -> tuple[int, int] | None:
    """``p`` as an ``(a, b)`` tuple if it is a list or tuple of two ints, else None."""
    if isinstance(p, (list, tuple)) and len(p) == 2 and all(is_int(v) for v in p):
        return int(p[0]), int(p[1])
    return None


# Bounds checked on every size read from a file, before allocating anything.
MAX_VARINT_BYTES = 10  # enough for any value < 2**64
MAX_HEADER_BYTES = 1 << 20  # 1 MiB: msgpack header map, as stored (prior_params possibly compressed)
MAX_PRIOR_PARAMS_BYTES = 16 << 20  # 16 MiB: prior_params after zstd decompression
MAX_PAYLOAD_BYTES = 256 << 20  # 256 MiB: one GOP's entropy-coded payload
MAX_STREAMS = 4096  # entropy-coded streams per GOP (length of symbol_counts)
MAX_SYMBOL_COUNT = (1 << 63) - 1
MAX_CHUNK_FRAMING_BYTES = MAX_VARINT_BYTES * (4 + MAX_STREAMS) + 4
MAX_CHUNK_BYTES = MAX_PAYLOAD_BYTES + MAX_CHUNK_FRAMING_BYTES
MAX_INDEX_BYTES = 64 << 20  # 64 MiB of varint index entries (millions of GOPs)
MIN_CHUNK_BYTES = 8  # 4 one-byte varints + CRC32

_U32 = struct.Struct("<I")


def crc32(*parts: bytes) -> int:
    """zlib CRC32 (the IEEE polynomial, as in zip/PNG) over the concatenation of ``parts``."""
    c = 0
    for p in parts:
        c = zlib.crc32(p, c)
    return c & 0xFFFFFFFF


def pack_u32(value: int) -> bytes:
    return _U32.pack(value)


def unpack_u32(data: bytes, offset: int = 0) -> int:
    return _U32.unpack_from(data, offset)[0]


def coerce_int(v: Any) -> Any:
    """numpy integers (anything with __index__, except bools) to int; other values unchanged."""
    if isinstance(v, (bool, np.bool_)) or isinstance(v, int):
        return v
    try:
        return operator.index(v)
    except TypeError:
        return v


def coerce_bool(v: Any) -> Any:
    """numpy bools to bool; other values unchanged."""
    return bool(v) if isinstance(v, np.bool_) else v


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128: 7 bits per byte, least significant group first, high bit = more follows."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value >= 1 << 64:
        raise ValueError(f"varint value out of range: {value!r}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def varint_len(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


class ShortBuffer(VqvFormatError):
    """Internal: a cursor ran past the end of its buffer (callers turn this into a precise error)."""


class Cursor:
    """Reads varints and byte strings from an in-memory buffer; never reads past ``len(buf)``."""

    def __init__(self, buf: bytes, what: str) -> None:
        self.buf = buf
        self.pos = 0
        self.what = what

    @property
    def remaining(self) -> int:
        return len(self.buf) - self.pos

    def varint(self, field: str) -> int:
        buf, pos = self.buf, self.pos
        value = 0
        for i in range(MAX_VARINT_BYTES):
            if pos + i >= len(buf):
                raise ShortBuffer(f"{self.what}: {field} runs past the end")
            byte = buf[pos + i]
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if i > 0 and byte == 0:
                    raise VqvFormatError(f"{self.what}: {field} is a non-minimal varint")
                if value >= 1 << 64:
                    raise VqvFormatError(f"{self.what}: {field} varint exceeds 64 bits")
                self.pos = pos + i + 1
                return value
        raise VqvFormatError(f"{self.what}: {field} varint longer than {MAX_VARINT_BYTES} bytes")

    def take(self, n: int, field: str) -> bytes:
        if n > self.remaining:
            raise ShortBuffer(f"{self.what}: {field} ({n} bytes) runs past the end")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out
