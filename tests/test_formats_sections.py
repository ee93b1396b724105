"""Version 4.0 of the .vqv container: sections after the GOP chunks (the audio track) and the header's
motion_layer flag; the audio section's bytes (formats/audio.py), and hostile audio sections. The audio
round trip through the codec: test_audio.py."""
from __future__ import annotations

import io
import re
import zlib

import msgpack
import pytest
from formats_helpers import SPEC, _chunks, _header, _write

from vqcodec.formats import (
    FORMAT_VERSION,
    MOTION_VERSION,
    SECTIONS_VERSION,
    CrcError,
    VqvFormatError,
    VqvReader,
    VqvWriter,
    read_vqv,
    version_for,
)
from vqcodec.formats.audio import AudioPacket, AudioTrack, decode_audio, encode_audio, read_audio, section_size
from vqcodec.formats.header import decode_header, encode_header
from vqcodec.formats.sections import SECTION_AUDIO
from vqcodec.formats.wire import encode_varint

TRACK = AudioTrack("aac", 48000, 2, (1, 48000), [
    AudioPacket(b"abc", -1024, -1024, 1024, skip=(1024, 0)),
    AudioPacket(b"de", 0, 0, 1024, keyframe=False),
    AudioPacket(b"f", None, 1024, 1024, discard=True)], layout="stereo", extradata=b"\x11\x90")


def _v4(header=None, chunks=None, sections=((SECTION_AUDIO, encode_audio(TRACK)),)) -> bytes:
    header = header or _header(frame_count=40, gop_prediction=True, copy_mode=True)
    buf = io.BytesIO()
    with VqvWriter(buf, SECTIONS_VERSION) as w:
        for c in chunks if chunks is not None else _chunks(40, pred={1}):
            w.write_chunk(c)
        for kind, body in sections:
            w.add_section(kind, body)
        w.finish(header)
    return buf.getvalue()


def test_version_rule():
    assert version_for(False, False) == FORMAT_VERSION == (2, 0)
    assert version_for(True, False) == MOTION_VERSION == (3, 0)
    assert version_for(False, True) == version_for(True, True) == SECTIONS_VERSION == (4, 0)


def test_v4_round_trip_and_layout():
    data = _v4()
    assert data[:5] == b"VQV\x04\x00"
    r = VqvReader(io.BytesIO(data))
    body = encode_audio(TRACK)
    assert r.header.sections == ((SECTION_AUDIO, len(body) + 4),) and not r.motion_layer
    (kind, start, size), = r.sections
    assert data[start:start + size] == body + zlib.crc32(body).to_bytes(4, "little")
    assert start == r._offsets[-1] and start + size == r._index_start      # after the chunks, before the index
    assert read_audio(r) == TRACK and section_size(TRACK) == size
    h, chunks = read_vqv(io.BytesIO(data))
    assert chunks == _chunks(40, pred={1})
    ov = r.overhead()
    assert ov["sections"] == size and ov["overhead"] + ov["payload"] + size == len(data)


def test_video_bytes_do_not_depend_on_sections():
    h = _header(frame_count=40, gop_prediction=True, copy_mode=True)
    plain = _write(h, _chunks(40, pred={1}))
    with_audio = _v4(h)
    assert read_vqv(io.BytesIO(plain))[1] == read_vqv(io.BytesIO(with_audio))[1]
    assert VqvReader(io.BytesIO(_v4(h, sections=()))).sections == []    # 4.0 without any: valid


def test_motion_layer_flag():
    h = _header(frame_count=40, copy_mode=True, gop_prediction=True, motion_layer=True)
    assert VqvReader(io.BytesIO(_v4(h))).motion_layer
    assert VqvReader(io.BytesIO(_write(_header(frame_count=40, copy_mode=True), _chunks(40), MOTION_VERSION))).motion_layer
    assert not VqvReader(io.BytesIO(_write(_header(frame_count=40), _chunks(40)))).motion_layer
    with pytest.raises(ValueError, match="needs copy_mode"):
        _v4(_header(frame_count=40, gop_prediction=True, motion_layer=True))


