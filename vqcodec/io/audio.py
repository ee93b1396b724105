"""The source's audio through the codec: its first audio track is captured while the video is read (the
compressed packets as they are, no re-encoding), stored in the .vqv file's audio section
(:mod:`vqcodec.formats.audio`), and muxed back by stream copy into ``.mp4`` and ``.mkv`` outputs.

* :class:`AudioCapture` demuxes the audio packets beside the video packets (one pass, pipes too) and
  gives the track, its times made relative to the first video frame and the packets that start after
  the end of the coded video dropped (:meth:`AudioCapture.track`).
* :class:`AudioMux` writes a track into an output container, in step with the video frames.
* :func:`audio_note` is the one line said when an output cannot take the track.

A track that cannot be carried (no decoder for its codec, too large, a packet too large) is dropped
with one :class:`~vqcodec.io.reader.VideoWarning`; the video is coded all the same.
"""
from __future__ import annotations

import io
import struct
import warnings
from fractions import Fraction

from vqcodec.errors import describe_error
from vqcodec.formats.audio import MAX_PACKET_BYTES, AudioPacket, AudioTrack, check_track
from vqcodec.formats.sections import MAX_SECTION_BYTES
from vqcodec.io.reader import VideoWarning

__all__ = ["AudioCapture", "AudioMux", "audio_note", "describe_track", "open_audio", "MAX_AUDIO_BYTES"]

#: the most compressed audio a .vqv file carries (the section also holds ~6 bytes per packet and the map)
MAX_AUDIO_BYTES = MAX_SECTION_BYTES * 3 // 4
#: output kinds of :class:`~vqcodec.io.writer.VideoWriter` that take an audio track
AUDIO_KINDS = ("h264",)


def _warn(message: str) -> None:
    warnings.warn(VideoWarning(message), stacklevel=3)


def describe_track(t: AudioTrack) -> dict:
    """What reports say about a track: codec, rate, channels, packets and bytes."""
    return {"codec": t.codec, "sample_rate": t.sample_rate, "channels": t.channels,
            "layout": t.layout or None, "packets": len(t.packets), "bytes": t.packet_bytes}


def _label(t: AudioTrack) -> str:
    return f"{t.codec}, {t.sample_rate} Hz, {t.channels_name}"


