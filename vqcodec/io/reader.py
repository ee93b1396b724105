"""Video input for the codec, training and the benchmarks: reading, resampling and resizing.

One path for everyone, so that training sees the frames the codec codes. Reading
(:func:`open_video`) yields uint8 RGB frames ``(H, W, 3)`` one at a time, so memory does not grow
with the length of the video. Accepted inputs:

* anything PyAV/FFmpeg opens (mp4, mkv, avi, webm, mov, y4m, ...): the first video stream;
* a ``.npy`` array ``(T, H, W, 3)`` uint8 (memory-mapped), taken at ``source_fps`` (default 16);
* a folder of PNG frames (sorted by name, numbers compared as numbers), at ``source_fps``;
* a printf pattern such as ``dir/%06d.png`` (every existing file that matches, in numeric order);
* a binary stream (standard input, a pipe) or a named pipe: what FFmpeg reads from a pipe (y4m,
  matroska, nut, mpegts...), read as it arrives, frame by frame.

Frames are at most :data:`MAX_SOURCE_SIDE` pixels per side.

Timing. A video file's frames are timed by their presentation timestamps, relative to the first
frame; timestamps that are missing, go backwards or jump by more than
:data:`~vqcodec.io.timing.MAX_GAP_SECONDS` are broken (as in AVI files with packed B-frames), and
from there on frames are one source period apart (:mod:`vqcodec.io.timing`). By default every
frame is kept at the source's (average) frame rate, so a constant-rate file comes out exactly as
stored; a variable-rate file is kept in step with its timestamps (frames repeated or dropped, like
ffmpeg's ``-vsync cfr``) with a :class:`VideoWarning`.
``fps=`` resamples by timestamp: output frame ``k`` shows, at time ``t = k / fps``, the latest
source frame whose time is ``<= t``; the output covers the source's duration (last frame's time
plus one source period).

Resizing is :func:`resize_frames`. Writing is :mod:`vqcodec.io.writer`.

Failures are :class:`VideoError` with a one-line message; PyAV and Pillow exceptions never escape.
An input that is read but not quite as stored (variable frame rate, a file that ends early) gives
one :class:`VideoWarning` (one line) through :mod:`warnings`.
"""
from __future__ import annotations

import os
import re
import stat
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from vqcodec.errors import VqvError, describe_error, one_line
from vqcodec.io import timing
from vqcodec.io.streams import display_name, is_stream

__all__ = [
    "VideoError",
    "VideoWarning",
    "VideoInfo",
    "open_video",
    "probe_frames",
    "resize_frames",
    "DEFAULT_SEQUENCE_FPS",
    "MAX_SOURCE_SIDE",
]

#: Frame rate assumed for inputs without one (``.npy`` arrays and PNG frames).
DEFAULT_SEQUENCE_FPS = Fraction(16)
#: The largest input frame, per side: 8K video fits; a 12000x12000 image (432 MB a frame) does not.
#: Decoding with ``--scale-to-source`` refuses a larger source size for the same reason.
MAX_SOURCE_SIDE = 8192
#: A file that yields fewer frames than this share of the count it declares has ended early.
_EARLY_END_SHARE = Fraction(95, 100)

_IMAGE_EXTS = (".png",)
#: Suffixes read as video files when a folder of videos is scanned (PyAV reads each).
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".ogv", ".ogg", ".mpg", ".mpeg",
              ".m4v", ".flv", ".wmv", ".3gp", ".ts", ".y4m"}


class VideoError(VqvError):
    """A video cannot be read or written; the message is one line meant for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class VideoWarning(UserWarning):
    """An input is read, but not quite as stored (variable frame rate, ends early); one line."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def _warn(message: str) -> None:
    warnings.warn(VideoWarning(message), stacklevel=2)


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    frame_count: int | None  # an estimate (exact for npy/PNG); None when unknown
    source_bytes: int | None


# ----------------------------------------------------------------------------------------------
# helpers


