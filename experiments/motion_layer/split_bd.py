"""BD-rate of vqv-best against release 0.6 and the peers, per group of clips (issue 20's static /
moving split), from benchmark runs' points.csv: the group's mean curve per codec (benchmarks.curves).

    python experiments/motion_layer/split_bd.py NOW.csv BASE_0.6.csv [PEERS.csv] [--top OLD.csv] GROUP=clip,clip ...
A group's clips are matched by substring of the csv's clip names; peers are read from NOW.csv, else PEERS.csv.
--top OLD.csv: NOW's curve cut at OLD's top PSNR (an end point interpolated in log-rate), so that both
runs are compared with the peers over the same range.
"""
import csv
import sys

import numpy as np
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.bd import bd_numbers, pareto  # noqa: E402
from benchmarks.curves import aggregate, vqv_best  # noqa: E402

PEERS = ("x264", "x265", "vp9", "av1")


def rows(path):
    out = []
    for r in csv.DictReader(open(path)):
        for k in ("bytes", "raw_bytes", "bpp", "kbps", "psnr", "ssim", "enc_fps", "dec_fps", "frames"):
            r[k] = float(r[k]) if r.get(k) not in (None, "") else None
        out.append(r)
    return out


def curve(points, clips, codec=None):
    sel = [p for p in points if any(c in p["clip"] for c in clips)]
    per = aggregate(sel)
    if codec is None:
        best = vqv_best(per)
    else:
        best = per.get(codec, [])
    return [r["bpp"] for r in best], [r["psnr"] for r in best], best


def fmt(d):
    if d.get("bd_rate") is not None:
        return f"{d['bd_rate']:+.1f}%"
    if d.get("bd_rate_partial") is not None:
        lo, hi = d["partial_psnr_range"]
        return f"({d['bd_rate_partial']:+.1f}% over {lo:.1f}..{hi:.1f} dB)"
    return "(n/a)"


def cut_at(rates, psnrs, top):
    """The monotone curve (rates, psnrs) up to PSNR ``top``, ending on a point interpolated in log-rate."""
    r, q = pareto(rates, psnrs)
    keep = q <= top
    if q.max() <= top:
        return list(r), list(q)
    i = int(np.searchsorted(q, top))
    end = float(np.exp(np.interp(top, q[i - 1:i + 1], np.log(r[i - 1:i + 1]))))
    return list(r[keep]) + [end], list(q[keep]) + [float(top)]


args = sys.argv[1:]
top_src = None
if "--top" in args:
    i = args.index("--top")
    top_src = rows(args[i + 1])
    del args[i:i + 2]
now, base = rows(args[0]), rows(args[1])
peers_src = now
groups = []
for a in args[2:]:
    if "=" in a:
        name, clips = a.split("=", 1)
        groups.append((name, clips.split(",")))
    else:
        peers_src = now + rows(a)
for name, clips in groups:
    nb, npsnr, nrows = curve(now, clips)
    if top_src is not None:
        nb, npsnr = cut_at(nb, npsnr, max(curve(top_src, clips)[1]))
    bb, bpsnr, _ = curve(base, clips)
    vs06 = bd_numbers((bb, bpsnr), (nb, npsnr), "psnr")
    line = [f"{name}: vs 0.6 {fmt(vs06)}"]
    for peer in PEERS:
        pb, pp, prow = curve([p for p in peers_src if p["codec"] == peer], clips, peer)
        if not prow:
            continue
        line.append(f"{peer} now {fmt(bd_numbers((pb, pp), (nb, npsnr), 'psnr'))} / 0.6 {fmt(bd_numbers((pb, pp), (bb, bpsnr), 'psnr'))}")
    print("; ".join(line))
