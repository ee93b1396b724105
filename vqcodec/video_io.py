"""Streaming video input for the codec, training and the benchmarks.

Reading (:func:`open_video`) yields uint8 RGB frames ``(H, W, 3)`` one at a time, so memory does not
grow with the length of the video. Accepted inputs:

* anything PyAV/FFmpeg opens (mp4, mkv, avi, webm, mov, y4m, ...): the first video stream;
* a ``.npy`` array ``(T, H, W, 3)`` uint8 (memory-mapped), taken at ``source_fps`` (default 16);
* a folder of PNG frames (sorted by name, numbers compared as numbers), at ``source_fps``;
* a printf pattern such as ``dir/%06d.png`` (every existing file that matches, in numeric order).

The source frame rate and every frame are kept by default. ``fps=`` resamples by timestamp: output
frame ``k`` shows, at time ``t = k / fps``, the latest source frame whose presentation time is
``<= t``; the output covers the source's duration (last frame's time plus one frame period).

Writing is :mod:`vqcodec.video_writer`.

All failures are reported as :class:`VideoError` with a one-line message; PyAV and Pillow exceptions
never escape.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .errors import describe_error

__all__ = [
    "VideoError",
    "VideoInfo",
    "open_video",
    "probe_frames",
    "DEFAULT_SEQUENCE_FPS",
]

#: Frame rate assumed for inputs without one (``.npy`` arrays and PNG frames).
DEFAULT_SEQUENCE_FPS = Fraction(16)

_IMAGE_EXTS = (".png",)
#: Suffixes read as video files when a folder of videos is scanned (PyAV reads each).
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".ogv", ".ogg", ".mpg", ".mpeg",
              ".m4v", ".flv", ".wmv", ".3gp", ".ts", ".y4m"}


class VideoError(ValueError):
    """A video cannot be read or written; the message is one line meant for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


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


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.mode.startswith("I"):
                # 16-bit grey (Pillow's "I;16*" or "I"): scale to 8 bits; convert("RGB") would clip
                # everything above 255 (a 1024-level ramp became 5 values)
                g = (np.clip(np.asarray(im, dtype=np.int64), 0, 65535) >> 8).astype(np.uint8)
                return np.repeat(g[..., None], 3, axis=2)
            if im.mode != "RGB":
                im = im.convert("RGBA").convert("RGB") if "A" in im.getbands() or im.mode == "P" else im.convert("RGB")
            return np.asarray(im, dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise VideoError(f"{path}: not a readable image ({describe_error(e)})") from None


def _resample(timed: Iterator[tuple[Fraction, np.ndarray]], fps: Fraction,
              period: Fraction) -> Iterator[np.ndarray]:
    """For each output time k/fps yield the latest source frame with time <= t.

    ``timed`` yields (time, frame) pairs in presentation order, times relative to the first frame
    (the first one is 0). ``period`` is the duration of one source frame, used to end the output
    at the end of the last source frame.
    """
    k = 0
    prev: np.ndarray | None = None
    prev_t = Fraction(0)
    for t, frame in timed:
        while prev is not None and Fraction(k) / fps < t:
            yield prev
            k += 1
        prev, prev_t = frame, t
    if prev is None:
        return
    end = prev_t + period
    while Fraction(k) / fps < end:
        yield prev
        k += 1


def _resampled_count(n: int, src_fps: Fraction, fps: Fraction) -> int:
    return max(1, math.ceil(Fraction(n) / src_fps * fps))


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

    info = VideoInfo(w, h, fps, _resampled_count(n, src_fps, fps), source_bytes)
    return info, _resample(timed(), fps, 1 / src_fps)


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
    return _open_sequence(list(range(arr.shape[0])), lambda i: np.array(arr[i]), str(path),
                          path.stat().st_size, src_fps, fps)


def _open_images(files: list[Path], what: str, fps, src_fps):
    if not files:
        raise VideoError(f"{what}: empty video (no PNG frames found)")
    from PIL import Image

    size = 0
    first_size = None
    for i, f in enumerate(files):  # headers only: sizes are checked before any frame is decoded
        try:
            size += f.stat().st_size
            with Image.open(f) as im:
                wh = im.size
        except Exception as e:
            raise VideoError(f"{f}: not a readable image ({describe_error(e)})") from None
        if first_size is None:
            first_size = wh
        elif wh != first_size:
            raise VideoError(f"{what}: {f.name} is {wh[0]}x{wh[1]}, {files[0].name} is "
                             f"{first_size[0]}x{first_size[1]} (inconsistent sizes)")
    return _open_sequence(files, _read_png, what, size, src_fps, fps)


def _open_av(path: Path, fps: Fraction | None):
    import av

    try:
        container = av.open(str(path), mode="r")
    except av.error.EOFError:
        raise VideoError(f"{path}: empty or truncated video (end of file while reading the header)") from None
    except av.FFmpegError as e:
        raise VideoError(f"{path}: not a video or unreadable ({describe_error(e)})") from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise VideoError(f"{path}: not a video or unreadable ({describe_error(e)})") from None
    try:
        if not container.streams.video:
            raise VideoError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        src_fps = Fraction(rate) if rate else None
        if src_fps is not None and src_fps <= 0:
            src_fps = None
        count: int | None = int(stream.frames) if stream.frames else None
        if count is None:
            dur = None
            if stream.duration is not None and stream.time_base is not None:
                dur = float(stream.duration * stream.time_base)
            elif container.duration:
                dur = container.duration / 1_000_000
            if dur and src_fps:
                count = max(1, round(dur * src_fps))
        decoded = container.decode(stream)

        def next_frame():
            try:
                return next(decoded)
            except StopIteration:
                return None
            except av.FFmpegError as e:
                raise VideoError(f"{path}: decoding failed ({describe_error(e)})") from None
            except (OSError, ValueError, MemoryError) as e:
                raise VideoError(f"{path}: decoding failed ({describe_error(e)})") from None

        def to_rgb(fr) -> np.ndarray:
            try:
                return fr.to_ndarray(format="rgb24")
            except (av.FFmpegError, ValueError) as e:
                raise VideoError(f"{path}: cannot convert frame to RGB ({describe_error(e)})") from None

        first = next_frame()
        if first is None:
            raise VideoError(f"{path}: empty video (no frames)")
    except BaseException:
        container.close()
        raise
    if src_fps is None:
        src_fps = DEFAULT_SEQUENCE_FPS
    w, h = first.width, first.height
    try:
        size = path.stat().st_size
    except OSError:
        size = None

    def timed() -> Iterator[tuple[Fraction, np.ndarray]]:
        try:
            fr = first
            t0: Fraction | None = None
            i = 0
            last = Fraction(-1)
            while fr is not None:
                if fr.pts is not None and fr.time_base is not None:
                    t = Fraction(fr.pts) * Fraction(fr.time_base)
                    if t0 is None:
                        t0 = t
                    t = t - t0
                else:
                    t = Fraction(i) / src_fps
                if t < last:  # a broken timestamp: keep presentation order monotonic
                    t = last
                last = t
                img = to_rgb(fr)
                if img.shape[:2] != (h, w):
                    raise VideoError(f"{path}: frame size changes mid-stream "
                                     f"({w}x{h} -> {img.shape[1]}x{img.shape[0]}), not supported")
                yield t, img
                i += 1
                fr = next_frame()
        finally:
            container.close()

    if fps is None:
        return VideoInfo(w, h, src_fps, count, size), (img for _, img in timed())
    est = _resampled_count(count, src_fps, fps) if count else None
    return VideoInfo(w, h, fps, est, size), _resample(timed(), fps, 1 / src_fps)


def open_video(path: str | Path, *, fps: Fraction | None = None,
               source_fps: Fraction | None = None) -> tuple[VideoInfo, Iterator[np.ndarray]]:
    """Open a video and return ``(info, frames)``; ``frames`` yields uint8 RGB ``(H, W, 3)`` arrays.

    ``fps`` resamples by timestamp (see the module docstring); ``None`` keeps every source frame at
    the source rate. ``source_fps`` is the rate assumed for ``.npy`` and PNG inputs, which carry
    none (default :data:`DEFAULT_SEQUENCE_FPS`); it is ignored for real video files.

    The first frame is decoded here, so unreadable and empty inputs fail at open time. Raises
    :class:`VideoError`.
    """
    fps = None if fps is None else to_fraction(fps)
    seq_fps = DEFAULT_SEQUENCE_FPS if source_fps is None else to_fraction(source_fps)
    try:
        return _open_any(path, fps, seq_fps)
    except OSError as e:  # permissions, vanished files, ...
        raise VideoError(f"{path}: cannot read ({describe_error(e)})") from None


def _open_any(path: str | Path, fps: Fraction | None, seq_fps: Fraction):
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
    if p.stat().st_size == 0:
        raise VideoError(f"{p}: empty file, not a video")
    return _open_av(p, fps)


def probe_frames(path: str | Path) -> int:
    """The exact number of frames, by decoding the whole input (slow for long videos)."""
    _, frames = open_video(path)
    return sum(1 for _ in frames)
