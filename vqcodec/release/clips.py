"""The clips a release is fitted and measured on: the centre crops of a data spec's training and
validation splits, as ``vqv ship``, ``vqv train-prior``, the quality ladder and the probes read them."""
from __future__ import annotations

import numpy as np

from vqcodec.errors import VqvError
from vqcodec.net.config import ModelConfig


def clip_dataset(data: str, split: str, cfg: ModelConfig, cache_dir):
    """The evaluation dataset of ``split`` (centre crops of the model's clip size, 16 fps)."""
    from vqcodec.train.data import ClipSpec, build_dataset  # noqa: PLC0415

    return build_dataset(data, split, ClipSpec(cfg.clip_frames, cfg.clip_size, 16.0), cache_dir, train=False,
                         progress=False)


def clips_of(ds, idx: list[int]) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """The clips ``idx`` of a dataset and their (segment, start frame) keys."""
    return [ds[i].numpy() for i in idx], [tuple(int(v) for v in ds.clips[i]) for i in idx]


def training_clips(data: str, cache_dir, cfg: ModelConfig, max_clips: int | None
                   ) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """Training clips of the data spec (train split, centre crops) and their (segment, start) keys.
    With ``max_clips``, runs of two consecutive clips spread over the set (so prediction across
    GOPs is learned too)."""
    if max_clips is not None and max_clips < 1:
        raise VqvError("--max-clips must be at least 1")
    ds = clip_dataset(data, "train", cfg, cache_dir)
    n = len(ds)
    idx = list(range(n))
    if max_clips is not None and max_clips < n:
        starts = np.linspace(0, max(n - 2, 0), max(1, max_clips // 2)).astype(int)
        idx = sorted({int(v) for v in starts} | {min(n - 1, int(v) + 1) for v in starts})[:max_clips]
    return clips_of(ds, idx)


def validation_clips(data: str, cache_dir, cfg: ModelConfig) -> list[np.ndarray]:
    """Every validation clip of the data spec (centre crops), in the dataset's order."""
    ds = clip_dataset(data, "val", cfg, cache_dir)
    clips, _ = clips_of(ds, list(range(len(ds))))
    return clips
