"""The commands that make and update shipped weights: ``vqv ship`` and ``vqv train-prior``.

``vqv ship`` (:func:`ship`) turns a training checkpoint into the weights file the codec ships:

1. round the weights to the shipped precision (int8 kernels by default) and use that network from here on, so
   the priors and measurements describe exactly what users get;
2. fit the empirical-static and learned priors on the codes the real encoder produces on training
   clips (copy decisions included; :mod:`vqcodec.release.prior_fitting`);
3. measure every operating point on the validation clips through the real codec (file bytes,
   PSNR, SSIM, for each prior);
4. write the weights with the priors and the measurements (the model card) inside, and record the
   file in the manifest.

``vqv train-prior`` (:func:`train_prior`) refits the priors of a weights file the same way (step 2)
and writes them into it, or those of a checkpoint's network into a separate file.
"""
from __future__ import annotations

import json
import time
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from vqcodec.coding import codec
from vqcodec.errors import VqvError
from vqcodec.io.files import atomic_write_bytes
from vqcodec.metrics import PSNR_CAP, psnr, ssim
from vqcodec.net.model import ModelConfig
from vqcodec.pipeline import torch_threads
from vqcodec.release.prior_fitting import fit_ladder, refit_priors
from vqcodec.weights import (LADDER_KIND, WEIGHTS_DIR, CodecModel, load_model, net_from_checkpoint, record_in_manifest, resave_weights,
                      round_to, save_weights)

Log = Callable[[str], None]


# ------------------------------------------------------------------------------------------ clips
def _dataset(data: str, split: str, cfg: ModelConfig, cache_dir):
    from vqcodec.train.data import ClipSpec, build_dataset  # noqa: PLC0415

    return build_dataset(data, split, ClipSpec(cfg.clip_frames, cfg.clip_size, 16.0), cache_dir, train=False,
                         progress=False)


def _clips(ds, idx: list[int]) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """The clips ``idx`` of a dataset and their (segment, start frame) keys."""
    return [ds[i].numpy() for i in idx], [tuple(int(v) for v in ds.clips[i]) for i in idx]


