"""The index and tail at the end of a .vqv file (SPEC.md, "Index and tail").

The index is one varint per chunk in GOP order: 1.x the chunk's byte size, 2.x ``size << 1 | refresh``;
the tail is the index's byte length (u32) and the CRC32 of the index followed by that length (u32).
"""

from __future__ import annotations

from .errors import VqvFormatError
from .header import Header
from .wire import MAX_CHUNK_BYTES, MAX_VARINT_BYTES, MIN_CHUNK_BYTES, Cursor, ShortBuffer, crc32, encode_varint, pack_u32

TAIL_BYTES = 8  # u32 index length + u32 CRC32


def index_entry(major: int, size: int, refresh: bool) -> int:
    """The varint value stored in the index for one chunk: 1.x plain size, 2.x ``size << 1 | refresh``."""
    return size if major < 2 else (size << 1) | int(refresh)


def encode_index(major: int, sizes: list[int], refresh: list[bool]) -> bytes:
    """Index and tail of chunks of ``sizes`` bytes with refresh bits ``refresh``."""
    body = b"".join(encode_varint(index_entry(major, s, r)) for s, r in zip(sizes, refresh))
    length = pack_u32(len(body))
    return body + length + pack_u32(crc32(body, length))


def decode_index(body: bytes, header: Header, major: int, room: int) -> tuple[list[int], list[bool] | None]:
    """The chunk sizes and (2.x, else ``None``) refresh bits of an index whose CRC verified, checked
    against the header; ``room`` is the number of bytes between the header and the index."""
    want = header.gop_count
    ilen = len(body)
    # Bound the claims before expanding anything: every chunk takes at least MIN_CHUNK_BYTES and
    # every index entry 1..MAX_VARINT_BYTES bytes, so a hostile header or index cannot make the
    # reader build millions of entries for a small file.
    if want * MIN_CHUNK_BYTES > room:
        raise VqvFormatError(
            f"the header (frame_count {header.frame_count}) implies {want} GOPs, but the file has room "
            f"for at most {room // MIN_CHUNK_BYTES}"
        )
    if not want <= ilen <= want * MAX_VARINT_BYTES:
        raise VqvFormatError(f"index of {ilen} bytes cannot list the {want} chunks the header implies")
    cur, entries = Cursor(body, "index"), []
    try:
        while cur.remaining and len(entries) <= want:
            entries.append(cur.varint(f"entry of chunk {len(entries)}"))
    except ShortBuffer as e:
        raise VqvFormatError(f"malformed {e}") from None
    if len(entries) != want:
        raise VqvFormatError(
            f"index lists {len(entries)} chunks but the header (frame_count {header.frame_count}, "
            f"gop_length {header.gop_length}) implies {want}"
        )
    refresh: list[bool] | None = None
    sizes = entries
    if major >= 2:  # entry = size << 1 | refresh
        sizes = [e >> 1 for e in entries]
        bits = [bool(e & 1) for e in entries]
        if bits and not bits[0]:
            raise VqvFormatError("index: GOP 0 is not marked as a refresh point")
        if not header.gop_prediction and not all(bits):
            raise VqvFormatError(
                f"index: GOP {bits.index(False)} is marked as predicted but the header's gop_prediction is false"
            )
        refresh = bits
    for i, s in enumerate(sizes):
        if not MIN_CHUNK_BYTES <= s <= MAX_CHUNK_BYTES:
            raise VqvFormatError(f"index: chunk {i} size {s} out of range")
    return sizes, refresh
