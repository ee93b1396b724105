"""Writing uint8 RGB frames: video files, ``.npy`` arrays and PNG frames.

:class:`VideoWriter` picks the format from the path:

* ``.mp4`` / ``.mkv``: H.264 (libx264) at CRF :data:`MP4_CRF` ("near-lossless"), preset medium,
  ``tune=psnr``, BT.601 limited range (tagged), YUV 4:2:0 by default (``pix_fmt``, :data:`PIX_FMTS`:
  High profile 4:2:0 is what browsers and hardware decoders play; ``"yuv444p"`` keeps full chroma, High
  4:4:4 Predictive, which they do not) with odd frame sizes padded to even by edge replication (the
  file is then one pixel larger); with ``audio`` (a :class:`~vqcodec.formats.audio.AudioTrack`) also
  that track, its packets copied as they are (:mod:`vqcodec.io.audio`; other outputs say in one
  warning that they have no audio);
* ``.y4m``: raw YUV4MPEG2, 4:4:4 (C444), BT.601 limited range — near exact;
* ``.npy``: exact uint8 RGB ``(T, H, W, 3)``;
* a folder (a path without an extension, an existing directory, or one ending in ``/``): exact RGB
  PNG files ``000000.png, 000001.png, ...``; or a printf pattern like ``out/%06d.png`` (numbered
  from 0). Other files in an existing folder are left alone. A frame file of the same name as one
  this write creates is refused (before any frame is written when the frame count is known) unless
  ``overwrite=True``, which replaces it;
* a binary stream (standard output, a pipe) in place of a path: YUV4MPEG2 as for ``.y4m``, written as
  the frames come (``vqv decode x.vqv - | ffmpeg -i - out.mkv``); what was written stays written.

Everything is written to a temporary (a hidden sibling, or a hidden folder inside an existing target
folder) and moved into place by :meth:`VideoWriter.close`, so a failed or abandoned write never leaves
a half-written file where the user's output should be. With ``overwrite=False`` a file that appears
at the output meanwhile is kept and the write fails. A write killed outright (SIGKILL) leaves its
temporary, named after its process, for the next writer in that folder to remove
(:func:`~vqcodec.io.files.sweep_stale_temps`). An ``.npy`` output of known frame count reserves its disk
space up front, so a full disk fails at the start with one line.

Failures are :class:`~vqcodec.io.reader.VideoError` with a one-line message; an output type this
writer does not know is an :class:`OutputTypeError` (also an option error: a usage mistake).
"""
from __future__ import annotations

import errno
import io
import math
import os
import re
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np

from vqcodec.errors import OptionError, describe_error
from vqcodec.io.audio import open_audio
from vqcodec.io.files import commit_file, holding_stops, make_temp
from vqcodec.io.reader import VideoError, is_frame_pattern, to_fraction
from vqcodec.io.streams import display_name, is_stream

__all__ = ["MP4_CRF", "MP4_PRESET", "MP4_TUNE", "PIX_FMTS", "OutputTypeError", "VideoWriter", "check_pix_fmt",
           "output_kind"]

#: CRF of the H.264 files written for ``.mp4``/``.mkv`` outputs: near-lossless (visually lossless;
#: PSNR typically well above 40 dB) while still far smaller than raw video.
MP4_CRF = 12
MP4_PRESET = "medium"
#: x264 tuning of those files: ``tune=psnr`` (no psycho-visual trade-offs) because the files are
#: meant to be faithful copies of the frames (e.g. for measuring a decoder's output).
MP4_TUNE = "psnr"
#: pixel formats of ``.mp4``/``.mkv`` outputs, the default first (docs/DESIGN.md, "Decoded video files")
PIX_FMTS = ("yuv420p", "yuv444p")
_WRITE_VIDEO_EXTS = {".mp4": "mp4", ".mkv": "matroska"}


class OutputTypeError(VideoError, OptionError):
    """An output path of a type the writer does not write (a usage mistake, exit status 2)."""


