"""Training settings in one place: the ``TrainConfig`` every run is described by, and the named runs.

``vqv train`` starts from a preset of :data:`TRAIN_PRESETS` (``--preset``, default ``cpu``), applies the
options given on its command line, then ``--set KEY=VALUE`` for any field (:func:`train_config`). Light:
no torch, so the command line can read it when it is built.
"""
from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from vqcodec.errors import OptionError


@dataclass
class TrainConfig:
    config: str = "cpu"                # model preset (vqcodec.net.model.get_config): cpu, cpu-hq, paper, tiny, ...
    data: str = "corpus:data/corpus"   # training data: corpus:DIR, ucf101:DIR or folder:DIR
    out: str = "runs/cpu"              # run directory: checkpoint.pt, best.pt, metrics.jsonl
    steps: int = 20000                 # length of the LR schedule; --max-minutes may stop earlier
    max_minutes: float | None = None   # stop (with a checkpoint) after this long; None: run to `steps`
    batch_size: int = 8                # clips per step (per process under DDP)
    crop_frames: int = 16              # random sub-crop of each 32x64x64 clip; the model is fully convolutional
    crop_size: int = 48                # ... its height and width
    lr: float = 1e-3                   # AdamW peak learning rate: linear warm-up, then cosine decay to 10% at `steps`
    warmup: int = 300                  # warm-up steps
    weight_decay: float = 0.01         # AdamW weight decay
    recon: str = "mse"                 # reconstruction loss: "mse", "l1" or "mse+l1"
    perceptual: str = "ssim"           # "ssim" (weight-free), "vgg" (needs vgg_weights), "none"
    perceptual_weight: float = 0.05    # weight of the perceptual term
    vgg_weights: str | None = None     # torchvision VGG16 .pth file for perceptual="vgg" (never downloaded)
    commit_weight: float = 0.05        # commitment loss weight
    bypass_prob: float = 0.2           # steps whose decoder sees the unquantised latents (see MSVQVAE.forward)
    seed: int = 0                      # seeds the network's start, the data order, crops and quantiser dropout
    threads: int | None = None         # torch CPU threads (None: torch's default)
    workers: int = 0                   # data loader processes
    val_every: int = 500               # validation (metrics.jsonl, best.pt) every this many steps
    ckpt_every: int = 250              # checkpoint.pt every this many steps
    cache_dir: str | None = None       # decoded-frame cache (None: $VQV_CACHE or ~/.cache/vqv)
    samples_per_epoch: int = 100000    # random training clips per data loader epoch
    ucf_split: int = 1                 # ucf101: which official train/test split (1..3)
    weighting: str = "sqrt"            # sample sources by sqrt(length): one long animation must not dominate
    resume: bool = False               # continue the run in `out` from its checkpoint
    init: str | None = None            # warm start from a weights file (e.g. the shipped model; .zst is unpacked)
    init_clips: int = 256              # centre-cropped training clips for the PCA + k-means start of a linear_path model
    init_random_clips: int = 512       # ... plus this many random augmented training crops (the trainer's sampling)
    init_fit_rows: int | None = 80_000  # k-means blocks per bottom stage, a fresh subset each (None: one 80k subset)
    progress: bool = True              # a progress bar (rank 0)
    best_metric: str = "mean_psnr"     # what best.pt keeps: "mean_psnr" over all operating points, or "top_psnr"


#: The values some fields take (checked for ``--set``; the loop rejects others when it meets them).
CHOICES: dict[str, tuple[str, ...]] = {
    "recon": ("mse", "l1", "mse+l1"),
    "perceptual": ("ssim", "vgg", "none"),
    "weighting": ("clips", "sqrt", "video"),
    "best_metric": ("mean_psnr", "top_psnr"),
}

