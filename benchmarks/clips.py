"""The benchmark's clips: the protocol's cut (16 fps, centre square crop resized to 64x64, N-frame
clips, by ``vqcodec.train.data``'s evaluation dataset) or already-cut ``.npy`` clips."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import click
import numpy as np

from benchmarks.compat import ClipSpec, VideoClipDataset, build_dataset, list_sources
from vqcodec.errors import VqvError, describe_error

PROTOCOL_FPS = Fraction(16)
PROTOCOL_SIZE = 64
PROTOCOL_FRAMES = 32


@dataclass
class Clip:
    name: str
    frames: np.ndarray  # (T, H, W, 3) uint8
    #: frames of real video in the clip; the rest (up to len(frames)) repeats the last real frame
    #: (vqcodec.train.data pads a segment shorter than one clip that way). None = unknown (npy input).
    real_frames: int | None = None


def load_clips(spec: str, max_clips: int | None, cache_dir: Path, log, frames: int = PROTOCOL_FRAMES) -> list[Clip]:
    """``npy:DIR`` (already cut clips, used as they are) or a dataset spec of ``vqcodec.train.data``
    (``corpus:DIR``, ``folder:DIR``, ``ucf101:DIR``), its validation split cut into clips of
    ``frames`` frames (the protocol's 32 unless asked otherwise)."""
    kind, sep, arg = spec.partition(":")
    if not sep:
        raise click.ClickException(f"input must look like corpus:DIR, folder:DIR, ucf101:DIR or npy:DIR, got {spec!r}")
    if kind == "npy":
        return _npy_clips(Path(arg), max_clips)
    cspec = ClipSpec(frames, PROTOCOL_SIZE, float(PROTOCOL_FPS))
    try:
        ds = (_first_sources_dataset(spec, cspec, cache_dir, max_clips) if max_clips else None) \
            or build_dataset(spec, "val", cspec, cache_dir, train=False)
    except (VqvError, OSError) as e:  # DataError, VideoError: a bad spec or an unreadable video
        raise click.ClickException(f"cannot load {spec!r}: {describe_error(e)}") from None
    clips: list[Clip] = []
    for i, (seg, start) in enumerate(ds.clips[:max_clips]):
        src, _, stop = ds.segments[seg]
        name = f"{ds.sources[src].name}@{start}"
        n_real = min(frames, stop - start)  # a segment shorter than a clip gives one padded clip
        clips.append(Clip(name, ds[i].numpy(), n_real))
        if n_real < frames:
            log(f"warning: {name} has only {n_real} frames of video at {PROTOCOL_FPS} fps; the last "
                f"{frames - n_real} of its {frames} frames repeat its last frame (vqcodec.train.data's padding)")
    if not clips:
        raise click.ClickException(f"{spec}: the validation split is empty")
    return clips


def _npy_clips(root: Path, max_clips: int | None) -> list[Clip]:
    files = sorted(root.glob("*.npy"))
    if not files:
        raise click.ClickException(f"{root}: no .npy clips")
    clips = []
    for p in files[:max_clips]:
        a = np.load(p)
        if a.dtype != np.uint8 or a.ndim != 4 or a.shape[-1] != 3:
            raise click.ClickException(f"{p}: expected uint8 (T, H, W, 3), got {a.dtype} {a.shape}")
        clips.append(Clip(p.stem, a))
    return clips


def _first_sources_dataset(spec: str, cspec: ClipSpec, cache_dir: Path, max_clips: int) -> VideoClipDataset | None:
    """With --max-clips, decode only the first videos of the split instead of all of them.

    The eval dataset orders clips by source, so the first ``max_clips`` clips of a dataset over the
    first ``max_clips`` sources are the first ``max_clips`` clips of the whole split. None (use
    build_dataset) where that would not be enough clips or not fewer sources.
    """
    sources = list_sources(spec, "val")
    cd = Path(cache_dir).resolve()
    sources = [s for s in sources if cd not in s.path.resolve().parents]  # as build_dataset does
    if len(sources) <= max_clips:
        return None
    ds = VideoClipDataset(sources[:max_clips], cspec, cache_dir, train=False)
    return ds if len(ds) >= max_clips else None
