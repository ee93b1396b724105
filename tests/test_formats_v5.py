"""Version 5.0 of the .vqv container: header key 18 (``motion_residual``, the motion layer's residual),
which version a file gets (``version_for``), what the writer refuses, and the reader of a 5.0 file."""
from __future__ import annotations

import io
import zlib

import msgpack
import pytest
from formats_helpers import FAST, _chunks, _header, _write
from hypothesis import given
from hypothesis import strategies as st

from vqcodec.formats import (
    FORMAT_VERSION,
    MOTION_VERSION,
    RESIDUAL_VERSION,
    SECTIONS_VERSION,
    SUPPORTED_MAJORS,
    WRITABLE_VERSIONS,
    UnsupportedVersionError,
    VqvFormatError,
    VqvReader,
    VqvWriter,
    check_motion_residual,
    read_vqv,
    version_for,
)
from vqcodec.formats.header import decode_header, encode_header
from vqcodec.formats.sections import SECTION_AUDIO
from vqcodec.formats.wire import encode_varint

RESIDUAL = ((0, 2), (10, 8), (248, 8))


def _h5(**kw):
    base = dict(frame_count=72, gop_prediction=True, copy_mode=True, motion_layer=True,
                motion_residual=RESIDUAL)
    base.update(kw)
    return _header(**base)


def _v5(header=None, sections=((SECTION_AUDIO, b"some audio"),), version=RESIDUAL_VERSION) -> bytes:
    header = header or _h5()
    buf = io.BytesIO()
    with VqvWriter(buf, version) as w:
        for c in _chunks(header.frame_count, pred={1}):
            w.write_chunk(c)
        for kind, body in sections:
            w.add_section(kind, body)
        w.finish(header)
    return buf.getvalue()


def _with_header_map(data: bytes, m: dict, major: int | None = None) -> bytes:
    """``data`` with its header map replaced by ``m`` (and its major by ``major``), the header CRC fixed."""
    hlen = data[5]
    assert hlen < 128                               # a one-byte varint in these small files
    hmap = msgpack.packb(m, use_bin_type=True)
    head = b"VQV" + bytes([major or data[3], data[4]]) + encode_varint(len(hmap)) + hmap
    return head + zlib.crc32(head).to_bytes(4, "little") + data[10 + hlen:]


def _map(data: bytes) -> dict:
    return msgpack.unpackb(data[6:6 + data[5]], raw=False, strict_map_key=False)


# --------------------------------------------------------------------------- versions


def test_version_for_every_combination():
    assert RESIDUAL_VERSION == (5, 0) and 5 in SUPPORTED_MAJORS and (5, 0) in WRITABLE_VERSIONS
    for motion_layer in (False, True):
        for sections in (False, True):
            old = SECTIONS_VERSION if sections else MOTION_VERSION if motion_layer else FORMAT_VERSION
            assert version_for(motion_layer, sections) == old                       # as before 5.0
            assert version_for(motion_layer, sections, False) == old
            assert version_for(motion_layer, sections, True) == RESIDUAL_VERSION
            assert version_for(motion_layer, sections, motion_residual=True) == (5, 0)


# --------------------------------------------------------------------------- header key 18


def test_header_round_trip_with_key_18():
    h = _h5(motion_residual=[[0, 2], [10, 8], (248, 8)])                  # lists coerced, as sections are
    assert h.motion_residual == RESIDUAL
    hmap = encode_header(h)
    m = msgpack.unpackb(hmap, raw=False, strict_map_key=False)
    assert m[18] == [list(p) for p in RESIDUAL] and list(m)[-1] == 18      # written last of the known keys
    assert decode_header(hmap, 5) == h
    assert 18 not in msgpack.unpackb(encode_header(_header()), strict_map_key=False)   # empty: not written
    data = _v5()
    assert data[:5] == b"VQV\x05\x00"
    hr, chunks = read_vqv(io.BytesIO(data))
    assert hr.motion_residual == RESIDUAL and hr.motion_layer and hr.extra == {}
    assert chunks == _chunks(72, pred={1})


def test_key_18_in_older_files_is_an_extra_key():
    h4 = _header(frame_count=72, gop_prediction=True, copy_mode=True, motion_layer=True,
                 extra={18: [[0, 2]], "note": "hi"})
    data = _v5(h4, version=SECTIONS_VERSION)
    r = VqvReader(io.BytesIO(data))
    assert r.version == (4, 0) and r.motion_layer and r.motion_residual == ()
    assert r.header.motion_residual == () and r.header.extra == {18: [[0, 2]], "note": "hi"}
    for major in (1, 2, 3, 4):
        hmap = encode_header(_header(extra={18: "anything", 99: 1}))
        assert decode_header(hmap, major).extra == {18: "anything", 99: 1}
        assert decode_header(hmap, major).motion_residual == ()
    plain = _write(_header(frame_count=72, copy_mode=True), _chunks(72), MOTION_VERSION)
    assert VqvReader(io.BytesIO(plain)).motion_residual == ()


