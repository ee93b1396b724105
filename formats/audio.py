"""The audio section of a .vqv file (SPEC.md, "Audio section"): one audio track of the source, its
compressed packets as they were (no re-encoding), with what a muxer needs to write them again.

Body layout: varint M, a msgpack map of M bytes (the track's fields), one record of varints per packet
(size, flags, duration, dts, pts, the last three as zigzag differences from what the packet before
predicts, then the samples a decoder skips, if any), then the packets' bytes one after the other. Everything read is bounded before anything is
allocated: a hostile section is a :class:`VqvFormatError`, never a large allocation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import msgpack

from .errors import VqvFormatError
from .sections import SECTION_AUDIO
from .wire import MAX_HEADER_BYTES, Cursor, ShortBuffer, encode_varint, is_int

# track map keys (SPEC.md). Never renumber.
K_CODEC, K_SAMPLE_RATE, K_CHANNELS, K_LAYOUT, K_TIME_BASE, K_PACKETS, K_EXTRADATA, K_BIT_RATE, K_FRAME_SIZE = range(9)
MAX_TRACK_MAP_BYTES = MAX_HEADER_BYTES  # 1 MiB: the map, extradata included
MAX_PACKET_BYTES = 16 << 20
MIN_RECORD_BYTES = 4  # size, flags and duration varints, and at least one byte of packet
MAX_TIMESTAMP = (1 << 63) - 1
_I31 = (1 << 31) - 1
_CODEC = re.compile(r"[a-z0-9_]{1,32}")
_LAYOUT = re.compile(r"[ -~]{0,64}")  # printable ASCII
# packet flags (bit i of the record's flags)
F_PTS, F_DTS, F_KEY, F_CORRUPT, F_DISCARD, F_DISPOSABLE, F_SKIP = (1 << i for i in range(7))
_KNOWN_FLAGS = F_PTS | F_DTS | F_KEY | F_CORRUPT | F_DISCARD | F_DISPOSABLE | F_SKIP
_U32 = (1 << 32) - 1


@dataclass
class AudioPacket:
    """One compressed audio packet; times in the track's ``time_base`` (``None``: not stamped)."""

    data: bytes
    pts: int | None
    dts: int | None
    duration: int = 0
    keyframe: bool = True
    corrupt: bool = False
    discard: bool = False
    disposable: bool = False
    # samples a decoder drops from the start and the end of this packet's output (FFmpeg's "skip_samples"
    # side data: encoder delay on the first packet, padding on the last), or None
    skip: tuple[int, int] | None = None

    def flags(self) -> int:
        return ((F_PTS if self.pts is not None else 0) | (F_DTS if self.dts is not None else 0)
                | (F_KEY if self.keyframe else 0) | (F_CORRUPT if self.corrupt else 0)
                | (F_DISCARD if self.discard else 0) | (F_DISPOSABLE if self.disposable else 0)
                | (F_SKIP if self.skip is not None else 0))


@dataclass
class AudioTrack:
    """An audio track: FFmpeg's codec name and parameters, and its packets in decoding order."""

    codec: str  # FFmpeg's codec name: "aac", "opus", "flac", "mp3", "pcm_s16le", ...
    sample_rate: int
    channels: int
    time_base: tuple[int, int]  # (num, den): the unit of the packets' pts, dts and duration
    packets: list[AudioPacket] = field(default_factory=list)
    layout: str = ""  # FFmpeg's channel layout name ("stereo", "5.1", ...); "" = the default for `channels`
    extradata: bytes = b""  # the codec's global header (AudioSpecificConfig, OpusHead, STREAMINFO...)
    bit_rate: int = 0  # informational
    frame_size: int = 0  # samples per packet when constant, else 0 (informational)

    @property
    def packet_bytes(self) -> int:
        """Bytes of compressed audio, the packets' payloads alone."""
        return sum(len(p.data) for p in self.packets)

    @property
    def channels_name(self) -> str:
        return self.layout or f"{self.channels} channels"


def _zigzag(v: int) -> int:
    return (v << 1) if v >= 0 else ((-v << 1) - 1)


def _unzigzag(z: int) -> int:
    return (z >> 1) if not z & 1 else -((z + 1) >> 1)



