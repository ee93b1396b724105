#!/usr/bin/env python
"""Rate-distortion, speed and memory benchmark of vqv against x264, x265, VP9 and AV1.

Protocol (see benchmarks/README.md): every input clip is cut the same way — 16 fps, centre square
crop, 64x64, 32 frames — and every clip is encoded on its own by every codec at every setting.

* Peers run through PyAV/FFmpeg in memory with one thread: RGB -> YUV 4:2:0 (BT.601, limited
  range, swscale bilinear) -> encoder -> raw packets -> decoder -> RGB, compared with the 64x64 RGB
  reference. The RGB->YUV420->RGB conversion loss is part of the peer's distortion (the
  ``yuv420_ceiling`` in summary.json is what the conversion alone costs).
* Peer bytes are the elementary stream: the sum of the encoded packet sizes as the encoder emits
  them (Annex-B for H.264/HEVC including start codes and in-band SPS/PPS/VPS, VP9 frames /
  superframes, AV1 low-overhead OBUs including temporal delimiters), no container, and WITHOUT
  x264's SEI NAL units (type 6: the settings banner) and x265's banner SEI (prefix SEI type 39
  containing "x265"; ``info=0`` already suppresses it). The decoder is fed the stripped stream, so
  what is counted is exactly what decodes. ``raw_bytes`` in points.csv is the count before
  stripping.
* vqv bytes are the whole ``.vqv`` file (header included).

Run ``python benchmarks/rd.py --help``.
"""
from __future__ import annotations

import csv
import hashlib
import inspect
import json
import math
import os
import platform
import re
import resource
import sys
import time
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator

if __name__ == "__main__" and "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = "1"
os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1: errors only (it prints its banner at INFO level)

import click
import numpy as np

from vqcodec import metrics as M

# ------------------------------------------------------------------------------------------------
# protocol

PROTOCOL_FPS = Fraction(16)
PROTOCOL_SIZE = 64
PROTOCOL_FRAMES = 32
PEER_THREADS = 1
PEER_PIX_FMT = "yuv420p"
BD_METHOD = "akima"
#: BD numbers need the two curves to share at least this fraction of their joint range
#: (in PSNR/SSIM for BD-rate, in log-rate for BD-PSNR); below it the number is NaN with a reason.
MIN_BD_OVERLAP = 0.5
MATCHED_BPP = (0.02, 0.05, 0.1, 0.2, 0.3)
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".ogv", ".ogg", ".mpg", ".mpeg", ".y4m", ".m4v",
              ".flv", ".wmv", ".ts", ".npy"}


@dataclass
class Clip:
    name: str
    frames: np.ndarray  # (T, H, W, 3) uint8
    #: frames of real video in the clip; the rest (up to len(frames)) repeats the last real frame
    #: (vqcodec.data pads a segment shorter than one clip that way). None = unknown (npy input).
    real_frames: int | None = None


@dataclass(frozen=True)
class Peer:
    name: str
    encoder: str
    decoders: tuple[str, ...]
    param: str
    settings: tuple[int, ...]
    smoke: tuple[int, ...]
    base_options: tuple[tuple[str, str], ...]
    nal: str | None = None  # "h264" / "hevc": strip SEI banners
    note: str = ""

    def options(self, value: int) -> dict[str, str]:
        opts = dict(self.base_options)
        opts[self.param] = str(value)
        return opts


PEERS: dict[str, Peer] = {
    "x264": Peer("x264", "libx264", ("h264",), "crf", tuple(range(18, 52, 3)), (24, 42),
                 (("preset", "veryslow"), ("threads", str(PEER_THREADS))), nal="h264"),
    "x265": Peer("x265", "libx265", ("hevc",), "crf", tuple(range(18, 52, 3)), (24, 42),
                 (("preset", "veryslow"),
                  ("x265-params", "info=0:log-level=error:pools=none:frame-threads=1")), nal="hevc"),
    "vp9": Peer("vp9", "libvpx-vp9", ("vp9", "libvpx-vp9"), "crf", (20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 63),
                (32, 56), (("b", "0"), ("deadline", "best"), ("cpu-used", "0"), ("threads", str(PEER_THREADS)),
                           ("row-mt", "0"))),
    "av1": Peer("av1", "libsvtav1", ("libdav1d", "libaom-av1", "av1"), "crf",
                (20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 63), (32, 56),
                (("preset", "2"), ("svtav1-params", "lp=1"))),
}
ALL_CODECS = ("x264", "x265", "vp9", "av1", "vqv")
VQV_PRIORS = ("uniform", "empirical-static", "empirical-adaptive", "learned")


# ------------------------------------------------------------------------------------------------
# SEI stripping


def split_annexb(data: bytes) -> list[tuple[int, int, int]]:
    """NAL units of an Annex-B buffer as (start of start code, start of NAL header, end)."""
    out = []
    n = len(data)
    i = data.find(b"\x00\x00\x01")
    starts = []
    while i != -1:
        sc = i - 1 if i > 0 and data[i - 1] == 0 else i
        starts.append((sc, i + 3))
        i = data.find(b"\x00\x00\x01", i + 3)
    for k, (sc, hdr) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else n
        out.append((sc, hdr, end))
    return out


def _split_avcc(data: bytes, size: int = 4) -> list[tuple[int, int, int]] | None:
    out, i = [], 0
    while i < len(data):
        if i + size > len(data):
            return None
        ln = int.from_bytes(data[i:i + size], "big")
        if ln == 0 or i + size + ln > len(data):
            return None
        out.append((i, i + size, i + size + ln))
        i += size + ln
    return out


def nal_type(codec: str, header_byte: int) -> int:
    return header_byte & 0x1F if codec == "h264" else (header_byte >> 1) & 0x3F


def strip_sei(packet: bytes, codec: str) -> bytes:
    """Drop x264's SEI NAL units (H.264 type 6) or x265's banner SEI (HEVC prefix SEI, type 39,
    containing b"x265") from one Annex-B (or 4-byte AVCC) packet."""
    if packet.startswith(b"\x00\x00\x01") or packet.startswith(b"\x00\x00\x00\x01"):
        units = split_annexb(packet)
    else:
        units = _split_avcc(packet)
        if units is None:
            return packet
    kept = []
    for sc, hdr, end in units:
        if hdr >= end:
            kept.append(packet[sc:end])
            continue
        t = nal_type(codec, packet[hdr])
        if codec == "h264" and t == 6:
            continue
        if codec == "hevc" and t == 39 and b"x265" in packet[hdr:end]:
            continue
        kept.append(packet[sc:end])
    return b"".join(kept)


# ------------------------------------------------------------------------------------------------
# peers


def _rgb_to_yuv(frame: np.ndarray):
    import av

    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
    return vf.reformat(format=PEER_PIX_FMT, dst_colorspace="ITU601", dst_color_range="MPEG", threads=1)


def _yuv_to_rgb(vf) -> np.ndarray:
    return vf.reformat(format="rgb24", src_colorspace="ITU601", src_color_range="MPEG", threads=1).to_ndarray()


def yuv420_roundtrip(frames: np.ndarray) -> np.ndarray:
    """What the peers' input conversion alone does to a clip (RGB -> YUV 4:2:0 -> RGB)."""
    return np.stack([_yuv_to_rgb(_rgb_to_yuv(f)) for f in frames])


def check_peer(peer: Peer) -> tuple[str | None, str | None]:
    """(decoder name, None) when PyAV can encode and decode this peer, else (None, reason)."""
    import av

    try:
        av.Codec(peer.encoder, "w")
    except Exception:
        return None, f"PyAV has no {peer.encoder} encoder"
    for d in peer.decoders:
        try:
            av.Codec(d, "r")
        except Exception:
            continue
        try:  # a decoder that exists but cannot decode (e.g. FFmpeg's native av1 without hwaccel)
            clip = np.zeros((2, 64, 64, 3), np.uint8)
            r = encode_peer(peer, clip, PROTOCOL_FPS, peer.smoke[-1], decoder=d)
            if r.decoded.shape == clip.shape:
                return d, None
        except Exception:
            continue
    return None, f"PyAV cannot decode the output of {peer.encoder} (tried {', '.join(peer.decoders)})"


@dataclass
class EncodeResult:
    n_bytes: int
    raw_bytes: int
    decoded: np.ndarray
    enc_seconds: float
    dec_seconds: float


