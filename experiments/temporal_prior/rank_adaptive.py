"""rank_walk.py's 'prevS' predictor with a codable model: per stream, the log2 bucket of the rank
under an adaptive table (per GOP: start counts + 8 per coded symbol, tables per slice from the slices
before) and the offset in the bucket uniformly; start counts either flat or the other clips' mean
(leave-one-out, standing for a table fitted on training clips). Ideal code lengths.

    QS=3,4,6 MOTION=0 PYTHONPATH=. python experiments/temporal_prior/rank_adaptive.py
"""
import numpy as np

from common import CLIPS as clips, MODEL as m, MOTION, bottom_parts, code_clip, qualities

net = m.net
QS = qualities("3,4,6")
CB = [l.codebook.detach().double().numpy() for l in net.bottom_quantizer.layers]
NB = 11

for q in QS:
    per_clip = []          # per clip: list over (s) of list over t of bucket arrays
    total = 0
    for c in clips:
        coded = code_clip(c.frames, q)
        total += len(coded.data) * 8
        parts = bottom_parts(coded, CB)
        if parts is None:       # a scalar point: no VQ codes in the bottom level
            continue
        idx, copied, flagged, part = parts
        S, T = idx.shape[:2]
        streams = []
        for s in range(S):
            slices = []
            for t in range(1, T):
                sel = ~copied[t] & ~flagged[t]
                r = (part[s + 1][t - 1] - part[s][t])[sel]
                k = idx[s, t][sel]
                d = ((r[:, None, :] - CB[s][None]) ** 2).sum(-1)
                rank = (d < d[np.arange(len(k)), k][:, None]).sum(1)
                slices.append(np.floor(np.log2(rank + 1)).astype(int))
            streams.append(slices)
        per_clip.append(streams)
    for init in ("flat", "loo"):
        bits = 0.0
        n = 0
        for ci, streams in enumerate(per_clip):
            for s, slices in enumerate(streams):
                if init == "flat":
                    counts = np.full(NB, 8.0)
                else:
                    other = np.concatenate([np.concatenate(per_clip[j][s]) for j in range(len(per_clip)) if j != ci])
                    counts = 1 + np.bincount(other, minlength=NB)[:NB] * (64.0 / max(1, len(other)))
                for b in slices:
                    p = counts / counts.sum()
                    bits += float((-np.log2(p[b]) + b).sum())
                    n += len(b)
                    counts = counts + 8 * np.bincount(b, minlength=NB)[:NB]
        print(f"Q{q} motion={MOTION} {init:5s}: {bits / max(n, 1):.2f} bits/code over {n} codes, saves "
              f"{10 * n - bits:.0f} of {total} file bits ({100 * (10 * n - bits) / total:.1f}%)", flush=True)
