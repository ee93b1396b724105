"""Give a weights file a quality ladder: :func:`add_ladder` (``tools/add_scalar_ladder.py``)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from vqcodec.pipeline import torch_threads
from vqcodec.release.clips import training_clips, validation_clips
from vqcodec.release.measure import measure_points
from vqcodec.release.prior_fitting import fit_ladder
from vqcodec.weights import LADDER_KIND, load_model, record_in_manifest, resave_weights

Log = Callable[[str], None]


def add_ladder(model_path, points, *, data: str, cache_dir, threads: int | None = None, log: Log = print) -> dict:
    """Give a weights file a quality ladder (:mod:`vqcodec.coding.ladder`): ``points`` are ``(top, bottom,
    None)`` VQ points and ``(top, 0, step)`` scalar points, smallest files first, each with an optional
    fourth element, an enhancement step (:func:`~vqcodec.release.prior_fitting.fit_ladder`). The tables are
    fitted on every training clip; every point is measured on the validation clips into the card. The
    file is rewritten in place (its earlier release stays readable: :func:`resave_weights` keeps its
    priors as a legacy entry, and without a ladder a release's qualities are its VQ points)."""
    with torch_threads(threads):
        model = load_model(model_path)
        clips, _ = training_clips(data, cache_dir, model.cfg, None)
        log(f"scalar tables from {len(clips)} training clips")
        ladder = fit_ladder(model, clips, points, log=log)
        priors = {**model.priors, LADDER_KIND: ladder.to_bytes()}
        new = model.with_priors(priors)
        val_clips = validation_clips(data, cache_dir, model.cfg)
        t0 = time.time()
        measured = measure_points(new, val_clips, priors=("auto",))
        log(f"measured {len(measured)} operating points on {len(val_clips)} validation clips in {time.time() - t0:.0f}s")
        card = {**model.card, "operating_points": measured,
                "ladder": [p.describe() for p in ladder.points]}
        sha = resave_weights(model, priors=priors, card=card)
        changed = record_in_manifest(model.path, sha)
    return {"file": str(model.path), "sha256": sha, "manifest_updated": changed, "bytes": Path(model.path).stat().st_size,
            "ladder": card["ladder"], "operating_points": measured}