def encode_peer(peer: Peer, frames: np.ndarray, fps: Fraction, value: int, *, decoder: str) -> EncodeResult:
    """Encode one clip in memory, strip SEI banners, decode the stripped stream back to RGB."""
    import av

    t_frames, h, w, _ = frames.shape
    t0 = time.perf_counter()
    ctx = av.CodecContext.create(peer.encoder, "w")
    ctx.width, ctx.height = w, h
    ctx.pix_fmt = PEER_PIX_FMT
    ctx.time_base = 1 / fps
    ctx.framerate = fps
    ctx.thread_count = PEER_THREADS
    ctx.options = peer.options(value)
    packets: list[bytes] = []
    for i, f in enumerate(frames):
        vf = _rgb_to_yuv(f)
        vf.pts = i
        packets.extend(bytes(p) for p in ctx.encode(vf))
    packets.extend(bytes(p) for p in ctx.encode(None))
    enc_s = time.perf_counter() - t0
    raw = sum(len(p) for p in packets)
    if peer.nal:
        packets = [strip_sei(p, peer.nal) for p in packets]
        packets = [p for p in packets if p]
    n_bytes = sum(len(p) for p in packets)

    t0 = time.perf_counter()
    dctx = av.CodecContext.create(decoder, "r")
    dctx.thread_count = PEER_THREADS
    out = []
    for p in packets:
        for fr in dctx.decode(av.Packet(p)):
            out.append(_yuv_to_rgb(fr))
    for fr in dctx.decode(None):
        out.append(_yuv_to_rgb(fr))
    dec_s = time.perf_counter() - t0
    if len(out) != t_frames:
        raise RuntimeError(f"{peer.name} {peer.param}={value}: decoded {len(out)} frames, expected {t_frames}")
    return EncodeResult(n_bytes, raw, np.stack(out), enc_s, dec_s)


# ------------------------------------------------------------------------------------------------
# vqv hook


@dataclass
class VqvHook:
    encode: Callable
    decode: Callable
    model: object
    qualities: list[int]
    priors: list[str]
    #: extra keyword arguments given to every encode call (only those the user set explicitly)
    options: dict = field(default_factory=dict)
    #: what the codec was: encode_frames' keyword defaults, the module's file, a digest of its sources
    describe: dict = field(default_factory=dict)


#: encode_frames keywords the benchmark always sets itself
_ENCODE_OWN = {"frames", "fps", "model", "quality", "prior"}


def encoder_defaults(encode: Callable) -> dict | None:
    """encode_frames' other keyword parameters and their defaults (e.g. the new code's
    ``rdo_strength``/``refresh``, the first release's ``gop_context``); None if not introspectable."""
    try:
        sig = inspect.signature(encode)
    except (TypeError, ValueError):
        return None
    return {n: (None if p.default is inspect.Parameter.empty else p.default)
            for n, p in sig.parameters.items()
            if n not in _ENCODE_OWN and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def _accepts(encode: Callable, name: str) -> bool:
    try:
        params = inspect.signature(encode).parameters
    except (TypeError, ValueError):
        return True  # cannot tell: let the call decide
    return name in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def _codec_fingerprint(encode: Callable) -> dict:
    """Where the imported codec lives and a digest of its package's .py files (which code was measured)."""
    out: dict = {}
    mod = sys.modules.get(getattr(encode, "__module__", "") or "")
    f = getattr(mod, "__file__", None)
    if not f:
        return out
    out["module"] = str(Path(f).resolve())
    pkg = Path(f).resolve().parent
    h = hashlib.sha256()
    try:
        for q in sorted(pkg.rglob("*.py")):
            h.update(q.relative_to(pkg).as_posix().encode() + b"\0" + q.read_bytes())
        out["sources_sha256"] = h.hexdigest()[:16]
    except OSError:
        pass
    return out


def load_vqv(weights: str | None, priors: Iterable[str] | None, threads: int, log,
             options: dict | None = None) -> VqvHook | None:
    """Import the codec lazily; None (with a printed reason) if it is not there yet.

    ``options`` (e.g. ``{"rdo_strength": 0.0, "refresh": 8}``) are passed to every
    ``encode_frames`` call; asking for one this codec's ``encode_frames`` does not take is an
    error, not a silent no-op.
    """
    try:
        import torch

        torch.set_num_threads(threads)
        from vqcodec.codec import decode_bytes, encode_frames
        from vqcodec.weights import load_model
    except Exception as e:  # ImportError, or a half-written module
        log(f"vqv skipped: cannot import the codec ({type(e).__name__}: {_one_line(e)})")
        return None
    options = {k: v for k, v in (options or {}).items() if v is not None}
    missing = [k for k in options if not _accepts(encode_frames, k)]
    if missing:
        raise click.ClickException(
            f"this vqcodec's encode_frames{inspect.signature(encode_frames)} takes no {', '.join(missing)} "
            f"({_codec_fingerprint(encode_frames).get('module', '?')})")
    try:
        model = load_model(weights)
    except Exception as e:
        log(f"vqv skipped: cannot load the model ({type(e).__name__}: {_one_line(e)})")
        return None
    qualities = [int(q) for q in getattr(model, "qualities", [])]
    if not qualities:
        log("vqv skipped: the model lists no operating points (model.qualities is empty)")
        return None
    if priors is None:
        try:
            from vqcodec import priors as P

            kinds = list(getattr(P, "PRIOR_KINDS", ()))
        except Exception:
            kinds = []
        priors = kinds + [k for k in VQV_PRIORS if k not in kinds]
    describe = _codec_fingerprint(encode_frames)
    defaults = encoder_defaults(encode_frames)
    if defaults is not None:
        describe["encoder_defaults"] = defaults
        describe["encoder_options"] = {**defaults, **options}
    wpath = getattr(model, "path", None)
    if wpath:
        describe["weights_file"] = str(wpath)
        try:
            describe["weights_sha256"] = hashlib.sha256(Path(wpath).read_bytes()).hexdigest()[:16]
        except OSError:
            pass
    return VqvHook(encode_frames, decode_bytes, model, sorted(qualities), list(priors), options, describe)


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:300] or type(e).__name__


# ------------------------------------------------------------------------------------------------
# clips


def _centre_crop_resize(frames: np.ndarray, size: int) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    t, h, w, _ = frames.shape
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    x = torch.from_numpy(np.ascontiguousarray(frames[:, y0:y0 + s, x0:x0 + s])).permute(0, 3, 1, 2).float()
    if s != size:
        x = F.interpolate(x, size=(size, size), mode="area" if s > size else "bilinear", align_corners=None)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def _fallback_folder(root: Path, max_clips: int | None, log, frames: int = PROTOCOL_FRAMES) -> Iterator[Clip]:
    """The protocol applied directly to the videos of a folder (used only without vqcodec.data)."""
    from vqcodec.video_io import VideoError, open_video

    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTS)
    n = 0
    for p in files:
        if max_clips is not None and n >= max_clips:
            return
        try:
            _, it = open_video(p, fps=PROTOCOL_FPS)
            fr = []
            for f in it:
                fr.append(f)
                if len(fr) == frames:
                    break
        except VideoError as e:
            log(f"skipping {p}: {e}")
            continue
        if len(fr) < frames:
            log(f"skipping {p}: only {len(fr)} frames at {PROTOCOL_FPS} fps")
            continue
        yield Clip(p.relative_to(root).as_posix(), _centre_crop_resize(np.stack(fr), PROTOCOL_SIZE), frames)
        n += 1


def _as_uint8_clip(item) -> np.ndarray:
    if isinstance(item, dict):
        for k in ("frames", "video", "clip", "x"):
            if k in item:
                item = item[k]
                break
    elif isinstance(item, (tuple, list)):
        item = item[0]
    if hasattr(item, "detach"):
        item = item.detach().cpu().numpy()
    arr = np.asarray(item)
    if arr.dtype != np.uint8:
        raise click.ClickException(f"dataset items must be uint8 (T, H, W, 3), got {arr.dtype} {arr.shape}")
    if arr.ndim != 4 or arr.shape[-1] != 3:
        if arr.ndim == 4 and arr.shape[0] == 3:  # (3, T, H, W)
            arr = np.moveaxis(arr, 0, -1)
        else:
            raise click.ClickException(f"dataset items must be (T, H, W, 3), got {arr.shape}")
    return np.ascontiguousarray(arr)


def _first_sources_dataset(spec: str, cspec, cache_dir: Path, max_clips: int):
    """With --max-clips, decode only the first videos of the split instead of all of them.

    The eval dataset orders clips by source, so the first ``max_clips`` clips of a dataset over the
    first ``max_clips`` sources are the first ``max_clips`` clips of the whole split. Returns None
    (use build_dataset) if vqcodec.data does not expose what this needs or it would not be enough.
    """
    try:
        from vqcodec.data import VideoClipDataset, list_sources
    except ImportError:
        return None
    sources = list_sources(spec, "val")
    cd = Path(cache_dir).resolve()
    sources = [s for s in sources if cd not in s.path.resolve().parents]  # as build_dataset does
    if len(sources) <= max_clips:
        return None
    ds = VideoClipDataset(sources[:max_clips], cspec, cache_dir, train=False)
    return ds if len(ds) >= max_clips else None


