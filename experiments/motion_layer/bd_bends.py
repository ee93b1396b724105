"""BD-rate (PSNR, pchip over each RD front) of rd_bends.py's curves: per clip and of each group's mean curve."""
import json, sys
import numpy as np
import bjontegaard as bd
d = json.load(open(sys.argv[1]))
def front(p):
    p = sorted((b, q) for b, q, *_ in p); out = []
    for b, q in p:
        if not out or q > out[-1][1]: out.append((b, q))
    return np.array(out)
def bdr(o, n):
    o, n = front(o), front(n)
    return bd.bd_rate(o[:, 0], o[:, 1], n[:, 0], n[:, 1], method="pchip", require_matching_points=False)
names = sorted({k.split("|")[0] for k in d})
for g in ("val", "mov"):
    rows = [n for n in names if n.startswith(g)]
    for n in rows:
        print(f"{n:30s} {bdr(d[n+'|0'], d[n+'|1']):+.2f}%")
    mo = np.mean([np.array(d[n+'|0'])[:, :2] for n in rows], 0); mn = np.mean([np.array(d[n+'|1'])[:, :2] for n in rows], 0)
    print(f"{g} mean curve {bdr(mo, mn):+.2f}%  enc time {sum(np.array(d[n+'|0'])[:,2].sum() for n in rows):.0f}s -> {sum(np.array(d[n+'|1'])[:,2].sum() for n in rows):.0f}s")
