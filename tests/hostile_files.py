"""Crafted .vqv files, byte by byte from formats/SPEC.md, independent of the writer in ``formats``.

Nothing here imports ``vqcodec.formats``: the bytes come from msgpack, zlib and struct alone, so a
test that compares these files with what the writer makes pins SPEC.md against the code, and a
hostile file can carry any field value (a size the writer refuses, an index that lies, a payload
too short for its counts) with every CRC correct, so the damage reaches the layer under test
instead of stopping at a CRC check.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import msgpack
import zstandard

MAGIC = b"VQV"
# SPEC.md "Header map": field name -> msgpack key, and the default a canonical writer omits
# (None: the field is required or has no default; coded_width/height default to the source size)
HEADER_KEYS = {
    "model_digest": 0, "source_width": 1, "source_height": 2, "coded_width": 3, "coded_height": 4,
    "fps_num": 5, "fps_den": 6, "frame_count": 7, "gop_length": 8, "quality": 9, "prior": 10,
    "prior_params": 11, "prior_params_zstd": 12, "gop_prediction": 13, "copy_mode": 14,
    "refresh_interval": 15,
}
DEFAULTS = {"fps_num": 30, "fps_den": 1, "frame_count": 0, "gop_length": 32, "quality": 0, "prior": 0,
            "gop_prediction": False, "copy_mode": False, "refresh_interval": 0}
PRIOR_IDS = {"uniform": 0, "empirical-static": 1, "empirical-adaptive": 2, "learned": 3, "rank": 4}


def varint(value: int) -> bytes:
    """Unsigned LEB128 (SPEC.md "Conventions"); any value >= 0, even past 2**64, for forged fields."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        shift += 7
        pos += 1
        if not byte & 0x80:
            return value, pos


def header_map_of(data: bytes) -> bytes:
    """The header map bytes of a file (as stored, after the preamble and the length varint)."""
    length, start = read_varint(data, len(MAGIC) + 2)
    return data[start:start + length]


def u32(value: int) -> bytes:
    return struct.pack("<I", value)


def crc(data: bytes) -> bytes:
    return u32(zlib.crc32(data) & 0xFFFFFFFF)


def header_map(**fields) -> bytes:
    """The canonical header map (SPEC.md): known keys ascending with default values omitted, then the
    ``extra`` keys; ``prior`` by name; non-empty ``prior_params`` under key 12 as a zstd frame (level
    19, content size, no checksum, no dictionary id) only when that is strictly shorter, else key 11.
    Any value is written as given, so fields can be out of range."""
    extra = fields.pop("extra", {})
    if "prior" in fields and isinstance(fields["prior"], str):
        fields["prior"] = PRIOR_IDS[fields["prior"]]
    for side in ("width", "height"):
        if fields.get(f"coded_{side}") == fields.get(f"source_{side}"):
            fields.pop(f"coded_{side}", None)
    params = fields.pop("prior_params", b"")
    if params:
        packed = zstandard.ZstdCompressor(level=19, write_checksum=False, write_content_size=True,
                                          write_dict_id=False).compress(params)
        fields["prior_params_zstd" if len(packed) < len(params) else "prior_params"] = \
            packed if len(packed) < len(params) else params
    m = {HEADER_KEYS[k]: v for k, v in sorted(fields.items(), key=lambda kv: HEADER_KEYS[kv[0]])
         if not (k in DEFAULTS and v == DEFAULTS[k] and type(v) is type(DEFAULTS[k]))}
    m.update(extra)
    return msgpack.packb(m, use_bin_type=True)


def chunk(index: int, frames: int, counts=(), payload: bytes = b"", predicted: bool = False, *,
          stream_count: int | None = None, payload_len: int | None = None, frames_flags: int | None = None,
          trailing: bytes = b"") -> bytes:
    """One GOP chunk with a correct CRC. The keyword fields override what the counts and payload
    imply (a stream count or payload length that lies); ``trailing`` goes after the payload."""
    body = b"".join([
        varint(index),
        varint(frames << 1 | int(predicted) if frames_flags is None else frames_flags),
        varint(len(counts) if stream_count is None else stream_count),
        *(varint(n) for n in counts),
        varint(len(payload) if payload_len is None else payload_len),
        payload, trailing,
    ])
    return body + crc(body)


def refresh_bit(chunk_bytes: bytes) -> int:
    """1 if the chunk's predicted bit is clear (bit 0 of its second varint)."""
    frames_flags, _ = read_varint(chunk_bytes, read_varint(chunk_bytes, 0)[1])
    return 0 if frames_flags & 1 else 1


def index_entries(chunks: list[bytes], major: int = 2) -> list[int]:
    """The honest index: 2.x ``size << 1 | refresh``, 1.x plain sizes."""
    return [(len(c) << 1 | refresh_bit(c)) if major >= 2 else len(c) for c in chunks]


@dataclass
class VqvFile:
    """The parts of a file; :meth:`bytes` assembles them with every CRC computed. ``index`` (entries)
    or ``index_bytes`` (raw) override the honest index, ``index_len`` the tail's length field."""

    hmap: bytes
    chunks: list[bytes] = field(default_factory=list)
    version: tuple[int, int] = (2, 0)
    index: list[int] | None = None
    index_bytes: bytes | None = None
    index_len: int | None = None

    def head(self) -> bytes:
        """Preamble and header, with the header CRC."""
        h = MAGIC + bytes(self.version) + varint(len(self.hmap)) + self.hmap
        return h + crc(h)

    def bytes(self) -> bytes:
        body = self.index_bytes
        if body is None:
            entries = self.index if self.index is not None else index_entries(self.chunks, self.version[0])
            body = b"".join(varint(e) for e in entries)
        ln = u32(len(body) if self.index_len is None else self.index_len)
        return self.head() + b"".join(self.chunks) + body + ln + crc(body + ln)


def sparse_file(path, hmap: bytes, chunk_count: int, payload_bytes: int, counts=()) -> list[int]:
    """A .vqv file at ``path`` of ``chunk_count`` refresh chunks of 32 frames, each with ``payload_bytes``
    zero bytes of payload and every CRC correct, written sparse (the zeros are holes: 3 GiB of them take
    no disk). Returns the offset of each chunk's CRC (to damage one)."""
    zeros = bytes(1 << 20)
    file = VqvFile(hmap)
    crc_offsets, entries = [], []
    with open(path, "wb") as f:
        f.write(file.head())
        for i in range(chunk_count):
            fields = varint(i) + varint(32 << 1) + varint(len(counts)) + b"".join(map(varint, counts)) \
                + varint(payload_bytes)
            c = zlib.crc32(fields)
            for pos in range(0, payload_bytes, len(zeros)):
                c = zlib.crc32(zeros[:payload_bytes - pos], c)
            f.write(fields)
            f.seek(payload_bytes, 1)
            crc_offsets.append(f.tell())
            f.write(u32(c))
            entries.append((len(fields) + payload_bytes + 4) << 1 | 1)
        body = b"".join(varint(e) for e in entries)
        ln = u32(len(body))
        f.write(body + ln + crc(body + ln))
    return crc_offsets