BAD_RESIDUALS = [
    [], [[0, 0]], [[0, 9]], [[-1, 1]], [[256, 1]], [[255, 2]], [[250, 8]], [[0, 1]] * 16,
    [[0]], [[0, 1, 2]], [[True, 1]], [[0, 1.0]], [["0", 1]], [0, 1], 5, "x", {0: 1}, None, [None],
]


@pytest.mark.parametrize("bad", BAD_RESIDUALS)
def test_bad_key_18_refused_on_read(bad):
    good = _v5()
    m = _map(good)
    m[18] = bad
    with pytest.raises(VqvFormatError) as e:
        read_vqv(io.BytesIO(_with_header_map(good, m)))
    msg = str(e.value)
    assert "key 18" in msg and "\n" not in msg
    if bad != []:                                       # an empty list is "absent" to the writer (Header)
        with pytest.raises((ValueError, TypeError)) as e:
            encode_header(_h5(motion_residual=bad))
        assert "key 18" in str(e.value)


@FAST
@given(st.lists(st.tuples(st.integers(-300, 600), st.integers(-3, 12)), min_size=0, max_size=20))
def test_key_18_range_property(pairs):
    ok = 1 <= len(pairs) <= 15 and all(0 <= f <= 255 and 1 <= c <= 8 and f + c <= 256 for f, c in pairs)
    m = _map(_v5(sections=()))
    m[18] = [list(p) for p in pairs]
    data = _with_header_map(_v5(sections=()), m)
    if ok:
        assert check_motion_residual(pairs) == tuple(pairs)
        assert VqvReader(io.BytesIO(data)).motion_residual == tuple(pairs)
    else:
        with pytest.raises(ValueError):
            check_motion_residual(pairs)
        with pytest.raises(VqvFormatError, match="key 18"):
            VqvReader(io.BytesIO(data))


def test_key_18_needs_motion_layer_and_copy_mode():
    good = _v5()
    for drop in (16, 14):                                 # motion_layer, copy_mode
        m = _map(good)
        del m[drop]
        with pytest.raises(VqvFormatError, match="key 18"):
            read_vqv(io.BytesIO(_with_header_map(good, m)))
    for kw in (dict(motion_layer=False), dict(copy_mode=False)):
        with pytest.raises(ValueError, match="key 18"):
            _v5(_h5(**kw))
    m = _map(good)
    del m[18]                                            # a 5.x header without key 18
    with pytest.raises(VqvFormatError, match="key 18"):
        read_vqv(io.BytesIO(_with_header_map(good, m)))


# --------------------------------------------------------------------------- writer and reader


def test_writer_refusals():
    for version in ((1, 0), (2, 0), (3, 0), (4, 0)):      # motion_residual in a version other than 5.x
        with pytest.raises(ValueError, match="key 18"):
            _v5(_h5(), sections=(), version=version)
    with pytest.raises(ValueError, match="needs motion_residual"):   # 5.0 only when the residual is used
        _v5(_h5(motion_residual=()))
    with pytest.raises(ValueError, match="extra key 18"):
        _v5(_h5(extra={18: [[0, 1]]}))
    with pytest.raises(ValueError, match="key 16"):
        _v5(_h5(extra={16: True}))
    for bad in ((5, 1), (14, 0)):
        with pytest.raises(ValueError):
            VqvWriter(io.BytesIO(), bad)


def test_reader_of_a_v5_file():
    data = _v5(sections=((SECTION_AUDIO, b"some audio"), (7, b"a later kind")))
    r = VqvReader(io.BytesIO(data))
    assert r.version == (5, 0) and r.motion_layer and r.motion_residual == RESIDUAL
    assert r.header.motion_residual == RESIDUAL and r.header.motion_layer
    assert [k for k, _, _ in r.sections] == [SECTION_AUDIO, 7]
    assert r.read_section(0) == b"some audio" and r.read_section(1) == b"a later kind"
    assert list(r) == _chunks(72, pred={1}) and r.refresh_points() == [0, 2]
    # the video bytes are those a 4.0 file with the same chunks and sections has
    h4 = _h5(motion_residual=())
    four = VqvReader(io.BytesIO(_v5(h4, ((SECTION_AUDIO, b"some audio"), (7, b"a later kind")), SECTIONS_VERSION)))
    assert [four.read_chunk(i) for i in range(3)] == list(r)
    assert len(data) - len(_v5(h4, ((SECTION_AUDIO, b"some audio"), (7, b"a later kind")), SECTIONS_VERSION)) == \
        len(msgpack.packb({18: [list(p) for p in RESIDUAL]})) - 1            # only key 18 added
    assert VqvReader(io.BytesIO(_v5(sections=()))).sections == []


@pytest.mark.parametrize("major", [14, 15, 255])
def test_later_major_is_refused_naming_the_known_ones(major):
    data = _with_header_map(_v5(), _map(_v5()), major)
    with pytest.raises(UnsupportedVersionError) as e:
        read_vqv(io.BytesIO(data))
    assert str(e.value) == f"unsupported .vqv version {major}.0 (this reader knows 1.x, 2.x, 3.x, 4.x, 5.x, 6.x, 7.x, 8.x, 9.x, 10.x, 11.x, 12.x and 13.x)"
