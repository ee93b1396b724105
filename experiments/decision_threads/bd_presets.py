"""BD-rate (PSNR, pchip over each RD front) of RUN against BASE (rd.py's JSON), per clip and of each group's mean
curve (val_* the validation clips, mov_* the moving training clips); the largest PSNR drop of a point of RUN's front below
BASE's front at its rate; the ratio of encode time.   usage: bd7.py BASE.json RUN.json"""
import json, sys
import bjontegaard as bd
import numpy as np
from benchmarks.bd import pareto

def bdr(o, n):
    (ro, do), (rn, dn) = (pareto([p[1] for p in c], [p[2] for p in c]) for c in (o, n))
    return bd.bd_rate(ro, do, rn, dn, method="pchip", require_matching_points=False)

base, run = (json.load(open(f)) for f in sys.argv[1:3])
for g in ("val_", "mov_"):
    names = [k for k in base if k.startswith(g)]
    per = [bdr(base[n], run[n]) for n in names]
    mean = bdr(np.mean([base[n] for n in names], 0).tolist(), np.mean([run[n] for n in names], 0).tolist())
    t = sum(p[3] for n in names for p in run[n]) / sum(p[3] for n in names for p in base[n])
    drop = 0.0
    for n in names:
        rb, db = pareto([p[1] for p in base[n]], [p[2] for p in base[n]])
        for r, d in zip(*pareto([p[1] for p in run[n]], [p[2] for p in run[n]])):    # the run's own front
            if rb[0] <= r <= rb[-1]:
                drop = max(drop, float(np.interp(r, rb, db)) - d)
    print(f"{g}: mean {mean:+.2f}% per clip " + " ".join(f"{n}:{x:+.2f}" for n, x in zip(names, per))
          + f" | worst point {drop:.3f} dB below | time x{t:.2f}")
