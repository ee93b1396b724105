"""Tests of the .vqv container (vqcodec.formats): round trips, golden bytes, overhead, versions,
refresh points. Damaged, forged and misused files: test_formats_damage.py.

Both versions are covered: 2.0 (written by default) and 1.0 (written with ``version=(1, 0)``,
read by every 2.x reader).
"""
from __future__ import annotations

import io
import random
import re
import subprocess
import sys
import zlib

import msgpack
import pytest
from formats_helpers import (
    FAST,
    SMALL,
    SMALL_BY_VERSION,
    SMALL_C,
    SMALL_H,
    SPEC,
    V1,
    V2,
    VERSIONS,
    NonSeekable,
    _assemble,
    _chunks,
    _expected_refresh_points,
    _header,
    _write,
    files,
)
from hypothesis import given
from hypothesis import strategies as st

from vqcodec.formats import (
    FORMAT_VERSION,
    MOTION_VERSION,
    SUPPORTED_MAJORS,
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
from vqcodec.formats.header import encode_header


@pytest.fixture(params=VERSIONS, ids=["v1", "v2"])
def small(request) -> bytes:
    return SMALL_BY_VERSION[request.param]

# --------------------------------------------------------------------------- round trips


@FAST
@given(files())
def test_round_trip(f):
    version, header, chunks = f
    data = _write(header, chunks, version)
    assert data[3:5] == bytes(version)
    h2, c2 = read_vqv(io.BytesIO(data))
    assert h2 == header
    assert c2 == chunks
    r = VqvReader(io.BytesIO(data))
    assert r.version == version and len(r) == len(chunks)
    ov = r.overhead()
    assert ov["total"] == len(data)
    assert ov["preamble"] + ov["header"] + ov["chunk_framing"] + ov["index"] + ov["payload"] == len(data)
    assert ov["payload"] == sum(len(c.payload) for c in chunks)
    # refresh points: from the index (2.x) or the chunks' framing (1.x), equal to "not predicted"
    points = _expected_refresh_points(chunks)
    assert r.refresh_points() == points
    for i in range(len(chunks)):
        assert r.is_refresh(i) is (not chunks[i].predicted)
        assert r.refresh_point(i) == max(j for j in points if j <= i)
    # re-encoding what was read gives the same bytes (canonical encoding)
    assert _write(h2, c2, version) == data


@FAST
@given(files(), st.randoms(use_true_random=False))
def test_random_access_matches_sequential(f, rnd):
    version, header, chunks = f
    r = VqvReader(io.BytesIO(_write(header, chunks, version)))
    seq = list(r)
    order = list(range(len(r)))
    rnd.shuffle(order)
    for i in order:
        assert r.read_chunk(i) == seq[i] == chunks[i]
    for bad in (len(r), -1):
        with pytest.raises(IndexError):
            r.read_chunk(bad)
        with pytest.raises(IndexError):
            r.is_refresh(bad)
        with pytest.raises(IndexError):
            r.refresh_point(bad)


@pytest.mark.parametrize("version", VERSIONS)
def test_zero_chunk_file(version):
    h = _header(frame_count=0)
    data = _write(h, [], version)
    h2, c2 = read_vqv(io.BytesIO(data))
    assert h2 == h and c2 == []
    r = VqvReader(io.BytesIO(data))
    assert len(r) == 0 and r.refresh_points() == [] and r.version == version


def test_large_payload_and_spool_spill(monkeypatch):
    monkeypatch.setattr(container_mod, "SPOOL_MEMORY_BYTES", 1000)
    rnd = random.Random(1)
    big = rnd.randbytes(3 << 20)
    chunks = [GopChunk(0, 32, (5, 1 << 40), False, big), GopChunk(1, 32, (0,), True, b""),
              GopChunk(2, 1, (), False, big[:5000])]
    h = _header(frame_count=65, gop_prediction=True)
    out = io.BytesIO()
    w = VqvWriter(out)
    for c in chunks:
        w.write_chunk(c)
    assert w._spool._rolled  # spilled to disk, memory did not grow with the payload
    w.finish(h)
    r = VqvReader(io.BytesIO(out.getvalue()))
    assert r.read_chunk(2) == chunks[2] and r.read_chunk(0) == chunks[0]
    assert r.read_chunk(1) == chunks[1]
    assert r.refresh_points() == [0, 2]


def test_path_api(tmp_path):
    p = tmp_path / "a.vqv"
    write_vqv(p, SMALL_H, SMALL_C)
    assert read_vqv(p) == (SMALL_H, SMALL_C)
    assert read_vqv(str(p)) == (SMALL_H, SMALL_C)
    assert p.read_bytes() == SMALL
    p1 = tmp_path / "b.vqv"
    write_vqv(p1, SMALL_H, SMALL_C, version=(1, 0))
    assert p1.read_bytes() == SMALL_BY_VERSION[V1]


def test_failed_path_write_leaves_no_file(tmp_path):
    p = tmp_path / "bad.vqv"
    with pytest.raises(ValueError):
        write_vqv(p, _header(frame_count=40), _chunks(32))  # one GOP short
    assert not p.exists()
    with pytest.raises(ValueError):
        write_vqv(p, _header(frame_count=32), _chunks(32), version=(3, 0))
    assert not p.exists()


def test_non_seekable_and_embedded(small):
    h, c = read_vqv(NonSeekable(small))
    assert (h, c) == (SMALL_H, SMALL_C)
    f = io.BytesIO(b"junk-prefix" + small)
    f.seek(len(b"junk-prefix"))
    assert read_vqv(f) == (SMALL_H, SMALL_C)
    r = VqvReader(NonSeekable(small))
    assert r.refresh_points() == [0, 2] and r.refresh_point(1) == 0
    with pytest.raises(TruncatedError):
        read_vqv(NonSeekable(small[:-3]))
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
    h = _header(frame_count=np.int64(32), gop_prediction=np.bool_(True), copy_mode=np.bool_(True),
                refresh_interval=np.uint32(4), source_width=np.uint16(64))
    want = _header(frame_count=32, gop_prediction=True, copy_mode=True, refresh_interval=4)
    assert read_vqv(io.BytesIO(_write(h, [c]))) == (want, [c])
    assert type(h.refresh_interval) is int and h.copy_mode is True
    with pytest.raises(ValueError):
        write_vqv(io.BytesIO(), _header(frame_count=32.0), [c])


def test_defaults_omitted():
    h = Header(model_digest=b"12345678", source_width=64, source_height=64, coded_width=64,
               coded_height=64)
    assert h.gop_prediction is False and h.copy_mode is False and h.refresh_interval == 0
    assert set(msgpack.unpackb(encode_header(h), strict_map_key=False)) == {0, 1, 2}


def test_new_header_keys():
    h = _header(gop_prediction=True, copy_mode=True, refresh_interval=2**32 - 1)
    m = msgpack.unpackb(encode_header(h), strict_map_key=False)
    assert m[13] is True and m[14] is True and m[15] == 2**32 - 1
    assert read_vqv(io.BytesIO(_write(h, [])))[0] == h
    m = msgpack.unpackb(encode_header(_header(refresh_interval=5)), strict_map_key=False)
    assert 13 not in m and 14 not in m and m[15] == 5
    for bad in ({14: 1}, {14: "yes"}, {15: -1}, {15: 2**32}, {15: True}, {13: 1}):
        hm = msgpack.packb({0: b"12345678", 1: 64, 2: 64, **bad})
        with pytest.raises(VqvFormatError) as e:
            read_vqv(io.BytesIO(_assemble(hm, [])))
        assert "\n" not in str(e.value)


def test_v1_file_with_new_keys_read_as_v2():
    # a 1.x writer never sets keys 14/15; a reader that meets them treats them as in 2.x
    hm = msgpack.packb({0: b"12345678", 1: 64, 2: 64, 13: True, 14: True, 15: 3})
    r = VqvReader(io.BytesIO(_assemble(hm, [], version=V1)))
    assert r.version == V1
    assert (r.header.gop_prediction, r.header.copy_mode, r.header.refresh_interval) == (True, True, 3)
    assert r.header.extra == {}


def test_formats_imports_without_torch():
    code = ("import sys; import vqcodec.formats as f; "
            "assert 'torch' not in sys.modules, 'torch imported'; print(f.FORMAT_VERSION)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(2, 0)"


# --------------------------------------------------------------------------- golden bytes

# version 1.0: exactly the bytes the 1.0 release wrote (written today with version=(1, 0))
GOLDEN_HEADER = Header(
    model_digest=bytes.fromhex("0123456789abcdef"), source_width=60, source_height=34,
    coded_width=64, coded_height=48, fps_num=25, fps_den=1, frame_count=40, gop_length=32,
    quality=2, prior="empirical-adaptive", prior_params=b"\x05\x06\x07", gop_prediction=True,
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
    "0d" "c3"  # 13 gop_context (1.x name; gop_prediction in 2.x) true
    "a46e6f7465" "a26869",  # extra "note": "hi"
    "6cae864d",  # header CRC32 (preamble..end of map), little-endian
    "00" "40" "02" "03" "00" "03" "aabbcc" "743b268d",  # GOP 0: idx, 32<<1|0, 2 streams, 3, 0, len 3, payload, CRC
    "01" "11" "02" "01" "02" "00" "0a0ce3be",  # GOP 1: idx 1, 8<<1|1, 2 streams, 1, 2, len 0, CRC
    "0d" "0a",  # index: chunk sizes 13, 10 (plain sizes in 1.x)
    "02000000" "5762e5ed",  # tail: index length 2 (u32 LE), CRC32 of index+length (u32 LE)
])

# version 2.0: the worked example of formats/SPEC.md
GOLDEN_V2_HEADER = Header(
    model_digest=bytes.fromhex("0123456789abcdef"), source_width=60, source_height=34,
    coded_width=64, coded_height=48, fps_num=25, fps_den=1, frame_count=72, gop_length=32,
    quality=2, prior="learned", prior_params=b"\x05\x06\x07", gop_prediction=True, copy_mode=True,
    refresh_interval=2, extra={"note": "hi"},
)
GOLDEN_V2_CHUNKS = [GopChunk(0, 32, (3, 0), False, b"\xaa\xbb\xcc"), GopChunk(1, 32, (1, 2), True, b"\xdd"),
                    GopChunk(2, 8, (0, 1), False, b"")]
GOLDEN_V2_HEX = "".join([
    "565156" "02" "00",  # preamble: "VQV", major 2, minor 0
    "30",  # header map length 48 (varint)
    "8e"  # msgpack fixmap, 14 entries:
    "00" "c408" "0123456789abcdef"  # 0 model_digest: bin8 len 8
    "01" "3c" "02" "22"  # 1 source_width 60, 2 source_height 34
    "03" "40" "04" "30"  # 3 coded_width 64, 4 coded_height 48
    "05" "19"  # 5 fps_num 25   (6 fps_den=1, 8 gop_length=32 are defaults: omitted)
    "07" "48"  # 7 frame_count 72
    "09" "02" "0a" "03"  # 9 quality 2, 10 prior 3 = learned
    "0b" "c403" "050607"  # 11 prior_params raw
    "0d" "c3"  # 13 gop_prediction true
    "0e" "c3"  # 14 copy_mode true
    "0f" "02"  # 15 refresh_interval 2
    "a46e6f7465" "a26869",  # extra "note": "hi"
    "9e0d3968",  # header CRC32
    "00" "40" "02" "03" "00" "03" "aabbcc" "743b268d",  # GOP 0: idx 0, 32<<1|0, 2 streams, 3, 0, len 3, payload, CRC
    "01" "41" "02" "01" "02" "01" "dd" "40729edf",  # GOP 1: idx 1, 32<<1|1 (predicted), 1, 2, len 1, payload, CRC
    "02" "10" "02" "00" "01" "00" "e06ef82f",  # GOP 2: idx 2, 8<<1|0, 2 streams, 0, 1, len 0, CRC
    "1b" "16" "15",  # index: 13<<1|1, 11<<1|0, 10<<1|1 (size << 1 | refresh)
    "03000000" "d0418f97",  # tail: index length 3, CRC32 of index+length
])


def test_golden_bytes_v1():
    data = _write(GOLDEN_HEADER, GOLDEN_CHUNKS, version=(1, 0))
    assert len(data) == 87
    assert data.hex() == GOLDEN_HEX
    assert read_vqv(io.BytesIO(bytes.fromhex(GOLDEN_HEX))) == (GOLDEN_HEADER, GOLDEN_CHUNKS)
    r = VqvReader(io.BytesIO(bytes.fromhex(GOLDEN_HEX)))
    assert r.version == (1, 0) and r.refresh_points() == [0] and r.refresh_point(1) == 0
    assert r.read_chunk(1).predicted is True and r.header.gop_prediction is True


def test_golden_bytes_v2():
    data = _write(GOLDEN_V2_HEADER, GOLDEN_V2_CHUNKS)
    assert data.hex() == GOLDEN_V2_HEX
    assert read_vqv(io.BytesIO(bytes.fromhex(GOLDEN_V2_HEX))) == (GOLDEN_V2_HEADER, GOLDEN_V2_CHUNKS)
    r = VqvReader(io.BytesIO(data))
    assert r.version == (2, 0) and r.refresh_points() == [0, 2]
    assert [r.refresh_point(i) for i in range(3)] == [0, 0, 2]


def _spec_dumps() -> list[bytes]:
    """The annotated hex dumps of SPEC.md: code blocks starting with the magic; hex in columns 0..39."""
    out = []
    for block in re.findall(r"```\n(.*?)```", SPEC.read_text(encoding="utf-8"), flags=re.S):
        if not block.startswith("56 51 56"):
            continue
        hexpart = []
        for line in block.splitlines():
            tokens = line[:40].split()
            assert all(re.fullmatch(r"[0-9a-f]{2}", t) for t in tokens), line
            hexpart += tokens
        out.append(bytes.fromhex("".join(hexpart)))
    return out


def test_spec_examples_are_the_golden_files():
    assert _spec_dumps() == [bytes.fromhex(GOLDEN_V2_HEX), bytes.fromhex(GOLDEN_HEX)]
    text = SPEC.read_text(encoding="utf-8")
    assert text.startswith("# The `.vqv` file format, version 2.0")
    assert "## Payload (codec layer)" in text and "## Differences in version 1.x" in text


# --------------------------------------------------------------------------- overhead


@pytest.mark.parametrize("version", VERSIONS)
def test_overhead_budget(version, capsys):
    # typical 2-second 64x64 clip: one 32-frame GOP, 3 streams, 8-byte digest, empty prior_params
    h = _header(frame_count=32, prior="learned", quality=4)
    c = [GopChunk(0, 32, (1024, 256, 64), False, bytes(300))]
    ov = VqvReader(io.BytesIO(_write(h, c, version))).overhead()
    assert ov["overhead"] == 56  # the figure SPEC.md quotes
    h = _header(frame_count=32, prior="learned", quality=4, gop_prediction=True)
    ov = VqvReader(io.BytesIO(_write(h, c, version))).overhead()
    assert ov["payload"] == 300
    assert ov["overhead"] <= 60, ov
    h2 = _header(frame_count=64, prior="learned", quality=4, gop_prediction=True)
    c2 = c + [GopChunk(1, 32, (1024, 256, 64), True, bytes(300))]
    ov2 = VqvReader(io.BytesIO(_write(h2, c2, version))).overhead()
    per_gop = ov2["overhead"] - ov["overhead"]
    assert per_gop <= 18, ov2
    with capsys.disabled():
        print(f"\n.vqv {version[0]}.{version[1]} overhead: 1 GOP {ov['overhead']} bytes {ov}; "
              f"per extra GOP {per_gop} bytes")


# --------------------------------------------------------------------------- versions


def _with_version(data: bytes, major: int, minor: int) -> bytes:
    hlen = data[5]
    head = data[:3] + bytes([major, minor]) + data[5 : 6 + hlen]
    return head + zlib.crc32(head).to_bytes(4, "little") + data[10 + hlen :]


def test_versions_written_and_known():
    assert FORMAT_VERSION == (2, 0) and MOTION_VERSION == (3, 0) and SUPPORTED_MAJORS == (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
    assert _write(_header(), [])[:5] == b"VQV\x02\x00"
    assert _write(_header(), [], version=[1, 0])[:5] == b"VQV\x01\x00"
    w = VqvWriter(io.BytesIO())
    assert w.version == (2, 0)
    assert VqvWriter(io.BytesIO(), version=(3, 0)).version == (3, 0)
    assert VqvWriter(io.BytesIO(), version=(4, 0)).version == (4, 0)   # files with sections (audio)
    assert VqvWriter(io.BytesIO(), version=(5, 0)).version == (5, 0)   # the motion layer's residual
    assert VqvWriter(io.BytesIO(), version=(6, 0)).version == (6, 0)   # the rank prior
    assert VqvWriter(io.BytesIO(), version=(7, 0)).version == (7, 0)   # bent motion paths
    assert VqvWriter(io.BytesIO(), version=(8, 0)).version == (8, 0)   # conditional coders
    assert VqvWriter(io.BytesIO(), version=(9, 0)).version == (9, 0)   # ... on the first slice too
    assert VqvWriter(io.BytesIO(), version=(10, 0)).version == (10, 0)   # the networks in bfloat16
    assert VqvWriter(io.BytesIO(), version=(11, 0)).version == (11, 0)   # the scalar layer's first slices in context
    assert VqvWriter(io.BytesIO(), version=(12, 0)).version == (12, 0)   # GOPs cut short at scene cuts
    assert VqvWriter(io.BytesIO(), version=(13, 0)).version == (13, 0)   # short GOPs coded over fewer frames
    for bad in ((14, 0), (13, 1), (12, 1), (11, 1), (10, 1), (9, 1), (8, 1), (7, 1), (6, 1), (5, 1), (3, 1), (1, 1), (2, 1), (2,), "2.0", None, 2):
        with pytest.raises(ValueError):
            VqvWriter(io.BytesIO(), version=bad)


@pytest.mark.parametrize("major,minor", [(14, 0), (0, 9), (255, 255)])
def test_unknown_major_refused(small, major, minor):
    bad = _with_version(small, major, minor)
    with pytest.raises(UnsupportedVersionError) as e:
        read_vqv(io.BytesIO(bad))
    assert str(e.value) == f"unsupported .vqv version {major}.{minor} (this reader knows 1.x, 2.x, 3.x, 4.x, 5.x, 6.x, 7.x, 8.x, 9.x, 10.x, 11.x, 12.x and 13.x)"


def test_major_relabelled_is_not_misread():
    # a 2.x file labelled 1.x (or the reverse) has index entries of the other meaning: refused
    for data, major in ((SMALL_BY_VERSION[V2], 1), (SMALL_BY_VERSION[V1], 2)):
        with pytest.raises(VqvFormatError):
            read_vqv(io.BytesIO(_with_version(data, major, 0)))


@pytest.mark.parametrize("version", VERSIONS)
def test_newer_minor_accepted_and_unknown_keys_kept(version):
    h = _header(frame_count=40, extra={20: [1, "future"], "vendor": b"\x00\x01"})
    c = _chunks(40)
    newer = _with_version(_write(h, c, version), version[0], 7)
    r = VqvReader(io.BytesIO(newer))
    assert r.version == (version[0], 7)
    assert r.header.extra == {20: [1, "future"], "vendor": b"\x00\x01"}
    h2, c2 = read_vqv(io.BytesIO(newer))
    assert (h2, c2) == (h, c)
    again = _write(h2, c2, version)  # re-written as x.0, keys preserved
    assert again[3:5] == bytes(version) and read_vqv(io.BytesIO(again)) == (h, c)


def test_not_vqv():
    with pytest.raises(NotVqvError):
        read_vqv(io.BytesIO(b"RIFF....WAVEfmt "))
    with pytest.raises(TruncatedError):
        read_vqv(io.BytesIO(b"VQ"))


# --------------------------------------------------------------------------- refresh points


@pytest.mark.parametrize("version", VERSIONS)
def test_refresh_points(version):
    pred = {1, 2, 4, 6, 7}  # refresh points 0, 3, 5
    h = _header(frame_count=8 * 4 - 1, gop_length=4, gop_prediction=True, refresh_interval=0)
    chunks = _chunks(31, gop=4, pred=pred)
    r = VqvReader(io.BytesIO(_write(h, chunks, version)))
    assert r.refresh_points() == [0, 3, 5]
    assert [r.refresh_point(i) for i in range(8)] == [0, 0, 0, 3, 3, 5, 5, 5]
    assert [r.is_refresh(i) for i in range(8)] == [i not in pred for i in range(8)]
    # without gop_prediction every GOP is a refresh point
    r = VqvReader(io.BytesIO(_write(_header(frame_count=31, gop_length=4), _chunks(31, gop=4), version)))
    assert r.refresh_points() == list(range(8)) and r.refresh_point(7) == 7


def test_v2_refresh_bits_come_from_the_index():
    # damage the payload of GOP 1: is_refresh/refresh_point still answer (no chunk read), read_chunk fails
    r0 = VqvReader(io.BytesIO(SMALL))
    bad = bytearray(SMALL)
    bad[r0._offsets[2] - 6] ^= 0xFF
    r = VqvReader(io.BytesIO(bytes(bad)))
    assert r.refresh_points() == [0, 2] and r.refresh_point(1) == 0 and not r.is_refresh(1)
    with pytest.raises(CrcError, match="GOP 1"):
        r.read_chunk(1)
    assert r.read_chunk(2) == SMALL_C[2]


def test_v1_refresh_bits_come_from_the_chunks():
    data = SMALL_BY_VERSION[V1]
    r0 = VqvReader(io.BytesIO(data))
    # forge GOP 1's flag bit (CRC left wrong): is_refresh reads only the framing, read_chunk finds the damage
    bad = bytearray(data)
    bad[r0._offsets[1] + 1] ^= 0x01
    r = VqvReader(io.BytesIO(bytes(bad)))
    assert r.is_refresh(1) is True
    with pytest.raises(CrcError, match="GOP 1"):
        r.read_chunk(1)
