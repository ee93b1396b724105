"""BD-rate (PSNR, pchip over each RD front) of rd_bends.py's curves: per clip and of each group's mean
curve, bent paths on against off (``bd_bends.py OUT.json``), or one run's against another's at the same
setting (``bd_bends.py OLD.json NEW.json``)."""
import json
import sys

import bjontegaard as bd
import numpy as np

from benchmarks.bd import pareto


def bdr(o, n):
    """BD-rate of curve ``n`` against ``o`` (points (bpp, PSNR, ...)), each on its RD front, pchip."""
    (ro, do), (rn, dn) = (pareto([p[0] for p in c], [p[1] for p in c]) for c in (o, n))
    return bd.bd_rate(ro, do, rn, dn, method="pchip", require_matching_points=False)


def report(old: dict, new: dict, pairs) -> None:
    """``pairs``: (label, key suffix in old, key suffix in new)."""
    names = sorted({k.split("|")[0] for k in old})
    for label, a, b in pairs:
        for g in ("val", "mov"):
            rows = [n for n in names if n.startswith(g)]
            for n in rows:
                print(f"{label} {n:30s} {bdr(old[n + a], new[n + b]):+.2f}%")
            mo = np.mean([np.array(old[n + a])[:, :2] for n in rows], 0)
            mn = np.mean([np.array(new[n + b])[:, :2] for n in rows], 0)
            t0 = sum(np.array(old[n + a])[:, 2].sum() for n in rows)
            t1 = sum(np.array(new[n + b])[:, 2].sum() for n in rows)
            print(f"{label} {g} mean curve {bdr(mo, mn):+.2f}%  encode time {t0:.0f}s -> {t1:.0f}s")


if __name__ == "__main__":
    runs = [json.load(open(p)) for p in sys.argv[1:]]
    if len(runs) == 1:
        report(runs[0], runs[0], [("bends on vs off", "|0", "|1")])
    else:
        report(runs[0], runs[1], [("bends off", "|0", "|0"), ("bends on", "|1", "|1")])
