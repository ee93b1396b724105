"""Tests of the .vqv container (vqcodec.formats): round trips, golden bytes, corruption, bounds."""

from __future__ import annotations

import io
import random
import zlib

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vqcodec.formats import (
    FORMAT_VERSION,
    PRIOR_KINDS,
    CrcError,
    GopChunk,
    Header,
    NotVqvError,
    TruncatedError,
    UnsupportedVersionError,
    VqvFormatError,
    VqvReader,
    VqvWriter,
    read_vqv,
    write_vqv,
)
from vqcodec.formats import container as container_mod
from vqcodec.formats.chunk import encode_chunk
from vqcodec.formats.header import encode_header
from vqcodec.formats.wire import encode_varint

FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- helpers


def _header(**kw) -> Header:
    base = dict(model_digest=bytes(range(8)), source_width=64, source_height=64, coded_width=64,
                coded_height=64, fps_num=30, fps_den=1, frame_count=0, gop_length=32, quality=3,
                prior="empirical-static")
    base.update(kw)
    return Header(**base)


def _chunks(frame_count: int, gop: int = 32, ctx: bool = False, payload: int = 20) -> list[GopChunk]:
    out, i = [], 0
    while frame_count > 0:
        fc = min(gop, frame_count)
        out.append(GopChunk(i, fc, (100 + i, 7, 0), ctx and i > 0, bytes([i % 256]) * (payload + i)))
        frame_count -= fc
        i += 1
    return out


def _write(header: Header, chunks: list[GopChunk]) -> bytes:
    b = io.BytesIO()
    write_vqv(b, header, chunks)
    return b.getvalue()


def _assemble(hmap: bytes, chunk_bytes: list[bytes], version: tuple[int, int] = FORMAT_VERSION,
              index: list[int] | None = None) -> bytes:
    """Build a file with valid CRCs from raw pieces (to forge CRC-valid but inconsistent files)."""
    head = b"VQV" + bytes(version) + encode_varint(len(hmap)) + hmap
    out = head + zlib.crc32(head).to_bytes(4, "little") + b"".join(chunk_bytes)
    sizes = index if index is not None else [len(c) for c in chunk_bytes]
    body = b"".join(encode_varint(s) for s in sizes)
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


SMALL_H = _header(frame_count=40, gop_context=True, prior_params=b"\x01\x02\x03")
SMALL_C = _chunks(40, ctx=True, payload=6)
SMALL = _write(SMALL_H, SMALL_C)


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
    gop = draw(st.integers(1, 40))
    n = draw(st.integers(0, 6))
    frames = 0 if n == 0 else (n - 1) * gop + draw(st.integers(1, gop))
    gop_context = draw(st.booleans())
    w = draw(st.integers(1, 65535))
    h = draw(st.integers(1, 65535))
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
        prior=draw(st.sampled_from(PRIOR_KINDS)),
        prior_params=draw(st.one_of(st.binary(max_size=200),
                                    st.binary(min_size=1, max_size=8).map(lambda b: b * 100))),
        gop_context=gop_context,
        extra=draw(st.dictionaries(st.one_of(st.integers(14, 2**40), st.text(max_size=6)),
                                   _msgpack_value, max_size=4)),
    )
    chunks = []
    for i in range(n):
        fc = gop if i < n - 1 else frames - (n - 1) * gop
        chunks.append(GopChunk(
            index=i,
            frame_count=fc,
            symbol_counts=tuple(draw(st.lists(st.integers(0, 2**63 - 1), max_size=6))),
            uses_context=draw(st.booleans()) if (gop_context and i > 0) else False,
            payload=draw(st.one_of(st.just(b""), st.binary(max_size=600))),
        ))
    return header, chunks


# --------------------------------------------------------------------------- round trips


