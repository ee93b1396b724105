"""Model weights on disk: the shipped default, export from a training checkpoint, safe loading.

A weights file is a ``torch.save`` dict of tensors and plain values only, read with
``weights_only=True`` (no pickled code runs): ``format`` ("vqv-weights"), ``version`` (1, 2 when
it holds int8 tensors, 3 when its priors hold a quality ladder, :mod:`vqcodec.coding.ladder`), ``config`` (the ModelConfig as JSON), ``state_dict`` (float32 or half
tensors), with int8 precision ``int8`` (conv kernels) and ``int8_scales`` (one bfloat16 per output
channel), ``priors`` (serialised priors as uint8 tensors), ``card`` (JSON) and optionally
``legacy_priors``. Its identity inside a .vqv file is the first 8 bytes of the file's SHA-256, so a
file decodes only with the weights that made it. Shipped files are listed in ``weights/manifest.json``
with their SHA-256, checked before use; the entry ``default`` is the model ``vqv encode`` uses.
"""
from __future__ import annotations

import functools
import json
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vqcodec.coding.ladder import Ladder, LadderPoint
from vqcodec.coding.motion_residual import ResidualBasis
from vqcodec.io.files import atomic_path, atomic_write_bytes, sha256_file
from vqcodec.net.model import MSVQVAE, ModelConfig
from vqcodec.weights_check import (
    WeightsError,
    card_from_json,
    check_archive,
    check_tensors,
    config_from_json,
    field_error,
    prior_blobs,
)

WEIGHTS_DIR = Path(__file__).parent / "weights"
MANIFEST = WEIGHTS_DIR / "manifest.json"
FORMAT = "vqv-weights"
WEIGHTS_VERSION = 4          # 1: float or half tensors; 2: int8 kernels too; 3: a quality ladder; 4: a light
#                              synthesis beside the decoder (an older reader refuses it: upgrade)
LADDER_KIND = "scalar"       # the priors entry holding a quality ladder with scalar points
DIGEST_BYTES = 8
# How a weights file stores the network: float32, half, or int8 conv kernels (per-channel scales) with
# everything else half. int8 costs the cpu-hq network <= 0.01 dB at every operating point (README).
PRECISIONS = ("float", "half", "int8")
# Quantiser statistics only training needs (EMA sums and counts, idle counters): not shipped.
TRAINING_ONLY = (".ema_sum", ".ema_count", ".idle")


