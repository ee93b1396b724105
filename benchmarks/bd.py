"""Maths on rate-distortion curves: monotone hull, Bjontegaard numbers, quality at a given rate.

A curve is ``(rates, qualities)``: bits per pixel and PSNR (dB) or SSIM, one entry per operating point.
"""
from __future__ import annotations

import math
import warnings

import bjontegaard
import numpy as np

from vqcodec.errors import describe_error

BD_METHOD = "akima"
#: BD numbers need the two curves to share at least this fraction of their joint range
#: (in PSNR/SSIM for BD-rate, in log-rate for BD-PSNR); below it the number is None with a reason.
MIN_BD_OVERLAP = 0.5


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
    """The shared part of the ranges of ``a`` and ``b`` as a fraction of their joint range."""
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
        out["reason"] = f"need >= 2 monotone points per curve (anchor {len(ra)}, test {len(rt)})"
        return out
    ov_d = _overlap(da, dt)
    ov_r = _overlap(np.log10(ra), np.log10(rt))
    out["overlap_" + metric] = round(ov_d, 3)
    out["overlap_log_rate"] = round(ov_r, 3)
    # (key, function, overlap, why it is too small, key and value of the shared range)
    numbers = (
        ("bd_rate", bjontegaard.bd_rate, ov_d,
         f"{metric} ranges overlap {ov_d:.0%} < {MIN_BD_OVERLAP:.0%} "
         f"(anchor {da.min():.4g}..{da.max():.4g}, test {dt.min():.4g}..{dt.max():.4g})",
         f"partial_{metric}_range", [float(max(da.min(), dt.min())), float(min(da.max(), dt.max()))]),
        (f"bd_{metric}", bjontegaard.bd_psnr, ov_r,
         f"rate ranges overlap {ov_r:.0%} < {MIN_BD_OVERLAP:.0%} in log-rate "
         f"(anchor {ra.min():.4g}..{ra.max():.4g} bpp, test {rt.min():.4g}..{rt.max():.4g} bpp)",
         "partial_rate_range", [float(max(ra.min(), rt.min())), float(min(ra.max(), rt.max()))]),
    )
    reasons = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, fn, overlap, too_small, range_key, shared in numbers:
            if overlap >= MIN_BD_OVERLAP:
                try:
                    out[key] = float(fn(ra, da, rt, dt, method=BD_METHOD, require_matching_points=False,
                                        min_overlap=0))
                except Exception as e:  # the interpolation can fail in many ways on odd curves
                    reasons.append(f"{key} failed: {describe_error(e)}")
                continue
            reasons.append(too_small)
            if overlap > 0:  # the same integral over the shared range only, reported apart
                try:
                    v = float(fn(ra, da, rt, dt, method=BD_METHOD, require_matching_points=False, min_overlap=0))
                except Exception:
                    continue
                if math.isfinite(v):
                    out[f"{key}_partial"] = v
                    out[range_key] = shared
    for k in ("bd_rate", f"bd_{metric}"):
        if out[k] is not None and not math.isfinite(out[k]):
            out[k] = None
            reasons.append(f"{k} not finite")
    if reasons:
        out["reason"] = "; ".join(reasons)
    return out


def bd_rates(anchor: list[dict], test: list[dict], metrics: tuple[str, ...] = ("psnr", "ssim")) -> dict[str, float]:
    """``{"bd_rate_<metric>": ...}`` of ``test`` against ``anchor``, two curves of rows with ``bpp`` and each metric
    (what the experiments' A/B scripts print per clip)."""
    return {f"bd_rate_{m}": bd_numbers(([r["bpp"] for r in anchor], [r[m] for r in anchor]),
                                       ([r["bpp"] for r in test], [r[m] for r in test]), m)["bd_rate"] for m in metrics}


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


def extrapolate_log(rates: list[float], dists: list[float], target: float) -> float | None:
    """Quality at ``target`` bpp, linear in log(bpp) through the two nearest end points of the
    monotone curve (for points outside its range; flagged as extrapolated wherever used)."""
    r, d = pareto(rates, dists)
    if len(r) < 2:
        return None
    i = (0, 1) if target < r.min() else (-2, -1)
    x0, x1 = np.log(r[i[0]]), np.log(r[i[1]])
    return float(d[i[0]] + (d[i[1]] - d[i[0]]) * (np.log(target) - x0) / (x1 - x0))