@FAST
@given(files())
def test_round_trip(f):
    header, chunks = f
    data = _write(header, chunks)
    h2, c2 = read_vqv(io.BytesIO(data))
    assert h2 == header
    assert c2 == chunks
    r = VqvReader(io.BytesIO(data))
    assert r.version == FORMAT_VERSION and len(r) == len(chunks)
    ov = r.overhead()
    assert ov["total"] == len(data)
    assert ov["preamble"] + ov["header"] + ov["chunk_framing"] + ov["index"] + ov["payload"] == len(data)
    assert ov["payload"] == sum(len(c.payload) for c in chunks)
    # re-encoding what was read gives the same bytes (canonical encoding)
    assert _write(h2, c2) == data


@FAST
@given(files(), st.randoms(use_true_random=False))
def test_random_access_matches_sequential(f, rnd):
    header, chunks = f
    r = VqvReader(io.BytesIO(_write(header, chunks)))
    seq = list(r)
    order = list(range(len(r)))
    rnd.shuffle(order)
    for i in order:
        assert r.read_chunk(i) == seq[i] == chunks[i]
    with pytest.raises(IndexError):
        r.read_chunk(len(r))


def test_zero_chunk_file():
    h = _header(frame_count=0)
    data = _write(h, [])
    h2, c2 = read_vqv(io.BytesIO(data))
    assert h2 == h and c2 == []
    assert len(VqvReader(io.BytesIO(data))) == 0


def test_large_payload_and_spool_spill(monkeypatch):
    monkeypatch.setattr(container_mod, "SPOOL_MEMORY_BYTES", 1000)
    rnd = random.Random(1)
    big = rnd.randbytes(3 << 20)
    chunks = [GopChunk(0, 32, (5, 1 << 40), False, big), GopChunk(1, 32, (0,), False, b""),
              GopChunk(2, 1, (), False, big[:5000])]
    h = _header(frame_count=65)
    out = io.BytesIO()
    w = VqvWriter(out)
    for c in chunks:
        w.write_chunk(c)
    assert w._spool._rolled  # spilled to disk, memory did not grow with the payload
    w.finish(h)
    r = VqvReader(io.BytesIO(out.getvalue()))
    assert r.read_chunk(2) == chunks[2] and r.read_chunk(0) == chunks[0]
    assert r.read_chunk(1) == chunks[1]


def test_path_api(tmp_path):
    p = tmp_path / "a.vqv"
    write_vqv(p, SMALL_H, SMALL_C)
    assert read_vqv(p) == (SMALL_H, SMALL_C)
    assert read_vqv(str(p)) == (SMALL_H, SMALL_C)
    assert p.read_bytes() == SMALL


def test_failed_path_write_leaves_no_file(tmp_path):
    p = tmp_path / "bad.vqv"
    with pytest.raises(ValueError):
        write_vqv(p, _header(frame_count=40), _chunks(32))  # one GOP short
    assert not p.exists()


def test_non_seekable_and_embedded():
    assert read_vqv(NonSeekable(SMALL)) == (SMALL_H, SMALL_C)
    f = io.BytesIO(b"junk-prefix" + SMALL)
    f.seek(len(b"junk-prefix"))
    assert read_vqv(f) == (SMALL_H, SMALL_C)
    with pytest.raises(TruncatedError):
        read_vqv(NonSeekable(SMALL[:-3]))
    with pytest.raises(TruncatedError):
        read_vqv(NonSeekable(b""))


def test_prior_params_compressed_only_when_smaller():
    def hmap(data):
        n = data[5]  # header length is a 1-byte varint for these small headers
        return msgpack.unpackb(data[6 : 6 + n], strict_map_key=False)

    comp = _header(prior_params=b"\x00\x01" * 500)
    m = hmap(_write(comp, []))
    assert 12 in m and 11 not in m and len(m[12]) < 1000
    assert read_vqv(io.BytesIO(_write(comp, [])))[0] == comp
    rnd = random.Random(2)
    raw = _header(prior_params=rnd.randbytes(50))
    m = hmap(_write(raw, []))
    assert m[11] == raw.prior_params and 12 not in m
    m = hmap(_write(_header(), []))
    assert 11 not in m and 12 not in m  # empty prior_params: key omitted


