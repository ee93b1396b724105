"""Training / evaluation clips for vqv: :func:`build_dataset` and :class:`VideoClipDataset`.

A data spec names the videos of a split (:mod:`vqcodec.train.data_specs`); each is decoded once, at the
clip rate, into the frame cache (:mod:`vqcodec.train.frame_cache`: the codec's own reader and resizer),
and clips are cut from the cached arrays. Frames are uint8 RGB; a clip is uint8
``(T, size, size, 3)``: a square crop resized with :func:`vqcodec.io.reader.resize_frames`.

Short videos: a clip that would run past the end of its video (or of its split range) is
padded by repeating the last frame -- both in training and in evaluation (never looped).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vqcodec.train.data_specs import DataError, VideoSource, list_sources
from vqcodec.train.frame_cache import FrameCache
from vqcodec.io.reader import resize_frames

# DataError, VideoSource and list_sources are defined in data_specs; they are named here too,
# as the data API's users import them from this module
__all__ = ["ClipSpec", "VideoClipDataset", "build_dataset", "DataError", "VideoSource", "list_sources"]


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


def _crop_resize(frames: np.ndarray, y0: int, x0: int, side: int, size: int) -> torch.Tensor:
    """The square ``side`` x ``side`` at (y0, x0) of uint8 (T, h, w, 3) frames, resized to ``size``:
    uint8 torch (T, size, size, 3)."""
    crop = resize_frames(frames[:, y0:y0 + side, x0:x0 + side], size, size)
    if not crop.flags.writeable:  # not resized: a view of the cache's read-only memory map
        crop = np.array(crop)
    return torch.from_numpy(np.ascontiguousarray(crop))


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
            x = _crop_resize(a[start:min(start + Fr, e)], y0, x0, side, size)
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
        x = _crop_resize(a[start:min(start + Fr, e)], y0, x0, side, size)
        return _pad_last(x, Fr).contiguous()


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