def _dataset_real_frames(ds, frames: int) -> list[int] | None:
    """Frames of real video in each eval clip of vqcodec.data's datasets (a segment shorter than
    one clip gives one clip padded by repeating its last frame); None if the layout is unknown."""
    try:
        return [min(frames, ds.segments[k][2] - start) for k, start in ds.clips]
    except Exception:
        return None


def _dataset_clip_names(ds) -> list[str] | None:
    """``<video>@<first frame>`` for vqcodec.data's eval datasets; None if the layout is unknown."""
    try:
        return [f"{ds.sources[ds.segments[k][0]].name}@{start}" for k, start in ds.clips]
    except Exception:
        return None


def load_clips(spec: str, max_clips: int | None, cache_dir: Path, log, frames: int = PROTOCOL_FRAMES) -> list[Clip]:
    """``npy:DIR`` (already cut clips, used as they are) or a dataset spec for vqcodec.data, cut
    into clips of ``frames`` frames (the protocol's 32 unless asked otherwise)."""
    kind, sep, arg = spec.partition(":")
    if not sep:
        raise click.ClickException(f"input must look like corpus:DIR, folder:DIR, ucf101:DIR or npy:DIR, got {spec!r}")
    if kind == "npy":
        root = Path(arg)
        files = sorted(root.glob("*.npy"))
        if not files:
            raise click.ClickException(f"{root}: no .npy clips")
        clips = []
        for p in files[:max_clips]:
            a = np.load(p)
            if a.dtype != np.uint8 or a.ndim != 4 or a.shape[-1] != 3:
                raise click.ClickException(f"{p}: expected uint8 (T, H, W, 3), got {a.dtype} {a.shape}")
            clips.append(Clip(p.stem, a))
        return clips
    try:
        from vqcodec.data import ClipSpec, build_dataset
    except Exception as e:
        if kind == "folder":
            log(f"vqcodec.data unavailable ({type(e).__name__}); applying the protocol directly to {arg}")
            return list(_fallback_folder(Path(arg), max_clips, log, frames))
        raise click.ClickException(f"cannot load {spec!r}: vqcodec.data is unavailable ({_one_line(e)})")
    cspec = ClipSpec(frames, PROTOCOL_SIZE, float(PROTOCOL_FPS))
    try:
        ds = _first_sources_dataset(spec, cspec, cache_dir, max_clips) if max_clips else None
        if ds is None:
            ds = build_dataset(spec, "val", cspec, cache_dir, train=False)
    except (ValueError, OSError) as e:
        raise click.ClickException(f"cannot load {spec!r}: {_one_line(e)}")
    clips: list[Clip] = []
    names = _dataset_clip_names(ds)
    real = _dataset_real_frames(ds, frames)
    if hasattr(ds, "__len__") and hasattr(ds, "__getitem__"):
        n = len(ds) if max_clips is None else min(len(ds), max_clips)
        items: Iterable = (ds[i] for i in range(n))
    else:
        items = iter(ds)
    for i, item in enumerate(items):
        if max_clips is not None and i >= max_clips:
            break
        name = str(names[i]) if names is not None and i < len(names) else f"{kind}-val-{i:04d}"
        n_real = real[i] if real is not None and i < len(real) else None
        clips.append(Clip(name, _as_uint8_clip(item), n_real))
        if n_real is not None and n_real < frames:
            log(f"warning: {name} has only {n_real} frames of video at {PROTOCOL_FPS} fps; the last "
                f"{frames - n_real} of its {frames} frames repeat its last frame (vqcodec.data's padding)")
    if not clips:
        raise click.ClickException(f"{spec}: the validation split is empty")
    return clips


# ------------------------------------------------------------------------------------------------
# measurement helpers


class PeakRSS:
    """Peak resident set size of this process during one codec's run.

    Uses the kernel's high-water mark (VmHWM in /proc/self/status), reset before each codec by
    writing 5 to /proc/self/clear_refs; falls back to ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
    (the lifetime peak, never reset) where that is not possible. The number includes the Python,
    numpy, torch and FFmpeg baseline of the process.
    """

    def __init__(self) -> None:
        self.method = "VmHWM reset via /proc/self/clear_refs"
        try:
            self.reset()
            self._read_hwm()
        except OSError:
            self.method = "ru_maxrss (lifetime peak of the process, not reset per codec)"

    def reset(self) -> None:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")

    def _read_hwm(self) -> float:
        with open("/proc/self/status") as f:
            m = re.search(r"VmHWM:\s+(\d+)\s*kB", f.read())
        if not m:
            raise OSError("no VmHWM")
        return int(m.group(1)) / 1024.0

    def start(self) -> None:
        if self.method.startswith("VmHWM"):
            try:
                self.reset()
            except OSError:
                pass

    def peak_mb(self) -> float:
        if self.method.startswith("VmHWM"):
            try:
                return self._read_hwm()
            except OSError:
                pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine_info() -> dict:
    import av
    import torch

    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "pyav": av.__version__,
        "ffmpeg_libs": {k: ".".join(map(str, v)) for k, v in av.library_versions.items()},
    }
    try:
        info["cpus_available"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.+)", f.read())
        if m:
            info["cpu"] = m.group(1).strip()
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            m = re.search(r"MemTotal:\s+(\d+)", f.read())
        if m:
            info["mem_total_gb"] = round(int(m.group(1)) / 1024**2, 1)
    except OSError:
        pass
    return info


# ------------------------------------------------------------------------------------------------
# curves, BD numbers and matched bitrates