def test_numpy_scalars_accepted():
    np = pytest.importorskip("numpy")
    c = GopChunk(np.int64(0), np.int32(32), np.array([5, 6], dtype=np.uint32), np.bool_(False), b"ab")
    assert c == GopChunk(0, 32, (5, 6), False, b"ab") and type(c.symbol_counts[0]) is int
    h = _header(frame_count=np.int64(32), gop_context=np.bool_(True), source_width=np.uint16(64))
    assert read_vqv(io.BytesIO(_write(h, [c]))) == (_header(frame_count=32, gop_context=True), [c])
    with pytest.raises(ValueError):
        write_vqv(io.BytesIO(), _header(frame_count=32.0), [c])


def test_defaults_omitted():
    h = Header(model_digest=b"12345678", source_width=64, source_height=64, coded_width=64,
               coded_height=64)
    assert set(msgpack.unpackb(encode_header(h), strict_map_key=False)) == {0, 1, 2}


# --------------------------------------------------------------------------- golden bytes

GOLDEN_HEADER = Header(
    model_digest=bytes.fromhex("0123456789abcdef"), source_width=60, source_height=34,
    coded_width=64, coded_height=48, fps_num=25, fps_den=1, frame_count=40, gop_length=32,
    quality=2, prior="empirical-adaptive", prior_params=b"\x05\x06\x07", gop_context=True,
    extra={"note": "hi"},
)
GOLDEN_CHUNKS = [GopChunk(0, 32, (3, 0), False, b"\xaa\xbb\xcc"), GopChunk(1, 8, (1, 2), True, b"")]
GOLDEN_HEX = "".join([
    "565156" "01" "00",  # preamble: "VQV", major 1, minor 0
    "2c",  # header map length 44 (varint)
    "8c"  # msgpack fixmap, 12 entries:
    "00" "c408" "0123456789abcdef"  # 0 model_digest: bin8 len 8
    "01" "3c"  # 1 source_width 60
    "02" "22"  # 2 source_height 34
    "03" "40"  # 3 coded_width 64
    "04" "30"  # 4 coded_height 48
    "05" "19"  # 5 fps_num 25   (6 fps_den=1, 8 gop_length=32 are defaults: omitted)
    "07" "28"  # 7 frame_count 40
    "09" "02"  # 9 quality 2
    "0a" "02"  # 10 prior 2 = empirical-adaptive
    "0b" "c403" "050607"  # 11 prior_params raw (zstd would be larger)
    "0d" "c3"  # 13 gop_context true
    "a46e6f7465" "a26869",  # extra "note": "hi"
    "6cae864d",  # header CRC32 (preamble..end of map), little-endian
    "00" "40" "02" "03" "00" "03" "aabbcc" "743b268d",  # GOP 0: idx, 32<<1|0, 2 streams, 3, 0, len 3, payload, CRC
    "01" "11" "02" "01" "02" "00" "0a0ce3be",  # GOP 1: idx 1, 8<<1|1, 2 streams, 1, 2, len 0, CRC
    "0d" "0a",  # index: chunk sizes 13, 10
    "02000000" "5762e5ed",  # tail: index length 2 (u32 LE), CRC32 of index+length (u32 LE)
])


def test_golden_bytes():
    data = _write(GOLDEN_HEADER, GOLDEN_CHUNKS)
    assert data.hex() == GOLDEN_HEX
    assert read_vqv(io.BytesIO(bytes.fromhex(GOLDEN_HEX))) == (GOLDEN_HEADER, GOLDEN_CHUNKS)


# --------------------------------------------------------------------------- overhead