def to_fraction(x) -> Fraction:
    if isinstance(x, Fraction):
        f = x
    elif isinstance(x, float):
        f = Fraction(x).limit_denominator(1001 * 1000)
    else:
        f = Fraction(x)
    if f <= 0:
        raise VideoError(f"frame rate must be positive, got {x}")
    return f


def _check_source_size(width: int, height: int, what: str) -> None:
    if max(width, height) > MAX_SOURCE_SIDE:
        raise VideoError(f"{what}: frames of {width}x{height} exceed {MAX_SOURCE_SIDE} pixels per side, "
                         f"the largest input vqv reads (scale it down first)")


def _natural_key(name: str):
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name)]


_PRINTF = re.compile(r"%(0?)(\d*)d")


def is_frame_pattern(path: str) -> bool:
    return len(_PRINTF.findall(Path(path).name)) == 1 and "%" in Path(path).name


def _pattern_files(pattern: str) -> list[Path]:
    p = Path(pattern)
    m = _PRINTF.search(p.name)
    assert m is not None
    zero, width = m.group(1), m.group(2)
    if width and zero:
        num = rf"(\d{{{int(width)},}})"
    elif width:
        num = r"\s*(\d+)"
    else:
        num = r"(\d+)"
    rx = re.compile("^" + re.escape(p.name[: m.start()]) + num + re.escape(p.name[m.end():]) + "$")
    folder = p.parent
    if not folder.is_dir():
        raise VideoError(f"{pattern}: no such folder {str(folder)!r}")
    hits = []
    for entry in os.scandir(folder):
        mm = rx.match(entry.name)
        if mm and entry.is_file():
            hits.append((int(mm.group(1)), Path(entry.path)))
    hits.sort()
    return [h[1] for h in hits]


def _folder_files(folder: Path) -> list[Path]:
    names = [e.name for e in os.scandir(folder) if e.is_file() and e.name.lower().endswith(_IMAGE_EXTS)
             and not e.name.startswith(".")]
    names.sort(key=_natural_key)
    return [folder / n for n in names]


def _open_image(path: Path):
    """Pillow's image, header read only. Pillow's decompression-bomb check is ours to make
    (:data:`MAX_SOURCE_SIDE`, one line): its multi-line warning is silenced here, not globally."""
    from PIL import Image

    too_large = f"{path}: larger than {MAX_SOURCE_SIDE} pixels per side, the largest input vqv reads"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except Image.DecompressionBombError:
            raise VideoError(too_large) from None
        except Exception as e:
            raise VideoError(f"{path}: not a readable image ({describe_error(e)})") from None
    return im


def _read_png(path: Path) -> np.ndarray:
    im = _open_image(path)
    try:
        with im:
            if im.mode.startswith("I"):
                # 16-bit grey (Pillow's "I;16*" or "I"): scale to 8 bits; convert("RGB") would clip
                # everything above 255 (a 1024-level ramp became 5 values)
                g = (np.clip(np.asarray(im, dtype=np.int64), 0, 65535) >> 8).astype(np.uint8)
                return np.repeat(g[..., None], 3, axis=2)
            if im.mode != "RGB":
                im = im.convert("RGBA").convert("RGB") if "A" in im.getbands() or im.mode == "P" else im.convert("RGB")
            return np.asarray(im, dtype=np.uint8).copy()
    except (OSError, ValueError, SyntaxError) as e:
        raise VideoError(f"{path}: not a readable image ({describe_error(e)})") from None


# ----------------------------------------------------------------------------------------------
# resizing