def output_kind(path) -> str:
    """What :class:`VideoWriter` writes to ``path``: ``"png"`` (frames in a folder or a pattern), ``"h264"``,
    ``"y4m"`` or ``"npy"``; a stream is ``"y4m"``. Raises :class:`OutputTypeError` for other types."""
    if is_stream(path):
        return "y4m"
    spath = str(path)
    p = Path(path)
    if is_frame_pattern(spath):
        check_frame_pattern(p.name, spath)
    if is_frame_pattern(spath) or spath.endswith(("/", os.sep)) or p.is_dir() or p.suffix == "":
        return "png"
    ext = p.suffix.lower()
    if ext in _WRITE_VIDEO_EXTS:
        return "h264"
    if ext in (".y4m", ".npy"):
        return ext[1:]
    raise OutputTypeError(f"{path}: unsupported output type {ext!r} "
                          "(use .mp4, .mkv, .y4m, .npy, a folder, a %06d.png pattern or - for y4m on stdout)")


#: the widest %d field of a PNG frame pattern, and the longest frame file name (NAME_MAX of Linux file
#: systems): checked before anything is written (``%2000000000d`` made 2 GB names, 6 GB of memory)
MAX_PATTERN_WIDTH = 32
MAX_NAME_BYTES = 255
_FIELD = re.compile(r"%0?(\d*)d")


def check_frame_pattern(name: str, path: str) -> None:
    """A frame pattern's file ``name`` (``%06d.png``) must number frames with one narrow %d field and give
    names the file system takes; else an :class:`OutputTypeError` (a usage mistake) naming ``path``."""
    width = _FIELD.search(name).group(1)
    if len(width) > 2 or int(width or 0) > MAX_PATTERN_WIDTH:
        raise OutputTypeError(f"{path}: the %d field of a frame pattern is at most {MAX_PATTERN_WIDTH} wide")
    try:
        longest = name % (10 ** 10 - 1)
    except (TypeError, ValueError):
        raise OutputTypeError(f"{path}: a frame pattern has one %d field and no other % (write %% for %)") from None
    if len(os.fsencode(longest)) > MAX_NAME_BYTES:
        raise OutputTypeError(f"{path}: frame file names would be longer than {MAX_NAME_BYTES} bytes")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_pix_fmt(pix_fmt: str | None, kind: str) -> None:
    """``pix_fmt`` (None: the default) for an output of ``kind``; a wrong one is an option error."""
    if pix_fmt is not None and pix_fmt not in PIX_FMTS:
        raise OptionError(f"unknown pixel format {pix_fmt!r} (choose from {', '.join(PIX_FMTS)})")
    if pix_fmt is not None and kind != "h264":
        what = {"y4m": "a .y4m output (always 4:4:4)", "npy": "an .npy output (RGB)"}.get(kind, "PNG frames (RGB)")
        raise OptionError(f"a pixel format (--pix-fmt) is for .mp4/.mkv outputs, not {what}")


def _h264_pix_fmt(requested: str | None = None) -> str:
    import av

    pix = requested or PIX_FMTS[0]
    if pix not in {f.name for f in (av.Codec("libx264", "w").video_formats or [])}:
        raise VideoError(f"this FFmpeg's libx264 cannot write {pix}")
    return pix


def _make_temp(parent: Path, label: str = "", *, suffix: str = "", folder: bool) -> Path:
    """A vqv temporary file (folder) in ``parent`` with the permissions of a new one under the umask."""
    tmp = make_temp(parent, label, suffix=suffix, directory=folder)
    os.chmod(tmp, (0o777 if folder else 0o666) & ~_umask())
    return tmp