# The `cpu-hq` run (the shipped vqv-cpu-hq.pt; docs/TRAINING.md): AdamW lr 4e-4, 100 warm-up steps, cosine
# decay to 10% at 4000 steps; commitment 0 (EMA codebooks, and the linear path keeps the latent's scale);
# quantiser bypass on 30% of steps; batch 8 of 16x64x64 crops; one thread; validation every 250 steps,
# a checkpoint every 100; no progress bar (the run writes to a log).
_CPU_HQ = dict(config="cpu-hq", data="corpus:data/corpus", cache_dir="data/cache", out="runs/hq", steps=4000,
               lr=4e-4, warmup=100, commit_weight=0.0, bypass_prob=0.3, batch_size=8, crop_frames=16,
               crop_size=64, threads=1, val_every=250, ckpt_every=100, progress=False)
# The multi- vs single-scale ablation (experiments/scale_ablation/README.md): the cpu-hq settings with
# a 5000-step schedule, lr 1e-4 and commitment 0.25 (with 0 the latent's scale drifts and longer runs diverge).
_COMMIT_CPU = dict(_CPU_HQ, config="cpu", out="runs/commit-cpu", steps=5000, lr=1e-4, commit_weight=0.25)

#: Named runs: the fields each sets (the others keep TrainConfig's defaults).
TRAIN_PRESETS: dict[str, dict] = {
    "cpu": {},          # the defaults: the run that made vqcodec/weights/vqv-cpu.pt (docs/TRAINING.md)
    "cpu-hq": _CPU_HQ,
    "commit-cpu": _COMMIT_CPU,
    "commit-single": dict(_COMMIT_CPU, config="single-scale", out="runs/commit-single"),
}

_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _field_types() -> dict[str, object]:
    return typing.get_type_hints(TrainConfig)


def parse_value(key: str, text: str):
    """``text`` as the value of the TrainConfig field ``key``, by the field's type; :class:`OptionError`
    (one line) for an unknown field or a value the field cannot take."""
    types_ = _field_types()
    if key not in types_:
        near = difflib.get_close_matches(key, types_, n=3)
        hint = f"did you mean {' or '.join(near)}?" if near else "the fields are in vqcodec/train/config.py"
        raise OptionError(f"--set {key}={text}: no TrainConfig field {key!r} ({hint})")
    kind = types_[key]
    args = typing.get_args(kind) if isinstance(kind, types.UnionType) else ()
    if type(None) in args:
        if text.strip().lower() in ("none", "null"):
            return None
        kind = next(a for a in args if a is not type(None))
    bad = f"--set {key}={text}: {key} takes"
    if kind is bool:
        if text.strip().lower() in _TRUE + _FALSE:
            return text.strip().lower() in _TRUE
        raise OptionError(f"{bad} true or false")
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise OptionError(f"{bad} {'an integer' if kind is int else 'a number'}") from None
    if key in CHOICES and text not in CHOICES[key]:
        raise OptionError(f"{bad} one of {', '.join(CHOICES[key])}")
    return text


def parse_setting(item: str) -> tuple[str, object]:
    """``"KEY=VALUE"`` as (field, value), the value parsed by the field's type (:func:`parse_value`)."""
    key, eq, text = item.partition("=")
    if not eq:
        raise OptionError(f"--set {item}: expected KEY=VALUE, e.g. --set lr=0.0001")
    return key.strip(), parse_value(key.strip(), text)


def train_config(preset: str = "cpu", options: Mapping[str, object] | None = None,
                 settings: Iterable[str] = ()) -> TrainConfig:
    """The run ``preset`` names, then ``options`` (field: value, e.g. from the command line's flags),
    then ``settings`` (``"KEY=VALUE"`` strings, the last word)."""
    if preset not in TRAIN_PRESETS:
        raise OptionError(f"unknown training preset {preset!r} (presets: {', '.join(TRAIN_PRESETS)})")
    tc = replace(TrainConfig(**TRAIN_PRESETS[preset]), **dict(options or {}))
    return replace(tc, **dict(parse_setting(s) for s in settings))
