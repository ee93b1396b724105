import json, sys, collections, numpy as np
sys.path.insert(0, "/work/main")
from benchmarks.bd import bd_rates, bd_numbers
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
A, B = sys.argv[2], sys.argv[3]
by = collections.defaultdict(dict)
for r in rows:
    r["bpp"] = r["bytes"] * 8 / (32 * 64 * 64)
    by[r["clip"]].setdefault(r["tag"], []).append(r)
tot = []
worst = 0
for clip, d in by.items():
    if A not in d or B not in d: continue
    a, b = sorted(d[A], key=lambda r: r["q"]), sorted(d[B], key=lambda r: r["q"])
    bd = bd_rates(a, b, ("psnr",))["bd_rate_psnr"]
    bdp = bd_numbers(([r["bpp"] for r in a], [r["psnr"] for r in a]), ([r["bpp"] for r in b], [r["psnr"] for r in b]), "psnr")
    same = sum(x["bytes"] == y["bytes"] for x, y in zip(a, b))
    ea, eb = sum(r["enc_s"] for r in a), sum(r["enc_s"] for r in b)
    da, db = sum(r["dec_s"] for r in a), sum(r["dec_s"] for r in b)
    tot.append(bd)
    print(f"{clip[:28]:28s} BD-rate {bd:+.2f}%  BD-PSNR {bdp['bd_psnr']:+.3f} dB  same-size points {same}/{len(a)}  enc {ea:.1f}->{eb:.1f} s  dec {da:.2f}->{db:.2f} s")
print(f"mean BD-rate {np.mean(tot):+.2f}%")
from benchmarks.bd import interp_at
loss = []
for clip, d in by.items():
    a, b = d[A], d[B]
    for r in b:
        v, why = interp_at([x["bpp"] for x in a], [x["psnr"] for x in a], r["bpp"])
        if v is not None: loss.append((r["psnr"] - v, clip[:20], r["q"]))
loss.sort()
print("worst points (dB at own rate vs before):", [(round(x, 3), c, q) for x, c, q in loss[:4]])
import math
loss2 = []
for clip, d in by.items():
    a = {r["q"]: r for r in d[A]}
    for r in d[B]:
        q = r["q"]; cands = []
        for q0, q1 in ((q - 1, q), (q, q + 1)):
            if q0 in a and q1 in a:
                x0, x1 = math.log(a[q0]["bpp"]), math.log(a[q1]["bpp"])
                x = math.log(r["bpp"])
                if x0 != x1 and min(x0, x1) <= x <= max(x0, x1):
                    t = (x - x0) / (x1 - x0); cands.append(a[q0]["psnr"] + t * (a[q1]["psnr"] - a[q0]["psnr"]))
        if r["bytes"] == a[q]["bytes"]: cands = [a[q]["psnr"]]
        if cands: loss2.append((r["psnr"] - cands[0], clip[:20], q))
loss2.sort()
print("worst points against the neighbouring qualities' segment:", [(round(x, 3), c, q) for x, c, q in loss2[:4]], "of", len(loss2))
