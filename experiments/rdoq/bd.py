"""BD-rate (PSNR, pchip over each RD front) of rd.py runs against a base run, per clip and of each group's
mean curve (clips named videos_* or val_* are the validation clips, the others the moving training
clips); the points a run lacks are the base's. Also the largest PSNR drop of a point of a run's front below the
base's front at its rate, and the ratio of encode time.
usage: bd.py BASE.json RUN.json [RUN.json ...]"""
import json, sys

import bjontegaard as bd
import numpy as np

from benchmarks.bd import pareto


def bdr(o, n):
    (ro, do), (rn, dn) = (pareto([p[1] for p in c], [p[2] for p in c]) for c in (o, n))
    return bd.bd_rate(ro, do, rn, dn, method="pchip", require_matching_points=False)


base = json.load(open(sys.argv[1]))
VALIDATION = ("videos", "val_")
groups = (("validation", [k for k in base if k.startswith(VALIDATION)]),
          ("moving", [k for k in base if not k.startswith(VALIDATION)]))


def worst_drop(o, n):
    """dB: how far the points of ``n``'s front fall below ``o``'s front at their rates (0 if none does)."""
    ro, do = pareto([p[1] for p in o], [p[2] for p in o])
    return max([0.0] + [float(np.interp(r, ro, do)) - d
                        for r, d in zip(*pareto([p[1] for p in n], [p[2] for p in n])) if ro[0] <= r <= ro[-1]])


for f in sys.argv[2:]:
    run = json.load(open(f))
    full = {n: sorted([p for p in base[n] if p[0] not in {r[0] for r in run[n]}] + run[n]) for n in run}
    row = []
    for g, names in groups:
        per = [bdr(base[n], full[n]) for n in names]
        mean = bdr(np.mean([base[n] for n in names], 0).tolist(), np.mean([full[n] for n in names], 0).tolist())
        t = sum(p[3] for n in names for p in run[n]) / sum(p[3] for n in names for p in base[n] if p[0] in {r[0] for r in run[n]})
        drop = max(worst_drop(base[n], full[n]) for n in names)
        row.append(f"{g} {mean:+.2f}% (" + " ".join(f"{x:+.1f}" for x in per) + f") worst {drop:.3f} dB time x{t:.2f}")
    print(f"{f}: " + " | ".join(row))
