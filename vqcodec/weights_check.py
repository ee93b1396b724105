"""The schema of a weights file (:mod:`vqcodec.weights`), checked before anything is built from it.

A weights file comes from the user (``--model``): every field is checked for its type, its range and
its size before use, so a malformed file ends in one :class:`WeightsError` line naming the file and
the field, never in a raw Python message or an allocation the file cannot back:

* the torch zip archive: every record stored (not compressed) and inside the file, before
  ``torch.load`` reads it (:func:`check_archive`), so a record declared as 4 GiB is refused unread;
* ``config``: JSON of a :class:`~vqcodec.net.config.ModelConfig` whose every field has its type and
  lies within :data:`CONFIG_BOUNDS` (:func:`config_from_json`);
* the network's tensors: the shape of every one the config implies, computed on the ``meta`` device
  (nothing allocated), must be what the file stores (:func:`check_tensors`): the network built next
  is no larger than the file;
* ``priors``, ``legacy_priors``: names to 1-D uint8 tensors (:func:`prior_blobs`); ``card``: JSON of
  a map (:func:`card_from_json`).
"""
from __future__ import annotations

import json
import math
import re
import zipfile
from pathlib import Path

import torch

from vqcodec.errors import VqvError, one_line
from vqcodec.net.config import ModelConfig

__all__ = [
    "CONFIG_BOUNDS",
    "MAX_RECORDS",
    "WeightsError",
    "card_from_json",
    "check_archive",
    "check_tensors",
    "config_from_json",
    "field_error",
    "prior_blobs",
]

#: Bounds of the numbers a config may hold (the shipped models use a fraction of each).
CONFIG_BOUNDS = {"levels": (1, 6), "stride": (1, 8), "channels": (1, 4096), "blocks": (0, 32),
                 "latent_dim": (1, 1024), "codebook": (1, 1 << 16), "top_stages": (0, 64),
                 "bottom_stages": (0, 64), "operating_points": (1, 64), "clip": (1, 4096)}
MAX_RECORDS = 1 << 16          # records in a weights file's zip archive (the shipped ones: a few hundred)
MAX_NAME = 256                 # characters of a prior's or a tensor's name
_SHA = re.compile(r"[0-9a-f]{64}")


class WeightsError(VqvError):
    """A weights file is missing, corrupted or not a vqv model."""


def field_error(p: Path, name: str, problem: str) -> WeightsError:
    return WeightsError(one_line(f"{p} is not a usable vqv weights file: {name} {problem}"))


def _kind(v: object) -> str:
    return "null" if v is None else type(v).__name__


def _a(v: object) -> str:
    """``v``'s type with its article: "an int", "a list", "null"."""
    k = _kind(v)
    return k if v is None else f"an {k}" if k[0] in "aeiou" else f"a {k}"


def check_archive(p: Path, what: str) -> None:
    """``p`` is a zip archive (what ``torch.save`` writes) whose records are all stored uncompressed
    and lie inside the file: a record's declared size cannot exceed what the file holds."""
    try:
        size = p.stat().st_size
        with zipfile.ZipFile(p) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as e:
        if isinstance(e, OSError) and not isinstance(e, zipfile.BadZipFile) and e.errno is not None:
            raise
        raise WeightsError(one_line(f"cannot read {what} {p}: not a torch zip archive ({e})")) from None
    if len(infos) > MAX_RECORDS:
        raise WeightsError(f"cannot read {what} {p}: {len(infos)} zip records (at most {MAX_RECORDS})")
    total = 0
    for i in infos:
        if i.compress_type != zipfile.ZIP_STORED or i.file_size != i.compress_size \
                or i.header_offset + i.file_size > size:
            raise WeightsError(one_line(
                f"cannot read {what} {p}: zip record {i.filename!r} declares {i.file_size} bytes "
                f"({'compressed' if i.compress_type != zipfile.ZIP_STORED else 'stored'}) that the "
                f"{size}-byte file does not hold"))
        total += i.file_size
    if total > size:
        raise WeightsError(f"cannot read {what} {p}: its zip records declare {total} bytes, the file has {size}")


# --------------------------------------------------------------------------------------- config


def _int(p: Path, name: str, v: object, bounds: tuple[int, int]) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise field_error(p, f"config.{name}", f"is {_a(v)}, not an integer")
    if not bounds[0] <= v <= bounds[1]:
        raise field_error(p, f"config.{name}", f"is {v}, outside {bounds[0]}..{bounds[1]}")
    return v


def _ints(p: Path, name: str, v: object, bounds: tuple[int, int], n: int | None = None) -> tuple[int, ...]:
    if not isinstance(v, list):
        raise field_error(p, f"config.{name}", f"is {_a(v)}, not a list")
    if n is not None and len(v) != n:
        raise field_error(p, f"config.{name}", f"has {len(v)} entries, not {n}")
    return tuple(_int(p, f"{name}[{i}]", x, bounds) for i, x in enumerate(v))