def test_older_versions_refuse_v4_fields_and_keep_keys_16_17_as_extra():
    for version in ((2, 0), (3, 0)):
        w = VqvWriter(io.BytesIO(), version)
        with pytest.raises(ValueError, match="cannot carry sections"):
            w.add_section(SECTION_AUDIO, b"")
        with pytest.raises(ValueError, match="version 4.0"):
            _write(_header(frame_count=40, copy_mode=True, motion_layer=True), _chunks(40), version)
    hmap = encode_header(_header(extra={16: True, 17: [[0, 2]]}))
    assert decode_header(hmap, 2).extra == {16: True, 17: [[0, 2]]}      # unknown keys before 4.0
    with pytest.raises(VqvFormatError, match="sections"):
        decode_header(hmap, 4)                                             # defined in 4.0: checked
    with pytest.raises(ValueError, match="key 16"):
        _v4(_header(frame_count=40, extra={16: False}))


def test_unknown_section_kind_is_skipped():
    data = _v4(sections=((7, b"from a later minor version"), (SECTION_AUDIO, encode_audio(TRACK))))
    r = VqvReader(io.BytesIO(data))
    assert [k for k, _, _ in r.sections] == [7, SECTION_AUDIO] and read_audio(r) == TRACK
    assert read_audio(VqvReader(io.BytesIO(_v4(sections=((7, b"x"),))))) is None


