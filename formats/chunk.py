"""One GOP chunk: its dataclass and its framing (varint fields, payload, CRC32)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from .errors import CrcError, VqvFormatError
from .wire import (
    MAX_CHUNK_FRAMING_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_STREAMS,
    MAX_SYMBOL_COUNT,
    Cursor,
    ShortBuffer,
    coerce_bool,
    coerce_int,
    crc32,
    encode_varint,
    pack_u32,
    unpack_u32,
    is_int,
)

SCAN_BLOCK_BYTES = 1 << 20  # what :func:`scan_chunk` reads at a time


@dataclass
class GopChunk:
    """The coded data of one GOP."""

    index: int  # GOP number, 0-based; equals the chunk's position in the file
    frame_count: int  # real frames in this GOP (>= 1; only the last GOP may be short)
    symbol_counts: tuple[int, ...]  # symbols in each entropy-coded stream (list/ndarray accepted)
    # bit 0 of frames_flags: the GOP is decoded with the previous GOP's decoded codes as reference,
    # so it is not a refresh point (1.x files: "uses context from the previous GOP", the same bit)
    predicted: bool
    payload: bytes  # the codec's entropy-coded bytes

    def __post_init__(self) -> None:
        self.index = coerce_int(self.index)
        self.frame_count = coerce_int(self.frame_count)
        if isinstance(self.symbol_counts, (list, tuple, np.ndarray)):
            self.symbol_counts = tuple(coerce_int(n) for n in self.symbol_counts)
        self.predicted = coerce_bool(self.predicted)
        if isinstance(self.payload, (bytearray, memoryview)):
            self.payload = bytes(self.payload)



def validate_chunk(c: GopChunk) -> None:
    """Raise ValueError/TypeError if ``c`` cannot be written."""
    if not isinstance(c, GopChunk):
        raise TypeError(f"expected GopChunk, got {type(c).__name__}")
    if not is_int(c.index) or not 0 <= c.index < 1 << 32:
        raise ValueError(f"chunk index must be an int in 0..2**32-1, got {c.index!r}")
    if not is_int(c.frame_count) or not 1 <= c.frame_count <= 0xFFFF:
        raise ValueError(f"chunk frame_count must be an int in 1..65535, got {c.frame_count!r}")
    if not isinstance(c.symbol_counts, tuple) or len(c.symbol_counts) > MAX_STREAMS:
        raise ValueError(f"symbol_counts must be a tuple of at most {MAX_STREAMS} ints")
    for n in c.symbol_counts:
        if not is_int(n) or not 0 <= n <= MAX_SYMBOL_COUNT:
            raise ValueError(f"symbol count out of range: {n!r}")
    if not isinstance(c.predicted, bool):
        raise ValueError(f"predicted must be a bool, got {c.predicted!r}")
    if not isinstance(c.payload, bytes) or len(c.payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload must be bytes of at most {MAX_PAYLOAD_BYTES} bytes")


def encode_chunk(c: GopChunk) -> bytes:
    """Chunk bytes: varint fields, payload, CRC32 of everything before it."""
    validate_chunk(c)
    parts = [
        encode_varint(c.index),
        encode_varint((c.frame_count << 1) | int(c.predicted)),
        encode_varint(len(c.symbol_counts)),
        *(encode_varint(n) for n in c.symbol_counts),
        encode_varint(len(c.payload)),
    ]
    body = b"".join(parts) + c.payload
    return body + pack_u32(crc32(body))


class ChunkFields(NamedTuple):
    index: int
    frame_count: int
    predicted: bool
    symbol_counts: tuple[int, ...]
    payload_len: int
    fields_len: int  # bytes before the payload

    @property
    def chunk_len(self) -> int:
        return self.fields_len + self.payload_len + 4


def parse_chunk_fields(buf: bytes, what: str) -> ChunkFields:
    """Parse the fields before the payload. Raises ShortBuffer if ``buf`` ends inside them."""
    cur = Cursor(buf, what)
    index = cur.varint("GOP index")
    ff = cur.varint("frame count/flags")
    frame_count, predicted = ff >> 1, bool(ff & 1)
    if not 1 <= frame_count <= 0xFFFF:
        raise VqvFormatError(f"{what}: frame count {frame_count} out of range 1..65535")
    n = cur.varint("stream count")
    if n > MAX_STREAMS:
        raise VqvFormatError(f"{what}: {n} streams exceeds limit {MAX_STREAMS}")
    counts = tuple(cur.varint("symbol count") for _ in range(n))
    for s in counts:
        if s > MAX_SYMBOL_COUNT:
            raise VqvFormatError(f"{what}: symbol count {s} out of range")
    payload_len = cur.varint("payload length")
    if payload_len > MAX_PAYLOAD_BYTES:
        raise VqvFormatError(f"{what}: payload length {payload_len} exceeds limit {MAX_PAYLOAD_BYTES}")
    return ChunkFields(index, frame_count, predicted, counts, payload_len, cur.pos)


def check_payload_present(c: GopChunk, what: str) -> None:
    """A version-1.x payload has no end check (SPEC.md, "Differences in version 1.x"): an empty one
    decodes as all-zero symbols whatever its counts, so a payload that is gone would decode to
    silent zeros. Codec readers of 1.x files call this: symbols to decode but no payload is an error."""
    n = sum(c.symbol_counts)
    if n and not c.payload:
        raise VqvFormatError(f"{what}: {n} symbols but an empty payload (a version-1 payload that is missing: "
                             "damaged or hostile file)")


def decode_chunk(region: bytes, what: str) -> GopChunk:
    """Decode a whole chunk (exactly its bytes, as delimited by the index). Verifies the CRC first."""
    if len(region) < 8:
        raise VqvFormatError(f"{what}: {len(region)} bytes is too short for a chunk")
    body = region[:-4]
    if crc32(body) != unpack_u32(region, len(region) - 4):
        raise CrcError(what)
    f = _body_fields(body, len(body), what)
    return GopChunk(f.index, f.frame_count, f.symbol_counts, f.predicted, body[f.fields_len :])


def scan_chunk(read_at: Callable[[int, int, str], bytes], start: int, length: int, what: str) -> ChunkFields:
    """The fields of the ``length``-byte chunk at ``start`` (``read_at(offset, n, what)`` reads the file),
    verified as :func:`decode_chunk` verifies a chunk, CRC included, but read in blocks of
    :data:`SCAN_BLOCK_BYTES`: memory stays at one block however long the payload (statistics of a
    file, ``vqv info``, never hold a payload)."""
    if length < 8:
        raise VqvFormatError(f"{what}: {length} bytes is too short for a chunk")
    body_len, crc = length - 4, 0
    for pos in range(0, body_len, SCAN_BLOCK_BYTES):
        crc = zlib.crc32(read_at(start + pos, min(SCAN_BLOCK_BYTES, body_len - pos), what), crc)
    if crc != unpack_u32(read_at(start + body_len, 4, what), 0):
        raise CrcError(what)
    return _body_fields(read_at(start, min(body_len, MAX_CHUNK_FRAMING_BYTES), what), body_len, what)


def _body_fields(head: bytes, body_len: int, what: str) -> ChunkFields:
    """The fields at the start (``head``) of a chunk body of ``body_len`` bytes whose CRC checked out."""
    try:
        f = parse_chunk_fields(head, what)
    except ShortBuffer as e:
        raise VqvFormatError(f"malformed {e}") from None
    if f.fields_len + f.payload_len != body_len:
        raise VqvFormatError(
            f"{what}: fields and payload take {f.fields_len + f.payload_len} bytes but the chunk has {body_len}"
        )
    return f
