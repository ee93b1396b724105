"""Training / evaluation clips for vqv.

Frames are uint8 RGB.  Every source video is decoded ONCE (PyAV) into a cache file
``<cache_dir>/<sha256>_<fps>_<short side>.npy`` holding uint8 ``(T, H, W, 3)``, later opened
with ``np.load(mmap_mode="r")``.  While decoding, the video is

* resampled to the target frame rate by timestamp: output frame ``k`` (time ``t = k / fps``)
  is the latest source frame with ``pts <= t`` (times relative to the first frame); the last
  source frame lasts for the median frame interval.  When timestamps are missing, repeated or
  non-increasing (e.g. AVI files with packed B-frames), decoding restarts in constant-rate
  mode (frame ``i`` at ``i / average_rate``);
* corrected for non-square pixels (sample aspect ratio) and resized with an antialiased
  bicubic filter (PIL) so that its short side is ``ClipSpec.cache_short_side`` (default
  ``ceil(1.5 * size)``, i.e. 96 for 64-px clips).

``.npy`` sources (uint8 ``(T, H, W, 3)``, e.g. the corpus stills) are taken to be already at
the target frame rate; only their spatial size is normalised (also cached).

Cache files are written to a temporary name and ``os.replace``-d into place, and a per-file
lock (``O_EXCL``) lets several processes (DDP ranks) share the work of building the cache:
each decodes the files nobody else is decoding and then waits for the rest.

Short videos: a clip that would run past the end of its video (or of its split range) is
padded by repeating the last frame -- both in training and in evaluation (never looped).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import socket
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from .fsutil import atomic_path, sha256_file
from .video_io import VIDEO_EXTS

__all__ = [
    "DataError",
    "ClipSpec",
    "VideoSource",
    "VideoClipDataset",
    "build_dataset",
    "list_sources",
    "decode_video",
    "resample_indices",
    "FrameCache",
    "measure_loader",
    "VIDEO_EXTS",
]

log = logging.getLogger(__name__)


MAX_GAP_SECONDS = 30  # a pts jump larger than this is treated as a broken timestamp


class DataError(ValueError):
    """Bad data spec, missing directory, no videos, unreadable video ... (one-line message)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


@dataclass
class ClipSpec:
    frames: int = 32
    size: int = 64
    fps: float = 16.0
    short_side: int = 0                       # cache short side; 0 = auto, ceil(1.5 * size)
    scale_range: tuple[float, float] = (0.6, 1.0)  # train crop side, as a fraction of the short side

    @property
    def cache_short_side(self) -> int:
        return int(self.short_side) if self.short_side else int(math.ceil(1.5 * self.size))


@dataclass
class VideoSource:
    path: Path
    name: str                                   # display name (relative path)
    ranges: list[tuple[float, float]] = field(default_factory=lambda: [(0.0, 1.0)])
    kind: str = "video"                         # "video" (decoded with PyAV) or "frames" (.npy)
    sha256: str | None = None                   # known content hash (skips hashing)


# --------------------------------------------------------------------------------------------
# Timestamp resampling
# --------------------------------------------------------------------------------------------