def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def pareto(rates: list[float], dists: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Sort by rate and keep the points where quality strictly increases with rate."""
    pts = sorted((r, d) for r, d in zip(rates, dists) if _finite(r) and _finite(d) and r > 0)
    xs, ys = [], []
    for r, d in pts:
        if xs and r <= xs[-1]:
            if d > ys[-1]:
                ys[-1] = d
            continue
        if ys and d <= ys[-1]:
            continue
        xs.append(r)
        ys.append(d)
    return np.array(xs, float), np.array(ys, float)


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
    tot = max(a.max(), b.max()) - min(a.min(), b.min())
    return max(hi - lo, 0.0) / tot if tot > 0 else 0.0


def bd_numbers(anchor: tuple[list, list], test: tuple[list, list], metric: str) -> dict:
    """BD-rate (% of the anchor's rate, negative = test saves bits) and BD-<metric> (test minus
    anchor) of ``test`` against ``anchor``, with the bjontegaard package (akima).

    When the curves share less than MIN_BD_OVERLAP of their joint range the number is None with a
    reason; if they share some of it, ``bd_rate_partial`` / ``bd_<metric>_partial`` give the same
    average over the shared range only (``partial_<metric>_range`` / ``partial_rate_range``):
    a number about that range, not about the whole curves."""
    out: dict = {"bd_rate": None, f"bd_{metric}": None}
    ra, da = pareto(*anchor)
    rt, dt = pareto(*test)
    if len(ra) < 2 or len(rt) < 2:
        out["reason"] = (f"need >= 2 monotone points per curve (anchor {len(ra)}, test {len(rt)})")
        return out
    try:
        import bjontegaard as bd
    except ImportError as e:
        out["reason"] = f"bjontegaard not installed ({e})"
        return out
    ov_d = _overlap(da, dt)
    ov_r = _overlap(np.log10(ra), np.log10(rt))
    out["overlap_" + metric] = round(ov_d, 3)
    out["overlap_log_rate"] = round(ov_r, 3)
    reasons = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if ov_d >= MIN_BD_OVERLAP:
            try:
                out["bd_rate"] = float(bd.bd_rate(ra, da, rt, dt, method=BD_METHOD,
                                                  require_matching_points=False, min_overlap=0))
            except Exception as e:
                reasons.append(f"bd_rate failed: {_one_line(e)}")
        else:
            reasons.append(f"{metric} ranges overlap {ov_d:.0%} < {MIN_BD_OVERLAP:.0%} "
                           f"(anchor {da.min():.4g}..{da.max():.4g}, test {dt.min():.4g}..{dt.max():.4g})")
            if ov_d > 0:  # the same integral over the shared range only, reported apart
                try:
                    v = float(bd.bd_rate(ra, da, rt, dt, method=BD_METHOD, require_matching_points=False,
                                         min_overlap=0))
                    if math.isfinite(v):
                        out["bd_rate_partial"] = v
                        out[f"partial_{metric}_range"] = [float(max(da.min(), dt.min())),
                                                          float(min(da.max(), dt.max()))]
                except Exception:
                    pass
        if ov_r >= MIN_BD_OVERLAP:
            try:
                out[f"bd_{metric}"] = float(bd.bd_psnr(ra, da, rt, dt, method=BD_METHOD,
                                                       require_matching_points=False, min_overlap=0))
            except Exception as e:
                reasons.append(f"bd_{metric} failed: {_one_line(e)}")
        else:
            reasons.append(f"rate ranges overlap {ov_r:.0%} < {MIN_BD_OVERLAP:.0%} in log-rate "
                           f"(anchor {ra.min():.4g}..{ra.max():.4g} bpp, test {rt.min():.4g}..{rt.max():.4g} bpp)")
            if ov_r > 0:
                try:
                    v = float(bd.bd_psnr(ra, da, rt, dt, method=BD_METHOD, require_matching_points=False,
                                         min_overlap=0))
                    if math.isfinite(v):
                        out[f"bd_{metric}_partial"] = v
                        out["partial_rate_range"] = [float(max(ra.min(), rt.min())), float(min(ra.max(), rt.max()))]
                except Exception:
                    pass
    for k in ("bd_rate", f"bd_{metric}"):
        if out[k] is not None and not math.isfinite(out[k]):
            out[k] = None
            reasons.append(f"{k} not finite")
    if reasons:
        out["reason"] = "; ".join(reasons)
    return out


def interp_at(rates: list[float], dists: list[float], target: float) -> tuple[float | None, str | None]:
    """Quality at ``target`` bpp, linear in log(bpp) on the monotone curve; None outside its range."""
    r, d = pareto(rates, dists)
    if len(r) == 0:
        return None, "no points"
    if target < r.min() or target > r.max():
        return None, f"outside the curve's range {r.min():.4g}..{r.max():.4g} bpp"
    if len(r) == 1:
        return float(d[0]), None
    return float(np.interp(np.log(target), np.log(r), d)), None


# ------------------------------------------------------------------------------------------------
# the run


CSV_FIELDS = ["codec", "setting", "clip", "frames", "width", "height", "bytes", "raw_bytes", "bpp", "kbps",
              "psnr", "ssim", "enc_fps", "dec_fps"]


def _point(codec: str, setting: str, clip: Clip, n_bytes: int, raw_bytes: int, decoded: np.ndarray,
           enc_s: float, dec_s: float) -> dict:
    ref = clip.frames
    t, h, w, _ = ref.shape
    if decoded.shape != ref.shape or decoded.dtype != np.uint8:
        raise RuntimeError(f"{codec} {setting}: decoded {decoded.dtype} {decoded.shape}, expected uint8 {ref.shape}")
    return {
        "codec": codec, "setting": setting, "clip": clip.name, "frames": t, "width": w, "height": h,
        "bytes": int(n_bytes), "raw_bytes": int(raw_bytes),
        "bpp": M.bits_per_pixel(n_bytes, t, w, h), "kbps": M.kbps(n_bytes, t, PROTOCOL_FPS),
        "psnr": M.psnr(ref, decoded, cap=M.PSNR_CAP), "ssim": M.ssim(ref, decoded),
        "enc_fps": t / enc_s if enc_s > 0 else float("inf"),
        "dec_fps": t / dec_s if dec_s > 0 else float("inf"),
    }


def _setting_key(s: str) -> tuple:
    m = re.match(r"([a-z]+)=(-?\d+)", s)
    return (m.group(1), int(m.group(2))) if m else (s, 0)


def aggregate(points: list[dict]) -> dict[str, list[dict]]:
    """Per (codec, setting): means over clips (speed as total frames / total seconds)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for p in points:
        groups.setdefault((p["codec"], p["setting"]), []).append(p)
    out: dict[str, list[dict]] = {}
    for (codec, setting), ps in groups.items():
        frames = sum(p["frames"] for p in ps)
        enc_s = sum(p["frames"] / p["enc_fps"] for p in ps if p["enc_fps"] > 0)
        dec_s = sum(p["frames"] / p["dec_fps"] for p in ps if p["dec_fps"] > 0)
        out.setdefault(codec, []).append({
            "setting": setting, "clips": len(ps),
            "bytes": float(np.mean([p["bytes"] for p in ps])),
            "raw_bytes": float(np.mean([p["raw_bytes"] for p in ps])),
            "bpp": float(np.mean([p["bpp"] for p in ps])),
            "kbps": float(np.mean([p["kbps"] for p in ps])),
            "psnr": float(np.mean([p["psnr"] for p in ps])),
            "ssim": float(np.mean([p["ssim"] for p in ps])),
            "enc_fps": frames / enc_s if enc_s > 0 else None,
            "dec_fps": frames / dec_s if dec_s > 0 else None,
        })
    for codec in out:
        out[codec].sort(key=lambda r: r["bpp"])
    return out


def vqv_best(per_codec: dict[str, list[dict]]) -> list[dict]:
    """The lower envelope of the vqv curves: at each quality, the prior with the fewest bits."""
    best: dict[str, dict] = {}
    for codec, rows in per_codec.items():
        if not codec.startswith("vqv-"):
            continue
        for r in rows:
            cur = best.get(r["setting"])
            if cur is None or r["bpp"] < cur["bpp"]:
                best[r["setting"]] = dict(r, prior=codec[len("vqv-"):])
    return sorted(best.values(), key=lambda r: r["bpp"])


def compare(per_codec: dict[str, list[dict]], peers: list[str]) -> tuple[dict, dict, list]:
    """BD numbers of every vqv curve against every peer, and quality at matched bitrates."""
    curves = {c: rows for c, rows in per_codec.items() if c.startswith("vqv")}
    bd: dict = {}
    for vc, rows in curves.items():
        for peer in peers:
            prow = per_codec.get(peer)
            if not prow:
                continue
            a_r = [r["bpp"] for r in prow]
            t_r = [r["bpp"] for r in rows]
            bd.setdefault(vc, {})[peer] = {
                "psnr": bd_numbers((a_r, [r["psnr"] for r in prow]), (t_r, [r["psnr"] for r in rows]), "psnr"),
                "ssim": bd_numbers((a_r, [r["ssim"] for r in prow]), (t_r, [r["ssim"] for r in rows]), "ssim"),
            }
    matched_grid: dict = {}
    for codec, rows in per_codec.items():
        rr = [r["bpp"] for r in rows]
        for target in MATCHED_BPP:
            p, why = interp_at(rr, [r["psnr"] for r in rows], target)
            s, _ = interp_at(rr, [r["ssim"] for r in rows], target)
            cell = {"psnr": p, "ssim": s}
            if why:
                cell["reason"] = why
            matched_grid.setdefault(f"{target:g}", {})[codec] = cell
    matched_vqv: list = []
    for r in per_codec.get("vqv-best", []):
        row = {"setting": r["setting"], "prior": r.get("prior"), "bpp": r["bpp"], "psnr": r["psnr"],
               "ssim": r["ssim"], "peers": {}}
        for peer in peers:
            prow = per_codec.get(peer)
            if not prow:
                continue
            p, why = interp_at([x["bpp"] for x in prow], [x["psnr"] for x in prow], r["bpp"])
            s, _ = interp_at([x["bpp"] for x in prow], [x["ssim"] for x in prow], r["bpp"])
            cell = {"psnr": p, "ssim": s,
                    "delta_psnr": None if p is None else r["psnr"] - p,
                    "delta_ssim": None if s is None else r["ssim"] - s}
            if why:
                cell["reason"] = why
            row["peers"][peer] = cell
        matched_vqv.append(row)
    return bd, matched_grid, matched_vqv


# ------------------------------------------------------------------------------------------------
# comparison with a saved run ("before")

_CSV_INT = {"frames", "width", "height", "bytes", "raw_bytes"}


def load_baseline(path: Path | str) -> dict:
    """A saved run of this benchmark to compare against: its output directory, its summary.json or
    its points.csv. Returns ``{"path", "label", "frames", "clips", "curves", "codecs", "speed"}``
    (``curves`` as in summary.json, with ``vqv-best`` rebuilt when read from points.csv)."""
    p = Path(path)
    if p.is_dir():
        p = p / "summary.json" if (p / "summary.json").is_file() else p / "points.csv"
    if not p.is_file():
        raise click.ClickException(f"baseline {path}: no summary.json or points.csv there")
    try:
        if p.suffix.lower() == ".csv":
            points = []
            with open(p, newline="") as f:
                for row in csv.DictReader(f):
                    pt: dict = dict(row)
                    for k in CSV_FIELDS[3:]:
                        pt[k] = int(float(row[k])) if k in _CSV_INT else float(row[k])
                    points.append(pt)
            curves = aggregate(points)
            if any(c.startswith("vqv-") for c in curves):
                curves["vqv-best"] = vqv_best(curves)
            clips = list(dict.fromkeys(pt["clip"] for pt in points))
            frames = sorted({pt["frames"] for pt in points})
            return {"path": str(p), "label": None, "frames": frames[0] if len(frames) == 1 else frames,
                    "clips": clips, "curves": curves, "codecs": {}, "speed": {}}
        with open(p) as f:
            s = json.load(f)
    except (OSError, ValueError, KeyError) as e:
        raise click.ClickException(f"baseline {p}: cannot read it ({_one_line(e)})")
    proto = s.get("protocol") or {}
    codecs = s.get("codecs") or {}
    return {"path": str(p), "label": (codecs.get("vqv") or {}).get("label"), "frames": proto.get("frames"),
            "clips": list(proto.get("clips") or []), "curves": s.get("curves") or {}, "codecs": codecs,
            "speed": s.get("speed") or {}}


def check_baseline(base: dict, clips: list[Clip], frames: int) -> None:
    """The baseline must have measured the same clips at the same length, or nothing compares."""
    names = [c.name for c in clips]
    if base.get("frames") is not None and base["frames"] != frames:
        raise click.ClickException(f"baseline {base['path']} used {base['frames']}-frame clips, this run {frames}")
    if base.get("clips") and set(base["clips"]) != set(names):
        only_b = sorted(set(base["clips"]) - set(names))[:3]
        only_n = sorted(set(names) - set(base["clips"]))[:3]
        raise click.ClickException(f"baseline {base['path']} measured other clips (only there: {only_b}; "
                                   f"only here: {only_n})")


def _extrapolate_log(rates: list[float], dists: list[float], target: float) -> float | None:
    """Quality at ``target`` bpp, linear in log(bpp) through the two nearest end points of the
    monotone curve (for points outside its range; flagged as extrapolated wherever used)."""
    r, d = pareto(rates, dists)
    if len(r) < 2:
        return None
    i = (0, 1) if target < r.min() else (-2, -1)
    x0, x1 = np.log(r[i[0]]), np.log(r[i[1]])
    return float(d[i[0]] + (d[i[1]] - d[i[0]]) * (np.log(target) - x0) / (x1 - x0))


def compare_baseline(per_codec: dict[str, list[dict]], base_curves: dict[str, list[dict]]) -> dict:
    """Every vqv curve of this run against the same-named curve of the baseline (anchor = baseline):
    BD-rate / BD-PSNR / BD-SSIM, every operating point next to its baseline namesake, and each
    point's PSNR against the baseline curve interpolated at the point's own rate."""
    out: dict = {}
    for vc, rows in per_codec.items():
        if not vc.startswith("vqv") or not base_curves.get(vc):
            continue
        brow = base_curves[vc]
        b_r = [r["bpp"] for r in brow]
        b_p = [r["psnr"] for r in brow]
        b_s = [r["ssim"] for r in brow]
        t_r = [r["bpp"] for r in rows]
        res: dict = {
            "psnr": bd_numbers((b_r, b_p), (t_r, [r["psnr"] for r in rows]), "psnr"),
            "ssim": bd_numbers((b_r, b_s), (t_r, [r["ssim"] for r in rows]), "ssim"),
        }
        by_setting = {r["setting"]: r for r in brow}
        pts = []
        for r in sorted(rows, key=lambda r: _setting_key(r["setting"])):
            at, why = interp_at(b_r, b_p, r["bpp"])
            at_s, _ = interp_at(b_r, b_s, r["bpp"])
            pt: dict = {"setting": r["setting"], "prior": r.get("prior"), "bpp": r["bpp"], "psnr": r["psnr"],
                        "ssim": r["ssim"], "before_psnr_at_rate": at, "before_ssim_at_rate": at_s,
                        "delta_psnr_at_rate": None if at is None else r["psnr"] - at,
                        "delta_ssim_at_rate": None if at_s is None else r["ssim"] - at_s}
            if why:
                pt["reason"] = why
                ex = _extrapolate_log(b_r, b_p, r["bpp"])
                pt["delta_psnr_extrapolated"] = None if ex is None else r["psnr"] - ex
            b = by_setting.get(r["setting"])
            if b is not None:
                pt["before"] = {"prior": b.get("prior"), "bpp": b["bpp"], "psnr": b["psnr"], "ssim": b["ssim"]}
                pt["bpp_change_pct"] = 100.0 * (r["bpp"] / b["bpp"] - 1.0) if b["bpp"] > 0 else None
                pt["delta_psnr_same_setting"] = r["psnr"] - b["psnr"]
            pts.append(pt)
        res["points"] = pts
        inside = [p for p in pts if p["delta_psnr_at_rate"] is not None]
        worst = min(inside, key=lambda p: p["delta_psnr_at_rate"]) if inside else None
        res["max_psnr_loss"] = {
            # > 0: the worst point is this many dB below the baseline curve at its own rate;
            # <= 0: every point inside the baseline's rate range is at or above it
            "db": None if worst is None else -worst["delta_psnr_at_rate"],
            "setting": None if worst is None else worst["setting"],
            "bpp": None if worst is None else worst["bpp"],
            "points_compared": len(inside),
            "points_outside_baseline_range": [p["setting"] for p in pts if p["delta_psnr_at_rate"] is None],
        }
        ext = [p for p in pts if p.get("delta_psnr_extrapolated") is not None]
        if ext:
            w = min(ext, key=lambda p: p["delta_psnr_extrapolated"])
            res["max_psnr_loss"]["extrapolated_outside_range"] = {
                "db": -w["delta_psnr_extrapolated"], "setting": w["setting"], "bpp": w["bpp"],
                "note": "baseline curve extended linearly in log-rate from its two nearest points"}
        out[vc] = res
    return out


def plot(per_codec: dict[str, list[dict]], out: Path, n_clips: int, ceiling: dict | None = None, *,
         frames: int = PROTOCOL_FRAMES, vqv_label: str | None = None, baseline: dict[str, list[dict]] | None = None,
         baseline_label: str = "baseline") -> None:
    """rd_psnr.png / rd_ssim.png; ``baseline`` (curves of a saved run) adds its vqv-best, dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    for metric, fname, label in (("psnr", "rd_psnr.png", "PSNR (dB, RGB)"), ("ssim", "rd_ssim.png", "SSIM (RGB)")):
        fig, ax = plt.subplots(figsize=(7.5, 5.2), dpi=120)
        order = [c for c in PEERS if c in per_codec] + sorted(c for c in per_codec if c.startswith("vqv-"))
        for codec in order:
            rows = per_codec[codec]
            xs = [r["bpp"] for r in rows]
            ys = [r[metric] for r in rows]
            name = f"{codec} ({vqv_label})" if vqv_label and codec.startswith("vqv") else codec
            if codec == "vqv-best":
                ax.plot(xs, ys, "-", color="black", lw=5, alpha=0.25, label=name, zorder=1)
            else:
                ax.plot(xs, ys, "-o" if codec.startswith("vqv") else "--s", label=name, lw=1.3, ms=3.5, zorder=2)
        if baseline and baseline.get("vqv-best"):
            rows = baseline["vqv-best"]
            ax.plot([r["bpp"] for r in rows], [r[metric] for r in rows], "--^", color="dimgrey", lw=1.6, ms=4,
                    label=f"vqv-best ({baseline_label})", zorder=2)
        if ceiling and ceiling.get(metric) is not None:
            ax.axhline(ceiling[metric], color="grey", ls=":", lw=1,
                       label="RGB->YUV420->RGB alone (peers' ceiling)")
        ax.set_xscale("log")
        fmt = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
        ax.xaxis.set_major_formatter(fmt)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
            lambda v, _: f"{v:g}" if v > 0 and round(v / 10 ** math.floor(math.log10(v))) in (2, 5) else ""))
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(label)
        ax.set_title(f"{frames} frames, {PROTOCOL_SIZE}x{PROTOCOL_SIZE}, {PROTOCOL_FPS} fps; "
                     f"mean over {n_clips} clips")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / fname)
        plt.close(fig)


def _json_clean(x):
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _json_clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_clean(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return _json_clean(x.item())
    if isinstance(x, Fraction):
        return str(x)
    return x


def run_benchmark(clips: list[Clip], out: Path, *, codecs: Iterable[str] = ALL_CODECS, smoke: bool = False,
                  threads: int = 1, weights: str | None = None, priors: list[str] | None = None,
                  log: Callable[[str], None] | None = None, progress: bool = True, input_spec: str = "",
                  frames: int = PROTOCOL_FRAMES, vqv_options: dict | None = None, vqv_label: str | None = None,
                  baseline: dict | None = None, baseline_label: str | None = None) -> dict:
    """Run every codec on every clip, write points.csv, summary.json and the plots; return the summary.

    ``vqv_options`` go to every ``encode_frames`` call; ``vqv_label`` names this run's vqv curves in
    the plots and tables. ``baseline`` (from :func:`load_baseline`, same clips and length) adds the
    comparison of every vqv curve with the baseline's, and supplies the curves of peers this run
    does not measure itself.
    """
    from tqdm import tqdm

    if log is None:
        def log(msg: str) -> None:
            tqdm.write(msg, file=sys.stderr)
    try:
        import torch

        torch.set_num_threads(threads)
    except Exception:
        pass
    out.mkdir(parents=True, exist_ok=True)
    codecs = list(codecs)
    unknown = [c for c in codecs if c not in ALL_CODECS]
    if unknown:
        raise click.ClickException(f"unknown codec(s) {unknown}; choose from {', '.join(ALL_CODECS)}")
    if not clips:
        raise click.ClickException("no clips")
    if baseline is not None:  # before any encoding: a mismatched baseline is an error, not a footnote
        check_baseline(baseline, clips, frames)
        baseline_label = baseline_label or baseline.get("label") or "baseline"

    codec_info: dict[str, dict] = {}
    plans: list[tuple[str, object, list]] = []  # (codec, handler, settings)
    for name in codecs:
        if name == "vqv":
            continue
        peer = PEERS[name]
        dec, why = check_peer(peer)
        if dec is None:
            log(f"{name} skipped: {why}")
            codec_info[name] = {"skipped": why}
            continue
        settings = list(peer.smoke if smoke else peer.settings)
        codec_info[name] = {"encoder": peer.encoder, "decoder": dec, "pix_fmt": PEER_PIX_FMT,
                            "options": dict(peer.base_options), "param": peer.param, "settings": settings,
                            "threads": PEER_THREADS}
        plans.append((name, (peer, dec), settings))
    vqv = None
    if "vqv" in codecs:
        vqv = load_vqv(weights, priors, threads, log, vqv_options)
        if vqv is None:
            codec_info["vqv"] = {"skipped": "codec or model unavailable (see log)"}
        else:
            qs = vqv.qualities if not smoke else sorted({vqv.qualities[0], vqv.qualities[-1]})
            codec_info["vqv"] = {"qualities": qs, "priors_requested": vqv.priors, "threads": threads,
                                 "weights": weights or "default", "options": dict(vqv.options), **vqv.describe}
            if vqv_label:
                codec_info["vqv"]["label"] = vqv_label
            plans.append(("vqv", vqv, [(q, p) for q in qs for p in vqv.priors]))

    rss = PeakRSS()
    points: list[dict] = []
    total = sum(len(settings) for _, _, settings in plans) * len(clips)
    bar = tqdm(total=total, file=sys.stderr, disable=not progress, unit="pt", dynamic_ncols=True)
    for name, handler, settings in plans:
        rss.start()
        t_codec = time.perf_counter()
        if name == "vqv":
            _run_vqv(handler, settings, clips, points, codec_info["vqv"], bar, log)
        else:
            peer, dec = handler
            for clip in clips:
                for value in settings:
                    bar.set_description(f"{name} {peer.param}={value}")
                    r = encode_peer(peer, clip.frames, PROTOCOL_FPS, value, decoder=dec)
                    points.append(_point(name, f"{peer.param}={value}", clip, r.n_bytes, r.raw_bytes, r.decoded,
                                         r.enc_seconds, r.dec_seconds))
                    bar.update(1)
        codec_info[name]["peak_rss_mb"] = round(rss.peak_mb(), 1)
        codec_info[name]["wall_seconds"] = round(time.perf_counter() - t_codec, 2)
    bar.close()

    # per-point CSV
    points.sort(key=lambda p: (p["codec"], _setting_key(p["setting"]), p["clip"]))
    with open(out / "points.csv", "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        wr.writeheader()
        for p in points:
            wr.writerow({k: (f"{p[k]:.6g}" if isinstance(p[k], float) else p[k]) for k in CSV_FIELDS})

    per_codec = aggregate(points)
    speed: dict[str, dict] = {}
    for p in points:
        sp = speed.setdefault(p["codec"], {"frames": 0, "enc_s": 0.0, "dec_s": 0.0})
        sp["frames"] += p["frames"]
        sp["enc_s"] += p["frames"] / p["enc_fps"] if p["enc_fps"] > 0 else 0.0
        sp["dec_s"] += p["frames"] / p["dec_fps"] if p["dec_fps"] > 0 else 0.0
    speed = {c: {"enc_fps": v["frames"] / v["enc_s"] if v["enc_s"] > 0 else None,
                 "dec_fps": v["frames"] / v["dec_s"] if v["dec_s"] > 0 else None,
                 "threads": threads if c.startswith("vqv") else PEER_THREADS} for c, v in speed.items()}
    if any(c.startswith("vqv-") for c in per_codec):
        per_codec["vqv-best"] = vqv_best(per_codec)
    if baseline is not None:
        for name in PEERS:  # peers not measured in this run: the baseline's curves
            if name not in per_codec and baseline["curves"].get(name):
                per_codec[name] = baseline["curves"][name]
                codec_info[name] = {**(baseline["codecs"].get(name) or {}), "from_baseline": baseline["path"]}
                if baseline["speed"].get(name):
                    speed[name] = {**baseline["speed"][name], "from_baseline": True}
                log(f"{name}: curve taken from the baseline {baseline['path']}")
    peer_names = [n for n in PEERS if n in per_codec]
    bd, matched_grid, matched_vqv = compare(per_codec, peer_names)

    ceiling_p, ceiling_s = [], []
    for clip in clips:
        rt = yuv420_roundtrip(clip.frames)
        ceiling_p.append(M.psnr(clip.frames, rt, cap=M.PSNR_CAP))
        ceiling_s.append(M.ssim(clip.frames, rt))

    summary = {
        "protocol": {"fps": str(PROTOCOL_FPS), "size": PROTOCOL_SIZE, "frames": frames,
                     "crop": "centre square, resized to 64x64", "input": input_spec,
                     "clips": [c.name for c in clips], "smoke": smoke,
                     **({"clip_lengths": sorted({len(c.frames) for c in clips})}
                        if {len(c.frames) for c in clips} != {frames} else {}),
                     "padded_clips": {c.name: c.real_frames for c in clips
                                      if c.real_frames is not None and c.real_frames < len(c.frames)},
                     "peer_pixel_format": f"{PEER_PIX_FMT} (BT.601 limited range); the RGB->YUV420->RGB loss "
                                          "counts as the peer's distortion",
                     "peer_bytes": "sum of elementary-stream packet sizes, no container, minus x264 SEI (NAL 6) "
                                   "and x265 banner SEI (NAL 39); the decoder is fed the stripped stream",
                     "vqv_bytes": "whole .vqv file size",
                     "psnr": "10*log10(255^2/MSE) over the whole clip's RGB samples, capped at "
                             f"{M.PSNR_CAP} dB; mean over clips",
                     "ssim": "per frame and RGB channel, 11x11 Gaussian window sigma 1.5; mean over frames, "
                             "then over clips",
                     "bd": f"bjontegaard {BD_METHOD} on the per-setting mean curves (monotone points only); "
                           "anchor = peer, test = vqv; bd_rate < 0 means vqv needs fewer bits; NaN (null) "
                           f"when the curves overlap < {MIN_BD_OVERLAP:.0%}",
                     "speed": "frames per second of one clip: encode includes RGB->YUV conversion, decode "
                              "includes YUV->RGB; aggregated as total frames / total seconds",
                     "memory": rss.method},
        "threads": {"peers": PEER_THREADS, "torch": threads},
        "machine": machine_info(),
        "codecs": codec_info,
        "speed": speed,
        "yuv420_ceiling": {"psnr": float(np.mean(ceiling_p)), "ssim": float(np.mean(ceiling_s))},
        "curves": per_codec,
        "bd": bd,
        "matched_bpp": matched_grid,
        "matched_vqv": matched_vqv,
    }
    if baseline is not None:
        summary["baseline"] = {
            "path": baseline["path"], "label": baseline_label, "vqv": baseline["codecs"].get("vqv"),
            "curves": {c: r for c, r in baseline["curves"].items() if c.startswith("vqv")},
            "bd": "anchor = the baseline's same-named vqv curve, test = this run's; bd_rate < 0 means this run "
                  "needs fewer bits; max_psnr_loss.db > 0 is the largest PSNR shortfall of any point of this run "
                  "against the baseline curve interpolated (linearly in log-rate) at that point's own rate",
            "vs": compare_baseline(per_codec, baseline["curves"]),
            # the baseline's vqv-best against the same peer curves, recomputed with this module
            "bd_vs_peers": compare({c: r for c, r in baseline["curves"].items()
                                    if c == "vqv-best" or c in peer_names}, peer_names)[0].get("vqv-best", {}),
        }
    with open(out / "summary.json", "w") as f:
        json.dump(_json_clean(summary), f, indent=1)
    (out / "summary.md").write_text(summary_markdown(_json_clean(summary)))
    if per_codec:
        plot(per_codec, out, len(clips), summary["yuv420_ceiling"], frames=frames, vqv_label=vqv_label,
             baseline=baseline["curves"] if baseline is not None else None, baseline_label=baseline_label or "baseline")
    return summary


def _run_vqv(vqv: VqvHook, settings: list, clips: list[Clip], points: list[dict], info: dict, bar, log) -> None:
    import torch

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
                    enc_s = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    dec = np.asarray(vqv.decode(data, model=vqv.model))
                    dec_s = time.perf_counter() - t0
                except Exception as e:
                    if any(p["codec"] == f"vqv-{prior}" for p in points):
                        raise  # the prior worked before: a real failure, not an unavailable prior
                    bad[prior] = f"{type(e).__name__}: {_one_line(e)}"
                    log(f"vqv prior {prior!r} skipped: {bad[prior]}")
                    bar.update(1)
                    continue
                points.append(_point(f"vqv-{prior}", f"q={q}", clip, len(data), len(data), dec, enc_s, dec_s))
                bar.update(1)
    info["priors"] = [p for p in info["priors_requested"] if p not in bad]
    if bad:
        info["priors_skipped"] = bad


def _fmt(v, spec: str) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def summary_markdown(summary: dict) -> str:
    """The README's benchmark tables: quality at matched rates, BD numbers, speed."""
    proto = summary["protocol"]
    clips = proto["clips"]
    vinfo = (summary.get("codecs") or {}).get("vqv") or {}
    label = vinfo.get("label")
    lines = [f"{len(clips)} clips ({', '.join(clips)}); {proto.get('frames', PROTOCOL_FRAMES)} frames, 64x64, 16 fps; "
             f"torch threads {summary['threads']['torch']}, peer threads {summary['threads']['peers']}.", ""]
    padded = proto.get("padded_clips") or {}
    if padded:
        lines += ["**Padded clips**: " + ", ".join(f"{n} has {k} frames of video" for n, k in padded.items())
                  + f"; the rest of each repeats its last frame (a static tail).", ""]
    if vinfo.get("encoder_options") is not None or label:
        opts = ", ".join(f"{k}={v}" for k, v in (vinfo.get("encoder_options") or {}).items())
        lines += [f"vqv{f' ({label})' if label else ''}: encode_frames options {opts or 'none'}"
                  + (f"; weights {vinfo['weights_sha256']}" if vinfo.get("weights_sha256") else "")
                  + (f"; code {vinfo['module']} ({vinfo.get('sources_sha256', '?')})" if vinfo.get("module") else "")
                  + ".", ""]
    from_base = [c for c, i in (summary.get("codecs") or {}).items() if isinstance(i, dict) and i.get("from_baseline")]
    if from_base:
        lines += [f"Curves of {', '.join(from_base)} are the baseline's ({summary['codecs'][from_base[0]]['from_baseline']}).", ""]
    grid = summary.get("matched_bpp") or {}          # {rate: {codec: {psnr, ssim}}}
    rates = sorted(grid, key=float)
    codecs = sorted({c for r in rates for c in grid[r]}, key=lambda c: (c.startswith("vqv"), c))
    if codecs:
        lines += ["PSNR (dB) / SSIM at matched bits per pixel (interpolated in log-rate; – = outside the "
                  "codec's range):", "",
                  "| codec | " + " | ".join(f"{r} bpp" for r in rates) + " |",
                  "| --- |" + " --- |" * len(rates)]
        for c in codecs:
            cells = [f"{_fmt(grid[r].get(c, {}).get('psnr'), '.2f')} / {_fmt(grid[r].get(c, {}).get('ssim'), '.3f')}"
                     for r in rates]
            lines.append(f"| {c} | " + " | ".join(cells) + " |")
        lines.append("")
    bd = summary.get("bd") or {}
    if bd:
        lines += ["| vqv curve | vs | BD-rate (PSNR) | BD-PSNR | note |", "| --- | --- | --- | --- | --- |"]
        for vc, peers in bd.items():
            for peer, d in peers.items():
                p = d["psnr"]
                rate = "–" if p.get("bd_rate") is None else f"{p['bd_rate']:+.1f}%"
                dp = "–" if p.get("bd_psnr") is None else f"{p['bd_psnr']:+.2f} dB"
                note = p.get("reason") or ""
                if p.get("bd_rate_partial") is not None:
                    lo, hi = p["partial_psnr_range"]
                    note += f"; over the shared {lo:.2f}..{hi:.2f} dB only: {p['bd_rate_partial']:+.1f}%"
                if p.get("bd_psnr_partial") is not None:
                    lo, hi = p["partial_rate_range"]
                    note += f"; over the shared {lo:.3g}..{hi:.3g} bpp only: {p['bd_psnr_partial']:+.2f} dB"
                lines.append(f"| {vc} | {peer} | {rate} | {dp} | {note} |")
        lines.append("")
    lines += _baseline_markdown(summary)
    best = (summary.get("curves") or {}).get("vqv-best")
    if best:
        lines += [f"vqv-best{f' ({label})' if label else ''} operating points (at each quality the prior with the "
                  "fewest bits):", "", "| setting | prior | bpp | PSNR | SSIM |", "| --- | --- | --- | --- | --- |"]
        for r in sorted(best, key=lambda r: _setting_key(r["setting"])):
            lines.append(f"| {r['setting']} | {r.get('prior') or ''} | {_fmt(r['bpp'], '.4f')} | "
                         f"{_fmt(r['psnr'], '.2f')} | {_fmt(r['ssim'], '.4f')} |")
        lines.append("")
    speed = summary.get("speed") or {}
    if speed:
        lines += ["| codec | encode frames/s | decode frames/s | peak RSS (MB) |", "| --- | --- | --- | --- |"]
        for c, sp in speed.items():
            rss = (summary.get("codecs") or {}).get(c, {}).get("peak_rss_mb")
            name = f"{c} (baseline run)" if sp.get("from_baseline") else c
            lines.append(f"| {name} | {_fmt(sp.get('enc_fps'), '.0f')} | {_fmt(sp.get('dec_fps'), '.0f')} | "
                         f"{_fmt(rss, '.0f')} |")
    return "\n".join(lines) + "\n"


def _baseline_markdown(summary: dict) -> list[str]:
    base = summary.get("baseline")
    if not base:
        return []
    bl = base.get("label") or "baseline"
    cur = ((summary.get("codecs") or {}).get("vqv") or {}).get("label") or "this run"
    vs = base.get("vs") or {}
    lines = [f"Against {bl} ({base.get('path')}): anchor = {bl}'s same-named curve, BD-rate < 0 = {cur} needs "
             "fewer bits; max PSNR loss = largest shortfall of a point against the "
             f"{bl} curve at the point's own rate (> 0 = a loss).", "",
             "| vqv curve | BD-rate (PSNR) | BD-PSNR | BD-rate (SSIM) | worst point: PSNR minus "
             f"{bl}'s curve at its rate | max PSNR loss | note |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for vc, d in vs.items():
        p, q, m = d["psnr"], d["ssim"], d.get("max_psnr_loss") or {}
        worst = "–" if m.get("db") is None else f"{-m['db']:+.2f} dB ({m['setting']})"
        loss = "–" if m.get("db") is None else ("none" if m["db"] <= 0 else f"{m['db']:.2f} dB")
        notes = list(dict.fromkeys(x for x in (p.get("reason"), q.get("reason")) if x))
        if p.get("bd_psnr") is None and p.get("bd_psnr_partial") is not None:
            lo, hi = p["partial_rate_range"]
            notes.append(f"BD-PSNR over the shared {lo:.3g}..{hi:.3g} bpp only: {p['bd_psnr_partial']:+.2f} dB")
        if p.get("bd_rate") is None and p.get("bd_rate_partial") is not None:
            lo, hi = p["partial_psnr_range"]
            notes.append(f"BD-rate over the shared {lo:.2f}..{hi:.2f} dB only: {p['bd_rate_partial']:+.1f}%")
        if m.get("points_outside_baseline_range"):
            ex = m.get("extrapolated_outside_range")
            notes.append(f"outside {bl}'s rate range: {', '.join(m['points_outside_baseline_range'])}"
                         + (f" (against {bl}'s curve extended in log-rate: {-ex['db']:+.2f} dB at {ex['setting']})"
                            if ex else ""))
        lines.append(f"| {vc} | {_fmt(p.get('bd_rate'), '+.1f')}% | {_fmt(p.get('bd_psnr'), '+.2f')} dB | "
                     f"{_fmt(q.get('bd_rate'), '+.1f')}% | {worst} | {loss} | {'; '.join(notes)} |")
    lines.append("")
    peers_b = base.get("bd_vs_peers") or {}
    peers_a = (summary.get("bd") or {}).get("vqv-best") or {}
    if peers_b and peers_a:
        lines += [f"vqv-best against the peers, {bl} -> {cur} (BD-rate on PSNR; in brackets: over the shared "
                  "PSNR range only, where the curves share less than half of it):", "",
                  f"| peer | {bl} | {cur} |", "| --- | --- | --- |"]
        for peer in peers_a:
            cells = []
            for d in (peers_b.get(peer, {}).get("psnr") or {}, peers_a[peer]["psnr"]):
                if d.get("bd_rate") is not None:
                    cells.append(f"{d['bd_rate']:+.1f}%")
                elif d.get("bd_rate_partial") is not None:
                    lo, hi = d["partial_psnr_range"]
                    cells.append(f"({d['bd_rate_partial']:+.1f}% over {lo:.2f}..{hi:.2f} dB)")
                else:
                    cells.append("–")
            lines.append(f"| {peer} | {cells[0]} | {cells[1]} |")
        lines.append("")
    best = vs.get("vqv-best")
    if best:
        lines += [f"vqv-best per quality, {bl} -> {cur}:", "",
                  f"| setting | {bl} bpp | {bl} PSNR | {bl} SSIM | {cur} bpp | {cur} PSNR | {cur} SSIM | bpp change | "
                  f"PSNR vs {bl} curve at same rate |", "| --- |" + " --- |" * 8]
        for pt in best["points"]:
            b = pt.get("before") or {}
            dd = pt.get("delta_psnr_at_rate")
            dcell = (f"{dd:+.2f} dB" if dd is not None else
                     f"({pt['delta_psnr_extrapolated']:+.2f} dB extrap.)" if pt.get("delta_psnr_extrapolated") is not None
                     else "–")
            lines.append(f"| {pt['setting']} | {_fmt(b.get('bpp'), '.4f')} | {_fmt(b.get('psnr'), '.2f')} | "
                         f"{_fmt(b.get('ssim'), '.4f')} | {_fmt(pt['bpp'], '.4f')} | {_fmt(pt['psnr'], '.2f')} | "
                         f"{_fmt(pt['ssim'], '.4f')} | {_fmt(pt.get('bpp_change_pct'), '+.1f')}% | {dcell} |")
        lines.append("")
    return lines


def _print_table(summary: dict) -> None:
    click.echo(f"{'codec':<24}{'setting':<10}{'bpp':>8}{'kbps':>9}{'PSNR':>8}{'SSIM':>8}{'enc fps':>9}{'dec fps':>9}")
    for codec, rows in summary["curves"].items():
        for r in rows:
            ef = f"{r['enc_fps']:.0f}" if r.get("enc_fps") else "-"
            df = f"{r['dec_fps']:.0f}" if r.get("dec_fps") else "-"
            click.echo(f"{codec:<24}{r['setting']:<10}{r['bpp']:8.4f}{r['kbps']:9.1f}{r['psnr']:8.2f}"
                       f"{r['ssim']:8.4f}{ef:>9}{df:>9}")
    for vc, peers in summary["bd"].items():
        for peer, d in peers.items():
            p = d["psnr"]
            br = "nan" if p["bd_rate"] is None else f"{p['bd_rate']:+.1f}%"
            bp = "nan" if p["bd_psnr"] is None else f"{p['bd_psnr']:+.2f} dB"
            click.echo(f"BD {vc} vs {peer}: BD-rate(PSNR) {br}, BD-PSNR {bp}"
                       + (f"  [{p['reason']}]" if p.get("reason") else ""))
    base = summary.get("baseline")
    if base:
        for vc, d in base["vs"].items():
            p, m = d["psnr"], d["max_psnr_loss"]
            br = "nan" if p["bd_rate"] is None else f"{p['bd_rate']:+.1f}%"
            bp = "nan" if p["bd_psnr"] is None else f"{p['bd_psnr']:+.2f} dB"
            ml = "nan" if m["db"] is None else f"{m['db']:+.2f} dB at {m['setting']}"
            click.echo(f"BD {vc} vs {base['label']} {vc}: BD-rate(PSNR) {br}, BD-PSNR {bp}, max PSNR loss {ml}"
                       + (f"  [{p['reason']}]" if p.get("reason") else ""))


def _default_input() -> str:
    return "corpus:" + os.environ.get("VQV_CORPUS", "data/corpus")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--input", "-i", "input_spec", default=_default_input, show_default="corpus:$VQV_CORPUS or corpus:data/corpus",
              help="corpus:DIR (validation clips of the open corpus), folder:DIR, ucf101:DIR, or npy:DIR "
                   "(already cut (T,H,W,3) uint8 clips, used as they are).")
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("bench_out"),
              show_default=True)
