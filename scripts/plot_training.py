"""Plot a training run's validation curve (PSNR and SSIM per operating point vs step) for the README.

    python scripts/plot_training.py runs/cpu/metrics.jsonl docs/training_curve.png
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(metrics: str, out: str) -> None:
    vals = [r for r in map(json.loads, Path(metrics).read_text().splitlines()) if r.get("kind") == "val"]
    if not vals:
        raise SystemExit(f"{metrics}: no validation records")
    qs = sorted(vals[-1]["points"], key=int)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for q in qs:
        pts = [(v["step"], v["points"][q]) for v in vals if q in v["points"]]
        bpp = pts[-1][1]["bpp_entropy"]
        label = f"Q{q} ({pts[-1][1]['stages'][0]}+{pts[-1][1]['stages'][1]} stages, ~{bpp:.3f} bpp)"
        axes[0].plot([s for s, _ in pts], [p["psnr"] for _, p in pts], marker=".", label=label)
        axes[1].plot([s for s, _ in pts], [p["ssim"] for _, p in pts], marker=".", label=label)
    for ax, name in zip(axes, ("PSNR (dB)", "SSIM")):
        ax.set_xlabel("training step (batch 8 of 16x64x64 crops)")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    hours = vals[-1]["time"] / 3600
    fig.suptitle(f"validation (open-corpus val clips, 32x64x64 @16 fps): {vals[-1]['step']} steps, {hours:.2f} h wall")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"{out}: {len(vals)} validation points")


if __name__ == "__main__":
    main(*sys.argv[1:3])