def test_overhead_budget(capsys):
    # typical 2-second 64x64 clip: one 32-frame GOP, 3 streams, 8-byte digest, empty prior_params
    h = _header(frame_count=32, prior="learned", quality=4)
    c = [GopChunk(0, 32, (1024, 256, 64), False, bytes(300))]
    ov = VqvReader(io.BytesIO(_write(h, c))).overhead()
    assert ov["payload"] == 300
    assert ov["overhead"] <= 60, ov
    h2 = _header(frame_count=64, prior="learned", quality=4)
    c2 = c + [GopChunk(1, 32, (1024, 256, 64), False, bytes(300))]
    ov2 = VqvReader(io.BytesIO(_write(h2, c2))).overhead()
    per_gop = ov2["overhead"] - ov["overhead"]
    assert per_gop <= 18, ov2
    with capsys.disabled():
        print(f"\n.vqv overhead: 1 GOP {ov['overhead']} bytes {ov}; per extra GOP {per_gop} bytes")


# --------------------------------------------------------------------------- corruption


def test_every_truncation_is_reported():
    for n in range(len(SMALL)):
        for src in (io.BytesIO(SMALL[:n]), NonSeekable(SMALL[:n])):
            with pytest.raises(TruncatedError) as e:
                read_vqv(src)
            assert "\n" not in str(e.value)


def test_every_flipped_byte_is_detected():
    for pos in range(len(SMALL)):
        for pattern in (0x01, 0x80, 0xFF, 0x5A, 0x10):
            bad = bytearray(SMALL)
            bad[pos] ^= pattern
            with pytest.raises(VqvFormatError) as e:
                read_vqv(io.BytesIO(bytes(bad)))
            msg = str(e.value)
            assert msg and "\n" not in msg
            if pos < 3:
                assert isinstance(e.value, NotVqvError)
            elif pos == 3:
                assert isinstance(e.value, UnsupportedVersionError)


def test_crc_error_names_the_part():
    r = VqvReader(io.BytesIO(SMALL))
    start1 = r._offsets[1]
    for pos, where in ((4, "header"), (10, "header"), (start1 + 3, "GOP 1"), (len(SMALL) - 9, "index"),
                       (len(SMALL) - 1, "index"), (len(SMALL) - 6, "index")):
        bad = bytearray(SMALL)
        bad[pos] ^= 0x04
        with pytest.raises(CrcError) as e:
            read_vqv(io.BytesIO(bytes(bad)))
        assert e.value.where == where and where in str(e.value)


def test_inserted_or_deleted_byte_is_detected():
    for pos in range(len(SMALL) + 1):
        for bad in (SMALL[:pos] + b"\x00" + SMALL[pos:], SMALL[:pos] + SMALL[pos + 1 :]):
            if bad == SMALL:
                continue
            with pytest.raises(VqvFormatError):
                read_vqv(io.BytesIO(bad))


@FAST
@given(st.binary(max_size=300))
def test_garbage_only_raises_format_errors(data):
    for blob in (data, b"VQV\x01\x00" + data):
        with pytest.raises(VqvFormatError):
            read_vqv(io.BytesIO(blob))


@FAST
@given(st.lists(st.tuples(st.integers(0, len(SMALL) - 1), st.integers(1, 255)), min_size=1, max_size=5))
def test_random_multi_byte_damage(edits):
    bad = bytearray(SMALL)
    for pos, x in edits:
        bad[pos] ^= x
    if bytes(bad) == SMALL:
        return
    with pytest.raises(VqvFormatError):
        read_vqv(io.BytesIO(bytes(bad)))


# --------------------------------------------------------------------------- versions


def _with_version(data: bytes, major: int, minor: int) -> bytes:
    hlen = data[5]
    head = data[:3] + bytes([major, minor]) + data[5 : 6 + hlen]
    return head + zlib.crc32(head).to_bytes(4, "little") + data[10 + hlen :]


def test_unknown_major_refused():
    bad = _with_version(SMALL, 3, 0)
    with pytest.raises(UnsupportedVersionError) as e:
        read_vqv(io.BytesIO(bad))
    assert str(e.value) == "unsupported .vqv version 3.0 (this reader knows 1.x)"
    with pytest.raises(UnsupportedVersionError):
        read_vqv(io.BytesIO(_with_version(SMALL, 0, 9)))


