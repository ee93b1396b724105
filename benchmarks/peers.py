"""The peer codecs (x264, x265, VP9, AV1) through PyAV, and what their bytes count.

Each clip is converted RGB -> YUV 4:2:0 (BT.601, limited range, swscale) -> encoder -> raw packets
-> decoder -> RGB, in memory with one thread. The bytes counted are the elementary stream: the sum
of the packet sizes as the encoder emits them (Annex-B for H.264/HEVC with start codes and in-band
parameter sets, VP9 frames / superframes, AV1 OBUs with temporal delimiters), no container, minus
x264's SEI NAL units (type 6: its settings banner) and x265's banner SEI (prefix SEI, type 39,
containing "x265"). The decoder is fed the stripped stream, so what is counted is what decodes.
"""
from __future__ import annotations

import os

os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1: errors only (it prints its banner at INFO level)

import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from fractions import Fraction  # noqa: E402

import av  # noqa: E402
import numpy as np  # noqa: E402

PEER_THREADS = 1
PEER_PIX_FMT = "yuv420p"


@dataclass(frozen=True)
class Peer:
    name: str
    encoder: str
    decoders: tuple[str, ...]  # tried in order; the first that decodes this encoder's output is used
    param: str
    settings: tuple[int, ...]
    smoke: tuple[int, ...]
    base_options: tuple[tuple[str, str], ...]
    nal: str | None = None  # "h264" / "hevc": strip SEI banners

    def options(self, value: int) -> dict[str, str]:
        opts = dict(self.base_options)
        opts[self.param] = str(value)
        return opts


PEERS: dict[str, Peer] = {
    "x264": Peer("x264", "libx264", ("h264",), "crf", tuple(range(18, 52, 3)), (24, 42),
                 (("preset", "veryslow"), ("threads", str(PEER_THREADS))), nal="h264"),
    "x265": Peer("x265", "libx265", ("hevc",), "crf", tuple(range(18, 52, 3)), (24, 42),
                 (("preset", "veryslow"),
                  ("x265-params", "info=0:log-level=error:pools=none:frame-threads=1")), nal="hevc"),
    "vp9": Peer("vp9", "libvpx-vp9", ("vp9", "libvpx-vp9"), "crf", (20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 63),
                (32, 56), (("b", "0"), ("deadline", "best"), ("cpu-used", "0"), ("threads", str(PEER_THREADS)),
                           ("row-mt", "0"))),
    "av1": Peer("av1", "libsvtav1", ("libdav1d", "libaom-av1", "av1"), "crf",
                (20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 63), (32, 56),
                (("preset", "2"), ("svtav1-params", "lp=1"))),
}


# ------------------------------------------------------------------------------------------------
# NAL units and SEI stripping


def split_annexb(data: bytes) -> list[tuple[int, int, int]]:
    """NAL units of an Annex-B buffer as (start of start code, start of NAL header, end)."""
    starts = []
    i = data.find(b"\x00\x00\x01")
    while i != -1:
        sc = i - 1 if i > 0 and data[i - 1] == 0 else i  # a 4-byte start code
        starts.append((sc, i + 3))
        i = data.find(b"\x00\x00\x01", i + 3)
    ends = [sc for sc, _ in starts[1:]] + [len(data)]
    return [(sc, hdr, end) for (sc, hdr), end in zip(starts, ends)]


def split_avcc(data: bytes, size: int = 4) -> list[tuple[int, int, int]] | None:
    """NAL units of a length-prefixed (AVCC/HVCC) buffer, as :func:`split_annexb`; None if the
    lengths do not tile the buffer exactly."""
    out, i = [], 0
    while i < len(data):
        if i + size > len(data):
            return None
        ln = int.from_bytes(data[i:i + size], "big")
        if ln == 0 or i + size + ln > len(data):
            return None
        out.append((i, i + size, i + size + ln))
        i += size + ln
    return out


def nal_type(codec: str, header_byte: int) -> int:
    return header_byte & 0x1F if codec == "h264" else (header_byte >> 1) & 0x3F


def nal_units(packet: bytes) -> list[tuple[int, int, int]] | None:
    """The NAL units of one packet, Annex-B or 4-byte AVCC; None if it is neither."""
    if packet.startswith(b"\x00\x00\x01") or packet.startswith(b"\x00\x00\x00\x01"):
        return split_annexb(packet)
    return split_avcc(packet)


def is_banner_sei(codec: str, unit: bytes) -> bool:
    """x264's SEI (H.264 type 6) or x265's banner (HEVC prefix SEI, type 39, containing b"x265");
    ``unit`` starts at the NAL header."""
    t = nal_type(codec, unit[0])
    return (codec == "h264" and t == 6) or (codec == "hevc" and t == 39 and b"x265" in unit)