def _npy_header(frames: int, height: int, width: int) -> bytes:
    """The ``.npy`` (version 1.0) header of a uint8 ``(frames, height, width, 3)`` array."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
                                               "fortran_order": False, "shape": (frames, height, width, 3)})
    return buf.getvalue()


class VideoWriter:
    """Write uint8 RGB frames to a video file, an ``.npy`` array or PNG frames (see module doc).

    Use as a context manager: on an exception inside the ``with`` block nothing is written.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: Fraction, *,
                 frame_count: int | None = None, overwrite: bool = True, pix_fmt: str | None = None,
                 audio=None) -> None:
        self._out_stream = path if is_stream(path) else None
        self.path = Path(display_name(path, "<stdout>"))
        self.overwrite = overwrite          # False: existing frame files and a file that appears meanwhile are kept
        self.width = int(width)
        self.height = int(height)
        if self.width <= 0 or self.height <= 0:
            raise VideoError(f"{self.path}: bad frame size {width}x{height}")
        self.fps = to_fraction(fps)
        self.frame_count = None if frame_count is None else int(frame_count)
        self.frames_written = 0
        self._closed = False
        self._failed = False
        self._tmp: Path | None = None  # temporary file or folder
        self.kind = output_kind(path)
        check_pix_fmt(pix_fmt, self.kind)
        self.pix_fmt, self._audio_track = pix_fmt, audio
        self._audio, self.audio_status = None, None    # the AudioMux; what the report says of the track
        if self.kind == "png":
            spath = str(path)
            pattern = is_frame_pattern(spath)
            self._pattern = Path(spath).name if pattern else "%06d.png"
            self._target_dir = Path(spath).parent if pattern else self.path
        try:
            self._open()
        except VideoError:
            self._cleanup()
            raise
        except Exception as e:  # PyAV / OS errors
            self._cleanup()
            raise VideoError(f"{self.path}: cannot open for writing ({describe_error(e)})") from None
        except BaseException:   # a stop signal: no writer is returned, so nothing of it may stay
            self._cleanup()
            raise

    # -- set up -----------------------------------------------------------------------------
    def _stage(self, parent: Path, label: str = "", *, suffix: str = "", folder: bool) -> None:
        """Make the temporary file (folder) this writer fills, and own it at once (a stop signal waits
        for that: ``holding_stops``), so that ``_cleanup`` removes it whenever the writer is stopped."""
        with holding_stops():
            self._tmp = _make_temp(parent, label, suffix=suffix, folder=folder)

    def _stage_sibling(self, target: Path, *, folder: bool) -> None:
        parent = target.parent if str(target.parent) else Path(".")
        if not parent.is_dir():
            raise VideoError(f"{target}: folder {str(parent)!r} does not exist")
        self._stage(parent, target.name, suffix="" if folder else target.suffix, folder=folder)

    def _open(self) -> None:
        if self.kind == "png":
            target = self._target_dir
            if target.exists() and not target.is_dir():
                raise VideoError(f"{target}: exists and is not a folder")
            self._existing = set(os.listdir(target)) if target.is_dir() and not self.overwrite else set()
            if self._existing and self.frame_count is not None:   # refuse before writing anything
                for i in range(self.frame_count):
                    self._check_frame_name(self._pattern % i)
            if target.is_dir():  # an existing folder: stage inside it (hidden, same file system)
                self._stage(target, folder=True)
            else:
                self._stage_sibling(target.absolute(), folder=True)
        elif self.kind == "npy":
            if self.path.is_dir():
                raise VideoError(f"{self.path}: is a folder")
            if self.frame_count is not None and self.frame_count <= 0:
                raise VideoError(f"{self.path}: frame_count must be positive")
            self._stage_sibling(self.path, folder=False)
            # plain writes, not a memory map: on a full disk a write fails with ENOSPC, while a store
            # into a sparse memory map kills the process with SIGBUS
            self._npy = open(self._tmp, "r+b")
            self._npy_header = _npy_header(self.frame_count or 0, self.height, self.width)
            self._npy.write(self._npy_header)
            if self.frame_count is not None:
                self._reserve(len(self._npy_header) + self.frame_count * self.height * self.width * 3)
        elif self.kind == "y4m":
            if self._out_stream is None:
                self._stage_sibling(self.path, folder=False)
            self._open_av("yuv4mpegpipe", "rawvideo", "yuv444p", {})
        else:  # h264
            self._stage_sibling(self.path, folder=False)
            pix = _h264_pix_fmt(self.pix_fmt)
            opts = {"crf": str(MP4_CRF), "preset": MP4_PRESET, "tune": MP4_TUNE}
            self._open_av(_WRITE_VIDEO_EXTS[self.path.suffix.lower()], "libx264", pix, opts)
        self._audio, self.audio_status = open_audio(getattr(self, "_container", None), self._audio_track,
                                                    self.kind, self.path)

    def _check_frame_name(self, name: str) -> None:
        if name in self._existing:
            raise VideoError(f"{self._target_dir / name} exists (use -y or -f to overwrite it)")

    def _reserve(self, nbytes: int) -> None:
        """Allocate the whole ``.npy`` now: a full disk is one line at the start, not a late failure."""
        if not hasattr(os, "posix_fallocate"):
            return
        try:
            os.posix_fallocate(self._npy.fileno(), 0, nbytes)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise VideoError(f"{self.path}: no space left on device ({describe_error(e)}); "
                                 f"the output needs {math.ceil(nbytes / 1e6)} MB") from None
            # the file system cannot reserve (EOPNOTSUPP, EINVAL...): writes still fail cleanly if full

    def _open_av(self, fmt: str, codec: str, pix: str, options: dict) -> None:
        import av

        copts = {"movflags": "+faststart"} if fmt == "mp4" else {}
        target = self._out_stream if self._out_stream is not None else str(self._tmp)
        self._container = av.open(target, mode="w", format=fmt, options=copts)
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

            name = self._pattern % i
            self._check_frame_name(name)
            Image.fromarray(np.ascontiguousarray(frame), "RGB").save(
                self._tmp / name, format="PNG", compress_level=4)
        elif self.kind == "npy":
            self._npy.write(np.ascontiguousarray(frame).data)
        else:
            import av

            if self._pad != (0, 0):
                frame = np.pad(frame, ((0, self._pad[0]), (0, self._pad[1]), (0, 0)), mode="edge")
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            vf = vf.reformat(format=self._pix, dst_colorspace="ITU601", dst_color_range="MPEG")
            vf.pts = i
            if self._audio is not None:             # the audio that starts before this frame
                self._audio.mux_until(i / self.fps)
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
                if self._audio is not None:
                    self._audio.mux_until(None)
                self._container.close()
                self._container = None
                if self._out_stream is not None:
                    self._out_stream.flush()
                else:
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
        if self.frame_count is not None and self.frames_written != self.frame_count:
            raise VideoError(f"{self.path}: {self.frames_written} frames written, "
                             f"frame_count said {self.frame_count}")
        header = _npy_header(self.frames_written, self.height, self.width)
        if len(header) != len(self._npy_header):  # numpy >= 1.24 pads headers for this rewrite
            raise VideoError(f"{self.path}: cannot finish the .npy header")
        self._npy.seek(0)
        self._npy.write(header)
        self._npy.close()
        self._npy = None
        commit_file(self._tmp, self.path, overwrite=self.overwrite)
        self._tmp = None

    def _finish_png(self) -> None:
        target = self._target_dir
        if not target.exists():
            try:
                os.rename(self._tmp, target)   # the whole folder appears at once
                self._tmp = None
                return
            except OSError:
                if not target.is_dir():
                    raise
                # the folder was created meanwhile: move the frames in one by one
        moved = []
        try:
            for name in sorted(os.listdir(self._tmp)):
                commit_file(self._tmp / name, target / name, overwrite=self.overwrite)
                moved.append(name)
        except BaseException:     # a frame file appeared meanwhile, or a signal: take back ours
            for name in moved:
                (target / name).unlink(missing_ok=True)
            raise
        os.rmdir(self._tmp)
        self._tmp = None

    def abort(self) -> None:
        """Drop everything written so far; the destination is left untouched."""
        self._closed = True
        self._cleanup()

    def _cleanup(self) -> None:
        # PyAV raises its own errors on close of a broken stream; a file only OSError
        for attr, errors in (("_container", Exception), ("_npy", OSError)):
            handle = getattr(self, attr, None)
            if handle is not None:
                try:
                    handle.close()
                except errors:
                    pass
                setattr(self, attr, None)
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
            return
        try:
            self.close()
        except BaseException:       # a signal while finishing (close() itself handles errors)
            self.abort()
            raise

    def __del__(self) -> None:  # an abandoned writer leaves no temporary behind
        try:
            if not self._closed:
                self._cleanup()
        except Exception:
            pass
