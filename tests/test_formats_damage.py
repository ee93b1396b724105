"""Tests of the .vqv container (vqcodec.formats) on damaged, forged and misused files: every
corruption detected and named, every claim bounded before it is believed, writer misuse refused.
"""
from __future__ import annotations

import io
import zlib

import msgpack
import pytest
from formats_helpers import (
    FAST,
    SMALL_BY_VERSION,
    SMALL_C,
    SMALL_H,
    V2,
    VERSIONS,
    NonSeekable,
    RecordingFile,
    _assemble,
    _chunks,
    _header,
    _write,
    files,
)
from hypothesis import given
from hypothesis import strategies as st

from vqcodec.formats import (
    SUPPORTED_MAJORS,
    CrcError,
    GopChunk,
    NotVqvError,
    TruncatedError,
    UnsupportedVersionError,
    VqvFormatError,
    VqvReader,
    VqvWriter,
    read_vqv,
    write_vqv,
)
from vqcodec.formats.chunk import encode_chunk
from vqcodec.formats.header import encode_header
from vqcodec.formats.wire import encode_varint


@pytest.fixture(params=VERSIONS, ids=["v1", "v2"])
def small(request) -> bytes:
    return SMALL_BY_VERSION[request.param]


# --------------------------------------------------------------------------- corruption


def test_every_truncation_is_reported(small):
    for n in range(len(small)):
        for src in (io.BytesIO(small[:n]), NonSeekable(small[:n])):
            with pytest.raises(TruncatedError) as e:
                read_vqv(src)
            assert "\n" not in str(e.value)


def test_every_flipped_byte_is_detected(small):
    for pos in range(len(small)):
        for pattern in (0x01, 0x80, 0xFF, 0x5A, 0x10):
            bad = bytearray(small)
            bad[pos] ^= pattern
            with pytest.raises(VqvFormatError) as e:
                read_vqv(io.BytesIO(bytes(bad)))
            msg = str(e.value)
            assert msg and "\n" not in msg
            if pos < 3:
                assert isinstance(e.value, NotVqvError)
            elif pos == 3:      # the major: unknown, or (2 -> 3, 3 -> 2) known and caught by the header CRC
                assert isinstance(e.value, UnsupportedVersionError if bad[3] not in SUPPORTED_MAJORS else CrcError)


def test_crc_error_names_the_part(small):
    r = VqvReader(io.BytesIO(small))
    start1 = r._offsets[1]
    for pos, where in ((4, "header"), (10, "header"), (start1 + 3, "GOP 1"), (len(small) - 9, "index"),
                       (len(small) - 1, "index"), (len(small) - 6, "index")):
        bad = bytearray(small)
        bad[pos] ^= 0x04
        with pytest.raises(CrcError) as e:
            read_vqv(io.BytesIO(bytes(bad)))
        assert e.value.where == where and where in str(e.value)


def test_inserted_or_deleted_byte_is_detected(small):
    for pos in range(len(small) + 1):
        for bad in (small[:pos] + b"\x00" + small[pos:], small[:pos] + small[pos + 1 :]):
            if bad == small:
                continue
            with pytest.raises(VqvFormatError):
                read_vqv(io.BytesIO(bad))


@FAST
@given(st.binary(max_size=300))
def test_garbage_only_raises_format_errors(data):
    for blob in (data, b"VQV\x01\x00" + data, b"VQV\x02\x00" + data):
        with pytest.raises(VqvFormatError):
            read_vqv(io.BytesIO(blob))


@FAST
@given(st.sampled_from(VERSIONS),
       st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=5))
def test_random_multi_byte_damage(version, edits):
    small = SMALL_BY_VERSION[version]
    bad = bytearray(small)
    for pos, x in edits:
        bad[pos % len(small)] ^= x
    if bytes(bad) == small:
        return
    with pytest.raises(VqvFormatError):
        read_vqv(io.BytesIO(bytes(bad)))


@FAST
@given(files(), st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 255)), min_size=1, max_size=4),
       st.integers(0, 10**9))