def training_clips(data: str, cache_dir, cfg: ModelConfig, max_clips: int | None
                   ) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """Training clips of the data spec (train split, centre crops) and their (segment, start) keys.
    With ``max_clips``, runs of two consecutive clips spread over the set (so prediction across
    GOPs is learned too)."""
    if max_clips is not None and max_clips < 1:
        raise VqvError("--max-clips must be at least 1")
    ds = _dataset(data, "train", cfg, cache_dir)
    n = len(ds)
    idx = list(range(n))
    if max_clips is not None and max_clips < n:
        starts = np.linspace(0, max(n - 2, 0), max(1, max_clips // 2)).astype(int)
        idx = sorted({int(v) for v in starts} | {min(n - 1, int(v) + 1) for v in starts})[:max_clips]
    return _clips(ds, idx)


# ------------------------------------------------------------------------------------------ ship
def measure_points(model: CodecModel, clips: list[np.ndarray], priors=("uniform", "empirical-static",
                                                                        "empirical-adaptive", "learned", "auto")) -> dict:
    """Mean bpp (real .vqv bytes, each clip its own file), PSNR, SSIM of every quality and prior."""
    out = {}
    for q in model.qualities:
        rec = {}
        by_prior = {}
        for p in priors:
            nbytes, ps, ss = [], [], []
            for clip in clips:
                data = codec.encode_frames(clip, Fraction(16), model=model, quality=q, prior=p)
                nbytes.append(len(data))
                if p == "auto":
                    back = codec.decode_bytes(data, model=model)
                    ps.append(psnr(clip, back, cap=PSNR_CAP))
                    ss.append(ssim(clip, back))
            t, h, w, _ = clips[0].shape
            by_prior[p] = float(np.mean(nbytes)) * 8 / (t * h * w)
            if p == "auto":
                rec = {"bpp": by_prior[p], "psnr": float(np.mean(ps)), "ssim": float(np.mean(ss))}
        rec["bpp_by_prior"] = by_prior
        out[str(q)] = rec
    return out


def check_operating_points(cfg: ModelConfig) -> None:
    """Every point must be a stage count the network has, and points must grow in bits (Q1 smallest)."""
    pts = list(cfg.operating_points)
    for t, b in pts:
        if not (0 <= t <= cfg.top_stages and 0 <= b <= cfg.bottom_stages) or t + b == 0:
            raise VqvError(f"operating point ({t},{b}) is outside this model's {cfg.top_stages} top and "
                           f"{cfg.bottom_stages} bottom stages")
    for (t0, b0), (t1, b1) in zip(pts, pts[1:]):
        if not (t1 >= t0 and b1 >= b0 and (t1, b1) != (t0, b0)):
            raise VqvError(f"operating points must add stages from one quality to the next: ({t0},{b0}) then ({t1},{b1})")
    if not 1 <= cfg.default_quality <= len(pts):
        raise VqvError(f"default quality {cfg.default_quality} is not one of 1..{len(pts)}")


def ship(checkpoint: str | Path, out: str | Path, *, data: str, cache_dir: str | Path, name: str = "default",
         prior_clips: int = 1000, make_default: bool = True, operating_points=None, default_quality=None,
         precision: str = "int8", log: Log = print) -> dict:
    """``vqv ship``: see the module docstring. With ``make_default`` the file is recorded in the
    manifest as ``name`` (it must then be written into the weights folder)."""
    out = Path(out)
    if make_default and out.parent.resolve() != WEIGHTS_DIR.resolve():
        raise VqvError(f"shipped weights belong in {WEIGHTS_DIR}")
    overrides = {}
    if operating_points is not None:
        overrides["operating_points"] = tuple(tuple(p) for p in operating_points)
    if default_quality is not None:
        overrides["default_quality"] = default_quality
    net = net_from_checkpoint(checkpoint, **overrides)
    check_operating_points(net.cfg)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    round_to(net, precision)       # what users get
    train_ds = _dataset(data, "train", net.cfg, cache_dir)
    train_clips, keys = _clips(train_ds, list(range(len(train_ds)))[:prior_clips])
    log(f"static and learned priors from {len(train_clips)} training clips")
    # Consecutive clips of a video are coded as runs, so prediction across GOPs is learned too.
    priors, _ = refit_priors(CodecModel.unsaved(net), train_clips, keys, log=log)
    val_ds = _dataset(data, "val", net.cfg, cache_dir)
    val_clips, _ = _clips(val_ds, list(range(len(val_ds))))
    t0 = time.time()
    points = measure_points(CodecModel.unsaved(net, priors), val_clips)
    log(f"measured {len(points)} operating points on {len(val_clips)} validation clips in {time.time() - t0:.0f}s")
    # A run warm-restarted from another (scripts/pca_init.py) counts the steps and time before it too.
    steps, seconds, restart = int(state["step"]), float(state.get("train_seconds", 0.0)), {}
    lineage = Path(checkpoint).with_name("lineage.json")
    if lineage.is_file():
        before = json.loads(lineage.read_text())
        restart = {"warm_restart_at_step": int(before["from_step"])}
        steps += int(before["from_step"])
        seconds += float(before.get("from_train_seconds", 0.0))
    card = {
        "data": data.split(":")[0] + " (open corpus)" if data.startswith("corpus:") else data,
        "validation_clips": len(val_clips), "training_steps": steps, **restart,
        "training_cpu_hours": round(seconds / 3600 * 2, 2),
        "training_wall_hours": round(seconds / 3600, 2),
        "precision": precision, "operating_points": points,
    }
    if "extended" in state:     # bottom stages added by k-means after training (scripts/extend_stages.py)
        ext = state["extended"]
        card["stages_added_by_kmeans"] = {"count": len(ext.get("residual_left_after_new_stage", [])),
                                          "fitted_on_rows": ext.get("kmeans_rows")}
    sha = save_weights(net, out, precision=precision, priors=priors, card=card)
    if make_default:
        record_in_manifest(out, sha, name)
    return {"file": str(out), "sha256": sha, "bytes": out.stat().st_size, **card}


# ----------------------------------------------------------------------------------- quality ladder
def add_ladder(model_path, points, *, data: str, cache_dir, threads: int | None = None, log: Log = print) -> dict:
    """Give a weights file a quality ladder (:mod:`vqcodec.coding.ladder`): ``points`` are ``(top, bottom,
    None)`` VQ points and ``(top, 0, step)`` scalar points, smallest files first, each with an optional
    fourth element, an enhancement step (:func:`~vqcodec.release.prior_fitting.fit_ladder`). The tables are
    fitted on every training clip; every point is measured on the validation clips into the card. The
    file is rewritten in place (its earlier release stays readable: :func:`resave_weights` keeps its
    priors as a legacy entry, and without a ladder a release's qualities are its VQ points)."""
    with torch_threads(threads):
        model = load_model(model_path)
        train_ds = _dataset(data, "train", model.cfg, cache_dir)
        clips, _ = _clips(train_ds, list(range(len(train_ds))))
        log(f"scalar tables from {len(clips)} training clips")
        ladder = fit_ladder(model, clips, points, log=log)
        priors = {**model.priors, LADDER_KIND: ladder.to_bytes()}
        new = model.with_priors(priors)
        val_ds = _dataset(data, "val", model.cfg, cache_dir)
        val_clips, _ = _clips(val_ds, list(range(len(val_ds))))
        t0 = time.time()
        measured = measure_points(new, val_clips, priors=("auto",))
        log(f"measured {len(measured)} operating points on {len(val_clips)} validation clips in {time.time() - t0:.0f}s")
        card = {**model.card, "operating_points": measured,
                "ladder": [p.describe() for p in ladder.points]}
        sha = resave_weights(model, priors=priors, card=card)
        changed = record_in_manifest(model.path, sha)
    return {"file": str(model.path), "sha256": sha, "manifest_updated": changed, "bytes": Path(model.path).stat().st_size,
            "ladder": card["ladder"], "operating_points": measured}


# ----------------------------------------------------------------------------------- train-prior
def train_prior(*, model_path=None, checkpoint=None, data: str, cache_dir, max_clips: int | None = None, out=None,
                threads: int | None = None, rounds: int = 2, precision: str = "int8", log: Log = print) -> dict:
    """``vqv train-prior``: refit the static and learned priors of a weights file on training clips
    and write them into it (the manifest's SHA-256 is updated if the file is listed there), or to
    ``out`` as a raw learned-prior blob (needed with ``checkpoint``: a training checkpoint's
    network, rounded to ``precision`` as it would ship). Re-saving a weights file changes its digest:
    its old priors stay inside it, so files coded with the old file still decode."""
    with torch_threads(threads):
        return _train_prior(model_path, checkpoint, data, cache_dir, max_clips, out, rounds, precision, log)


def _train_prior(model_path, checkpoint, data, cache_dir, max_clips, out, rounds, precision, log) -> dict:
    if checkpoint is not None:
        if model_path is not None:
            raise VqvError("give --model or --checkpoint, not both")
        if out is None:
            raise VqvError("--checkpoint needs --out (there is no weights file to write the prior into)")
        model = CodecModel.unsaved(round_to(net_from_checkpoint(checkpoint), precision))
    else:
        model = load_model(model_path)
    clips, keys = training_clips(data, cache_dir, model.cfg, max_clips)
    log(f"{len(clips)} training clips")
    priors, rep = refit_priors(model, clips, keys, rounds=rounds, log=log)
    if out is not None:
        atomic_write_bytes(out, priors["learned"])
        rep["written_to"] = str(out)
        return rep
    sha = resave_weights(model, priors={**model.priors, **priors})
    rep.update(written_to=str(model.path), sha256=sha)
    if record_in_manifest(model.path, sha):
        rep["manifest_updated"] = True
    return rep
