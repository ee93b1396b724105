"""Model weights on disk: the shipped default, export from a training checkpoint, safe loading.

A weights file is a ``torch.save`` dict of tensors and plain values only, read with
``weights_only=True`` (no pickled code runs). Its identity inside a .vqv file is the first 8 bytes
of the file's SHA-256, so a file decodes only with the weights that made it. The shipped default is
also checked against the SHA-256 recorded in ``weights/manifest.json`` before it is used.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .errors import VqvError
from .fsutil import atomic_path, atomic_write_bytes, sha256_file
from .model import MSVQVAE, ModelConfig

WEIGHTS_DIR = Path(__file__).parent / "weights"
MANIFEST = WEIGHTS_DIR / "manifest.json"
FORMAT = "vqv-weights"
DIGEST_BYTES = 8
# Quantiser statistics only training needs (EMA sums and counts, idle counters): not shipped.
TRAINING_ONLY = (".ema_sum", ".ema_count", ".idle")


class WeightsError(VqvError):
    """A weights file is missing, corrupted or not a vqv model."""


@dataclass
class CodecModel:
    """A network ready for coding, with what the codec needs to know about it."""

    net: MSVQVAE
    sha256: str
    path: Path | None
    priors: dict[str, bytes] = field(default_factory=dict)   # kind -> serialised prior (e.g. empirical-static)
    card: dict = field(default_factory=dict)                 # measured operating points, training facts
    # Earlier releases of the same network with other priors: SHA-256 of that weights file ->
    # its priors. Files those releases wrote name that digest; they decode with this file too.
    legacy: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def for_digest(self, digest: bytes) -> "CodecModel | None":
        """This model as the release whose file had ``digest`` (same network, that release's
        priors), or ``None`` if it is neither this file nor a recorded earlier release."""
        if digest == self.digest:
            return self
        for sha, priors in self.legacy.items():
            if bytes.fromhex(sha)[:DIGEST_BYTES] == digest:
                return CodecModel(self.net, sha, self.path, priors, self.card)
        return None

    @classmethod
    def unsaved(cls, net: MSVQVAE, priors: dict[str, bytes] | None = None) -> "CodecModel":
        """A network that is not (yet) a weights file: no path, a placeholder digest."""
        return cls(net, "0" * 64, None, dict(priors or {}), {})

    @property
    def digest(self) -> bytes:
        return bytes.fromhex(self.sha256)[:DIGEST_BYTES]

    @property
    def cfg(self) -> ModelConfig:
        return self.net.cfg

    @property
    def qualities(self) -> list[int]:
        return self.net.qualities

    @property
    def default_quality(self) -> int:
        return self.net.cfg.default_quality


def _manifest() -> dict[str, dict]:
    """The manifest's entries, ``{name: {"file": name in WEIGHTS_DIR, "sha256": hex}}``; ``{}`` if none."""
    if not MANIFEST.is_file():
        return {}
    try:
        return json.loads(MANIFEST.read_text())
    except ValueError as e:                    # not JSON, or not UTF-8
        raise WeightsError(f"{MANIFEST} is corrupted: {e}") from None


def _listed(entry: dict, path: Path) -> bool:
    return (WEIGHTS_DIR / entry["file"]).resolve() == path.resolve()


def default_weights_path() -> Path:
    entry = _manifest().get("default")
    if entry is None:
        raise WeightsError(f"no shipped model: {MANIFEST} is missing or names no default (pass --model PATH)")
    return WEIGHTS_DIR / entry["file"]


def _expected_sha(path: Path) -> str | None:
    return next((e["sha256"] for e in _manifest().values() if _listed(e, path)), None)


def record_in_manifest(path: str | Path, sha256: str, name: str | None = None) -> bool:
    """Record the SHA-256 of the weights file ``path`` in the manifest, in every entry that lists the
    file; with ``name``, as that entry first. Only files in :data:`WEIGHTS_DIR` can be listed: for
    others nothing changes. Returns whether the manifest changed."""
    path = Path(path)
    entries = _manifest()
    if name is not None:
        entries[name] = {"file": path.name, "sha256": sha256}
    hit = [e for e in entries.values() if _listed(e, path)]
    for e in hit:
        e["sha256"] = sha256
    if hit:
        atomic_write_bytes(MANIFEST, (json.dumps(entries, indent=2) + "\n").encode())
    return bool(hit)