class AudioCapture:
    """The first audio track of a video read by :func:`~vqcodec.io.reader.open_video` (``audio=``)."""

    def __init__(self) -> None:
        self._track: AudioTrack | None = None    # parameters and packets as read
        self.problem: str | None = None          # why the track is not carried, if it is not
        self.video_start: Fraction | None = None  # presentation time of the first video frame
        self._bytes = 0

    def demux(self, container, video):
        """The decoded frames of ``video``, as ``container.decode(video)`` gives them, with the packets of
        the container's first audio stream kept aside."""
        audio = container.streams.audio[0] if container.streams.audio else None
        if audio is not None:
            self._start(audio)
        streams = (video, audio) if self._track is not None else (video,)
        for packet in container.demux(*streams):
            if packet.stream_index == video.index:
                for frame in packet.decode():
                    if self.video_start is None:
                        self.video_start = (Fraction(frame.pts) * Fraction(frame.time_base)
                                            if frame.pts is not None and frame.time_base is not None else Fraction(0))
                    yield frame
            elif packet.size and self.problem is None:
                self._add(packet)

    def _start(self, stream) -> None:
        cc, tb = stream.codec_context, stream.time_base
        if cc is None or tb is None:
            self.problem = "its codec is unknown to this FFmpeg" if cc is None else "it has no time base"
            return
        layout = cc.layout
        t = AudioTrack(codec=cc.name, sample_rate=int(cc.sample_rate or 0), channels=int(layout.nb_channels),
                       time_base=(tb.numerator, tb.denominator), layout=layout.name or "",
                       extradata=bytes(cc.extradata or b""), bit_rate=max(0, int(cc.bit_rate or 0)),
                       frame_size=max(0, int(cc.frame_size or 0)))
        try:
            check_track(t)
        except ValueError as e:
            self.problem = str(e)
            return
        self._track = t

    def _add(self, packet) -> None:
        from av.packet import PacketSideData

        data = bytes(packet)
        self._bytes += len(data)
        if len(data) > MAX_PACKET_BYTES or self._bytes > MAX_AUDIO_BYTES:
            self.problem = (f"a packet of {len(data)} bytes exceeds {MAX_PACKET_BYTES} bytes"
                            if len(data) > MAX_PACKET_BYTES else f"it is longer than {MAX_AUDIO_BYTES} bytes")
            self._track.packets = []
            return
        skip = None
        if packet.has_sidedata("skip_samples"):
            sd = bytes(PacketSideData.from_packet(packet, "skip_samples"))
            skip = struct.unpack_from("<II", sd) if len(sd) >= 8 else None
        self._track.packets.append(AudioPacket(
            data, packet.pts, packet.dts, max(0, packet.duration or 0), bool(packet.is_keyframe),
            bool(packet.is_corrupt), bool(packet.is_discard), bool(packet.is_disposable), skip))

    def track(self, duration: Fraction, what: str) -> AudioTrack | None:
        """The track to store for a video of ``duration`` seconds (``None``: none, or one that cannot be
        carried, then with one warning naming ``what``): times relative to the first video frame, and
        only the packets that start before the video ends."""
        t = self._track
        if t is None and self.problem is None:
            return None                              # no audio stream
        if self.problem is None:
            tb = Fraction(*t.time_base)
            shift = round((self.video_start or 0) / tb)
            end = duration / tb + shift              # in ticks of the source
            kept = []
            for p in t.packets:
                at = p.pts if p.pts is not None else p.dts
                if at is not None and at >= end:
                    continue
                p.pts = None if p.pts is None else p.pts - shift
                p.dts = None if p.dts is None else p.dts - shift
                kept.append(p)
            t.packets = kept
            if kept:
                return t
            self.problem = "none of its packets falls within the video"
        _warn(f"{what}: audio track not carried ({self.problem})")
        return None


def _scratch(fmt: str):
    """A throwaway output container of format ``fmt``, in memory."""
    import av

    return av.open(io.BytesIO(), "w", format=fmt)


def audio_note(track: AudioTrack, kind: str, path) -> str:
    """The one line said when ``track`` is not written to an output of ``kind`` at ``path``."""
    what = f"a .{kind} output has" if kind in ("y4m", "npy") else "PNG frames have"
    return f"{path}: audio ({_label(track)}) not written: {what} no audio (decode to .mp4 or .mkv to keep it)"