class _Resampler:
    """Streaming "latest source frame with time <= k / fps" selection.

    Feed source frame times in increasing order with :meth:`advance`; each call returns how
    many output frames the *previous* source frame covers (the outputs with time in
    ``[t_prev, t)``).  :meth:`finish` closes the last frame, which lasts for the median source
    frame interval (or ``default_duration`` for a single frame).
    """

    def __init__(self, fps: float) -> None:
        self.fps = Fraction(fps).limit_denominator(1_000_000)
        self.k = 0
        self.prev_t: Fraction | None = None
        self.gaps: list[Fraction] = []

    def _until(self, t_end: Fraction) -> int:
        n = 0
        while Fraction(self.k) / self.fps < t_end:
            self.k += 1
            n += 1
        return n

    def advance(self, t: Fraction) -> int:
        n = 0
        if self.prev_t is not None:
            self.gaps.append(t - self.prev_t)
            n = self._until(t)
        self.prev_t = t
        return n

    def finish(self, default_duration: Fraction) -> int:
        if self.prev_t is None:
            return 0
        d = sorted(self.gaps)[len(self.gaps) // 2] if self.gaps else default_duration
        n = self._until(self.prev_t + d)
        if self.k == 0:  # always at least one output frame
            self.k, n = 1, 1
        return n


def resample_indices(times: Sequence[float | Fraction], fps: float,
                     default_duration: float | Fraction | None = None) -> list[int]:
    """Source frame index chosen for each output frame (pure version of the decoder's rule)."""
    rs = _Resampler(fps)
    out: list[int] = []
    t0 = Fraction(times[0]) if len(times) else Fraction(0)
    for i, t in enumerate(times):
        n = rs.advance(Fraction(t) - t0)
        out += [i - 1] * n
    if default_duration is None:
        default_duration = Fraction(1) / rs.fps
    out += [len(times) - 1] * rs.finish(Fraction(default_duration))
    return out


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


class _BrokenTimestamps(Exception):
    pass


def _target_size(w: int, h: int, sar, short: int) -> tuple[int, int]:
    """(width, height) with the short side == ``short`` after pixel-aspect correction."""
    try:
        s = float(sar) if sar else 1.0
    except (TypeError, ZeroDivisionError):
        s = 1.0
    if not (0.2 < s < 5.0):
        s = 1.0
    dw = w * s
    if dw >= h:
        return max(short, int(round(dw * short / h))), short
    return short, max(short, int(round(h * short / dw)))


def _resize_rgb(img: np.ndarray, wh: tuple[int, int]) -> np.ndarray:
    from PIL import Image
    if img.shape[1] == wh[0] and img.shape[0] == wh[1]:
        return np.ascontiguousarray(img)
    return np.asarray(Image.fromarray(img).resize(wh, Image.Resampling.BICUBIC))


def _src_rate(stream) -> Fraction | None:
    for name in ("average_rate", "guessed_rate", "base_rate"):
        try:
            r = getattr(stream, name)
        except Exception:  # noqa: BLE001
            r = None
        if r and 0 < r < 2000:
            return Fraction(r)
    return None


def decode_video(path: Path | str, fps: float, short_side: int) -> np.ndarray:
    """Decode ``path`` to uint8 (T, H, W, 3) at ``fps`` with short side ``short_side``.

    Timestamp-based resampling, with a constant-rate fallback when timestamps are broken.
    Raises :class:`DataError` if the file cannot be opened or has no decodable frame.
    """
    path = Path(path)
    try:
        return _decode(path, fps, short_side, use_pts=True)
    except _BrokenTimestamps:
        log.info("%s: broken timestamps, using constant-rate resampling", path)
        return _decode(path, fps, short_side, use_pts=False)


def _decode(path: Path, fps: float, short: int, *, use_pts: bool) -> np.ndarray:
    import av

    try:
        container = av.open(str(path))
    except Exception as e:  # noqa: BLE001
        raise DataError(f"unreadable video {path}: {e}") from e
    try:
        if not container.streams.video:
            raise DataError(f"unreadable video {path}: no video stream")
        stream = container.streams.video[0]
        try:
            stream.codec_context.thread_count = 1
        except Exception:  # noqa: BLE001
            pass
        rate = _src_rate(stream)
        rs = _Resampler(fps)
        out: list[np.ndarray] = []
        wh: tuple[int, int] | None = None
        prev = None
        first_pts = last_pts = None
        i = 0

        def emit(frame, n: int) -> None:
            nonlocal wh
            if n <= 0:
                return
            if wh is None:
                sar = getattr(frame, "sample_aspect_ratio", None) or stream.sample_aspect_ratio
                wh = _target_size(frame.width, frame.height, sar, short)
            img = _resize_rgb(frame.to_ndarray(format="rgb24"), wh)
            out.extend([img] * n)

        try:
            for frame in container.decode(stream):
                if use_pts:
                    pts = frame.pts
                    tb = frame.time_base or stream.time_base
                    if pts is None or not tb:
                        raise _BrokenTimestamps
                    if first_pts is None:
                        first_pts = pts
                    elif pts <= last_pts or (pts - last_pts) * tb > MAX_GAP_SECONDS:
                        raise _BrokenTimestamps
                    last_pts = pts
                    t = Fraction(pts - first_pts) * Fraction(tb)
                else:
                    t = Fraction(i) / (rate or Fraction(fps).limit_denominator(1_000_000))
                emit(prev, rs.advance(t))
                prev = frame
                i += 1
        except (_BrokenTimestamps, DataError):
            raise
        except Exception as e:  # noqa: BLE001  (corrupt data mid-stream: keep what decoded)
            if prev is None:
                raise DataError(f"unreadable video {path}: {e}") from e
            log.warning("%s: decoding stopped after %d frames: %s", path, i, e)
        if prev is None:
            raise DataError(f"unreadable video {path}: no decodable frames")
        default = Fraction(1) / rate if rate else Fraction(1) / rs.fps
        emit(prev, rs.finish(default))
    finally:
        container.close()
    return np.stack(out)


def _load_frames_npy(path: Path, short: int) -> np.ndarray:
    try:
        a = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as e:  # noqa: BLE001
        raise DataError(f"unreadable array {path}: {e}") from e
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4 or a.shape[-1] not in (1, 3, 4) or a.dtype != np.uint8 or a.shape[0] == 0:
        raise DataError(f"{path}: expected a uint8 (T, H, W, 3) array, got {a.dtype} {a.shape}")
    wh = _target_size(a.shape[2], a.shape[1], 1, short)
    out = np.empty((a.shape[0], wh[1], wh[0], 3), np.uint8)
    for t in range(a.shape[0]):
        fr = np.asarray(a[t])
        fr = np.repeat(fr, 3, axis=2) if fr.shape[2] == 1 else fr[..., :3]
        out[t] = _resize_rgb(np.ascontiguousarray(fr), wh)
    return out


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------


def _atomic_save_npy(final: Path, arr: np.ndarray) -> None:
    with atomic_path(final) as tmp, open(tmp, "wb") as f:
        np.save(f, arr, allow_pickle=False)


def _try_lock(lock: Path) -> bool:
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(f"{socket.gethostname()} {os.getpid()}\n")
    return True


def _lock_is_stale(lock: Path, max_age: float = 3600.0) -> bool:
    try:
        owner = lock.read_text().split()
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if len(owner) == 2 and owner[0] == socket.gethostname():
        try:
            os.kill(int(owner[1]), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, ValueError):
            pass
        else:
            return False
    return age > max_age


class FrameCache:
    """Decoded-frame cache in ``cache_dir`` (see module docstring)."""

    INDEX = "sha_index.json"

    def __init__(self, cache_dir: Path | str) -> None:
        self.dir = Path(cache_dir)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DataError(f"cannot create cache dir {self.dir}: {e}") from e
        self._index: dict[str, str] = self._read_index()
        self._index_dirty = False
        self.decoded = 0  # files decoded by this object (the rest came from the cache)

    def _read_index(self) -> dict[str, str]:
        try:
            return dict(json.loads((self.dir / self.INDEX).read_text()))
        except Exception:  # noqa: BLE001
            return {}

    def _save_index(self) -> None:
        if not self._index_dirty:
            return
        merged = self._read_index()
        merged.update(self._index)
        p = self.dir / self.INDEX
        fd, tmp = tempfile.mkstemp(prefix="." + p.name + ".", suffix=".tmp", dir=self.dir)
        with os.fdopen(fd, "w") as f:
            json.dump(merged, f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
        self._index_dirty = False

    def sha(self, path: Path) -> str:
        """Content SHA-256, memoised by (absolute path, size, mtime)."""
        st = path.stat()
        key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        h = self._index.get(key)
        if h is None:
            h = sha256_file(path)
            self._index[key] = h
            self._index_dirty = True
        return h

    def path_for(self, sha: str, kind: str, fps: float, short: int) -> Path:
        tag = "npy" if kind == "frames" else f"{fps:g}"
        return self.dir / f"{sha}_{tag}_{short}.npy"

    def _produce(self, src: VideoSource, fps: float, short: int) -> np.ndarray:
        self.decoded += 1
        if src.kind == "frames":
            return _load_frames_npy(src.path, short)
        return decode_video(src.path, fps, short)

    def _produce_locked(self, final: Path, src: VideoSource, fps: float, short: int) -> bool:
        """Decode ``src`` into ``final`` under its lock file; False if another process holds the lock."""
        lock = final.with_name(final.name + ".lock")
        if not _try_lock(lock):
            return False
        try:
            if not final.exists():
                _atomic_save_npy(final, self._produce(src, fps, short))
        finally:
            lock.unlink(missing_ok=True)
        return True

    def ensure(self, sources: Sequence[VideoSource], fps: float, short: int, *,
               progress: bool = True, poll: float = 0.5) -> list[Path]:
        """Cache file for every source, decoding the missing ones (shared safely between
        processes: lock per file, temp file + os.replace)."""
        finals = []
        for s in sources:
            if not s.path.is_file():
                raise DataError(f"video not found: {s.path}")
            sha = s.sha256 or self.sha(s.path)
            finals.append(self.path_for(sha, s.kind, fps, short))
        self._save_index()
        todo = [j for j, f in enumerate(finals) if not f.exists()]
        if not todo:
            return finals
        it: Iterable[int] = todo
        bar = None
        if progress and len(todo) > 1:
            try:
                from tqdm import tqdm
                bar = tqdm(todo, desc=f"decoding videos -> {self.dir}", unit="video", leave=False)
                it = bar
            except Exception:  # noqa: BLE001
                pass
        deferred = []
        for j in it:
            final = finals[j]
            if final.exists():
                continue
            if not self._produce_locked(final, sources[j], fps, short):
                deferred.append(j)
        if bar is not None:
            bar.close()
        while deferred:  # files another process is decoding: wait, or take over a stale lock
            waiting = []
            for j in deferred:
                final = finals[j]
                if final.exists():
                    continue
                lock = final.with_name(final.name + ".lock")
                if _lock_is_stale(lock):
                    lock.unlink(missing_ok=True)
                    if self._produce_locked(final, sources[j], fps, short):
                        continue
                waiting.append(j)
            deferred = waiting
            if deferred:
                time.sleep(poll)
        return finals


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


def _resize_clip(x: np.ndarray, size: int) -> torch.Tensor:
    """uint8 (T, h, w, 3) -> uint8 torch (T, size, size, 3), antialiased bicubic."""
    # a read-only cache array is copied: torch must not share memory it could write to
    t = torch.from_numpy(np.ascontiguousarray(x) if x.flags.writeable else np.array(x))
    if x.shape[1] == size and x.shape[2] == size:
        return t
    y = t.permute(0, 3, 1, 2).float()
    y = F.interpolate(y, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    return y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _pad_last(x: torch.Tensor, frames: int) -> torch.Tensor:
    n = x.shape[0]
    if n >= frames:
        return x
    return torch.cat([x, x[-1:].expand(frames - n, *x.shape[1:])], dim=0)


class VideoClipDataset(Dataset):
    """Clips of ``clip.frames`` frames, uint8 torch tensors ``(T, size, size, 3)``.

    * ``train=True``: ``len == samples_per_epoch``; every access draws a fresh random clip
      (``fresh=True``, the default: the draw is seeded by ``(seed, epoch, index)`` plus one
      number from torch's default generator, so it is reproducible under
      ``torch.manual_seed`` -- DataLoader workers get their own torch seeds -- and differs
      between epochs and between DDP ranks seeded differently).  With ``fresh=False`` item
      ``i`` depends only on ``(seed, epoch, i)`` (use :meth:`set_epoch`).  A clip is: a segment
      chosen with probability proportional to its number of clip start positions (i.e.
      uniform over all possible clips; ``weighting="sqrt"`` uses the square root of that,
      ``"video"`` makes every segment equally likely), a random start, a random square crop whose side is
      ``scale_range`` x the short side, resized to ``size``, and a horizontal flip with
      probability 1/2.
    * ``train=False``: deterministic: every segment is cut into non-overlapping clips
      (starting at its first frame; an incomplete tail is dropped, but a segment shorter than
      one clip gives one clip padded by repeating its last frame), centre square crop of the
      short side resized to ``size``.

    Attributes: ``segments`` (list of ``(source index, start, stop)`` frame ranges in the
    cache arrays), ``clips`` (eval: list of ``(segment index, start)``), ``num_frames``.
    """

    def __init__(self, sources: Sequence[VideoSource], clip: ClipSpec, cache_dir: Path | str, *,
                 train: bool, samples_per_epoch: int = 10000, seed: int = 0,
                 fresh: bool = True, weighting: str = "clips", progress: bool = True) -> None:
        if not sources:
            raise DataError("no videos found")
        self.sources = list(sources)
        self.clip = clip
        self.train = bool(train)
        self.samples_per_epoch = int(samples_per_epoch)
        self.seed = int(seed)
        self.fresh = bool(fresh)
        self.epoch = 0
        self.cache = FrameCache(cache_dir)
        self.cache_paths = self.cache.ensure(self.sources, clip.fps, clip.cache_short_side,
                                             progress=progress)
        self.shapes = [tuple(np.load(p, mmap_mode="r").shape) for p in self.cache_paths]
        self.segments: list[tuple[int, int, int]] = []
        for j, (src, shp) in enumerate(zip(self.sources, self.shapes)):
            T = shp[0]
            for a, b in src.ranges:
                s, e = int(round(a * T)), int(round(b * T))
                s, e = max(0, s), min(T, e)
                if e > s:
                    self.segments.append((j, s, e))
        if not self.segments:
            raise DataError("no frames in the selected videos / split ranges")
        Fr = clip.frames
        if weighting not in ("clips", "sqrt", "video"):
            raise DataError(f"unknown weighting {weighting!r}: use clips, sqrt or video")
        self.weighting = weighting
        if self.train:
            n = np.array([max(1, e - s - Fr + 1) for _, s, e in self.segments], dtype=np.float64)
            w = {"clips": n, "sqrt": np.sqrt(n), "video": np.ones_like(n)}[weighting]
            self._cum = np.cumsum(w / w.sum())
            self._cum[-1] = 1.0
            self.clips: list[tuple[int, int]] = []
        else:
            self.clips = []
            for k, (_, s, e) in enumerate(self.segments):
                if e - s < Fr:
                    self.clips.append((k, s))
                else:
                    self.clips += [(k, st) for st in range(s, e - Fr + 1, Fr)]
        self._arrays: OrderedDict[int, np.ndarray] = OrderedDict()

    # -- bookkeeping -------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return int(sum(e - s for _, s, e in self.segments))

    @property
    def num_clips(self) -> int:
        """Eval: number of clips; train: number of distinct (non-overlapping) clips available."""
        if not self.train:
            return len(self.clips)
        return int(sum(max(1, (e - s) // self.clip.frames) for _, s, e in self.segments))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def describe(self) -> str:
        mode = "train" if self.train else "eval"
        return (f"{mode}: {len(self.sources)} videos, {len(self.segments)} segments, "
                f"{self.num_frames} frames @ {self.clip.fps:g} fps, {self.num_clips} clips of "
                f"{self.clip.frames}x{self.clip.size}x{self.clip.size}")

    def __getstate__(self):
        st = dict(self.__dict__)
        st["_arrays"] = OrderedDict()  # never pickle memory maps (DataLoader workers reopen)
        return st

    def _array(self, j: int) -> np.ndarray:
        a = self._arrays.get(j)
        if a is None:
            a = np.load(self.cache_paths[j], mmap_mode="r")
            self._arrays[j] = a
            if len(self._arrays) > 256:
                self._arrays.popitem(last=False)
        else:
            self._arrays.move_to_end(j)
        return a

    def __len__(self) -> int:
        return self.samples_per_epoch if self.train else len(self.clips)

    # -- items -------------------------------------------------------------------------------
    def __getitem__(self, index: int) -> torch.Tensor:
        Fr, size = self.clip.frames, self.clip.size
        if self.train:
            key = [self.seed, self.epoch, int(index)]
            if self.fresh:
                key.append(int(torch.randint(0, 2**62, ()).item()))
            rng = np.random.default_rng(key)
            k = min(int(np.searchsorted(self._cum, rng.random(), side="right")),
                    len(self.segments) - 1)
            j, s, e = self.segments[k]
            start = s + int(rng.integers(max(1, e - s - Fr + 1)))
            a = self._array(j)
            H, W = a.shape[1:3]
            short = min(H, W)
            lo, hi = self.clip.scale_range
            side = int(round(short * rng.uniform(lo, hi)))
            side = min(short, max(1, side))
            y0 = int(rng.integers(H - side + 1))
            x0 = int(rng.integers(W - side + 1))
            x = _resize_clip(a[start:min(start + Fr, e), y0:y0 + side, x0:x0 + side], size)
            if rng.random() < 0.5:
                x = x.flip(2)
            return _pad_last(x, Fr).contiguous()
        if index < 0:
            index += len(self.clips)
        if not 0 <= index < len(self.clips):
            raise IndexError(index)
        k, start = self.clips[index]
        j, s, e = self.segments[k]
        a = self._array(j)
        H, W = a.shape[1:3]
        side = min(H, W)
        y0, x0 = (H - side) // 2, (W - side) // 2
        x = _resize_clip(a[start:min(start + Fr, e), y0:y0 + side, x0:x0 + side], size)
        return _pad_last(x, Fr).contiguous()


# --------------------------------------------------------------------------------------------
# Specs
# --------------------------------------------------------------------------------------------


def _norm_split(split: str, kind: str) -> str:
    s = split.lower()
    if s == "train":
        return "train"
    if s in ("val", "valid", "validation", "test", "eval"):
        return "val"
    raise DataError(f"unknown split {split!r} for {kind}: use train, val or test")


def _need_dir(p: Path, what: str) -> Path:
    if not p.is_dir():
        raise DataError(f"{what} directory not found: {p}")
    return p


def _corpus_sources(root: Path, split: str) -> list[VideoSource]:
    from .corpus import CorpusError, load_manifest

    _need_dir(root, "corpus")
    try:
        man = load_manifest(root)
    except CorpusError as e:
        raise DataError(str(e)) from e
    out = []
    seen = set()
    for f, ranges in man.select(split):
        p = root / f.file
        if not p.is_file():
            raise DataError(f"corpus file missing: {p} (re-run `vqv corpus fetch {root}`)")
        out.append(VideoSource(path=p, name=f.file, ranges=list(ranges), kind=f.kind,
                               sha256=f.sha256))
        seen.add(f.file)
    if split == "train":  # stills present on disk but not in the manifest are training data
        sd = root / "stills"
        if sd.is_dir():
            for p in sorted(sd.glob("*.npy")):
                rel = p.relative_to(root).as_posix()
                if rel not in seen:
                    out.append(VideoSource(path=p, name=rel, kind="frames"))
    return out


def _ucf_sources(root: Path, split: str, ucf_split: int) -> list[VideoSource]:
    _need_dir(root, "UCF101")
    vids = _need_dir(root / "UCF-101", "UCF101 videos (UCF-101)")
    lists = root / "ucfTrainTestlist"
    if not lists.is_dir():
        raise DataError(f"UCF101 split lists directory not found: {lists}")
    if ucf_split not in (1, 2, 3):
        raise DataError(f"ucf_split must be 1, 2 or 3, got {ucf_split}")
    lf = lists / (f"trainlist0{ucf_split}.txt" if split == "train" else f"testlist0{ucf_split}.txt")
    if not lf.is_file():
        raise DataError(f"UCF101 split list not found: {lf}")
    # case-insensitive index (the official lists and folders differ in case for some classes)
    index: dict[str, Path] = {}
    for cdir in vids.iterdir():
        if cdir.is_dir():
            for p in cdir.iterdir():
                index[f"{cdir.name}/{p.name}".lower()] = p
    out, missing = [], []
    for line in lf.read_text().splitlines():
        parts = line.strip().split()
        if not parts:
            continue
        rel = parts[0].replace("\\", "/")
        p = vids / rel
        if not p.is_file():
            p = index.get(rel.lower())
        if p is None:
            missing.append(rel)
            continue
        out.append(VideoSource(path=p, name=rel))
    if not out:
        raise DataError(f"no videos found: none of the {len(missing)} files in {lf.name} exist under {vids}")
    if missing:
        log.warning("UCF101: %d of %d videos listed in %s are missing (e.g. %s); skipped",
                    len(missing), len(missing) + len(out), lf.name, missing[0])
    return out


def _folder_sources(root: Path, split: str) -> list[VideoSource]:
    _need_dir(root, "video folder")
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and (p.suffix.lower() in VIDEO_EXTS or p.suffix.lower() == ".npy"))
    if not files:
        raise DataError(f"no videos found under {root}")
    rels = [p.relative_to(root).as_posix() for p in files]
    order = sorted(range(len(files)), key=lambda i: hashlib.sha1(rels[i].encode()).hexdigest())
    n_val = 0 if len(files) < 2 else max(1, int(round(0.1 * len(files))))
    chosen = order[:n_val] if split == "val" else order[n_val:]
    return [VideoSource(path=files[i], name=rels[i],
                        kind="frames" if files[i].suffix.lower() == ".npy" else "video")
            for i in sorted(chosen, key=lambda i: rels[i])]


def list_sources(spec: str, split: str, *, ucf_split: int = 1) -> list[VideoSource]:
    """Resolve a data spec (``corpus:DIR``, ``ucf101:DIR``, ``folder:DIR``) to its sources."""
    kind, sep, d = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or not d:
        raise DataError(f"bad data spec {spec!r}: expected corpus:DIR, ucf101:DIR or folder:DIR")
    root = Path(d).expanduser()
    split = _norm_split(split, kind)
    if kind == "corpus":
        out = _corpus_sources(root, split)
    elif kind in ("ucf101", "ucf"):
        out = _ucf_sources(root, split, ucf_split)
    elif kind == "folder":
        out = _folder_sources(root, split)
    else:
        raise DataError(f"unknown data spec kind {kind!r}: expected corpus, ucf101 or folder")
    if not out:
        raise DataError(f"no videos for split {split!r} in {spec}")
    return out


def build_dataset(spec: str, split: str, clip: ClipSpec, cache_dir: Path | str, *, train: bool,
                  ucf_split: int = 1, samples_per_epoch: int = 10000, seed: int = 0,
                  fresh: bool = True, weighting: str = "clips",
                  progress: bool = True) -> VideoClipDataset:
    """Dataset of clips for ``spec`` / ``split`` (see :func:`list_sources`, :class:`VideoClipDataset`)."""
    sources = list_sources(spec, split, ucf_split=ucf_split)
    cd = Path(cache_dir).resolve()
    sources = [s for s in sources if cd not in s.path.resolve().parents]  # never read the cache
    if not sources:
        raise DataError(f"no videos for split {split!r} in {spec}")
    return VideoClipDataset(sources, clip, cache_dir, train=train,
                            samples_per_epoch=samples_per_epoch, seed=seed, fresh=fresh,
                            weighting=weighting, progress=progress)


def measure_loader(dataset: Dataset, batch_size: int = 8, num_workers: int = 0,
                   seconds: float = 10.0) -> float:
    """Loader throughput in clips/s over ``seconds`` (the first batch -- worker start-up -- is
    not timed; the loader is re-iterated if the dataset is exhausted)."""
    if len(dataset) == 0:
        raise DataError("empty dataset")
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        persistent_workers=num_workers > 0)
    n, t0 = 0, None
    while True:
        for batch in loader:
            if t0 is None:
                t0 = time.perf_counter()
                continue
            n += int(batch.shape[0])
            dt = time.perf_counter() - t0
            if dt >= seconds:
                return n / dt