def load_model(path: str | Path | None = None, *, device: str | torch.device = "cpu") -> CodecModel:
    """Load a weights file (default: the shipped model), verified, in eval mode, float32."""
    p = Path(path) if path is not None else default_weights_path()
    if not p.is_file():
        raise WeightsError(f"model weights not found: {p}")
    sha = sha256_file(p)
    expected = _expected_sha(p)
    if expected is not None and expected != sha:
        raise WeightsError(f"{p.name} is corrupted: SHA-256 {sha[:16]}... does not match the manifest's {expected[:16]}...")
    blob = _torch_load(p, "model weights")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise WeightsError(f"{p} is not a vqv weights file")
    try:
        cfg = ModelConfig.from_dict(json.loads(blob["config"]))
        net = MSVQVAE(cfg)
        missing, unexpected = net.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()}, strict=False)
        missing = [k for k in missing if not k.endswith(TRAINING_ONLY)]
        if missing or unexpected:
            raise ValueError(f"missing {missing[:1]} unexpected {unexpected[:1]}")
    except Exception as e:  # noqa: BLE001
        raise WeightsError(f"{p} does not match this version's model: {str(e).splitlines()[0]}") from None
    net.to(device).eval()
    priors = {k: bytes(v.numpy().tobytes()) for k, v in blob.get("priors", {}).items()}
    card = json.loads(blob.get("card", "{}"))
    legacy: dict[str, dict[str, bytes]] = {}
    for key, v in blob.get("legacy_priors", {}).items():      # "<sha256>/<kind>"
        sha_old, _, kind = key.partition("/")
        legacy.setdefault(sha_old, {})[kind] = bytes(v.numpy().tobytes())
    return CodecModel(net, sha, p, priors, card, legacy)


def _torch_load(p: Path, what: str):
    """``torch.load`` of tensors and plain values only (no pickled code runs); a missing or
    unreadable file is a :class:`WeightsError`."""
    if not p.is_file():
        raise WeightsError(f"{what} not found: {p}")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise WeightsError(f"cannot read {what} {p}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def _tensor(b: bytes) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(b, dtype=np.uint8).copy())


def save_weights(net: MSVQVAE, out: str | Path, *, half: bool = True, priors: dict[str, bytes] | None = None,
                 card: dict | None = None, legacy: dict[str, dict[str, bytes]] | None = None) -> str:
    """Write a weights file (atomically); returns its SHA-256. ``legacy``: earlier releases'
    priors by their file's SHA-256 (see :attr:`CodecModel.legacy`)."""
    sd = {k: (v.half() if half and v.is_floating_point() else v).contiguous()
          for k, v in net.state_dict().items() if not k.endswith(TRAINING_ONLY)}
    blob = {"format": FORMAT, "version": 1, "config": json.dumps(net.cfg.to_dict()), "state_dict": sd,
            "priors": {k: _tensor(v) for k, v in (priors or {}).items()},
            "card": json.dumps(card or {})}
    if legacy:
        blob["legacy_priors"] = {f"{sha}/{kind}": _tensor(v) for sha, pr in legacy.items() for kind, v in pr.items()}
    out = Path(out)
    with atomic_path(out) as tmp:
        torch.save(blob, tmp)
    return sha256_file(out)


def net_from_checkpoint(path: str | Path, **config_overrides) -> MSVQVAE:
    """The network of a training checkpoint (``train.py``), optionally with config fields replaced."""
    from dataclasses import replace  # noqa: PLC0415

    state = _torch_load(Path(path), "training checkpoint")
    if not isinstance(state, dict) or not {"model", "model_config"} <= set(state):
        raise WeightsError(f"{path} is not a vqv training checkpoint")
    cfg = replace(ModelConfig.from_dict(state["model_config"]), **config_overrides)
    net = MSVQVAE(cfg)
    net.load_state_dict(state["model"])
    return net.eval()


def round_to_half(net: MSVQVAE) -> MSVQVAE:
    """The network as users get it (``save_weights(half=True)``): every float weight and buffer
    rounded to half precision, in place."""
    with torch.no_grad():
        for p in list(net.parameters()) + [b for b in net.buffers() if b.is_floating_point()]:
            p.copy_(p.half().float())
    return net


def resave_weights(model: CodecModel, *, priors: dict[str, bytes] | None = None, card: dict | None = None) -> str:
    """Rewrite ``model``'s weights file with new priors and/or card (same network, same precision);
    returns its new SHA-256. The file's digest changes, so the old file's priors are kept as a
    legacy entry: files coded with it still decode."""
    if model.path is None:
        raise WeightsError("this model was not loaded from a file")
    path = Path(model.path)
    blob = torch.load(path, map_location="cpu", weights_only=True)
    half = any(v.dtype == torch.float16 for v in blob["state_dict"].values())
    legacy = {**model.legacy, model.sha256: model.priors} if priors is not None and priors != model.priors \
        else model.legacy
    return save_weights(model.net, path, half=half, priors=model.priors if priors is None else priors,
                        card=model.card if card is None else card, legacy=legacy)
