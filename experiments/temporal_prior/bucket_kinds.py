"""Rank buckets against distance buckets (no sort) for the walk's prediction (rank_walk.py 'prevS'):
per code, bits = -log2 P(bucket) + log2(codes in that bucket at that position), P the plug-in bucket
distribution per stage (in-sample, both kinds alike). Distance bucket of codeword k: the bit length
of (d_k - d_min) // (d_min >> SHIFT + 1), d in the integer units of codewords x 2^12.

    QS=4,6 SHIFT=4 PYTHONPATH=. python experiments/temporal_prior/bucket_kinds.py
"""
import os
from collections import defaultdict

import numpy as np

from common import CLIPS as clips, MODEL as m, MOTION, bottom_parts, code_clip, qualities

QS = qualities("4,6")
SHIFTS = [int(s) for s in os.environ.get("SHIFT", "2,4,6").split(",")]
CB = [np.rint(l.codebook.detach().double().numpy() * 4096).astype(np.int64) for l in m.net.bottom_quantizer.layers]


def bits(bk, nb):
    bk = np.asarray(bk)
    p = np.bincount(bk) / len(bk)
    return float((-np.log2(p[bk]) + np.log2(nb)).sum())


for q in QS:
    acc = defaultdict(lambda: ([], []))
    total, ncodes = 0, 0
    for c in clips:
        coded = code_clip(c.frames, q)
        total += len(coded.data) * 8
        parts = bottom_parts(coded, CB)
        if parts is None:
            continue
        idx, copied, flagged, part = parts
        S, T = idx.shape[:2]
        for s in range(S):
            for t in range(1, T):
                sel = ~copied[t] & ~flagged[t]
                r = (part[s + 1][t - 1] - part[s][t])[sel]
                k = idx[s, t][sel]
                if not len(k):
                    continue
                ncodes += len(k)
                d = (r * r).sum(1)[:, None] - 2 * (r @ CB[s].T) + (CB[s] * CB[s]).sum(1)[None]
                mine = d[np.arange(len(k)), k]
                rank = (d < mine[:, None]).sum(1)
                b = np.floor(np.log2(rank + 1)).astype(int)
                acc[("rank", s)][0].extend(b)
                acc[("rank", s)][1].extend(2.0 ** b)
                for top in (32, 64, 128):
                    bt = np.where(rank < top, b, 99)
                    acc[(f"top{top}", s)][0].extend(np.where(rank < top, b, int(np.log2(top))))
                    acc[(f"top{top}", s)][1].extend(np.where(rank < top, 2.0 ** b, len(CB[s]) - top))
                dmin = d.min(1, keepdims=True)
                for sh in SHIFTS:
                    e = (d - dmin) // ((dmin >> sh) + 1)
                    bb = np.frexp(e.astype(np.float64))[1]          # bit length (0 for 0)
                    mb = bb[np.arange(len(k)), k]
                    nb = (bb == mb[:, None]).sum(1)
                    acc[(f"dist{sh}", s)][0].extend(mb)
                    acc[(f"dist{sh}", s)][1].extend(nb)
    names = ["rank", "top32", "top64", "top128"] + [f"dist{sh}" for sh in SHIFTS]
    print(f"Q{q} motion={MOTION}: {ncodes} codes, files {total} bits")
    for name in names:
        tot = sum(bits(*acc[(name, s)]) for s in range(len(CB)) if acc[(name, s)][0])
        print(f"  {name:7s} {tot / ncodes:.2f} bits/code, saves {100 * (10 * ncodes - tot) / total:.1f}% of the files")