def strip_sei(packet: bytes, codec: str) -> bytes:
    """``packet`` without its banner SEI NAL units (:func:`is_banner_sei`)."""
    units = nal_units(packet)
    if units is None:
        return packet
    return b"".join(packet[sc:end] for sc, hdr, end in units
                    if hdr >= end or not is_banner_sei(codec, packet[hdr:end]))


# ------------------------------------------------------------------------------------------------
# encode and decode


def rgb_to_yuv(frame: np.ndarray) -> av.VideoFrame:
    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
    return vf.reformat(format=PEER_PIX_FMT, dst_colorspace="ITU601", dst_color_range="MPEG", threads=1)


def yuv_to_rgb(vf: av.VideoFrame) -> np.ndarray:
    return vf.reformat(format="rgb24", src_colorspace="ITU601", src_color_range="MPEG", threads=1).to_ndarray()


def yuv420_roundtrip(frames: np.ndarray) -> np.ndarray:
    """What the peers' input conversion alone does to a clip (RGB -> YUV 4:2:0 -> RGB)."""
    return np.stack([yuv_to_rgb(rgb_to_yuv(f)) for f in frames])


def encode_packets(peer: Peer, frames: np.ndarray, fps: Fraction, value: int) -> list[bytes]:
    """The packets the encoder emits for one clip (RGB -> YUV included), as they come."""
    _, h, w, _ = frames.shape
    ctx = av.CodecContext.create(peer.encoder, "w")
    ctx.width, ctx.height = w, h
    ctx.pix_fmt = PEER_PIX_FMT
    ctx.time_base = 1 / fps
    ctx.framerate = fps
    ctx.thread_count = PEER_THREADS
    ctx.options = peer.options(value)
    packets: list[bytes] = []
    for i, f in enumerate(frames):
        vf = rgb_to_yuv(f)
        vf.pts = i
        packets.extend(bytes(p) for p in ctx.encode(vf))
    packets.extend(bytes(p) for p in ctx.encode(None))
    return packets


def decode_packets(decoder: str, packets: list[bytes]) -> list[np.ndarray]:
    """RGB frames decoded from ``packets`` (YUV -> RGB included)."""
    dctx = av.CodecContext.create(decoder, "r")
    dctx.thread_count = PEER_THREADS
    out = [yuv_to_rgb(fr) for p in packets for fr in dctx.decode(av.Packet(p))]
    return out + [yuv_to_rgb(fr) for fr in dctx.decode(None)]


@dataclass
class EncodeResult:
    n_bytes: int
    raw_bytes: int  # before SEI stripping
    decoded: np.ndarray
    enc_seconds: float
    dec_seconds: float


def encode_peer(peer: Peer, frames: np.ndarray, fps: Fraction, value: int, *, decoder: str) -> EncodeResult:
    """Encode one clip in memory, strip SEI banners, decode the stripped stream back to RGB."""
    t0 = time.perf_counter()
    packets = encode_packets(peer, frames, fps, value)
    enc_s = time.perf_counter() - t0
    raw = sum(len(p) for p in packets)
    if peer.nal:
        packets = [p for p in (strip_sei(p, peer.nal) for p in packets) if p]
    t0 = time.perf_counter()
    out = decode_packets(decoder, packets)
    dec_s = time.perf_counter() - t0
    if len(out) != len(frames):
        raise RuntimeError(f"{peer.name} {peer.param}={value}: decoded {len(out)} frames, expected {len(frames)}")
    return EncodeResult(sum(len(p) for p in packets), raw, np.stack(out), enc_s, dec_s)


def check_peer(peer: Peer, fps: Fraction) -> tuple[str | None, str | None]:
    """(decoder name, None) when PyAV can encode and decode this peer, else (None, reason)."""
    try:
        av.Codec(peer.encoder, "w")
    except ValueError:  # av.codec.codec.UnknownCodecError
        return None, f"PyAV has no {peer.encoder} encoder"
    clip = np.zeros((2, 64, 64, 3), np.uint8)
    for d in peer.decoders:
        try:  # a decoder that exists but cannot decode (e.g. FFmpeg's native av1 without hwaccel)
            av.Codec(d, "r")
            if encode_peer(peer, clip, fps, peer.smoke[-1], decoder=d).decoded.shape == clip.shape:
                return d, None
        except (ValueError, RuntimeError, av.FFmpegError):
            continue
    return None, f"PyAV cannot decode the output of {peer.encoder} (tried {', '.join(peer.decoders)})"
