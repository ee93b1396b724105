"""What a run writes: points.csv, summary.json, summary.md (its tables in markdown; the top-level
README quotes the matched-rate table of docs/bench/summary.md), the plots rd_psnr.png /
rd_ssim.png, and the table on the terminal; and points.csv read back."""
from __future__ import annotations

import csv
import json
import math
from fractions import Fraction
from pathlib import Path

import click
import numpy as np

from benchmarks.clips import PROTOCOL_FPS, PROTOCOL_FRAMES, PROTOCOL_SIZE
from benchmarks.curves import setting_key
from benchmarks.peers import PEERS

CSV_FIELDS = ["codec", "setting", "clip", "frames", "width", "height", "bytes", "raw_bytes", "bpp", "kbps",
              "psnr", "ssim", "enc_fps", "dec_fps"]
_CSV_INT = {"frames", "width", "height", "bytes", "raw_bytes"}


def write_points_csv(points: list[dict], path: Path) -> None:
    """One row per point, floats to 6 significant digits."""
    with open(path, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        wr.writeheader()
        for p in points:
            wr.writerow({k: (f"{p[k]:.6g}" if isinstance(p[k], float) else p[k]) for k in CSV_FIELDS})


def read_points_csv(path: Path) -> list[dict]:
    """The points of a points.csv, numbers as numbers (KeyError if a column is missing)."""
    points = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            pt: dict = dict(row)
            for k in CSV_FIELDS[3:]:
                pt[k] = int(float(row[k])) if k in _CSV_INT else float(row[k])
            points.append(pt)
    return points


def write_summary(summary: dict, out: Path) -> None:
    """summary.json (non-finite numbers as null) and summary.md."""
    clean = json_clean(summary)
    with open(out / "summary.json", "w") as f:
        json.dump(clean, f, indent=1)
    (out / "summary.md").write_text(summary_markdown(clean))


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


def json_clean(x):
    """``x`` as JSON can hold it: non-finite floats as None, numpy scalars as numbers, fractions as text."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): json_clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_clean(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return json_clean(x.item())
    if isinstance(x, Fraction):
        return str(x)
    return x


def _fmt(v, spec: str) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def summary_markdown(summary: dict) -> str:
    """summary.md: the run's clips and vqv options, quality at matched rates, BD numbers, the comparison
    with a baseline, vqv-best's operating points, speed and memory."""
    proto = summary["protocol"]
    clips = proto["clips"]
    vinfo = (summary.get("codecs") or {}).get("vqv") or {}
    label = vinfo.get("label")
    lines = [f"{len(clips)} clips ({', '.join(clips)}); {proto.get('frames', PROTOCOL_FRAMES)} frames, 64x64, 16 fps; "
             f"torch threads {summary['threads']['torch']}, peer threads {summary['threads']['peers']}.", ""]
    padded = proto.get("padded_clips") or {}
    if padded:
        lines += ["**Padded clips**: " + ", ".join(f"{n} has {k} frames of video" for n, k in padded.items())
                  + "; the rest of each repeats its last frame (a static tail).", ""]
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
        for r in sorted(best, key=lambda r: setting_key(r["setting"])):
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


def print_table(summary: dict) -> None:
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