def test_damaged_section():
    data = bytearray(_v4())
    _, start, size = VqvReader(io.BytesIO(bytes(data))).sections[0]
    data[start + size // 2] ^= 0x10
    r = VqvReader(io.BytesIO(bytes(data)))               # the index and the chunks are still good
    assert len(read_vqv(io.BytesIO(bytes(data)))[1]) == 2
    with pytest.raises(CrcError, match="section 0 \\(audio\\)"):
        read_audio(r)


def _forge_sections(data: bytes, sections) -> bytes:
    """``data`` (a 4.0 file) with the header's key 17 replaced by ``sections``, CRCs fixed."""
    hlen = data[5]                                     # a 1-byte varint in these small files
    m = msgpack.unpackb(data[6:6 + hlen], strict_map_key=False)
    m[17] = sections
    hmap = msgpack.packb(m, use_bin_type=True)
    head = data[:5] + encode_varint(len(hmap)) + hmap
    return head + zlib.crc32(head).to_bytes(4, "little") + data[10 + hlen:]


@pytest.mark.parametrize("sections,match", [
    ([[0, 1 << 40]], "out of range"), ([[0, 3]], "out of range"), ([[-1, 10]], "kind"),
    ("many", "list"), ([[0, "x"]], "pair of ints"), ([[0, 10]] * 65, "at most 64"),
    ([[0, 100000]], "sections take"), ([[0, 10]], "ends at byte")])
def test_forged_section_list_refused(sections, match):
    bad = _forge_sections(_v4(), sections)
    with pytest.raises(VqvFormatError, match=match):
        VqvReader(io.BytesIO(bad))


# --------------------------------------------------------------------------- the audio section's bytes


def test_audio_body_layout():
    body = encode_audio(TRACK)
    mlen = body[0]
    assert msgpack.unpackb(body[1:1 + mlen], strict_map_key=False) == {
        0: "aac", 1: 48000, 2: 2, 3: "stereo", 4: [1, 48000], 5: 3, 6: b"\x11\x90"}
    records = body[1 + mlen:len(body) - 6]
    # size, flags (pts dts key skip), duration delta, dts and pts from the prediction, skip start and end
    assert records == bytes([3, 0b1000111, 0x80, 0x10, 0xff, 0x0f, 0xff, 0x0f, 0x80, 0x08, 0,
                             2, 0b0000011, 0, 0, 0,
                             1, 0b0010110, 0, 0])
    assert body.endswith(b"abcdef") and decode_audio(body) == TRACK


def test_spec_example_is_the_encoder_output():
    text = SPEC.read_text()
    block = text.split("Example (an audio section)", 1)[1].split("```", 2)[1]
    tokens = [t for line in block.splitlines() for t in line[:40].split()]    # hex in columns 0..39
    assert all(re.fullmatch(r"[0-9a-f]{2}", t) for t in tokens)
    assert bytes.fromhex("".join(tokens)) == encode_audio(TRACK)


def _body(tmap: dict, records: bytes = b"", data: bytes = b"") -> bytes:
    m = msgpack.packb(tmap, use_bin_type=True)
    return encode_varint(len(m)) + m + records + data


GOOD = {0: "aac", 1: 48000, 2: 2, 4: [1, 48000], 5: 1}


@pytest.mark.parametrize("body,match", [
    (encode_varint(1 << 30) + b"\x80", "track map length"),
    (encode_varint(50) + b"\x80", "runs past the end"),
    (_body({**GOOD, 5: 1 << 31}, b"\x01\x07\x00\x00\x00", b"x"), "cannot fit"),
    (_body({**GOOD, 5: (1 << 32) + 5}), "out of range"),
    (_body({**GOOD, 0: 5}, b"\x01\x04\x00", b"x"), "codec"),
    (_body({**GOOD, 0: "../../etc"}, b"\x01\x04\x00", b"x"), "codec name"),
    (_body({**GOOD, 4: "1/48000"}, b"\x01\x04\x00", b"x"), "time_base"),
    (_body({**GOOD, 4: [0, 48000]}, b"\x01\x04\x00", b"x"), "time_base"),
    (_body({**GOOD, 2: 0}, b"\x01\x04\x00", b"x"), "channels"),
    (_body({k: v for k, v in GOOD.items() if k != 1}, b"\x01\x04\x00", b"x"), "lacks key 1"),
    (_body([1, 2, 3]), "not a map"),
    (b"\x03\xc1\xc1\xc1", "malformed track map"),
    (_body(GOOD, b"\x01\x80\x01\x00", b"x"), "unknown flags"),
    (_body(GOOD, b"\x00\x04\x00", b"x"), "size 0"),
    (_body(GOOD, b"\x05\x04\x00", b"x"), "add up"),
    (_body(GOOD, b"\x01\x04\x00", b"xy"), "add up"),
    (_body(GOOD, b"\x01\x05\x00", b"x"), "runs past|add up"),
    (_body(GOOD, b"\x01\x04\x01", b"x"), "out of range"),                 # a negative duration
    (_body(GOOD, b"\x01\x04" + b"\xff" * 9 + b"\x01", b"x"), "64 bits|out of range"),
])
def test_hostile_audio_section(body, match):
    with pytest.raises(VqvFormatError, match=match) as e:
        decode_audio(body)
    assert "\n" not in str(e.value)


def test_hostile_audio_section_in_a_file():
    bad = _v4(sections=((SECTION_AUDIO, _body({**GOOD, 5: 1 << 31}, b"\x01\x07", b"x")),))
    with pytest.raises(VqvFormatError, match="cannot fit"):
        read_audio(VqvReader(io.BytesIO(bad)))


def test_track_checked_before_writing():
    for bad in (AudioTrack("AAC!", 48000, 2, (1, 48000)), AudioTrack("aac", 0, 2, (1, 48000)),
                AudioTrack("aac", 48000, 2, (1, 0)), AudioTrack("aac", 48000, 2, (1, 48000), layout="\n"),
                AudioTrack("aac", 48000, 2, (1, 48000), [AudioPacket(b"", 0, 0)]),
                AudioTrack("aac", 48000, 2, (1, 48000), [AudioPacket(b"x", 0, 0, -1)]),
                AudioTrack("aac", 48000, 2, (1, 48000), [AudioPacket(b"x", 1 << 63, 0)]),
                AudioTrack("aac", 48000, 2, (1, 48000), [AudioPacket(b"x", 0, 0, skip=(1 << 32, 0))])):
        with pytest.raises(ValueError):
            encode_audio(bad)
