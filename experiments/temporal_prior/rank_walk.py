"""Rank coding of VQ codes under predictions available in the payload's stream-major walk
(stage by stage, slice by slice): for stage s of slice t the decoder knows every slice's stages < s
and stage s of slices < t. Bits as rank_prior.py (log2-bucket entropy + bucket width), over the
coded (not copied, not predicted) positions of every slice with a reference (t >= 1), per level.

    QS=3,4,6 MOTION=0 PYTHONPATH=. python experiments/temporal_prior/rank_walk.py
"""
from collections import defaultdict

import numpy as np

from common import CLIPS as clips, MODEL as m, MOTION, bucket_bits, code_clip, qualities

net = m.net
QS = qualities("3,4,6")
BOOKS = {"bottom": [l.codebook.detach().double().numpy() for l in net.bottom_quantizer.layers]}
if hasattr(net, "top_quantizer"):
    BOOKS["top"] = [l.codebook.detach().double().numpy() for l in net.top_quantizer.layers]


def nb(a):
    """mean of the 4 neighbours (edge-clamped) of a (T, H, W, C) array"""
    p = np.pad(a, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    return (p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:]) / 4


for q in QS:
    ranks = defaultdict(list)
    total = 0
    for c in clips:
        coded = code_clip(c.frames, q)
        total += len(coded.data) * 8
        for lv in coded.codes.levels:
            if lv.stages == 0:
                continue
            cb = BOOKS[lv.name]
            idx, copied = lv.indices, lv.copy_map()
            S, T = idx.shape[:2]
            flagged = coded.flagged if lv.name == "bottom" else np.zeros_like(copied)
            cw = np.stack([cb[s][idx[s]] for s in range(S)])            # (S, T, H, W, C)
            part = np.concatenate([np.zeros_like(cw[:1]), np.cumsum(cw, 0)])   # part[s] = Q_{<s}
            for s in range(S):
                preds = {
                    "prevS": part[s + 1][:-1] - part[s][1:],                 # Q_{<=s}(t-1) - Q_{<s}(t)
                    "cw(t-1)": cw[s][:-1],                                   # previous slice's codeword
                    "extrap": (2 * part[s + 1][1:-1] - part[s + 1][:-2]) - part[s][2:],
                    "prevS+nbΔ": part[s + 1][:-1] - part[s][1:] + (nb(part[s])[1:] - nb(part[s])[:-1]) if s else None,
                    "box": nb(part[s + 1])[:-1] - part[s][1:],
                }
                for name, r in preds.items():
                    if r is None:
                        continue
                    off = T - r.shape[0]
                    for t in range(off, T):
                        sel = ~copied[t] & ~flagged[t]
                        rr = r[t - off][sel]
                        k = idx[s, t][sel]
                        if not len(k):
                            continue
                        d = ((rr[:, None, :] - cb[s][None]) ** 2).sum(-1)
                        mine = d[np.arange(len(k)), k]
                        ranks[(lv.name, name, s)].extend((d < mine[:, None]).sum(1).tolist())
    print(f"Q{q} motion={MOTION}: files {total} bits")
    for lvn in BOOKS:
        for name in ("prevS", "cw(t-1)", "extrap", "prevS+nbΔ", "box"):
            per = [(s, len(ranks[(lvn, name, s)]), bucket_bits(ranks[(lvn, name, s)]))
                   for s in range(len(BOOKS[lvn])) if ranks[(lvn, name, s)]]
            if not per:
                continue
            saved = sum(n * (np.log2(len(BOOKS[lvn][s])) - b) for s, n, b in per)
            print(f"  {lvn:6s} {name:10s} " + " ".join(f"s{s}:{b:.2f}(n{n})" for s, n, b in per)
                  + f"  saves {saved:.0f} bits ({100 * saved / total:.1f}%)", flush=True)