def test_random_damage_of_any_file(f, edits, cut):
    version, header, chunks = f
    data = _write(header, chunks, version)
    bad = bytearray(data)
    for pos, x in edits:
        bad[pos % len(data)] ^= x
    if bytes(bad) != data:
        with pytest.raises(VqvFormatError) as e:
            read_vqv(io.BytesIO(bytes(bad)))
        assert "\n" not in str(e.value)
    with pytest.raises(TruncatedError):
        read_vqv(io.BytesIO(data[: cut % len(data)]))


def test_index_and_chunk_refresh_mismatch_detected():
    hmap = encode_header(SMALL_H)
    cb = [encode_chunk(c) for c in SMALL_C]
    good = [(len(c) << 1) | r for c, r in zip(cb, (1, 0, 1))]
    # GOP 1 is predicted but the index marks it as a refresh point
    r = VqvReader(io.BytesIO(_assemble(hmap, cb, index=[good[0], good[1] | 1, good[2]])))
    assert r.refresh_points() == [0, 1, 2]
    assert r.read_chunk(0) == SMALL_C[0] and r.read_chunk(2) == SMALL_C[2]
    with pytest.raises(VqvFormatError, match="GOP 1 says it is predicted but the index marks it as a refresh"):
        r.read_chunk(1)
    # GOP 2 is a refresh point but the index marks it as predicted
    r = VqvReader(io.BytesIO(_assemble(hmap, cb, index=[good[0], good[1], good[2] & ~1])))
    assert r.refresh_point(2) == 0
    with pytest.raises(VqvFormatError, match="GOP 2 says it is a refresh point but the index marks it as predicted"):
        read_vqv(io.BytesIO(_assemble(hmap, cb, index=[good[0], good[1], good[2] & ~1])))


def test_index_gop0_not_refresh_rejected():
    hmap = encode_header(SMALL_H)
    cb = [encode_chunk(c) for c in SMALL_C]
    forged = _assemble(hmap, cb, index=[len(cb[0]) << 1, (len(cb[1]) << 1), (len(cb[2]) << 1) | 1])
    with pytest.raises(VqvFormatError, match="GOP 0 is not marked as a refresh point"):
        VqvReader(io.BytesIO(forged))
    # a chunk 0 that says it is predicted is rejected too, whatever the index says
    c0 = encode_chunk(GopChunk(0, 32, (), True, b""))
    for idx in ([(len(c0) << 1) | 1] + [(len(c) << 1) | 1 for c in cb[1:]], None):
        with pytest.raises(VqvFormatError, match="GOP 0"):
            read_vqv(io.BytesIO(_assemble(hmap, [c0] + cb[1:], index=idx)))


def test_index_predicted_without_header_gop_prediction_rejected():
    h = _header(frame_count=72)
    cb = [encode_chunk(c) for c in _chunks(72)]
    index = [(len(c) << 1) | r for c, r in zip(cb, (1, 1, 0))]
    with pytest.raises(VqvFormatError, match="GOP 2 is marked as predicted but the header"):
        VqvReader(io.BytesIO(_assemble(encode_header(h), cb, index=index)))


# --------------------------------------------------------------------------- bounds and forged files


def _recorded(data: bytes) -> tuple[type, int]:
    f = RecordingFile(data)
    try:
        read_vqv(f)
    except VqvFormatError as e:
        return type(e), f.max_read
    raise AssertionError("forged file was accepted")


@pytest.mark.parametrize("major", SUPPORTED_MAJORS)
def test_forged_header_length_refused_without_allocating(major):
    pre = b"VQV" + bytes([major, 0])
    data = pre + encode_varint(2**40) + b"\x00" * 40
    err, max_read = _recorded(data)
    assert issubclass(err, VqvFormatError) and max_read <= len(data)
    data = pre + b"\xff" * 11  # varint longer than 10 bytes
    assert issubclass(_recorded(data)[0], VqvFormatError)
    data = pre + encode_varint((1 << 20) + 1) + b"\x00" * 40
    assert _recorded(data)[0] is VqvFormatError