def _json_map(p: Path, field: str, text: object) -> dict:
    """A field holding JSON text of a map, parsed; anything else a one-line error naming the field."""
    if not isinstance(text, str):
        raise field_error(p, field, f"is {_a(text)}, not JSON text")
    try:
        d = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise field_error(p, field, f"is not JSON ({type(e).__name__})") from None
    if not isinstance(d, dict):
        raise field_error(p, field, f"is JSON {_a(d)}, not a map")
    return d


def config_from_json(p: Path, text: object) -> ModelConfig:
    """The network's config from the file's ``config`` field (JSON), every field checked."""
    d = _json_map(p, "config", text)
    b = CONFIG_BOUNDS
    kw: dict = {}
    strides = d.get("bottom_strides", [list(s) for s in ModelConfig.bottom_strides])
    if not isinstance(strides, list) or not b["levels"][0] <= len(strides) <= b["levels"][1]:
        raise field_error(p, "config.bottom_strides", f"must be a list of {b['levels'][0]}..{b['levels'][1]} strides")
    n = len(strides)
    kw["bottom_strides"] = tuple(_ints(p, f"bottom_strides[{i}]", s, b["stride"], 3) for i, s in enumerate(strides))
    for name, bound in (("bottom_channels", "channels"), ("bottom_blocks", "blocks"),
                        ("decoder_channels", "channels"), ("decoder_blocks", "blocks")):
        if name in d:
            kw[name] = _ints(p, name, d[name], b[bound], n)
    if "top_stride" in d:
        kw["top_stride"] = _ints(p, "top_stride", d["top_stride"], b["stride"], 3)
    if "light_channels" in d or "light_blocks" in d:
        kw["light_channels"] = _ints(p, "light_channels", d.get("light_channels"), b["channels"], n)
        kw["light_blocks"] = _ints(p, "light_blocks", d.get("light_blocks"), b["blocks"], n)
    for name, bound in (("top_channels", "channels"), ("top_blocks", "blocks"), ("latent_dim", "latent_dim"),
                        ("top_codebook", "codebook"), ("bottom_codebook", "codebook"),
                        ("top_stages", "top_stages"), ("bottom_stages", "bottom_stages"),
                        ("clip_frames", "clip"), ("clip_size", "clip")):
        if name in d:
            kw[name] = _int(p, name, d[name], b[bound])
    _config_others(p, d, kw)
    cfg = ModelConfig(**kw)
    for name in ("bottom_channels", "bottom_blocks", "decoder_channels", "decoder_blocks"):
        if len(getattr(cfg, name)) != n:
            raise field_error(p, f"config.{name}", f"has {len(getattr(cfg, name))} entries, not {n}")
    return cfg