def resize_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 (n, H, W, 3) -> (n, height, width, 3), bicubic (antialiased when shrinking); a no-op
    at the same size. The one resizer of the codec and of training: both must see the same pixels."""
    import torch
    import torch.nn.functional as F

    if frames.shape[1:3] == (height, width):
        return frames
    src = np.ascontiguousarray(frames)
    if not src.flags.writeable:  # a read-only memory map (the frame cache): torch wants writable memory
        src = src.copy()
    x = torch.from_numpy(src).permute(0, 3, 1, 2).float()
    down = height < frames.shape[1] or width < frames.shape[2]
    y = F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False, antialias=down)
    return y.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


# ----------------------------------------------------------------------------------------------
# reading


def _open_sequence(frames_src: list, read: Callable[[object], np.ndarray], what: str,
                   source_bytes: int | None, src_fps: Fraction, fps: Fraction | None):
    if not frames_src:
        raise VideoError(f"{what}: empty video (no frames)")
    first = read(frames_src[0])
    h, w = first.shape[:2]

    def frames() -> Iterator[np.ndarray]:
        yield first
        for i, src in enumerate(frames_src[1:], start=1):
            f = read(src)
            if f.shape != first.shape:
                raise VideoError(f"{what}: frame {i} is {f.shape[1]}x{f.shape[0]}, "
                                 f"frame 0 is {w}x{h} (inconsistent sizes)")
            yield f

    n = len(frames_src)
    if fps is None:
        return VideoInfo(w, h, src_fps, n, source_bytes), frames()

    def timed():
        for i, f in enumerate(frames()):
            yield Fraction(i) / src_fps, f

    info = VideoInfo(w, h, fps, timing.resampled_count(n, src_fps, fps), source_bytes)
    return info, timing.resample(timed(), fps, 1 / src_fps, what)


def _open_npy(path: Path, fps, src_fps):
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise VideoError(f"{path}: not a readable .npy array ({describe_error(e)})") from None
    if not isinstance(arr, np.ndarray):               # np.load opens an .npz archive whatever its name
        if hasattr(arr, "close"):
            arr.close()
        raise VideoError(f"{path}: an .npz archive, not a .npy array (save the frames with numpy.save)")
    if arr.dtype != np.uint8:
        raise VideoError(f"{path}: .npy video must be uint8, got {arr.dtype}")
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise VideoError(f"{path}: .npy video must have shape (T, H, W, 3), got {tuple(arr.shape)}")
    if arr.shape[1] == 0 or arr.shape[2] == 0:
        raise VideoError(f"{path}: .npy video has zero-sized frames {tuple(arr.shape)}")
    _check_source_size(arr.shape[2], arr.shape[1], str(path))
    return _open_sequence(list(range(arr.shape[0])), lambda i: np.array(arr[i]), str(path),
                          path.stat().st_size, src_fps, fps)


def _open_images(files: list[Path], what: str, fps, src_fps):
    if not files:
        raise VideoError(f"{what}: empty video (no PNG frames found)")
    size = 0
    first_size = None
    for f in files:  # headers only: sizes are checked before any frame is decoded
        try:
            size += f.stat().st_size
        except OSError as e:
            raise VideoError(f"{f}: not a readable image ({describe_error(e)})") from None
        with _open_image(f) as im:
            wh = im.size
        if first_size is None:
            first_size = wh
            _check_source_size(*wh, str(f))
        elif wh != first_size:
            raise VideoError(f"{what}: {f.name} is {wh[0]}x{wh[1]}, {files[0].name} is "
                             f"{first_size[0]}x{first_size[1]} (inconsistent sizes)")
    return _open_sequence(files, _read_png, what, size, src_fps, fps)


def _open_av(source, path: str, fps: Fraction | None, size: int | None, audio=None):
    """A file (or stream) PyAV opens: its first video stream, its first frame decoded here (so that
    unreadable and empty files fail at open time), then the frames timed by their timestamps. ``path``
    names it in messages; ``size`` is its size in bytes (None for a pipe); ``audio``, an
    :class:`~vqcodec.io.audio.AudioCapture`, keeps the first audio track's packets as the video is read."""
    container = _open_container(source, path)
    try:
        stream, facts = _stream_facts(container, path)
        decoded = container.decode(stream) if audio is None else audio.demux(container, stream)
        first = _first_frame(decoded, path)
        w, h = first.width, first.height
        _check_source_size(w, h, str(path))
    except BaseException:
        container.close()
        raise
    src_fps = facts.src_fps or DEFAULT_SEQUENCE_FPS
    end = _EndCheck(path, facts.declared, facts.duration, src_fps)
    frames = _rgb_frames(timing.timed(_stamped(container, first, decoded, end), 1 / src_fps), path, w, h)
    if fps is None:
        return (VideoInfo(w, h, src_fps, facts.count, size),
                timing.constant_rate(frames, src_fps, str(path), end.variable_rate))
    est = timing.resampled_count(facts.count, src_fps, fps) if facts.count else None
    return VideoInfo(w, h, fps, est, size), timing.resample(frames, fps, 1 / src_fps, str(path))