def test_newer_minor_accepted_and_unknown_keys_kept():
    h = _header(frame_count=40, extra={20: [1, "future"], "vendor": b"\x00\x01"})
    c = _chunks(40)
    newer = _with_version(_write(h, c), 1, 7)
    r = VqvReader(io.BytesIO(newer))
    assert r.version == (1, 7)
    assert r.header.extra == {20: [1, "future"], "vendor": b"\x00\x01"}
    h2, c2 = read_vqv(io.BytesIO(newer))
    assert (h2, c2) == (h, c)
    assert read_vqv(io.BytesIO(_write(h2, c2))) == (h, c)  # re-written as 1.0, keys preserved


def test_not_vqv():
    with pytest.raises(NotVqvError):
        read_vqv(io.BytesIO(b"RIFF....WAVEfmt "))
    with pytest.raises(TruncatedError):
        read_vqv(io.BytesIO(b"VQ"))


# --------------------------------------------------------------------------- bounds and forged files


def _recorded(data: bytes) -> tuple[type, int]:
    f = RecordingFile(data)
    try:
        read_vqv(f)
    except VqvFormatError as e:
        return type(e), f.max_read
    raise AssertionError("forged file was accepted")


def test_forged_header_length_refused_without_allocating():
    data = b"VQV\x01\x00" + encode_varint(2**40) + b"\x00" * 40
    err, max_read = _recorded(data)
    assert issubclass(err, VqvFormatError) and max_read <= len(data)
    data = b"VQV\x01\x00" + b"\xff" * 11  # varint longer than 10 bytes
    assert issubclass(_recorded(data)[0], VqvFormatError)
    data = b"VQV\x01\x00" + encode_varint((1 << 20) + 1) + b"\x00" * 40
    assert _recorded(data)[0] is VqvFormatError


def test_forged_index_and_tail_lengths_refused():
    bad = SMALL[:-8] + (0xFFFFFFFF).to_bytes(4, "little") + SMALL[-4:]
    err, max_read = _recorded(bad)
    assert max_read <= len(bad)
    hmap = encode_header(SMALL_H)
    chunks = [encode_chunk(c) for c in SMALL_C]
    forged = _assemble(hmap, chunks, index=[len(chunks[0]), 2**40])  # CRC-valid index, huge size
    err, max_read = _recorded(forged)
    assert max_read <= len(forged)
    forged = _assemble(hmap, chunks, index=[len(chunks[0])])  # one entry missing
    with pytest.raises(VqvFormatError, match="index lists 1 chunks"):
        read_vqv(io.BytesIO(forged))


def test_forged_chunk_lengths_refused():
    hmap = encode_header(SMALL_H)
    c1 = encode_chunk(SMALL_C[1])
    for body in (
        encode_varint(0) + encode_varint(64) + encode_varint(10**9) + b"\x00" * 8,  # stream count
        encode_varint(0) + encode_varint(64) + encode_varint(0) + encode_varint(2**60),  # payload len
        encode_varint(0) + encode_varint(64) + encode_varint(0) + encode_varint(100) + b"\x00" * 5,
    ):
        chunk0 = body + zlib.crc32(body).to_bytes(4, "little")
        forged = _assemble(hmap, [chunk0, c1])
        err, max_read = _recorded(forged)
        assert max_read <= len(forged)


def test_forged_frame_count_refused_fast():
    h = _header(frame_count=2**32 - 1, gop_length=1)
    forged = _assemble(encode_header(h), [encode_chunk(GopChunk(0, 1, (), False, b""))])
    with pytest.raises(VqvFormatError, match="implies 4294967295"):
        read_vqv(io.BytesIO(forged))


