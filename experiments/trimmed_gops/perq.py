"""Per-quality table of vqv-best (bpp / PSNR / SSIM, mean of the benchmark's clips) over several benchmark runs,
and BD-rates of the last run against each earlier one (all clips, then per clip).

    python experiments/trimmed_gops/perq.py NAME=points.csv ... > perq_table.md
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.bd import bd_rates  # noqa: E402
from benchmarks.report import read_points_csv as rows  # noqa: E402
from benchmarks.curves import aggregate, setting_key, vqv_best  # noqa: E402


def best(points, clip=None):
    sel = [p for p in points if p["codec"].startswith("vqv-") and (clip is None or clip in p["clip"])]
    return sorted(vqv_best(aggregate(sel)), key=lambda r: setting_key(r["setting"]))


runs = [(a.split("=", 1)[0], rows(a.split("=", 1)[1])) for a in sys.argv[1:]]
curves = [(name, best(pts)) for name, pts in runs]
print("| Q | " + " | ".join(name for name, _ in curves) + " |")
print("| --- " * (len(curves) + 1) + "|")
for i, r in enumerate(curves[0][1]):
    cells = [f"{c[i]['bpp']:.4f} / {c[i]['psnr']:.2f} / {c[i]['ssim']:.4f}" for _, c in curves]
    print(f"| {r['setting'][2:]} | " + " | ".join(cells) + " |")
last_name, last_pts = runs[-1]
clips = sorted({p["clip"] for p in last_pts})
print()
for name, pts in runs[:-1]:
    bd = bd_rates(best(pts), best(last_pts))
    print(f"BD-rate {last_name} vs {name}: PSNR {bd['bd_rate_psnr']:+.2f}%, SSIM {bd['bd_rate_ssim']:+.2f}%")
for clip in clips:
    for name, pts in runs[:-1]:
        if any(p["clip"] == clip for p in pts):
            bd = bd_rates(best(pts, clip), best(last_pts, clip))
            print(f"{clip}: {last_name} vs {name}: PSNR {bd['bd_rate_psnr']:+.2f}%, SSIM {bd['bd_rate_ssim']:+.2f}%")