def check_track(t: AudioTrack) -> None:
    """Raise ValueError if ``t`` cannot be written."""
    if not isinstance(t.codec, str) or not _CODEC.fullmatch(t.codec):
        raise ValueError(f"audio codec name must be 1..32 of [a-z0-9_], got {t.codec!r}")
    if not isinstance(t.layout, str) or not _LAYOUT.fullmatch(t.layout):
        raise ValueError(f"audio layout must be at most 64 printable ASCII characters, got {t.layout!r}")
    for name, v, lo, hi in (("sample_rate", t.sample_rate, 1, _I31), ("channels", t.channels, 1, 255),
                            ("bit_rate", t.bit_rate, 0, (1 << 63) - 1), ("frame_size", t.frame_size, 0, _I31)):
        if not is_int(v) or not lo <= v <= hi:
            raise ValueError(f"audio {name} must be an int in {lo}..{hi}, got {v!r}")
    tb = tuple(t.time_base)
    if len(tb) != 2 or not all(is_int(v) and 1 <= v <= _I31 for v in tb):
        raise ValueError(f"audio time_base must be two ints in 1..{_I31}, got {t.time_base!r}")
    if not isinstance(t.extradata, bytes):
        raise ValueError("audio extradata must be bytes")
    if len(t.packets) >= 1 << 32:
        raise ValueError("too many audio packets")


def _track_map(t: AudioTrack) -> dict:
    m: dict[int, Any] = {K_CODEC: t.codec, K_SAMPLE_RATE: t.sample_rate, K_CHANNELS: t.channels}
    if t.layout:
        m[K_LAYOUT] = t.layout
    m[K_TIME_BASE] = list(t.time_base)
    m[K_PACKETS] = len(t.packets)
    if t.extradata:
        m[K_EXTRADATA] = t.extradata
    if t.bit_rate:
        m[K_BIT_RATE] = t.bit_rate
    if t.frame_size:
        m[K_FRAME_SIZE] = t.frame_size
    return m


def encode_audio(t: AudioTrack) -> bytes:
    """The body of an audio section (the container adds its CRC32)."""
    return b"".join([_table(t), *(p.data for p in t.packets)])


def section_size(t: AudioTrack) -> int:
    """Bytes of ``t``'s audio section in a file: its body and CRC32."""
    return len(_table(t)) + t.packet_bytes + 4


def _table(t: AudioTrack) -> bytes:
    """The body of an audio section up to the packets' bytes: track map length, map, packet records."""
    check_track(t)
    tmap = msgpack.packb(_track_map(t), use_bin_type=True)
    if len(tmap) > MAX_TRACK_MAP_BYTES:
        raise ValueError(f"the audio track map is {len(tmap)} bytes (extradata too large), limit {MAX_TRACK_MAP_BYTES}")
    out = [encode_varint(len(tmap)), tmap]
    prev_dur = prev_dts = prev_pts = 0
    for p in t.packets:
        if not isinstance(p.data, bytes) or not 1 <= len(p.data) <= MAX_PACKET_BYTES:
            raise ValueError(f"an audio packet must be 1..{MAX_PACKET_BYTES} bytes")
        if not is_int(p.duration) or not 0 <= p.duration <= MAX_TIMESTAMP:
            raise ValueError(f"audio packet duration out of range: {p.duration!r}")
        for v in (p.pts, p.dts):
            if v is not None and (not is_int(v) or abs(v) > MAX_TIMESTAMP):
                raise ValueError(f"audio packet timestamp out of range: {v!r}")
        if p.skip is not None and (len(p.skip) != 2 or not all(is_int(v) and 0 <= v <= _U32 for v in p.skip)):
            raise ValueError(f"audio packet skip must be two ints in 0..{_U32}, got {p.skip!r}")
        rec = [len(p.data), p.flags(), _zigzag(p.duration - prev_dur)]
        if p.dts is not None:
            rec.append(_zigzag(p.dts - (prev_dts + prev_dur)))
        if p.pts is not None:
            rec.append(_zigzag(p.pts - (prev_pts + prev_dur)))
        if p.skip is not None:
            rec.extend(p.skip)
        out.append(b"".join(encode_varint(v) for v in rec))
        prev_dts = p.dts if p.dts is not None else prev_dts
        prev_pts = p.pts if p.pts is not None else prev_pts
        prev_dur = p.duration
    return b"".join(out)


def _field(m: dict, key: int, name: str, kind, default: Any = None) -> Any:
    if key not in m:
        if default is None:
            raise VqvFormatError(f"audio section: the track map lacks key {key} ({name})")
        return default
    v = m[key]
    ok = is_int(v) if kind is int else isinstance(v, kind)
    if not ok:
        raise VqvFormatError(f"audio section: key {key} ({name}) must be {kind.__name__}, got {type(v).__name__}")
    return v


