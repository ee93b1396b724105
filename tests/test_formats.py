"""Tests of the .vqv container (vqcodec.formats): round trips, golden bytes, corruption, bounds.

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
from pathlib import Path

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vqcodec.formats import (
    FORMAT_VERSION,
    PRIOR_KINDS,
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
from vqcodec.formats.chunk import encode_chunk, parse_chunk_fields
from vqcodec.formats.header import encode_header
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


@pytest.fixture(params=VERSIONS, ids=["v1", "v2"])
def small(request) -> bytes:
    return SMALL_BY_VERSION[request.param]


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
        prior=draw(st.sampled_from(PRIOR_KINDS)),
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
            elif pos == 3:
                assert isinstance(e.value, UnsupportedVersionError)


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


# --------------------------------------------------------------------------- versions


def _with_version(data: bytes, major: int, minor: int) -> bytes:
    hlen = data[5]
    head = data[:3] + bytes([major, minor]) + data[5 : 6 + hlen]
    return head + zlib.crc32(head).to_bytes(4, "little") + data[10 + hlen :]


def test_versions_written_and_known():
    assert FORMAT_VERSION == (2, 0) and SUPPORTED_MAJORS == (1, 2)
    assert _write(_header(), [])[:5] == b"VQV\x02\x00"
    assert _write(_header(), [], version=[1, 0])[:5] == b"VQV\x01\x00"
    w = VqvWriter(io.BytesIO())
    assert w.version == (2, 0)
    for bad in ((3, 0), (1, 1), (2, 1), (2,), "2.0", None, 2):
        with pytest.raises(ValueError):
            VqvWriter(io.BytesIO(), version=bad)


@pytest.mark.parametrize("major,minor", [(3, 0), (0, 9), (255, 255)])
def test_unknown_major_refused(small, major, minor):
    bad = _with_version(small, major, minor)
    with pytest.raises(UnsupportedVersionError) as e:
        read_vqv(io.BytesIO(bad))
    assert str(e.value) == f"unsupported .vqv version {major}.{minor} (this reader knows 1.x and 2.x)"


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