@pytest.mark.parametrize("version", VERSIONS)
def test_forged_index_and_tail_lengths_refused(version):
    small = SMALL_BY_VERSION[version]
    bad = small[:-8] + (0xFFFFFFFF).to_bytes(4, "little") + small[-4:]
    err, max_read = _recorded(bad)
    assert max_read <= len(bad)
    hmap = encode_header(SMALL_H)
    chunks = [encode_chunk(c) for c in SMALL_C]
    for huge in (2**40, 2**64 - 1):
        first = _assemble_index(version, chunks[:1], (1,))[0]
        forged = _assemble(hmap, chunks, version, index=[first, huge, 27])
        err, max_read = _recorded(forged)  # CRC-valid index, huge size
        assert max_read <= len(forged)
    forged = _assemble(hmap, chunks[:2], version)  # one entry missing
    with pytest.raises(VqvFormatError, match="cannot list the 3 chunks"):
        read_vqv(io.BytesIO(forged))


@pytest.mark.parametrize("version", VERSIONS)
def test_claims_are_bounded_by_the_file_size_before_the_index_is_expanded(version):
    """A header claiming a million GOPs, with a CRC-valid index of a million one-byte entries (1 MB),
    is refused from the sizes alone: no list of a million entries is built."""
    hmap = encode_header(_header(frame_count=32 * 1_000_000))
    chunks = [encode_chunk(c) for c in SMALL_C]
    n = 1_000_000
    forged = _assemble(hmap, chunks, version, index=[9 << 1 | 1 if version == V2 else 9] * n)
    with pytest.raises(VqvFormatError, match="room for at most"):
        VqvReader(io.BytesIO(forged))


@pytest.mark.parametrize("version", VERSIONS)
def test_forged_chunk_lengths_refused(version):
    hmap = encode_header(SMALL_H)
    rest = [encode_chunk(c) for c in SMALL_C[1:]]
    for body in (
        encode_varint(0) + encode_varint(64) + encode_varint(10**9) + b"\x00" * 8,  # stream count
        encode_varint(0) + encode_varint(64) + encode_varint(0) + encode_varint(2**60),  # payload len
        encode_varint(0) + encode_varint(64) + encode_varint(0) + encode_varint(100) + b"\x00" * 5,
    ):
        chunk0 = body + zlib.crc32(body).to_bytes(4, "little")
        forged = _assemble(hmap, [chunk0, *rest], version)
        err, max_read = _recorded(forged)
        assert max_read <= len(forged)


@pytest.mark.parametrize("version", VERSIONS)
def test_forged_frame_count_refused_fast(version):
    h = _header(frame_count=2**32 - 1, gop_length=1)
    forged = _assemble(encode_header(h), [encode_chunk(GopChunk(0, 1, (), False, b""))], version)
    with pytest.raises(VqvFormatError, match="implies 4294967295"):
        read_vqv(io.BytesIO(forged))


@pytest.mark.parametrize("version", VERSIONS)
def test_chunk_index_mismatch_and_semantics_refused(version):
    hmap = encode_header(SMALL_H)
    c0, c1, c2 = (encode_chunk(c) for c in SMALL_C)
    swapped = _assemble(hmap, [c1, c0, c2], version, index=_assemble_index(version, [c1, c0, c2], (1, 0, 1)))
    with pytest.raises(VqvFormatError, match="says it is GOP 1"):
        read_vqv(io.BytesIO(swapped))
    wrong_frames = encode_chunk(GopChunk(2, 5, (), False, b""))
    with pytest.raises(VqvFormatError, match="expected 8"):
        read_vqv(io.BytesIO(_assemble(hmap, [c0, c1, wrong_frames], version)))
    pred0 = encode_chunk(GopChunk(0, 32, (), True, b""))
    index = _assemble_index(version, [pred0, c1, c2], (1, 0, 1))  # the index says GOP 0 is a refresh point
    with pytest.raises(VqvFormatError, match="GOP 0 claims prediction"):
        read_vqv(io.BytesIO(_assemble(hmap, [pred0, c1, c2], version, index=index)))
    # a predicted GOP in a file whose header does not allow prediction
    no_pred = encode_header(_header(frame_count=72, prior_params=b"\x01\x02\x03"))
    index = _assemble_index(version, [c0, c1, c2], (1, 1, 1))
    r = VqvReader(io.BytesIO(_assemble(no_pred, [c0, c1, c2], version, index=index)))
    with pytest.raises(VqvFormatError, match="GOP 1 claims prediction from a previous GOP, which the header"):
        r.read_chunk(1)
    nonminimal = b"\x80\x00" + c0[1:-4]
    forged = _assemble(hmap, [nonminimal + zlib.crc32(nonminimal).to_bytes(4, "little"), c1, c2], version)
    with pytest.raises(VqvFormatError, match="non-minimal"):
        read_vqv(io.BytesIO(forged))