def _read_track_map(data: bytes) -> tuple[AudioTrack, int]:
    """The track (no packets yet) and the number of packets, from the map's bytes."""
    try:
        m = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True,
                            max_bin_len=MAX_TRACK_MAP_BYTES, max_str_len=MAX_TRACK_MAP_BYTES)
    except Exception as e:  # msgpack raises many types (ExtraData, FormatError, ValueError, ...)
        raise VqvFormatError(f"audio section: malformed track map ({type(e).__name__}: {e})") from None
    if not isinstance(m, dict):
        raise VqvFormatError(f"audio section: the track map is a msgpack {type(m).__name__}, not a map")
    tb = _field(m, K_TIME_BASE, "time_base", list)
    t = AudioTrack(codec=_field(m, K_CODEC, "codec", str), sample_rate=_field(m, K_SAMPLE_RATE, "sample_rate", int),
                   channels=_field(m, K_CHANNELS, "channels", int), time_base=tuple(tb),
                   layout=_field(m, K_LAYOUT, "layout", str, ""), extradata=_field(m, K_EXTRADATA, "extradata", bytes, b""),
                   bit_rate=_field(m, K_BIT_RATE, "bit_rate", int, 0), frame_size=_field(m, K_FRAME_SIZE, "frame_size", int, 0))
    count = _field(m, K_PACKETS, "packet_count", int)
    try:
        check_track(t)
    except ValueError as e:
        raise VqvFormatError(f"audio section: {e}") from None
    if not 0 <= count < 1 << 32:
        raise VqvFormatError(f"audio section: packet count {count} out of range")
    return t, count


def _read_records(cur: Cursor, count: int) -> list[tuple]:
    """(size, flags, duration, dts, pts, skip) of ``count`` packets."""
    out = []
    prev_dur = prev_dts = prev_pts = 0
    for i in range(count):
        size, flags = cur.varint("packet size"), cur.varint("packet flags")
        if not 1 <= size <= MAX_PACKET_BYTES:
            raise VqvFormatError(f"audio section: packet {i} size {size} out of range 1..{MAX_PACKET_BYTES}")
        if flags & ~_KNOWN_FLAGS:
            raise VqvFormatError(f"audio section: packet {i} has unknown flags {flags:#x}")
        dur = prev_dur + _unzigzag(cur.varint("packet duration"))
        dts = prev_dts + prev_dur + _unzigzag(cur.varint("packet dts")) if flags & F_DTS else None
        pts = prev_pts + prev_dur + _unzigzag(cur.varint("packet pts")) if flags & F_PTS else None
        skip = (cur.varint("skip start"), cur.varint("skip end")) if flags & F_SKIP else None
        if not 0 <= dur <= MAX_TIMESTAMP or any(v is not None and abs(v) > MAX_TIMESTAMP for v in (dts, pts)):
            raise VqvFormatError(f"audio section: packet {i} duration or timestamp out of range")
        if skip is not None and max(skip) > _U32:
            raise VqvFormatError(f"audio section: packet {i} skips more than {_U32} samples")
        out.append((size, flags, dur, dts, pts, skip))
        prev_dur = dur
        prev_dts = dts if dts is not None else prev_dts
        prev_pts = pts if pts is not None else prev_pts
    return out


def decode_audio(body: bytes, what: str = "audio section") -> AudioTrack:
    """The track of an audio section's body (its CRC already checked). Raises VqvFormatError."""
    cur = Cursor(body, what)
    try:
        mlen = cur.varint("track map length")
        if mlen > MAX_TRACK_MAP_BYTES:
            raise VqvFormatError(f"{what}: track map length {mlen} exceeds the {MAX_TRACK_MAP_BYTES}-byte limit")
        track, count = _read_track_map(cur.take(mlen, "track map"))
        if count * MIN_RECORD_BYTES > cur.remaining:    # before building anything per packet
            raise VqvFormatError(f"{what}: {count} packets cannot fit in the {cur.remaining} bytes left")
        records = _read_records(cur, count)
    except ShortBuffer as e:
        raise VqvFormatError(f"malformed {e}") from None
    if sum(r[0] for r in records) != cur.remaining:
        raise VqvFormatError(f"{what}: the packets' sizes add up to {sum(r[0] for r in records)} bytes "
                             f"but {cur.remaining} follow the packet table")
    pos = cur.pos
    for size, flags, dur, dts, pts, skip in records:
        track.packets.append(AudioPacket(body[pos:pos + size], pts, dts, dur, bool(flags & F_KEY),
                                         bool(flags & F_CORRUPT), bool(flags & F_DISCARD), bool(flags & F_DISPOSABLE),
                                         skip))
        pos += size
    return track


def read_audio(reader) -> AudioTrack | None:
    """The audio track of an open :class:`~formats.container.VqvReader` (its first audio section), or
    ``None`` when the file has none (every file before version 4)."""
    for i, (kind, _, _) in enumerate(reader.sections):
        if kind == SECTION_AUDIO:
            return decode_audio(reader.read_section(i), f"section {i} (audio)")
    return None