@click.option("--max-clips", type=int, default=None, help="Use at most N clips.")
@click.option("--codecs", default=",".join(ALL_CODECS), show_default=True, help="Comma-separated subset.")
@click.option("--weights", default=None, help="vqv model weights (default: the shipped model).")
@click.option("--priors", default=None, help="Comma-separated vqv priors (default: every available kind).")
@click.option("--threads", type=int, default=1, show_default=True, help="torch threads for vqv (peers use 1).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              default=lambda: Path(os.environ.get("VQV_CACHE", Path.home() / ".cache" / "vqv")),
              show_default="$VQV_CACHE or ~/.cache/vqv")
@click.option("--frames", type=click.IntRange(1), default=PROTOCOL_FRAMES, show_default=True,
              help="Clip length in frames at 16 fps (e.g. 128 = four 32-frame GOPs, cut from the same videos). "
                   "npy: clips are used as they are.")
@click.option("--rdo-strength", type=float, default=None,
              help="vqv encoder: passed as encode_frames(rdo_strength=...) (0 = copy mode off). "
                   "Default: not passed (the codec's own default).")
@click.option("--refresh", type=click.IntRange(0), default=None,
              help="vqv encoder: passed as encode_frames(refresh=...) (0 = never). Default: not passed.")
@click.option("--vqv-label", default=None, help="Name of this run's vqv curves in plots and tables (e.g. after).")
@click.option("--baseline", type=click.Path(exists=True, path_type=Path), default=None,
              help="A saved run (its directory, summary.json or points.csv) on the same clips: adds BD-rate/BD-PSNR "
                   "of every vqv curve against the baseline's and the largest PSNR loss at equal rate; peers "
                   "left out of --codecs are taken from it.")
