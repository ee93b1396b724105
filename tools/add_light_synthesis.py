"""Give a shipped weights file a light synthesis beside its decoder (docs/DESIGN.md, "Light synthesis").

    python tools/add_light_synthesis.py vqcodec/weights/vqv-cpu-hq.pt --light light.pt \\
        --data corpus:data/corpus --cache-dir data/cache

``light.pt`` is what experiments/light_synthesis/train_light.py writes: the deep path trained with the rest
of the network frozen, so every code keeps its meaning. The file is rewritten in place with the same network,
priors and ladder plus the light synthesis; its operating points are measured through the codec on the
validation clips into the card. Files the earlier release wrote name its digest, kept as a legacy entry: they
decode with the decoder, as they did.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace

import torch

from vqcodec.net.model import MSVQVAE
from vqcodec.release.clips import validation_clips
from vqcodec.release.measure import measure_points
from vqcodec.weights import load_model, record_in_manifest, resave_weights, save_weights


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights")
    ap.add_argument("--light", required=True, help="the trained light synthesis (train_light.py's .pt)")
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache-dir", required=True)
    a = ap.parse_args()
    base = load_model(a.weights)
    if base.cfg.has_light_synthesis:
        raise SystemExit(f"{a.weights} has a light synthesis already")
    light = torch.load(a.light, map_location="cpu", weights_only=True)
    cfg = replace(base.cfg, light_channels=tuple(light["ch"]), light_blocks=tuple(light["blocks"]))
    net = MSVQVAE(cfg)
    state = base.net.state_dict()
    state.update({"light_decoder." + k.removeprefix("body."): v for k, v in light["state"].items()})
    net.load_state_dict(state)
    card = {**base.card, "light_synthesis": {"replaces": base.sha256,
        "parameters": sum(p.numel() for p in net.light_decoder.parameters()),
        "training_steps": light.get("steps"),
        "loss": "mean log MSE per crop" if light.get("loss") == "log" else "MSE + SSIM",
        "trained": "the light synthesis alone, the rest of the network frozen (experiments/light_synthesis/)"}}
    legacy = {**base.legacy, base.sha256: base.priors}      # the files this release wrote: decoded as they were
    record_in_manifest(a.weights, save_weights(net.eval(), a.weights, precision="int8", priors=base.priors, card=card,
                                               legacy=legacy))
    model = load_model(a.weights)                          # measured as stored (int8 kernels)
    card["operating_points"] = measure_points(model, validation_clips(a.data, a.cache_dir, model.cfg), priors=("auto",))
    sha = resave_weights(model, card=card)
    changed = record_in_manifest(a.weights, sha)
    print(json.dumps({"file": a.weights, "sha256": sha, "manifest_updated": changed, "replaces": base.sha256,
                      "operating_points": card["operating_points"]}, indent=1))


if __name__ == "__main__":
    main()
