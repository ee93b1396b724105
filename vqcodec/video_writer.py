"""Writing uint8 RGB frames: video files, ``.npy`` arrays and PNG frames.

:class:`VideoWriter` picks the format from the path:

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

Failures are :class:`~vqcodec.video_io.VideoError` with a one-line message.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import describe_error
from .fsutil import commit_file
from .video_io import VideoError, is_frame_pattern, to_fraction

__all__ = ["VideoWriter", "MP4_CRF", "MP4_PRESET", "MP4_TUNE"]

#: CRF of the H.264 files written for ``.mp4``/``.mkv`` outputs: near-lossless (visually lossless;
#: PSNR typically well above 40 dB) while still far smaller than raw video.
MP4_CRF = 12
MP4_PRESET = "medium"
#: x264 tuning of those files: ``tune=psnr`` (no psycho-visual trade-offs) because the files are
#: meant to be faithful copies of the frames (e.g. for measuring a decoder's output).
MP4_TUNE = "psnr"
_WRITE_VIDEO_EXTS = {".mp4": "mp4", ".mkv": "matroska"}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
        self.fps = to_fraction(fps)
        self.frame_count = None if frame_count is None else int(frame_count)
        self.frames_written = 0
        self._closed = False
        self._failed = False
        self._tmp: Path | None = None  # temporary file or folder
        spath = str(path)
        if is_frame_pattern(spath):
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
