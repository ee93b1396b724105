"""Plot a training run's validation curve (PSNR and SSIM per operating point vs step) for the README.

    python tools/plot_training.py docs/training_curve.png runs/cpu/metrics.jsonl [runs/cpu2/metrics.jsonl@3527 ...]

Several files make one lineage, drawn on one step axis with the joins marked: a later ``PATH`` is the
same run resumed with new settings (its steps and times continue); ``PATH@STEP`` is a run
warm-started from step STEP of the one before (its own steps and time count from 0).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load_segments(specs: list[str]) -> tuple[list[dict], list[int], float]:
    vals, joins, t_offset, s_offset = [], [], 0.0, 0
    for i, spec in enumerate(specs):
        path, _, start = spec.partition("@")
        recs = [r for r in map(json.loads, Path(path).read_text().splitlines()) if r.get("kind") == "val"]
        if not recs:
            raise SystemExit(f"{path}: no validation records")
        s_offset, t_offset = 0, 0.0
        if i > 0:
            # PATH: the same run resumed (its steps and times continue); PATH@STEP: a restart from STEP
            cut = int(start) if start else recs[0]["step"] - 1
            vals = [v for v in vals if v["step"] <= cut]
            joins.append(cut)
            if start:
                s_offset, t_offset = cut, (vals[-1]["time"] if vals else 0.0)
        vals += [{**r, "step": r["step"] + s_offset, "time": r["time"] + t_offset} for r in recs]
    return vals, joins, vals[-1]["time"]


def main(out: str, *specs: str) -> None:
    vals, joins, seconds = load_segments(list(specs))
    qs = sorted(vals[-1]["points"], key=int)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for q in qs:
        pts = [(v["step"], v["points"][q]) for v in vals if q in v["points"]]
        bpp = pts[-1][1]["bpp_entropy"]
        label = f"Q{q} ({pts[-1][1]['stages'][0]}+{pts[-1][1]['stages'][1]} stages, ~{bpp:.3f} bpp)"
        axes[0].plot([s for s, _ in pts], [p["psnr"] for _, p in pts], marker=".", label=label)
        axes[1].plot([s for s, _ in pts], [p["ssim"] for _, p in pts], marker=".", label=label)
    for ax, name in zip(axes, ("PSNR (dB)", "SSIM")):
        for j in joins:
            ax.axvline(j, color="k", lw=0.8, ls="--")
        ax.set_xlabel("training step (batch 8 of 16x64x64 crops)")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    note = f" (dashed: runs joined at step {', '.join(map(str, joins))})" if joins else ""
    fig.suptitle(f"validation (open-corpus val clips, 32x64x64 @16 fps): {vals[-1]['step']} steps, "
                 f"{seconds / 3600:.2f} h wall{note}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"{out}: {len(vals)} validation points")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
