"""Streaming video input and output for the codec CLI and the benchmarks.

Reading (:func:`open_video`) yields uint8 RGB frames ``(H, W, 3)`` one at a time, so memory does not
grow with the length of the video. Accepted inputs:

* anything PyAV/FFmpeg opens (mp4, mkv, avi, webm, mov, y4m, ...): the first video stream;
* a ``.npy`` array ``(T, H, W, 3)`` uint8 (memory-mapped), taken at ``source_fps`` (default 16);
* a folder of PNG frames (sorted by name, numbers compared as numbers), at ``source_fps``;
* a printf pattern such as ``dir/%06d.png`` (every existing file that matches, in numeric order).

The source frame rate and every frame are kept by default. ``fps=`` resamples by timestamp: output
frame ``k`` shows, at time ``t = k / fps``, the latest source frame whose presentation time is
``<= t``; the output covers the source's duration (last frame's time plus one frame period).

Writing (:class:`VideoWriter`) picks the format from the path:

* ``.mp4`` / ``.mkv``: H.264 (libx264) at CRF :data:`MP4_CRF` ("near-lossless"), preset medium,
  ``tune=psnr``, YUV 4:4:4 (BT.601 limited range, tagged) when libx264 offers it, else 4:2:0 with
  odd frame sizes padded to even by edge replication (the file is then one pixel larger);
* ``.y4m``: raw YUV4MPEG2, 4:4:4 (C444), BT.601 limited range — near exact;
* ``.npy``: exact uint8 RGB ``(T, H, W, 3)``;
* a folder (a path without an extension, an existing directory, or one ending in ``/``): exact RGB
  PNG files ``000000.png, 000001.png, ...``; or a printf pattern like ``out/%06d.png`` (numbered
  from 0). In an existing folder, files of the same names are replaced and other files are left
  alone (as FFmpeg does), so write into an empty or new folder.

Everything is written to a temporary sibling and moved into place by :meth:`VideoWriter.close`, so a
failed or abandoned write never leaves a half-written file where the user's output should be.

All failures are reported as :class:`VideoError` (a ``ValueError``) with a one-line message; PyAV
and Pillow exceptions never escape.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .errors import describe_error
from .fsutil import commit_file

__all__ = [
    "VideoError",
    "VideoInfo",
    "open_video",
    "probe_frames",
    "VideoWriter",
    "DEFAULT_SEQUENCE_FPS",
    "MP4_CRF",
    "MP4_PRESET",
]

#: Frame rate assumed for inputs without one (``.npy`` arrays and PNG frames).
DEFAULT_SEQUENCE_FPS = Fraction(16)
#: CRF of the H.264 files written for ``.mp4``/``.mkv`` outputs: near-lossless (visually lossless;
#: PSNR typically well above 40 dB) while still far smaller than raw video.
MP4_CRF = 12
MP4_PRESET = "medium"
#: x264 tuning of those files: ``tune=psnr`` (no psycho-visual trade-offs) because the files are
#: meant to be faithful copies of the frames (e.g. for measuring a decoder's output).
MP4_TUNE = "psnr"

_IMAGE_EXTS = (".png",)
#: Suffixes read as video files when a folder of videos is scanned (PyAV reads each).
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".ogv", ".ogg", ".mpg", ".mpeg",
              ".m4v", ".flv", ".wmv", ".3gp", ".ts", ".y4m"}
_WRITE_VIDEO_EXTS = {".mp4": "mp4", ".mkv": "matroska"}


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


def _to_fraction(x) -> Fraction:
    if isinstance(x, Fraction):
        f = x
    elif isinstance(x, float):
        f = Fraction(x).limit_denominator(1001 * 1000)
    else:
        f = Fraction(x)
    if f <= 0:
        raise VideoError(f"frame rate must be positive, got {x}")
    return f


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _natural_key(name: str):
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name)]


_PRINTF = re.compile(r"%(0?)(\d*)d")


def _is_pattern(path: str) -> bool:
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
    fps = None if fps is None else _to_fraction(fps)
    seq_fps = DEFAULT_SEQUENCE_FPS if source_fps is None else _to_fraction(source_fps)
    try:
        return _open_any(path, fps, seq_fps)
    except OSError as e:  # permissions, vanished files, ...
        raise VideoError(f"{path}: cannot read ({describe_error(e)})") from None


def _open_any(path: str | Path, fps: Fraction | None, seq_fps: Fraction):
    spath = str(path)
    if _is_pattern(spath) and not Path(spath).exists():
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


# ----------------------------------------------------------------------------------------------
# writing


def _h264_pix_fmt() -> str:
    import av

    fmts = {f.name for f in (av.Codec("libx264", "w").video_formats or [])}
    return "yuv444p" if "yuv444p" in fmts else "yuv420p"


class VideoWriter:
    """Write uint8 RGB frames to a video file, an ``.npy`` array or PNG frames (see module doc).

    Use as a context manager: on an exception inside the ``with`` block nothing is written.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: Fraction, *,
                 frame_count: int | None = None, overwrite: bool = True) -> None:
        self.path = Path(path)
        self.overwrite = overwrite          # False: a file that appears at ``path`` meanwhile is kept
        self.width = int(width)
        self.height = int(height)
        if self.width <= 0 or self.height <= 0:
            raise VideoError(f"{path}: bad frame size {width}x{height}")
        self.fps = _to_fraction(fps)
        self.frame_count = None if frame_count is None else int(frame_count)
        self.frames_written = 0
        self._closed = False
        self._failed = False
        self._tmp: Path | None = None  # temporary file or folder
        spath = str(path)
        if _is_pattern(spath):
            self.kind = "png"
            self._pattern = Path(spath).name
            self._target_dir = Path(spath).parent
        elif spath.endswith(("/", os.sep)) or self.path.is_dir() or self.path.suffix == "":
            self.kind = "png"
            self._pattern = "%06d.png"
            self._target_dir = self.path
        else:
            ext = self.path.suffix.lower()
            if ext in _WRITE_VIDEO_EXTS:
                self.kind = "h264"
            elif ext == ".y4m":
                self.kind = "y4m"
            elif ext == ".npy":
                self.kind = "npy"
            else:
                raise VideoError(f"{path}: unsupported output type {ext!r} "
                                 "(use .mp4, .mkv, .y4m, .npy, a folder or a %06d.png pattern)")
        try:
            self._open()
        except VideoError:
            self._cleanup()
            raise
        except Exception as e:  # PyAV / OS errors
            self._cleanup()
            raise VideoError(f"{path}: cannot open for writing ({describe_error(e)})") from None

    # -- set up -----------------------------------------------------------------------------
    def _tmp_sibling(self, target: Path, *, folder: bool) -> Path:
        parent = target.parent if str(target.parent) else Path(".")
        if not parent.is_dir():
            raise VideoError(f"{target}: folder {str(parent)!r} does not exist")
        prefix = f".{target.name}.tmp-"
        if folder:
            name = tempfile.mkdtemp(prefix=prefix, dir=parent)
            os.chmod(name, 0o777 & ~_umask())
            return Path(name)
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=target.suffix, dir=parent)
        os.close(fd)
        os.chmod(name, 0o666 & ~_umask())
        return Path(name)

    def _open(self) -> None:
        if self.kind == "png":
            target = self._target_dir
            if target.exists() and not target.is_dir():
                raise VideoError(f"{target}: exists and is not a folder")
            if target.is_dir():  # an existing folder: stage inside it (hidden), move files in at close
                self._tmp = Path(tempfile.mkdtemp(prefix=".vqv-tmp-", dir=target))
                os.chmod(self._tmp, 0o777 & ~_umask())
            else:
                self._tmp = self._tmp_sibling(target.absolute(), folder=True)
        elif self.kind == "npy":
            if self.path.is_dir():
                raise VideoError(f"{self.path}: is a folder")
            self._tmp = self._tmp_sibling(self.path, folder=False)
            if self.frame_count is not None:
                if self.frame_count <= 0:
                    raise VideoError(f"{self.path}: frame_count must be positive")
                self._mm = np.lib.format.open_memmap(
                    self._tmp, mode="w+", dtype=np.uint8,
                    shape=(self.frame_count, self.height, self.width, 3))
                self._raw = None
            else:
                self._mm = None
                self._raw = open(str(self._tmp) + ".raw", "wb")
        elif self.kind == "y4m":
            self._tmp = self._tmp_sibling(self.path, folder=False)
            self._open_av("yuv4mpegpipe", "rawvideo", "yuv444p", {})
        else:  # h264
            import av

            self._tmp = self._tmp_sibling(self.path, folder=False)
            pix = _h264_pix_fmt()
            opts = {"crf": str(MP4_CRF), "preset": MP4_PRESET, "tune": MP4_TUNE}
            self._open_av(_WRITE_VIDEO_EXTS[self.path.suffix.lower()], "libx264", pix, opts)

    def _open_av(self, fmt: str, codec: str, pix: str, options: dict) -> None:
        import av

        copts = {"movflags": "+faststart"} if fmt == "mp4" else {}
        self._container = av.open(str(self._tmp), mode="w", format=fmt, options=copts)
        stream = self._container.add_stream(codec, rate=self.fps)
        self._pad = (0, 0)
        if pix == "yuv420p":
            self._pad = (self.height % 2, self.width % 2)
        stream.width = self.width + self._pad[1]
        stream.height = self.height + self._pad[0]
        stream.pix_fmt = pix
        if options:
            stream.options = options
        cc = stream.codec_context
        # tag what the RGB->YUV conversion below does: BT.601 matrix, limited ("tv") range
        for attr, val in (("colorspace", 6), ("color_range", 1), ("color_primaries", 6), ("color_trc", 6)):
            try:
                setattr(cc, attr, val)
            except Exception:
                pass
        self._stream = stream
        self._pix = pix

    # -- writing ----------------------------------------------------------------------------
    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 RGB frame of shape ``(height, width, 3)``."""
        if self._closed:
            raise VideoError(f"{self.path}: writer is closed")
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.shape != (self.height, self.width, 3):
            self._failed = True
            raise VideoError(f"{self.path}: expected a uint8 frame of shape "
                             f"{(self.height, self.width, 3)}, got {frame.dtype} {frame.shape}")
        if self.frame_count is not None and self.frames_written >= self.frame_count:
            self._failed = True
            raise VideoError(f"{self.path}: more frames than the declared frame_count {self.frame_count}")
        try:
            self._write(frame)
        except VideoError:
            self._failed = True
            raise
        except Exception as e:
            self._failed = True
            raise VideoError(f"{self.path}: write failed ({describe_error(e)})") from None
        self.frames_written += 1

    def _write(self, frame: np.ndarray) -> None:
        i = self.frames_written
        if self.kind == "png":
            from PIL import Image

            Image.fromarray(np.ascontiguousarray(frame), "RGB").save(
                self._tmp / (self._pattern % i), format="PNG", compress_level=4)
        elif self.kind == "npy":
            if self._mm is not None:
                self._mm[i] = frame
            else:
                self._raw.write(np.ascontiguousarray(frame).tobytes())
        else:
            import av

            if self._pad != (0, 0):
                frame = np.pad(frame, ((0, self._pad[0]), (0, self._pad[1]), (0, 0)), mode="edge")
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            vf = vf.reformat(format=self._pix, dst_colorspace="ITU601", dst_color_range="MPEG")
            vf.pts = i
            for pkt in self._stream.encode(vf):
                self._container.mux(pkt)

    # -- finishing --------------------------------------------------------------------------
    def close(self) -> None:
        """Finish the output and move it into place. Raises :class:`VideoError` on failure."""
        if self._closed:
            return
        if self._failed:
            self.abort()
            raise VideoError(f"{self.path}: not written (an earlier write failed)")
        try:
            if self.frames_written == 0:
                raise VideoError(f"{self.path}: no frames written")
            if self.kind == "png":
                self._finish_png()
            elif self.kind == "npy":
                self._finish_npy()
            else:
                for pkt in self._stream.encode(None):
                    self._container.mux(pkt)
                self._container.close()
                self._container = None
                commit_file(self._tmp, self.path, overwrite=self.overwrite)
                self._tmp = None
        except VideoError:
            self.abort()
            raise
        except Exception as e:
            self.abort()
            raise VideoError(f"{self.path}: cannot finish writing ({describe_error(e)})") from None
        self._closed = True

    def _finish_npy(self) -> None:
        if self._mm is not None:
            if self.frames_written != self.frame_count:
                raise VideoError(f"{self.path}: {self.frames_written} frames written, "
                                 f"frame_count said {self.frame_count}")
            self._mm.flush()
            del self._mm
            self._mm = None
        else:
            self._raw.close()
            raw = Path(str(self._tmp) + ".raw")
            shape = (self.frames_written, self.height, self.width, 3)
            with open(self._tmp, "wb") as out, open(raw, "rb") as src:
                np.lib.format.write_array_header_1_0(
                    out, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
                          "fortran_order": False, "shape": shape})
                shutil.copyfileobj(src, out, 1 << 20)
            raw.unlink()
            self._raw = None
        commit_file(self._tmp, self.path, overwrite=self.overwrite)
        self._tmp = None

    def _finish_png(self) -> None:
        target = self._target_dir
        if not target.exists():
            os.replace(self._tmp, target)
        else:
            for name in sorted(os.listdir(self._tmp)):
                os.replace(self._tmp / name, target / name)
            os.rmdir(self._tmp)
        self._tmp = None

    def abort(self) -> None:
        """Drop everything written so far; the destination is left untouched."""
        self._closed = True
        self._cleanup()

    def _cleanup(self) -> None:
        c = getattr(self, "_container", None)
        if c is not None:
            try:
                c.close()
            except Exception:
                pass
            self._container = None
        if getattr(self, "_mm", None) is not None:
            try:
                del self._mm
            except Exception:
                pass
            self._mm = None
        raw = getattr(self, "_raw", None)
        if raw is not None:
            try:
                raw.close()
            except Exception:
                pass
            try:
                os.unlink(str(self._tmp) + ".raw")
            except OSError:
                pass
            self._raw = None
        tmp = self._tmp
        self._tmp = None
        if tmp is not None:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                try:
                    tmp.unlink()
                except OSError:
                    pass

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:  # an abandoned writer leaves no temporary behind
        try:
            if not self._closed:
                self._cleanup()
        except Exception:
            pass