class AudioMux:
    """Stream copy of a track into an output container (PyAV), in step with its video.

    The output stream is made from a template: a stream of the same codec in a throwaway container (FFmpeg
    needs an encoder of the codec for it, never opened), then the track's parameters are set on it. Raises
    ValueError with a one-line reason when the container cannot take the codec."""

    def __init__(self, container, track: AudioTrack) -> None:
        import av

        self.track = track
        self._tb = Fraction(*track.time_base)
        fmt = container.format.name.split(",")[0]
        probe = _scratch(fmt)           # what this muxer refuses, it refuses here (header, packets, trailer)
        self._stream = self._stream_in(fmt, probe)
        try:
            for p in track.packets[:3]:
                probe.mux(self._packet(p))
            probe.close()
        except (av.FFmpegError, ValueError) as e:
            raise ValueError(f"the {fmt} muxer refuses this {track.codec} track ({describe_error(e)})") from None
        self._stream = self._stream_in(fmt, container)
        self._container = container
        self._next = 0

    def _stream_in(self, fmt: str, container):
        """A stream of ``container`` set up to take the track's packets as they are."""
        import av

        t = self.track
        try:
            av.Codec(t.codec, "w")
        except (av.FFmpegError, ValueError):
            raise ValueError(f"this FFmpeg has no {t.codec} encoder, which PyAV needs to set up a stream "
                             "to copy into") from None
        try:
            template = _scratch(fmt).add_stream(t.codec, rate=t.sample_rate)   # never opened
            stream = container.add_stream_from_template(template, opaque=True)
        except (av.FFmpegError, ValueError, TypeError) as e:
            reason = describe_error(e)
            raise ValueError(f"the {fmt} format cannot carry {t.codec}" if "does not support" in reason
                             else reason) from None
        cc = stream.codec_context
        cc.sample_rate = t.sample_rate
        try:
            cc.layout = t.layout or f"{t.channels} channels"
        except (av.FFmpegError, ValueError, TypeError):     # a layout this FFmpeg does not name
            cc.layout = f"{t.channels} channels"
        cc.extradata = t.extradata or None
        cc.bit_rate = t.bit_rate
        cc.time_base = self._tb
        stream.time_base = self._tb
        return stream

    def _packet(self, p: AudioPacket):
        import av
        from av.packet import PacketSideData, packet_sidedata_type_from_literal

        pkt = av.Packet(p.data)
        pkt.pts, pkt.dts, pkt.duration = p.pts, p.dts, p.duration
        pkt.time_base = self._tb
        # PyAV sets these two flags only: discard and disposable are kept in the file, not written here
        pkt.is_keyframe, pkt.is_corrupt = p.keyframe, p.corrupt
        if p.skip is not None:
            sd = PacketSideData(packet_sidedata_type_from_literal("skip_samples"), 10)
            memoryview(sd)[:] = struct.pack("<IIBB", p.skip[0], p.skip[1], 0, 0)
            sd.to_packet(pkt)
        pkt.stream = self._stream
        return pkt

    def mux_until(self, seconds: Fraction | None) -> None:
        """Mux the packets that start before ``seconds`` (``None``: all that are left)."""
        packets = self.track.packets
        while self._next < len(packets):
            p = packets[self._next]
            at = p.pts if p.pts is not None else p.dts
            if seconds is not None and at is not None and at * self._tb >= seconds:
                return
            self._container.mux(self._packet(p))
            self._next += 1


def open_audio(container, track: AudioTrack | None, kind: str, path) -> tuple[AudioMux | None, dict | str | None]:
    """For ``track`` and an output of ``kind`` (``container`` its PyAV container, if any): the
    :class:`AudioMux` that writes it, or ``None`` with one warning saying why not; and what the report
    says (the track's description, or why it was not written; ``None`` without a track)."""
    if track is None:
        return None, None
    if kind not in AUDIO_KINDS:
        _warn(audio_note(track, kind, path))
        return None, f"not written (a {kind} output has no audio)"
    try:
        return AudioMux(container, track), describe_track(track)
    except ValueError as e:
        _warn(f"{path}: audio ({_label(track)}) not written: {e}")
        return None, f"not written ({e})"


def load_audio(reader, what: str, *, tolerant: bool = False) -> AudioTrack | None:
    """The audio track of an open .vqv reader (``None`` if it has none). A damaged or malformed audio
    section is an error, or with ``tolerant`` (``--skip-damaged``) one warning and no audio."""
    from vqcodec.formats import VqvFormatError
    from vqcodec.formats.audio import read_audio

    try:
        return read_audio(reader)
    except VqvFormatError as e:
        if not tolerant:
            raise
        _warn(f"{what}: audio track skipped ({e})")
        return None


def audio_summary(reader) -> dict | None:
    """What ``vqv info`` says of a .vqv file's audio track: codec, rate, channels, packets, bytes of
    compressed audio and of its section, duration; ``None`` when the file has none."""
    from vqcodec.formats.audio import read_audio, section_size

    t = read_audio(reader)
    if t is None:
        return None
    stamps = [p.pts if p.pts is not None else p.dts for p in t.packets]
    stamps = [s for s in stamps if s is not None]
    span = (max(stamps) - min(stamps) + t.packets[-1].duration) * Fraction(*t.time_base) if stamps else 0
    return {**describe_track(t), "section_bytes": section_size(t), "duration_s": float(span)}