def _decode_errors() -> tuple[type[BaseException], ...]:
    """What decoding a damaged file raises: after the first frame it ends the stream (what decoded is
    kept, with a warning)."""
    import av

    return av.FFmpegError, OSError, ValueError, MemoryError


def _open_container(source, path: str):
    import av

    try:
        return av.open(source if is_stream(source) else str(source), mode="r")
    except av.error.EOFError:
        raise VideoError(f"{path}: empty or truncated video (end of file while reading the header)") from None
    except av.FFmpegError as e:
        raise VideoError(f"{path}: not a video or unreadable ({describe_error(e)})") from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise VideoError(f"{path}: not a video or unreadable ({describe_error(e)})") from None


@dataclass
class _StreamFacts:
    """What a file declares about its video stream: rate (None if none usable), frame count from
    the index, duration in seconds, and the frame count to report (declared, else from the duration)."""

    src_fps: Fraction | None
    declared: int | None
    duration: float | None
    count: int | None


def _stream_facts(container, path: Path):
    """The first video stream (decoded with threads) and what the file declares about it."""
    if not container.streams.video:
        raise VideoError(f"{path}: no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    src_fps = Fraction(rate) if rate else None
    if src_fps is not None and src_fps <= 0:
        src_fps = None
    declared: int | None = int(stream.frames) if stream.frames else None  # from the index
    dur = None
    if stream.duration is not None and stream.time_base is not None:
        dur = float(stream.duration * stream.time_base)
    elif container.duration:
        dur = container.duration / 1_000_000
    count = declared
    if count is None and dur and src_fps:
        count = max(1, round(dur * src_fps))
    return stream, _StreamFacts(src_fps, declared, dur, count)


def _first_frame(decoded, path: Path):
    try:
        first = next(decoded, None)
    except _decode_errors() as e:
        raise VideoError(f"{path}: decoding failed ({describe_error(e)})") from None
    if first is None:
        raise VideoError(f"{path}: empty video (no frames)")
    return first


class _EndCheck:
    """Whether a stream ended early (decoding failed, or it stopped well short of the frame count or
    the duration that the file declares): one warning at its end, and then no variable-frame-rate
    warning (frames lost where a file was cut are not a variable frame rate)."""

    def __init__(self, path: Path, declared: int | None, dur: float | None, src_fps: Fraction) -> None:
        self.path, self.declared, self.dur, self.src_fps = path, declared, dur, src_fps
        self.ended_early = False

    def finished(self, n: int, failure: str | None, stamps: list) -> None:
        """The stream gave ``n`` frames, with ``stamps`` [first, last] timestamps, and ``failure``."""
        declared, dur, src_fps = self.declared, self.dur, self.src_fps
        if declared:
            short = n < declared * _EARLY_END_SHARE and declared - n >= 2
            read = f"{n} of {declared} frames readable" if n < declared else f"{n} frames readable"
        else:  # the duration, for containers without a frame count (mkv, webm)
            seconds = float(stamps[1] - stamps[0] + 1 / src_fps) if stamps else n / float(src_fps)
            short = bool(dur) and seconds < dur * _EARLY_END_SHARE and dur - seconds >= 2 / src_fps
            read = f"{seconds:.1f} of {dur:.1f} s readable" if dur and seconds < dur else f"{n} frames readable"
        if failure or short:
            self.ended_early = True
            cause = f"decoding failed: {failure}; " if failure else ""
            _warn(f"{self.path}: input ends early: {read} ({cause}file truncated?)")

    def variable_rate(self, message: str) -> None:
        if not self.ended_early:
            _warn(message)


def _stamped(container, first, decoded, end: _EndCheck) -> Iterator[tuple[Fraction | None, object]]:
    """(presentation timestamp in seconds or None, frame) in decoding order; closes the container,
    then tells ``end`` how the stream ended."""
    decode_errors = _decode_errors()
    n, failure, stamps = 0, None, []
    try:
        fr = first
        while fr is not None:
            stamp = None
            if fr.pts is not None and fr.time_base is not None:
                stamp = Fraction(fr.pts) * Fraction(fr.time_base)
                stamps = [min(stamps[0], stamp), max(stamps[1], stamp)] if stamps else [stamp, stamp]
            yield stamp, fr
            n += 1
            try:
                fr = next(decoded, None)
            except decode_errors as e:
                fr, failure = None, describe_error(e)
    finally:
        container.close()
    end.finished(n, failure, stamps)


def _rgb_frames(timed, path: Path, w: int, h: int) -> Iterator[tuple[Fraction, np.ndarray]]:
    import av

    for t, fr in timed:
        try:
            img = fr.to_ndarray(format="rgb24")
        except (av.FFmpegError, ValueError) as e:
            raise VideoError(f"{path}: cannot convert frame to RGB ({describe_error(e)})") from None
        if img.shape[:2] != (h, w):
            raise VideoError(f"{path}: frame size changes mid-stream "
                             f"({w}x{h} -> {img.shape[1]}x{img.shape[0]}), not supported")
        yield t, img


def open_video(path, *, fps: Fraction | None = None, source_fps: Fraction | None = None,
               audio=None) -> tuple[VideoInfo, Iterator[np.ndarray]]:
    """Open a video and return ``(info, frames)``; ``frames`` yields uint8 RGB ``(H, W, 3)`` arrays.

    ``fps`` resamples by timestamp (see the module docstring); ``None`` keeps every source frame at
    the source rate (a variable-rate file is kept in step with its timestamps, with a
    :class:`VideoWarning`). ``source_fps`` is the rate assumed for ``.npy`` and PNG inputs, which
    carry none (default :data:`DEFAULT_SEQUENCE_FPS`); it is ignored for real video files. ``audio``: an
    :class:`~vqcodec.io.audio.AudioCapture` that keeps a video file's first audio track (packets as stored).

    The first frame is decoded here, so unreadable and empty inputs fail at open time. Raises
    :class:`VideoError`.
    """
    fps = None if fps is None else to_fraction(fps)
    seq_fps = DEFAULT_SEQUENCE_FPS if source_fps is None else to_fraction(source_fps)
    try:
        if is_stream(path):
            return _open_av(path, display_name(path, "<stdin>"), fps, None, audio)
        return _open_any(path, fps, seq_fps, audio)
    except OSError as e:  # permissions, vanished files, ...
        raise VideoError(f"{display_name(path, '<stdin>')}: cannot read ({describe_error(e)})") from None


def _open_any(path: str | Path, fps: Fraction | None, seq_fps: Fraction, audio=None):
    spath = str(path)
    if is_frame_pattern(spath) and not Path(spath).exists():
        files = _pattern_files(spath)
        return _open_images(files, spath, fps, seq_fps)
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p}: no such file or folder")
    if p.is_dir():
        return _open_images(_folder_files(p), str(p), fps, seq_fps)
    if p.suffix.lower() == ".npy":
        return _open_npy(p, fps, seq_fps)
    if p.suffix.lower() in _IMAGE_EXTS:
        return _open_images([p], str(p), fps, seq_fps)
    st = p.stat()
    if not stat.S_ISREG(st.st_mode):      # a named pipe, /dev/stdin, a character device: read as it comes
        return _open_av(p, str(p), fps, None, audio)
    if st.st_size == 0:
        raise VideoError(f"{p}: empty file, not a video")
    return _open_av(p, str(p), fps, st.st_size, audio)


def probe_frames(path: str | Path) -> int:
    """The exact number of frames, by decoding the whole input (slow for long videos)."""
    _, frames = open_video(path)
    return sum(1 for _ in frames)
