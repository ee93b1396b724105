"""From measured points to curves: one point per (codec, setting, clip), mean curves per (codec,
setting), the vqv-best envelope, and every vqv curve against every peer (BD numbers, quality at
matched rates)."""
from __future__ import annotations

import re

import numpy as np

from benchmarks.bd import bd_numbers, interp_at
from benchmarks.clips import PROTOCOL_FPS, Clip
from vqcodec import metrics as M

#: bits per pixel at which every codec's quality is interpolated (summary.json's matched_bpp)
MATCHED_BPP = (0.02, 0.05, 0.1, 0.2, 0.3)


def make_point(codec: str, setting: str, clip: Clip, n_bytes: int, raw_bytes: int, decoded: np.ndarray,
               enc_s: float, dec_s: float) -> dict:
    """One measurement: rate and ``vqcodec.metrics`` quality of ``decoded`` against the clip, speed."""
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


def setting_key(s: str) -> tuple:
    """Sort key of a setting such as ``crf=24`` or ``q=3``: by name, then numerically."""
    m = re.match(r"([a-z]+)=(-?\d+)", s)
    return (m.group(1), int(m.group(2))) if m else (s, 0)


def fps(points: list[dict]) -> tuple[float | None, float | None]:
    """Encode and decode frames per second of a set of points: total frames / total seconds."""
    frames = sum(p["frames"] for p in points)
    enc_s = sum(p["frames"] / p["enc_fps"] for p in points if p["enc_fps"] > 0)
    dec_s = sum(p["frames"] / p["dec_fps"] for p in points if p["dec_fps"] > 0)
    return (frames / enc_s if enc_s > 0 else None), (frames / dec_s if dec_s > 0 else None)


def _groups(points: list[dict], key) -> dict:
    groups: dict = {}
    for p in points:
        groups.setdefault(key(p), []).append(p)
    return groups


def aggregate(points: list[dict]) -> dict[str, list[dict]]:
    """Per (codec, setting): means over clips (speed as total frames / total seconds)."""
    out: dict[str, list[dict]] = {}
    for (codec, setting), ps in _groups(points, lambda p: (p["codec"], p["setting"])).items():
        enc_fps, dec_fps = fps(ps)
        out.setdefault(codec, []).append({
            "setting": setting, "clips": len(ps),
            **{k: float(np.mean([p[k] for p in ps])) for k in ("bytes", "raw_bytes", "bpp", "kbps", "psnr", "ssim")},
            "enc_fps": enc_fps, "dec_fps": dec_fps,
        })
    for codec in out:
        out[codec].sort(key=lambda r: r["bpp"])
    return out


def codec_speed(points: list[dict]) -> dict[str, tuple[float | None, float | None]]:
    """Per codec: (encode, decode) frames per second over all its points."""
    return {codec: fps(ps) for codec, ps in _groups(points, lambda p: p["codec"]).items()}


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


def _curve(rows: list[dict], metric: str) -> tuple[list, list]:
    return [r["bpp"] for r in rows], [r[metric] for r in rows]


def compare(per_codec: dict[str, list[dict]], peers: list[str]) -> tuple[dict, dict, list]:
    """BD numbers of every vqv curve against every peer, and quality at matched bitrates."""
    bd: dict = {}
    for vc, rows in per_codec.items():
        if not vc.startswith("vqv"):
            continue
        for peer in peers:
            prow = per_codec.get(peer)
            if prow:
                bd.setdefault(vc, {})[peer] = {m: bd_numbers(_curve(prow, m), _curve(rows, m), m)
                                               for m in ("psnr", "ssim")}
    matched_grid: dict = {}
    for codec, rows in per_codec.items():
        for target in MATCHED_BPP:
            p, why = interp_at(*_curve(rows, "psnr"), target)
            s, _ = interp_at(*_curve(rows, "ssim"), target)
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
            p, why = interp_at(*_curve(prow, "psnr"), r["bpp"])
            s, _ = interp_at(*_curve(prow, "ssim"), r["bpp"])
            cell = {"psnr": p, "ssim": s,
                    "delta_psnr": None if p is None else r["psnr"] - p,
                    "delta_ssim": None if s is None else r["ssim"] - s}
            if why:
                cell["reason"] = why
            row["peers"][peer] = cell
        matched_vqv.append(row)
    return bd, matched_grid, matched_vqv
