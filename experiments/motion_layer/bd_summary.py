import json, sys, numpy as np, warnings
import bjontegaard as bd
warnings.filterwarnings("ignore")
def front(c):
    """The points no other point beats in both rate and PSNR, by rate (a ladder's RD front)."""
    c = c[np.argsort(c[:, 1])]
    keep, best = [], -1e9
    for row in c:
        if row[2] > best:
            keep.append(row); best = row[2]
    return np.array(keep)


def bdr(a, b, fn=bd.bd_rate):
    a, b = front(a), front(b)
    return fn(a[:, 1], a[:, 2], b[:, 1], b[:, 2], method="pchip", require_matching_points=False, min_overlap=0)


for f in sys.argv[1:]:
    d = json.load(open(f))
    curves = {"off": [], "on": []}
    for name, r in d.items():
        if name == "bd_rate" or not isinstance(r, dict): continue
        off = np.array([x[:3] for x in r["off"]]); on = np.array([x[:3] for x in r["on"]])
        # motion is off at points without bottom codes (Q1): the same file as off
        on[on[:, 0] == 1] = off[off[:, 0] == 1]
        curves["off"].append(off); curves["on"].append(on)
        try:
            br = bdr(off, on)
        except Exception as e:
            br = float("nan")
        print(f"{f.split('/')[-1]} {name:45s} BD-rate {br:+.1f}%")
    off = np.mean(curves["off"], 0); on = np.mean(curves["on"], 0)
    br = bdr(off, on)
    bp = bdr(off, on, bd.bd_psnr)
    print(f"  group mean curve: BD-rate {br:+.1f}%  BD-PSNR {bp:+.2f} dB")
    for a, b in zip(off, on):
        print(f"   Q{int(a[0])}: {a[1]:.4f} bpp {a[2]:.2f} dB -> {b[1]:.4f} bpp {b[2]:.2f} dB")
