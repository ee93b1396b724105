"""Shared by the .vqv container tests (test_formats*.py): files made by the writer, files assembled
from raw pieces with valid CRCs, file objects, and a hypothesis strategy for valid files.
"""
from __future__ import annotations

import dataclasses
import io
import zlib
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from vqcodec.formats import (
    FORMAT_VERSION,
    PRIOR_KINDS,
    GopChunk,
    Header,
    VqvFormatError,
    VqvReader,
    VqvWriter,
    write_vqv,
)
from vqcodec.formats.chunk import parse_chunk_fields
from vqcodec.formats.wire import encode_varint


FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
V1, V2 = (1, 0), (2, 0)
VERSIONS = [V1, V2]
SPEC = Path(__file__).resolve().parents[1] / "formats" / "SPEC.md"


# --------------------------------------------------------------------------- helpers


def _header(**kw) -> Header:
    base = dict(model_digest=bytes(range(8)), source_width=64, source_height=64, coded_width=64,
                coded_height=64, fps_num=30, fps_den=1, frame_count=0, gop_length=32, quality=3,
                prior="empirical-static")
    base.update(kw)
    return Header(**base)


def _chunks(frame_count: int, gop: int = 32, pred=False, payload: int = 20) -> list[GopChunk]:
    """Chunks for ``frame_count`` frames; ``pred`` is a bool (every GOP after 0) or a set of GOP numbers."""
    out, i = [], 0
    while frame_count > 0:
        fc = min(gop, frame_count)
        p = (i in pred) if isinstance(pred, (set, frozenset)) else bool(pred) and i > 0
        out.append(GopChunk(i, fc, (100 + i, 7, 0), p, bytes([i % 256]) * (payload + i)))
        frame_count -= fc
        i += 1
    return out


def _write(header: Header, chunks: list[GopChunk], version: tuple[int, int] = FORMAT_VERSION) -> bytes:
    b = io.BytesIO()
    write_vqv(b, header, chunks, version=version)
    return b.getvalue()


def _refresh_of(chunk_bytes: bytes) -> bool:
    try:
        return not parse_chunk_fields(chunk_bytes, "forged").predicted
    except VqvFormatError:
        return True


def _assemble(hmap: bytes, chunk_bytes: list[bytes], version: tuple[int, int] = FORMAT_VERSION,
              index: list[int] | None = None) -> bytes:
    """Build a file with valid CRCs from raw pieces (to forge CRC-valid but inconsistent files).

    ``index`` gives the raw index entries; by default they are computed from the chunks
    (2.x: ``size << 1 | refresh`` with refresh from each chunk's prediction bit)."""
    head = b"VQV" + bytes(version) + encode_varint(len(hmap)) + hmap
    out = head + zlib.crc32(head).to_bytes(4, "little") + b"".join(chunk_bytes)
    if index is None:
        if version[0] >= 2:
            index = [(len(c) << 1) | _refresh_of(c) for c in chunk_bytes]
        else:
            index = [len(c) for c in chunk_bytes]
    body = b"".join(encode_varint(s) for s in index)
    ln = len(body).to_bytes(4, "little")
    return out + body + ln + zlib.crc32(body + ln).to_bytes(4, "little")


class NonSeekable(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._b = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buf) -> int:
        d = self._b.read(len(buf))
        buf[: len(d)] = d
        return len(d)


class RecordingFile(io.BytesIO):
    """Records the largest read() request, to prove forged lengths never drive an allocation."""

    max_read = 0

    def read(self, n=-1):
        self.max_read = max(self.max_read, len(self.getbuffer()) if n is None or n < 0 else n)
        return super().read(n)


# three GOPs: a refresh point, a GOP predicted from it, a second refresh point
SMALL_H = _header(frame_count=72, gop_prediction=True, prior_params=b"\x01\x02\x03")
SMALL_C = _chunks(72, pred={1}, payload=6)
SMALL_BY_VERSION = {V1: _write(SMALL_H, SMALL_C, V1), V2: _write(SMALL_H, SMALL_C, V2)}
SMALL = SMALL_BY_VERSION[V2]


# --------------------------------------------------------------------------- strategies

_msgpack_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
                          st.floats(allow_nan=False), st.text(max_size=10), st.binary(max_size=10))