_BFLOAT16_NETS: "weakref.WeakKeyDictionary[MSVQVAE, MSVQVAE]" = weakref.WeakKeyDictionary()
_BFLOAT16_LOCK = threading.Lock()


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
    _ladder: Ladder | None = field(default=None, repr=False, compare=False)
    # priors parsed from ``priors`` (kind -> (the blob parsed, the prior)): see coding.prior_choice
    parsed_priors: dict = field(default_factory=dict, repr=False, compare=False)
    light: bool = True      # decode with the light synthesis if any; not an earlier release's files (synthesis_for)

    def for_digest(self, digest: bytes) -> "CodecModel | None":
        """This model as the release whose file had ``digest`` (same network, that release's
        priors), or ``None`` if it is neither this file nor a recorded earlier release."""
        if digest == self.digest:
            return self
        for sha, priors in self.legacy.items():
            if bytes.fromhex(sha)[:DIGEST_BYTES] == digest:
                return CodecModel(self.net, sha, self.path, priors, self.card, light=False)
        return None

    def full_synthesis(self) -> "CodecModel":
        """This model as the release before its light synthesis (card ``light_synthesis.replaces``): the decoder
        everywhere, under that release's digest and priors (its files byte for byte); itself without one."""
        if not self.net.cfg.has_light_synthesis:
            return self
        sha = str(self.card.get("light_synthesis", {}).get("replaces")) if isinstance(self.card, dict) else ""
        if sha not in self.legacy:
            raise WeightsError(f"{self.path}: no release of this network without its light synthesis is recorded")
        return self.for_digest(bytes.fromhex(sha)[:DIGEST_BYTES])

    def computing_in(self, network_float: str) -> "CodecModel":
        """This model as a file of ``network_float`` ("float32" or "bfloat16", header key 21) runs it: the same
        digest, priors and codebooks, the network's convolutions in that float (:meth:`MSVQVAE.in_bfloat16`,
        made once per network)."""
        if network_float == "float32":
            return self
        if network_float != "bfloat16":
            raise ValueError(f"unknown network float {network_float!r}")
        with _BFLOAT16_LOCK:
            out = self.__dict__.get("_bfloat16")
            if out is None:
                net = _BFLOAT16_NETS.get(self.net)
                if net is None:
                    net = _BFLOAT16_NETS[self.net] = self.net.in_bfloat16()
                out = CodecModel(net, self.sha256, self.path, self.priors, self.card, self.legacy,
                                 _ladder=self.ladder, light=self.light)
                out.parsed_priors = self.parsed_priors          # the priors parsed once, whatever the float
                self.__dict__["_bfloat16"] = out
        return out

    def with_priors(self, priors: dict[str, bytes]) -> "CodecModel":
        """The same file's network with other priors (a ladder or priors being fitted, not yet saved)."""
        return CodecModel(self.net, self.sha256, self.path, dict(priors), self.card, self.legacy, light=self.light)

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
    def ladder(self) -> Ladder:
        """What each quality means: the shipped ladder (prior kind ``"scalar"``), else the network's
        VQ operating points."""
        if self._ladder is None:
            blob = self.priors.get(LADDER_KIND)
            if blob is None:
                self._ladder = Ladder(tuple(LadderPoint(t, b) for t, b in self.cfg.operating_points), {})
            else:
                try:
                    lad = Ladder.from_bytes(blob)
                    cfg = self.cfg
                    lad.check_network(0 if cfg.single_level else cfg.top_stages, cfg.bottom_stages, cfg.latent_dim,
                                      cfg.bottom_factor)
                except ValueError as e:         # ModelDataError, or EntropyError from its tables
                    where = f"{self.path}: " if self.path is not None else ""
                    raise WeightsError(f"{where}the model's quality ladder is unusable: {e}") from None
                self._ladder = lad
        return self._ladder

    @functools.cached_property
    def motion_residual_basis(self) -> ResidualBasis | None:
        """The integer tables of the motion residual (:mod:`vqcodec.coding.motion_residual`), or None for
        a network without a linear path."""
        return ResidualBasis.from_network(self.net)

    def point(self, quality: int) -> LadderPoint:
        """The operating point of ``quality`` (ValueError when it is not offered)."""
        return self.ladder.point(quality)

    @property
    def qualities(self) -> list[int]:
        return list(range(1, len(self.ladder.points) + 1))

    @property
    def vq_qualities(self) -> list[int]:
        """The qualities that code the bottom latent with VQ stages (what the code priors are fitted on)."""
        return [q for q, p in enumerate(self.ladder.points, 1) if not p.scalar]

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
    file; with ``name``, as that entry first (a file that entry named before stays listed under its
    file name). Only files in :data:`WEIGHTS_DIR` can be listed: for
    others nothing changes. Returns whether the manifest changed."""
    path = Path(path)
    entries = _manifest()
    if name is not None:
        before = entries.get(name)
        if before is not None and before["file"] != path.name and not any(
                e is not before and e["file"] == before["file"] for e in entries.values()):
            # A new default keeps the old one listed (by its file name), so the files it made still decode.
            entries.setdefault(Path(before["file"]).stem, before)
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
    version = blob.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise field_error(p, "version", f"is {version!r}, not a version number")
    if version > WEIGHTS_VERSION:
        raise WeightsError(f"{p} is a weights file of a newer vqv (version {version}); upgrade vqv")
    # every field checked (type, range, size) before it is used: see vqcodec.weights_check
    cfg = config_from_json(p, blob.get("config"))
    check_tensors(p, blob, cfg, TRAINING_ONLY)
    priors = prior_blobs(p, blob, "priors")
    card = card_from_json(p, blob.get("card", "{}"))
    legacy: dict[str, dict[str, bytes]] = {}
    for key, v in prior_blobs(p, blob, "legacy_priors", legacy=True).items():      # "<sha256>/<kind>"
        sha_old, _, kind = key.partition("/")
        legacy.setdefault(sha_old, {})[kind] = v
    try:
        net = MSVQVAE(cfg)
        missing, unexpected = net.load_state_dict(unpack_state(blob), strict=False)
        missing = [k for k in missing if not k.endswith(TRAINING_ONLY)]
        if missing or unexpected:
            raise ValueError(f"missing {missing[:1]} unexpected {unexpected[:1]}")
    except Exception as e:  # noqa: BLE001
        raise WeightsError(f"{p} does not match this version's model: {str(e).splitlines()[0]}") from None
    net.to(device).eval()
    return CodecModel(net, sha, p, priors, card, legacy)


def shipped_models() -> dict[str, Path]:
    """The manifest's models by name, the default first: the current model and the earlier
    defaults kept so that files they made still decode."""
    entries = _manifest()
    return {n: WEIGHTS_DIR / entries[n]["file"] for n in sorted(entries, key=lambda n: n != "default")}


def model_for_file(digest: bytes, path: str | Path | None = None) -> CodecModel:
    """The model to read a file whose header names ``digest``: ``path`` if given (the caller checks
    it is the right one), else the shipped model that made the file (the default, or an earlier
    default kept in the manifest), else the default (which then refuses the file with a clear error)."""
    if path is not None:
        return load_model(path)
    files = list(dict.fromkeys(shipped_models().values()))
    named = [WEIGHTS_DIR / e["file"] for e in _manifest().values()
             if bytes.fromhex(e["sha256"])[:DIGEST_BYTES] == digest]
    # else a re-saved file (new priors) that keeps its earlier releases' priors inside
    for p in named[:1] or files:
        m = load_model(p)
        if m.for_digest(digest) is not None:
            return m
    return load_model()


def _torch_load(p: Path, what: str):
    """``torch.load`` of tensors and plain values only (no pickled code runs); a missing or
    unreadable file is a :class:`WeightsError`."""
    if not p.is_file():
        raise WeightsError(f"{what} not found: {p}")
    check_archive(p, what)          # no record larger than the file, before torch reads one
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise WeightsError(f"cannot read {what} {p}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def _tensor(b: bytes) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(b, dtype=np.uint8).copy())


def save_weights(net: MSVQVAE, out: str | Path, *, precision: str = "half", priors: dict[str, bytes] | None = None,
                 card: dict | None = None, legacy: dict[str, dict[str, bytes]] | None = None) -> str:
    """Write a weights file (atomically) at ``precision`` (see :data:`PRECISIONS`); returns its
    SHA-256. ``legacy``: earlier releases' priors by their file's SHA-256 (see :attr:`CodecModel.legacy`)."""
    packed = pack_state(net, precision)
    # an older reader must refuse a ladder it cannot read rather than misread the qualities
    version = 4 if net.cfg.has_light_synthesis else 3 if LADDER_KIND in (priors or {}) else 2 if "int8" in packed else 1
    # one tensor per distinct blob: torch.save stores a shared storage once, so the earlier releases'
    # priors that did not change (the learned prior, 0.8 MB, in every release since 0.4) cost nothing
    shared: dict[bytes, torch.Tensor] = {}

    def tensor(b: bytes) -> torch.Tensor:
        key = bytes(b)
        if key not in shared:
            shared[key] = _tensor(key)
        return shared[key]
    blob = {"format": FORMAT, "version": version, "config": json.dumps(net.cfg.to_dict()),
            **packed,
            "priors": {k: tensor(v) for k, v in (priors or {}).items()},
            "card": json.dumps(card or {})}
    if legacy:
        blob["legacy_priors"] = {f"{sha}/{kind}": tensor(v) for sha, pr in legacy.items() for kind, v in pr.items()}
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


def _int8_kernel(w: torch.Tensor) -> bool:
    """Conv kernels (and the linear path's 1x1x1 convs) go to int8; biases, norms and codebooks stay
    half: the codebooks are what the nearest-code search compares latents against."""
    return w.dim() >= 2


def _int8_rows(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per output channel. The scale is a bfloat16, so ``q * scale`` is exact in float32
    and packing an already-packed network gives the same bytes (resave and ship stay exact)."""
    flat = w.detach().float().reshape(w.shape[0], -1)
    amax = flat.abs().amax(1)
    scale = torch.where(amax > 0, amax / 127, torch.ones_like(amax)).to(torch.bfloat16)
    q = torch.round(flat / scale.float()[:, None]).clamp_(-127, 127).to(torch.int8)
    return q.reshape(w.shape).contiguous(), scale


def pack_state(net: MSVQVAE, precision: str) -> dict:
    """The stored tensors of a weights file: ``state_dict`` (float32, or half), and with ``int8`` the
    conv kernels in ``int8`` with one bfloat16 ``int8_scales`` entry per output channel. An int8 file
    lists those kernels outside ``state_dict``, so an older reader refuses it instead of misreading it."""
    if precision not in PRECISIONS:
        raise WeightsError(f"unknown weights precision {precision!r} (choose from {', '.join(PRECISIONS)})")
    sd, q8, scales = {}, {}, {}
    for k, v in net.state_dict().items():
        if k.endswith(TRAINING_ONLY):
            continue
        if precision == "int8" and v.is_floating_point() and k.endswith(".weight") and _int8_kernel(v):
            q8[k], scales[k] = _int8_rows(v)
        else:
            sd[k] = (v.half() if precision != "float" and v.is_floating_point() else v).contiguous()
    return {"state_dict": sd, **({"int8": q8, "int8_scales": scales} if q8 else {})}


def unpack_state(blob: dict) -> dict[str, torch.Tensor]:
    """A float32 state dict from a weights file's stored tensors (:func:`pack_state`'s inverse)."""
    sd = {k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()}
    scales = blob.get("int8_scales", {})
    for k, q in blob.get("int8", {}).items():
        s = scales[k].float()
        sd[k] = q.float() * s.reshape(-1, *([1] * (q.dim() - 1)))
    return sd


def stored_precision(blob: dict) -> str:
    if blob.get("int8"):
        return "int8"
    return "half" if any(v.dtype == torch.float16 for v in blob["state_dict"].values()) else "float"


def round_to(net: MSVQVAE, precision: str) -> MSVQVAE:
    """The network as users get it from ``save_weights(precision=...)``, in place: what the file
    will hold, read back."""
    net.load_state_dict(unpack_state(pack_state(net, precision)), strict=False)
    return net


def resave_weights(model: CodecModel, *, priors: dict[str, bytes] | None = None, card: dict | None = None) -> str:
    """Rewrite ``model``'s weights file with new priors and/or card (same network, same precision);
    returns its new SHA-256. The file's digest changes, so the old file's priors are kept as a
    legacy entry: files coded with it still decode."""
    if model.path is None:
        raise WeightsError("this model was not loaded from a file")
    path = Path(model.path)
    blob = torch.load(path, map_location="cpu", weights_only=True)
    legacy = {**model.legacy, model.sha256: model.priors} if priors is not None and priors != model.priors \
        else model.legacy
    return save_weights(model.net, path, precision=stored_precision(blob), priors=model.priors if priors is None else priors,
                        card=model.card if card is None else card, legacy=legacy)


# ------------------------------------------------------------------------------- conditional coders

#: The shipped conditional coders' files (``{name: {"file", "sha256"}}``, "default" the one encoders use;
#: earlier defaults stay listed so that the files they made decode): :mod:`vqcodec.coding.conditional_coder`.
CODERS_MANIFEST = WEIGHTS_DIR / "conditional_coders.json"
CODER_FORMAT = "vqv-conditional-coder"
CODER_VERSION = 2            # 2: the symbols' tables per activity context (``edges``; tables (channels, contexts, K))
MAX_CODER_CONTEXTS = 16
MAX_CODER_LIMIT = 255


def _coders_manifest() -> dict[str, dict]:
    if not CODERS_MANIFEST.is_file():
        return {}
    try:
        return json.loads(CODERS_MANIFEST.read_text())
    except ValueError as e:
        raise WeightsError(f"{CODERS_MANIFEST} is corrupted: {e}") from None


def shipped_conditional_coder() -> Path | None:
    """The conditional coders' file encoders use by default, or None where none is shipped."""
    entry = _coders_manifest().get("default")
    return None if entry is None else WEIGHTS_DIR / entry["file"]


def load_conditional_coder(path: str | Path):
    """A conditional coders' file (:mod:`vqcodec.coding.conditional_coder`), every field checked;
    a listed file's SHA-256 must match its listing."""
    from vqcodec.coding.conditional_coder import ConditionalCoder
    from vqcodec.coding.motion_residual import CoderTables
    from vqcodec.net.conditional_coder import ConditionalCoderNet

    p = Path(path)
    sha = sha256_file(p) if p.is_file() else None
    listed = next((e["sha256"] for e in _coders_manifest().values() if _listed(e, p)), None)
    if sha is not None and listed is not None and listed != sha:
        raise WeightsError(f"{p.name} is corrupted: SHA-256 {sha[:16]}... does not match its listing {listed[:16]}...")
    blob = _torch_load(p, "conditional coders")
    if not isinstance(blob, dict) or blob.get("format") != CODER_FORMAT:
        raise WeightsError(f"{p} is not a vqv conditional coders file")
    if blob.get("version") != CODER_VERSION:
        raise WeightsError(f"{p}: conditional coders file version {blob.get('version')!r} (this vqv reads {CODER_VERSION})")
    dims = {k: blob.get(k) for k in ("channels", "width", "features", "limit")}
    for k, v in dims.items():
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= (MAX_CODER_LIMIT if k == "limit" else 1024):
            raise field_error(p, k, f"is {v!r}")
    edges = blob.get("edges")
    if not isinstance(edges, list) or len(edges) >= MAX_CODER_CONTEXTS \
            or not all(isinstance(e, int) and not isinstance(e, bool) and 0 < e < 1 << 20 for e in edges) \
            or any(a >= b for a, b in zip(edges, edges[1:])):
        raise field_error(p, "edges", f"is not an ascending list of under {MAX_CODER_CONTEXTS} positive integers")
    coders = blob.get("coders")
    if not isinstance(coders, list) or not 1 <= len(coders) <= 8:
        raise field_error(p, "coders", "is not a list of 1..8 coders")
    nets, counts, lambdas = [], [], []
    shape = (dims["channels"], len(edges) + 1, 2 * dims["limit"] + 1)
    for i, c in enumerate(coders):
        cnt = c.get("counts") if isinstance(c, dict) else None
        if not isinstance(cnt, torch.Tensor) or tuple(cnt.shape) != shape or cnt.dtype != torch.int64 \
                or bool((cnt < 0).any()) or bool((cnt.sum(-1) <= 0).any()):
            raise field_error(p, f"coders[{i}].counts", f"is not int64 {shape} non-negative counts")
        net = ConditionalCoderNet(dims["channels"], dims["width"], dims["features"])
        try:
            net.load_state_dict({k: v.float() for k, v in c["state"].items()})
        except Exception as e:  # noqa: BLE001
            raise WeightsError(f"{p}: coder {i} does not fit this vqv's network: {str(e).splitlines()[0]}") from None
        nets.append(net.eval())
        counts.append(cnt.numpy())
        lam = c.get("lambda", 0.0)
        lambdas.append(float(lam) if isinstance(lam, (int, float)) else 0.0)
    return ConditionalCoder(tuple(nets), CoderTables(np.stack(counts).astype(np.int64), dims["limit"], tuple(edges)),
                            bytes.fromhex(sha or sha256_file(p))[:DIGEST_BYTES], tuple(lambdas))


@functools.lru_cache(maxsize=1)
def default_conditional_coder():
    """The shipped default conditional coders (loaded once), or None where none are shipped."""
    p = shipped_conditional_coder()
    return None if p is None else load_conditional_coder(p)


def conditional_coder_for_file(digest: bytes):
    """The shipped conditional coders a file's header (key 20) names: a WeightsError if none matches."""
    default = default_conditional_coder()
    if default is not None and default.digest == digest:
        return default
    for e in _coders_manifest().values():
        if bytes.fromhex(e["sha256"])[:len(digest)] == digest:
            return load_conditional_coder(WEIGHTS_DIR / e["file"])
    raise WeightsError(f"this file needs conditional coders {digest.hex()}, which this vqv does not ship")
