"""Comparison with a saved run of the benchmark ("before"): reading it, checking that it measured
the same clips, and every vqv curve of this run against its namesake there."""
from __future__ import annotations

import json
from pathlib import Path

import click

from benchmarks.bd import bd_numbers, extrapolate_log, interp_at
from benchmarks.clips import Clip
from benchmarks.curves import aggregate, setting_key, vqv_best
from benchmarks.report import read_points_csv
from vqcodec.errors import describe_error


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
            points = read_points_csv(p)
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
        raise click.ClickException(f"baseline {p}: cannot read it ({describe_error(e)})") from None
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
        for r in sorted(rows, key=lambda r: setting_key(r["setting"])):
            at, why = interp_at(b_r, b_p, r["bpp"])
            at_s, _ = interp_at(b_r, b_s, r["bpp"])
            pt: dict = {"setting": r["setting"], "prior": r.get("prior"), "bpp": r["bpp"], "psnr": r["psnr"],
                        "ssim": r["ssim"], "before_psnr_at_rate": at, "before_ssim_at_rate": at_s,
                        "delta_psnr_at_rate": None if at is None else r["psnr"] - at,
                        "delta_ssim_at_rate": None if at_s is None else r["ssim"] - at_s}
            if why:
                pt["reason"] = why
                ex = extrapolate_log(b_r, b_p, r["bpp"])
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