@click.option("--baseline-label", default=None, help="Name of the baseline (default: its --vqv-label, else baseline).")
@click.option("--smoke", is_flag=True, help="2 clips, 2 rates per codec: checks the pipeline, not the numbers.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no table.")
def main(input_spec: str, out_dir: Path, max_clips: int | None, codecs: str, weights: str | None, priors: str | None,
         threads: int, cache_dir: Path, frames: int, rdo_strength: float | None, refresh: int | None,
         vqv_label: str | None, baseline: Path | None, baseline_label: str | None, smoke: bool, quiet: bool) -> None:
    """Rate-distortion benchmark of vqv against x264, x265, VP9 and AV1 (see benchmarks/README.md)."""
    def log(msg: str) -> None:
        click.echo(msg, err=True)

    if smoke:
        max_clips = 2 if max_clips is None else min(max_clips, 2)
    codec_list = [c.strip() for c in codecs.split(",") if c.strip()]
    prior_list = [p.strip() for p in priors.split(",") if p.strip()] if priors else None
    base = load_baseline(baseline) if baseline is not None else None
    clips = load_clips(input_spec, max_clips, cache_dir, log, frames)
    log(f"{len(clips)} clip(s) from {input_spec}")
    summary = run_benchmark(clips, out_dir, codecs=codec_list, smoke=smoke, threads=threads, weights=weights,
                            priors=prior_list, log=log, progress=not quiet, input_spec=input_spec, frames=frames,
                            vqv_options={"rdo_strength": rdo_strength, "refresh": refresh}, vqv_label=vqv_label,
                            baseline=base, baseline_label=baseline_label)
    if not quiet:
        _print_table(summary)
    log(f"wrote {out_dir}/points.csv, summary.json, summary.md, rd_psnr.png, rd_ssim.png")


if __name__ == "__main__":
    main()