def test_chunk_index_mismatch_and_semantics_refused():
    hmap = encode_header(SMALL_H)
    c0, c1 = (encode_chunk(c) for c in SMALL_C)
    swapped = _assemble(hmap, [c1, c0])
    with pytest.raises(VqvFormatError, match="says it is GOP 1"):
        read_vqv(io.BytesIO(swapped))
    wrong_frames = encode_chunk(GopChunk(1, 5, (), False, b""))
    with pytest.raises(VqvFormatError, match="expected 8"):
        read_vqv(io.BytesIO(_assemble(hmap, [c0, wrong_frames])))
    ctx0 = encode_chunk(GopChunk(0, 32, (), True, b""))
    with pytest.raises(VqvFormatError, match="context"):
        read_vqv(io.BytesIO(_assemble(hmap, [ctx0, c1])))
    nonminimal = b"\x80\x00" + c0[1:-4]
    forged = _assemble(hmap, [nonminimal + zlib.crc32(nonminimal).to_bytes(4, "little"), c1])
    with pytest.raises(VqvFormatError, match="non-minimal"):
        read_vqv(io.BytesIO(forged))


def test_forged_header_maps_refused():
    for m in (
        msgpack.packb([1, 2, 3]),  # not a map
        msgpack.packb({1: 64, 2: 64}),  # model_digest missing
        msgpack.packb({0: b"12345678", 1: "64", 2: 64}),  # wrong type
        msgpack.packb({0: b"12345678", 1: 64, 2: 64, 10: 9}),  # unknown prior kind
        msgpack.packb({0: b"12345678", 1: 64, 2: 64, 11: b"a", 12: b"b"}),  # both prior_params keys
        msgpack.packb({0: b"12345678", 1: 64, 2: 64, 12: b"not zstd"}),
        msgpack.packb({0: b"12345678", 1: 64, 2: 64, 8: 0}),  # gop_length 0
        msgpack.packb({0: b"12345678", 1: 64, 2: 64}) + b"\x00",  # trailing bytes
        b"\x83\x00\xc4\x08" + b"12345678" + b"\x01\x40\x01\x40",  # duplicate key 1
        b"\xc1",  # reserved msgpack byte
    ):
        with pytest.raises(VqvFormatError) as e:
            read_vqv(io.BytesIO(_assemble(m, [])))
        assert "\n" not in str(e.value)


# --------------------------------------------------------------------------- writer misuse


def test_writer_rejects_inconsistent_input():
    w = VqvWriter(io.BytesIO())
    with pytest.raises(ValueError):
        w.write_chunk(GopChunk(1, 32, (), False, b""))  # must start at 0
    w.write_chunk(GopChunk(0, 32, (), False, b""))
    with pytest.raises(ValueError):
        w.finish(_header(frame_count=64))  # a GOP missing
    with pytest.raises(ValueError):
        w.finish(_header(frame_count=20))  # frame counts disagree
    w.finish(_header(frame_count=32))
    with pytest.raises(ValueError):
        w.finish(_header(frame_count=32))  # already finished
    w = VqvWriter(io.BytesIO())
    w.write_chunk(GopChunk(0, 32, (), False, b""))
    w.write_chunk(GopChunk(1, 1, (), True, b""))
    with pytest.raises(ValueError, match="gop_context"):
        w.finish(_header(frame_count=33))
    w.finish(_header(frame_count=33, gop_context=True))
    for bad in (
        _header(model_digest=b""),
        _header(source_width=0),
        _header(prior="gaussian"),
        _header(gop_context=1),
        _header(extra={3: 1}),  # collides with coded_width
        _header(extra={1.5: 1}),
        _header(extra={"x": object()}),
    ):
        with pytest.raises((ValueError, TypeError)):
            write_vqv(io.BytesIO(), bad, [])
    with pytest.raises(ValueError):
        VqvWriter(io.BytesIO()).write_chunk(GopChunk(0, 0, (), False, b""))
    with pytest.raises(ValueError):
        VqvWriter(io.BytesIO()).write_chunk(GopChunk(0, 1, (-1,), False, b""))