def _assemble_index(version: tuple[int, int], chunk_bytes: list[bytes], refresh) -> list[int]:
    if version[0] >= 2:
        return [(len(c) << 1) | r for c, r in zip(chunk_bytes, refresh)]
    return [len(c) for c in chunk_bytes]


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
        for version in VERSIONS:
            with pytest.raises(VqvFormatError) as e:
                read_vqv(io.BytesIO(_assemble(m, [], version)))
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
    for version in VERSIONS:
        w = VqvWriter(io.BytesIO(), version=version)
        w.write_chunk(GopChunk(0, 32, (), False, b""))
        w.write_chunk(GopChunk(1, 1, (), True, b""))
        with pytest.raises(ValueError, match="gop_prediction"):
            w.finish(_header(frame_count=33))
        w.finish(_header(frame_count=33, gop_prediction=True))
        w = VqvWriter(io.BytesIO(), version=version)
        w.write_chunk(GopChunk(0, 32, (), True, b""))
        with pytest.raises(ValueError, match="GOP 0 cannot be predicted"):
            w.finish(_header(frame_count=32, gop_prediction=True))
    for h in (_header(copy_mode=True), _header(refresh_interval=4)):
        with pytest.raises(ValueError, match="version 1.0"):
            write_vqv(io.BytesIO(), h, [], version=(1, 0))
        write_vqv(io.BytesIO(), h, [])  # fine in 2.0
    for bad in (
        _header(model_digest=b""),
        _header(source_width=0),
        _header(prior="gaussian"),
        _header(gop_prediction=1),
        _header(copy_mode="yes"),
        _header(refresh_interval=-1),
        _header(refresh_interval=2**32),
        _header(refresh_interval=True),
        _header(extra={3: 1}),  # collides with coded_width
        _header(extra={14: 1}),  # collides with copy_mode
        _header(extra={15: 1}),  # collides with refresh_interval
        _header(extra={1.5: 1}),
        _header(extra={"x": object()}),
    ):
        with pytest.raises((ValueError, TypeError)):
            write_vqv(io.BytesIO(), bad, [])
    with pytest.raises(ValueError):
        VqvWriter(io.BytesIO()).write_chunk(GopChunk(0, 0, (), False, b""))
    with pytest.raises(ValueError):
        VqvWriter(io.BytesIO()).write_chunk(GopChunk(0, 1, (-1,), False, b""))
    with pytest.raises(ValueError, match="predicted must be a bool"):
        VqvWriter(io.BytesIO()).write_chunk(GopChunk(0, 1, (), 1, b""))


def test_a_pipe_of_something_else_is_refused_after_its_first_block():
    """A non-seekable stream is read into memory only once its first bytes are the magic."""
    class Endless(io.RawIOBase):
        def __init__(self) -> None:
            self.read_bytes = 0

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def read(self, n: int = -1) -> bytes:
            n = 1 << 20 if n is None or n < 0 else n
            self.read_bytes += n
            return b"\0" * n

    src = Endless()
    with pytest.raises(NotVqvError):
        VqvReader(src)
    assert src.read_bytes <= 1 << 20


@pytest.mark.parametrize("version", VERSIONS)
def test_an_inserted_or_removed_byte_is_reported_with_its_gop(version):
    chunks = [encode_chunk(c) for c in SMALL_C]
    hmap = encode_header(SMALL_H)
    good = _assemble(hmap, chunks, version)
    start = good.index(chunks[1])
    for bad in (good[:start + 5] + b"\x00" + good[start + 5:], good[:start + 5] + good[start + 6:]):
        with pytest.raises(VqvFormatError, match="GOP 1"):
            read_vqv(io.BytesIO(bad))