_msgpack_value = st.recursive(
    _msgpack_leaf,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3),
    max_leaves=8,
)


@st.composite
def files(draw):
    """(version, header, chunks) of a valid file of either version."""
    version = draw(st.sampled_from(VERSIONS))
    gop = draw(st.integers(1, 40))
    n = draw(st.integers(0, 6))
    frames = 0 if n == 0 else (n - 1) * gop + draw(st.integers(1, gop))
    gop_prediction = draw(st.booleans())
    w = draw(st.integers(1, 65535))
    h = draw(st.integers(1, 65535))
    v2 = version[0] >= 2
    header = Header(
        model_digest=draw(st.binary(min_size=1, max_size=32)),
        source_width=w,
        source_height=h,
        coded_width=draw(st.sampled_from([w, draw(st.integers(1, 65535))])),
        coded_height=draw(st.sampled_from([h, draw(st.integers(1, 65535))])),
        fps_num=draw(st.integers(1, 2**32 - 1)),
        fps_den=draw(st.sampled_from([1, 1001, draw(st.integers(1, 2**32 - 1))])),
        frame_count=frames,
        gop_length=gop,
        quality=draw(st.integers(-(2**31), 2**31 - 1)),
        prior=draw(st.sampled_from([k for k in PRIOR_KINDS if k != "rank"])),    # rank: a 6.x prior
        prior_params=draw(st.one_of(st.binary(max_size=200),
                                    st.binary(min_size=1, max_size=8).map(lambda b: b * 100))),
        gop_prediction=gop_prediction,
        copy_mode=draw(st.booleans()) if v2 else False,
        refresh_interval=draw(st.sampled_from([0, 1, 8, draw(st.integers(0, 2**32 - 1))])) if v2 else 0,
        extra=draw(st.dictionaries(st.one_of(st.integers(16, 2**40), st.text(max_size=6)),
                                   _msgpack_value, max_size=4)),
    )
    chunks = []
    for i in range(n):
        fc = gop if i < n - 1 else frames - (n - 1) * gop
        chunks.append(GopChunk(
            index=i,
            frame_count=fc,
            symbol_counts=tuple(draw(st.lists(st.integers(0, 2**63 - 1), max_size=6))),
            predicted=draw(st.booleans()) if (gop_prediction and i > 0) else False,
            # sizes around 64 and 128 bytes make 1- and 2-byte index entries in both versions
            payload=draw(st.one_of(st.just(b""), st.binary(max_size=600), st.binary(min_size=50, max_size=130))),
        ))
    return version, header, chunks


def _expected_refresh_points(chunks: list[GopChunk]) -> list[int]:
    return [i for i, c in enumerate(chunks) if not c.predicted]


def with_payloads(data: bytes, payloads: dict[int, bytes]) -> bytes:
    """``data``'s chunks written again with other payloads (each chunk's CRC made anew)."""
    reader, out = VqvReader(io.BytesIO(data)), io.BytesIO()
    with VqvWriter(out, reader.version) as w:
        for c in (reader.read_chunk(i) for i in range(len(reader))):
            w.write_chunk(dataclasses.replace(c, payload=payloads.get(c.index, c.payload)))
        w.finish(reader.header)
    return out.getvalue()


def flips_refused(data: bytes, decode, gop: int = 0, tries: int = 16) -> tuple[int, int]:
    """Flip bits at ``tries`` positions spread over GOP ``gop``'s payload of ``data`` (its CRC made anew, so
    the codec, not the container, must notice) and ``decode`` each: how many were refused in one line naming
    the GOP, of how many (a refusal that names another GOP, or spans lines, fails the caller's test)."""
    from vqcodec.entropy.rans import EntropyError
    from vqcodec.errors import VqvError
    p = VqvReader(io.BytesIO(data)).read_chunk(gop).payload
    caught, positions = 0, range(0, len(p), max(1, len(p) // tries))
    for pos in positions:
        damaged = bytearray(p)
        damaged[pos] ^= 0x21
        try:
            decode(with_payloads(data, {gop: bytes(damaged)}))
        except (EntropyError, VqvError) as e:
            assert f"GOP {gop}" in str(e) and "\n" not in str(e), str(e)
            caught += 1
    return caught, len(positions)
