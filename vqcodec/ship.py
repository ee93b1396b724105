"""Turn a training checkpoint into the weights file the codec ships.

1. round the weights to half precision (the shipped form) and use that network from here on, so
   the priors and measurements describe exactly what users get;
2. fit the empirical-static and learned priors on the codes the real encoder produces on training
   clips (copy decisions included; :mod:`vqcodec.prior_fitting`);
3. measure every operating point on the validation clips through the real codec (file bytes,
   PSNR, SSIM, for each prior);
4. write the weights with the prior and the measurements (the model card) inside.
"""
from __future__ import annotations

import json
import os
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from . import codec
from .metrics import psnr, ssim
from .prior_fitting import half_rounded, refit_priors
from .weights import MANIFEST, WEIGHTS_DIR, CodecModel, net_from_checkpoint, save_weights


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
                    ps.append(psnr(clip, back, cap=100.0))
                    ss.append(ssim(clip, back))
            t, h, w, _ = clips[0].shape
            by_prior[p] = float(np.mean(nbytes)) * 8 / (t * h * w)
            if p == "auto":
                rec = {"bpp": by_prior[p], "psnr": float(np.mean(ps)), "ssim": float(np.mean(ss))}
        rec["bpp_by_prior"] = by_prior
        out[str(q)] = rec
    return out


def check_operating_points(cfg) -> None:
    """Every point must be a stage count the network has, and points must grow in bits (Q1 smallest)."""
    pts = list(cfg.operating_points)
    for t, b in pts:
        if not (0 <= t <= cfg.top_stages and 0 <= b <= cfg.bottom_stages) or t + b == 0:
            raise ValueError(f"operating point ({t},{b}) is outside this model's {cfg.top_stages} top and "
                             f"{cfg.bottom_stages} bottom stages")
    for (t0, b0), (t1, b1) in zip(pts, pts[1:]):
        if not (t1 >= t0 and b1 >= b0 and (t1, b1) != (t0, b0)):
            raise ValueError(f"operating points must add stages from one quality to the next: ({t0},{b0}) then ({t1},{b1})")
    if not 1 <= cfg.default_quality <= len(pts):
        raise ValueError(f"default quality {cfg.default_quality} is not one of 1..{len(pts)}")


def ship(checkpoint: str | Path, out: str | Path, *, data: str, cache_dir: str | Path, name: str = "default",
         prior_clips: int = 1000, make_default: bool = True, operating_points=None, default_quality=None,
         log=print) -> dict:
    from .data import ClipSpec, build_dataset  # noqa: PLC0415

    overrides = {}
    if operating_points is not None:
        overrides["operating_points"] = tuple(tuple(p) for p in operating_points)
    if default_quality is not None:
        overrides["default_quality"] = default_quality
    net = net_from_checkpoint(checkpoint, **overrides)
    check_operating_points(net.cfg)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    half_rounded(net)       # what users get: half-precision weights
    clip = ClipSpec(net.cfg.clip_frames, net.cfg.clip_size, 16.0)
    train_ds = build_dataset(data, "train", clip, cache_dir, train=False, progress=False)
    idx = list(range(len(train_ds)))[:prior_clips]
    train_clips = [train_ds[i].numpy() for i in idx]
    log(f"static and learned priors from {len(train_clips)} training clips")
    # Consecutive clips of a video are coded as runs, so prediction across GOPs is learned too.
    keys = [tuple(int(v) for v in train_ds.clips[i]) for i in idx]
    priors, _ = refit_priors(CodecModel(net, "0" * 64, None, {}, {}), train_clips, keys, log=log)
    val_ds = build_dataset(data, "val", clip, cache_dir, train=False, progress=False)
    val_clips = [val_ds[i].numpy() for i in range(len(val_ds))]
    model = CodecModel(net, "0" * 64, None, priors, {})
    t0 = time.time()
    points = measure_points(model, val_clips)
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
        "operating_points": points,
    }
    out = Path(out)
    sha = save_weights(net, out, half=True, priors=priors, card=card)
    if make_default:
        entries = json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}
        entries[name] = {"file": out.name, "sha256": sha}
        if out.parent.resolve() != WEIGHTS_DIR.resolve():
            raise ValueError(f"shipped weights belong in {WEIGHTS_DIR}")
        tmp = MANIFEST.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries, indent=2) + "\n")
        os.replace(tmp, MANIFEST)
    return {"file": str(out), "sha256": sha, "bytes": out.stat().st_size, **card}