def _config_others(p: Path, d: dict, kw: dict) -> None:
    """The config's fields that are not sizes: name, conv, ema_decay, linear_path, the operating points."""
    if "name" in d:
        if not isinstance(d["name"], str) or len(d["name"]) > MAX_NAME:
            raise field_error(p, "config.name", f"is {_a(d['name'])}, not a short string")
        kw["name"] = d["name"]
    if "conv" in d:
        if d["conv"] not in ("3d", "2+1d"):
            raise field_error(p, "config.conv", "is neither \"3d\" nor \"2+1d\"")
        kw["conv"] = d["conv"]
    if "ema_decay" in d:
        v = d["ema_decay"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise field_error(p, "config.ema_decay", "is not a number in 0..1")
        kw["ema_decay"] = float(v)
    if "linear_path" in d:
        if not isinstance(d["linear_path"], bool):
            raise field_error(p, "config.linear_path", f"is {_a(d['linear_path'])}, not true or false")
        kw["linear_path"] = d["linear_path"]
    top = kw.get("top_stages", ModelConfig.top_stages)
    bottom = kw.get("bottom_stages", ModelConfig.bottom_stages)
    if "operating_points" in d:
        pts = d["operating_points"]
        lo, hi = CONFIG_BOUNDS["operating_points"]
        if not isinstance(pts, list) or not lo <= len(pts) <= hi:
            raise field_error(p, "config.operating_points", f"must be a list of {lo}..{hi} points")
        kw["operating_points"] = tuple(
            (_int(p, f"operating_points[{i}][0]", _pair(p, i, x)[0], (0, top)),
             _int(p, f"operating_points[{i}][1]", _pair(p, i, x)[1], (0, bottom))) for i, x in enumerate(pts))
    n_points = len(kw.get("operating_points", ModelConfig.operating_points))
    if "default_quality" in d:
        kw["default_quality"] = _int(p, "default_quality", d["default_quality"], (1, n_points))


def _pair(p: Path, i: int, x: object) -> list:
    if not isinstance(x, list) or len(x) != 2:
        raise field_error(p, f"config.operating_points[{i}]", "is not a pair of stage counts")
    return x


# --------------------------------------------------------------------------------------- tensors


def _tensor_map(p: Path, blob: dict, name: str) -> dict[str, torch.Tensor]:
    v = blob.get(name, {})
    if not isinstance(v, dict):
        raise field_error(p, name, f"is {_a(v)}, not a map of tensors")
    for k, t in v.items():
        if not isinstance(k, str) or len(k) > MAX_NAME:
            raise field_error(p, name, f"has a key {one_line(repr(k), 60)} that is not a tensor name")
        if not isinstance(t, torch.Tensor):
            raise field_error(p, f"{name}[{k!r}]", f"is {_a(t)}, not a tensor")
    return v


def check_tensors(p: Path, blob: dict, cfg: ModelConfig, training_only: tuple[str, ...]) -> None:
    """Every tensor of the network ``cfg`` describes is stored, with its shape and a usable dtype
    (float in ``state_dict``, or int8 in ``int8`` with one scale per output channel in
    ``int8_scales``); none is stored that the network lacks. Checked on a network built on the
    ``meta`` device: nothing of the config's size is allocated before the file is known to back it."""
    from vqcodec.net.model import MSVQVAE

    if "state_dict" not in blob:
        raise field_error(p, "state_dict", "is missing")
    sd, q8, scales = (_tensor_map(p, blob, n) for n in ("state_dict", "int8", "int8_scales"))
    if set(q8) != set(scales) or set(q8) & set(sd):
        raise field_error(p, "int8_scales", "does not list exactly the int8 tensors")
    with torch.device("meta"):
        full = MSVQVAE(cfg).state_dict()
    stored = {**sd, **q8}
    want = {k: v for k, v in full.items() if not k.endswith(training_only) or k in stored}
    extra = sorted(set(stored) - set(want))
    missing = sorted(set(want) - set(stored))
    if missing:
        raise field_error(p, "state_dict", f"lacks {missing[0]!r}, which the network of its config has "
                          f"({len(missing)} missing)")
    if extra:
        raise field_error(p, "state_dict", f"has {extra[0]!r}, which the network of its config lacks "
                          f"({len(extra)} unknown)")
    for k, w in want.items():
        t = stored[k]
        name = f"{'int8' if k in q8 else 'state_dict'}[{k!r}]"
        if tuple(t.shape) != tuple(w.shape):
            raise field_error(p, name, f"has shape {tuple(t.shape)}, the config's network needs {tuple(w.shape)}")
        if k in q8:
            ok = t.dtype == torch.int8 and w.is_floating_point() and t.dim() >= 1
            s = scales[k]
            if ok and (tuple(s.shape) != (t.shape[0],) or not s.is_floating_point()):
                raise field_error(p, f"int8_scales[{k!r}]", f"has shape {tuple(s.shape)}, not ({t.shape[0]},)")
        else:
            ok = t.is_floating_point() if w.is_floating_point() else t.dtype == w.dtype
        if not ok or t.is_complex():
            raise field_error(p, name, f"has dtype {t.dtype}, the network needs {w.dtype}")


def prior_blobs(p: Path, blob: dict, name: str, legacy: bool = False) -> dict[str, bytes]:
    """The file's ``priors`` (kind -> blob) or ``legacy_priors`` (``"<sha256>/<kind>"`` -> blob):
    each a 1-D uint8 tensor."""
    v = blob.get(name, {})
    if not isinstance(v, dict):
        raise field_error(p, name, f"is {_a(v)}, not a map of byte tensors")
    out = {}
    for k, t in v.items():
        if not isinstance(k, str) or not 0 < len(k) <= MAX_NAME:
            raise field_error(p, name, f"has a key {one_line(repr(k), 60)} that is not a prior's name")
        if legacy and not (_SHA.fullmatch(k.partition("/")[0]) and k.partition("/")[2]):
            raise field_error(p, f"{name}[{k!r}]", "is not named \"<sha256>/<kind>\"")
        if not isinstance(t, torch.Tensor) or t.dtype != torch.uint8 or t.dim() != 1:
            what = f"a tensor of {t.dtype} and shape {tuple(t.shape)}" if isinstance(t, torch.Tensor) else \
                _a(t)
            raise field_error(p, f"{name}[{k!r}]", f"is {what}, not bytes (a 1-D uint8 tensor)")
        out[k] = bytes(t.contiguous().numpy().tobytes())
    return out


def card_from_json(p: Path, text: object) -> dict:
    """The model card: JSON of a map; its measured ``operating_points`` a map of quality -> numbers, its
    ``light_synthesis`` (CodecModel.full_synthesis reads it) a map."""
    card = _json_map(p, "card", text)
    for name in ("operating_points", "light_synthesis"):
        if not isinstance(card.get(name, {}), dict):
            raise field_error(p, f"card.{name}", f"is JSON {_a(card[name])}, not a map")
    ops = card.get("operating_points", {})
    for q, m in ops.items():
        if not isinstance(m, dict):
            raise field_error(p, f"card.operating_points[{q!r}]", f"is JSON {_a(m)}, not a map")
        nums = [m.get(k) for k in ("bpp", "psnr", "ssim")]
        if any(v is not None for v in nums) and not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in nums):
            raise field_error(p, f"card.operating_points[{q!r}]", "needs numbers for bpp, psnr and ssim")
    return card
