"""vqv in the benchmark: ``vqcodec.coding.encoder.encode_frames`` / ``decode_bytes`` with a model, and a
record of which code and weights were measured (whichever ``vqcodec`` is imported: put an older
release first on PYTHONPATH, run with ``python -P``, to measure it: benchmarks/README.md)."""
from __future__ import annotations

import hashlib
import inspect
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np
import torch

import vqcodec
from benchmarks.clips import PROTOCOL_FPS, Clip
from benchmarks.compat import PRIOR_CHOICES, decode_bytes, encode_frames, encoder_module, sha256_file
from benchmarks.curves import make_point
from vqcodec.errors import VqvError, describe_error
from vqcodec.weights import load_model

#: the priors measured unless --priors says otherwise: every one the codec offers but "auto"
DEFAULT_PRIORS = tuple(p for p in PRIOR_CHOICES if p != "auto")
#: encode_frames keywords the benchmark always sets itself
_ENCODE_OWN = {"frames", "fps", "model", "quality", "prior"}


@dataclass
class VqvHook:
    encode: object  # encode_frames
    decode: object  # decode_bytes
    model: object
    qualities: list[int]
    priors: list[str]
    #: extra keyword arguments given to every encode call (only those the user set explicitly)
    options: dict = field(default_factory=dict)
    #: what the codec was: encode_frames' keyword defaults, the module's file, a digest of its sources
    describe: dict = field(default_factory=dict)


def encoder_defaults(encode) -> dict:
    """encode_frames' other keyword parameters and their defaults (e.g. ``rdo_strength``/``refresh``,
    or an older release's ``gop_context``)."""
    return {n: (None if p.default is inspect.Parameter.empty else p.default)
            for n, p in inspect.signature(encode).parameters.items()
            if n not in _ENCODE_OWN and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def codec_fingerprint() -> dict:
    """Where the imported codec lives and a digest of its package's .py files (which code was measured)."""
    module = Path(encoder_module.__file__).resolve()
    pkg = Path(vqcodec.__file__).resolve().parent
    h = hashlib.sha256()
    for q in sorted(pkg.rglob("*.py")):
        h.update(q.relative_to(pkg).as_posix().encode() + b"\0" + q.read_bytes())
    return {"module": str(module), "sources_sha256": h.hexdigest()[:16]}


def load_vqv(weights: str | None, priors: list[str] | None, options: dict | None = None) -> VqvHook:
    """The codec with its model (``weights``, default the shipped one) and the priors to measure.

    ``options`` (e.g. ``{"rdo_strength": 0.0, "refresh": 8}``; None values are left out) are passed
    to every ``encode_frames`` call; asking for one this codec's ``encode_frames`` does not take is
    an error, not a silent no-op.
    """
    options = {k: v for k, v in (options or {}).items() if v is not None}
    defaults = encoder_defaults(encode_frames)
    missing = [k for k in options if k not in defaults]
    if missing:
        raise click.ClickException(
            f"this vqcodec's encode_frames{inspect.signature(encode_frames)} takes no {', '.join(missing)} "
            f"({codec_fingerprint()['module']})")
    try:
        model = load_model(weights)
    except (VqvError, OSError) as e:
        raise click.ClickException(f"cannot load the vqv model {weights or '(shipped)'}: {describe_error(e)}") from None
    describe = {**codec_fingerprint(), "encoder_defaults": defaults, "encoder_options": {**defaults, **options}}
    if model.path:
        describe["weights_file"] = str(model.path)
        describe["weights_sha256"] = sha256_file(model.path)[:16]
    return VqvHook(encode_frames, decode_bytes, model, sorted(int(q) for q in model.qualities),
                   list(DEFAULT_PRIORS if priors is None else priors), options, describe)


def run_vqv(vqv: VqvHook, settings: list[tuple[int, str]], clips: list[Clip], points: list[dict], info: dict,
            bar, log) -> None:
    """Encode and decode every clip at every (quality, prior); append the points. A prior the model
    cannot use (its first encode fails with a VqvError, e.g. no learned prior shipped) is skipped
    and listed in ``info["priors_skipped"]``."""
    bad: dict[str, str] = {}
    with torch.inference_mode():
        for clip in clips:
            for q, prior in settings:
                if prior in bad:
                    bar.update(1)
                    continue
                bar.set_description(f"vqv q={q} {prior}")
                t0 = time.perf_counter()
                try:
                    data = vqv.encode(clip.frames, PROTOCOL_FPS, model=vqv.model, quality=q, prior=prior, **vqv.options)
                except VqvError as e:
                    if any(p["codec"] == f"vqv-{prior}" for p in points):
                        raise  # the prior worked before: a real failure, not an unavailable prior
                    bad[prior] = f"{type(e).__name__}: {describe_error(e)}"
                    log(f"vqv prior {prior!r} skipped: {bad[prior]}")
                    bar.update(1)
                    continue
                enc_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                dec = np.asarray(vqv.decode(data, model=vqv.model))
                dec_s = time.perf_counter() - t0
                points.append(make_point(f"vqv-{prior}", f"q={q}", clip, len(data), len(data), dec, enc_s, dec_s))
                bar.update(1)
    info["priors"] = [p for p in info["priors_requested"] if p not in bad]
    if bad:
        info["priors_skipped"] = bad
