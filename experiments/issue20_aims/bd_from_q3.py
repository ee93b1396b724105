"""BD-rate (PSNR) of vqv-best against release 0.6 per clip, over the whole ladder and over Q3-Q12 only (Q1-Q2 carry
no motion layer: the same points in both, which pull a whole-range BD-rate toward 0).

    python experiments/issue20_aims/bd_from_q3.py NOW/points.csv OLD/points.csv
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.bd import bd_rates  # noqa: E402
from benchmarks.report import read_points_csv as rows  # noqa: E402
from benchmarks.curves import aggregate, vqv_best  # noqa: E402


def best(points, clip, first_q):
    sel = [p for p in points if p["codec"].startswith("vqv-") and (clip is None or clip in p["clip"])
           and int(p["setting"][2:]) >= first_q]
    return sorted(vqv_best(aggregate(sel)), key=lambda r: r["bpp"])


now, old = rows(sys.argv[1]), rows(sys.argv[2])
for clip in sorted({p["clip"] for p in now}) + [None]:
    whole = bd_rates(best(old, clip, 1), best(now, clip, 1))["bd_rate_psnr"]
    q3 = bd_rates(best(old, clip, 3), best(now, clip, 3))["bd_rate_psnr"]
    fmt = lambda x: "n/a (the curves overlap too little)" if x is None else f"{x:+.2f}%"  # noqa: E731
    print(f"{clip or 'mean curve'}: Q1-Q12 {fmt(whole)}, Q3-Q12 {fmt(q3)}")
