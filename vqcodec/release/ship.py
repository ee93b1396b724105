"""The commands that make and update shipped weights: ``vqv ship`` and ``vqv train-prior``.

``vqv ship`` (:func:`ship`) turns a training checkpoint into the weights file the codec ships:

1. round the weights to the shipped precision (int8 kernels by default) and use that network from here on, so
   the priors and measurements describe exactly what users get;
2. fit the empirical-static and learned priors on the codes the real encoder produces on training
   clips (copy decisions included; :mod:`vqcodec.release.prior_fitting`);
3. measure every operating point on the validation clips through the real codec (file bytes,
   PSNR, SSIM, for each prior; :func:`~vqcodec.release.measure.measure_points`);
4. write the weights with the priors and the measurements (the model card) inside, and record the
   file in the manifest.

``vqv train-prior`` (:func:`train_prior`) refits the priors of a weights file the same way (step 2)
and writes them into it, or those of a checkpoint's network into a separate file.

Both read their clips through :mod:`vqcodec.release.clips`.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import torch

from vqcodec.errors import VqvError
from vqcodec.io.files import atomic_write_bytes
from vqcodec.net.config import ModelConfig
from vqcodec.pipeline import torch_threads
from vqcodec.release.clips import clip_dataset, clips_of, training_clips, validation_clips
from vqcodec.release.measure import measure_points
from vqcodec.release.prior_fitting import refit_priors
from vqcodec.weights import (WEIGHTS_DIR, CodecModel, load_model, net_from_checkpoint, record_in_manifest, resave_weights,
                      round_to, save_weights)

Log = Callable[[str], None]


# ------------------------------------------------------------------------------------------ ship
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
    train_ds = clip_dataset(data, "train", net.cfg, cache_dir)
    train_clips, keys = clips_of(train_ds, list(range(len(train_ds)))[:prior_clips])
    log(f"static and learned priors from {len(train_clips)} training clips")
    # Consecutive clips of a video are coded as runs, so prediction across GOPs is learned too.
    priors, _ = refit_priors(CodecModel.unsaved(net), train_clips, keys, log=log)
    val_clips = validation_clips(data, cache_dir, net.cfg)
    t0 = time.time()
    points = measure_points(CodecModel.unsaved(net, priors), val_clips)
    log(f"measured {len(points)} operating points on {len(val_clips)} validation clips in {time.time() - t0:.0f}s")
    # A run warm-restarted from another (tools/pca_init.py, docs/TRAINING.md) counts the steps and time
    # before it too.
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
    if "extended" in state:     # bottom stages added by k-means after training (tools/extend_stages.py)
        ext = state["extended"]
        card["stages_added_by_kmeans"] = {"count": len(ext.get("residual_left_after_new_stage", [])),
                                          "fitted_on_rows": ext.get("kmeans_rows")}
    sha = save_weights(net, out, precision=precision, priors=priors, card=card)
    if make_default:
        record_in_manifest(out, sha, name)
    return {"file": str(out), "sha256": sha, "bytes": out.stat().st_size, **card}


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
