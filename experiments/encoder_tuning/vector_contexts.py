"""Would richer contexts code the motion vectors in fewer bits? The vector differences of real files (the 7
clips at Q4/Q6/Q9, session 27's encoder), coded again in simulation under the coder's adaptive tables (same
starting counts, step and halving) with extra contexts: the second component given whether the first's
difference was 0 (joint), whether a pass-0 neighbour had a non-zero difference (nbctx), both. Command line:
``FILES...`` (.vqv)."""
import sys
import numpy as np
from vqcodec.pipeline import read_codes_with_model
from vqcodec.coding.motion import VectorModel, MAX_DIFF, COUNT_STEP, COUNT_LIMIT, neighbour_predictions
from vqcodec.entropy.copy_flags import checkerboard
from vqcodec.entropy.rans import freqs_from_counts

class Adaptive:
    def __init__(self, start): self.c = {}; self.start = start
    def cost(self, key, s):
        c = self.c.setdefault(key, self.start.copy())
        f = freqs_from_counts(c); b = -np.log2(f[s] / float(1 << 24))
        c += COUNT_STEP * np.bincount([s], minlength=len(c))
        if c.sum() > COUNT_LIMIT: c[:] = (c + 1) >> 1
        return b

start = VectorModel().counts[0, 0]
tot = {}
for path in sys.argv[1:]:
    model, cf = read_codes_with_model(path)
    nbytes = len(open(path, "rb").read())
    m = cf.gops[0].motion
    costs = {"now": 0.0, "joint": 0.0, "nbctx": 0.0, "both": 0.0}
    models = {k: Adaptive(start) for k in costs}
    nvec = 0
    T, H, W = m.flags.shape
    for t in range(1, T):
        flags = m.flags[t]; vec = m.vectors[t].astype(np.int64)
        base = np.where(m.flags[t - 1][..., None], m.vectors[t - 1], 0).astype(np.int64)
        # the slice before's |diff| map as a context (previous slice's diffs not kept: use |vector - base| of neighbours coded in pass 0)
        diffs = np.zeros((H, W, 2), np.int64)
        for p, mask in enumerate(checkerboard(H, W)):
            sel = mask & flags
            if not sel.any(): continue
            pred = neighbour_predictions(vec * 0 + np.where(flags[..., None], vec, 0), flags & ~mask, base) if p == 1 else base
            d = vec - pred
            diffs[sel] = d[sel]
            # neighbour context: any already-coded flagged neighbour with a nonzero diff (pass 1 only: pass-0 neighbours)
            nz = np.zeros((H, W), bool)
            if p == 1:
                pd = np.pad((np.abs(diffs).sum(-1) > 0) & flags & ~mask, 1)
                nz = pd[:-2, 1:-1] | pd[2:, 1:-1] | pd[1:-1, :-2] | pd[1:-1, 2:]
            for (y, x) in zip(*np.nonzero(sel)):
                d0, d1 = int(d[y, x, 0]) + MAX_DIFF, int(d[y, x, 1]) + MAX_DIFF
                nvec += 1
                costs["now"] += models["now"].cost((p, 0), d0) + models["now"].cost((p, 1), d1)
                costs["joint"] += models["joint"].cost((p, 0), d0) + models["joint"].cost((p, 1, d0 == MAX_DIFF), d1)
                k = bool(nz[y, x])
                costs["nbctx"] += models["nbctx"].cost((p, 0, k), d0) + models["nbctx"].cost((p, 1, k), d1)
                costs["both"] += models["both"].cost((p, 0, k), d0) + models["both"].cost((p, 1, k, d0 == MAX_DIFF), d1)
    name = path.split("/")[-1]
    print(f"{name:40s} {nbytes*8:6d} bits  vectors {nvec:4d}: now {costs['now']:7.0f} joint {costs['joint']-costs['now']:+6.0f} nbctx {costs['nbctx']-costs['now']:+6.0f} both {costs['both']-costs['now']:+6.0f} ({(costs['both']-costs['now'])/(nbytes*8)*100:+.2f}% of file)")
    for k in costs: tot[k] = tot.get(k, 0) + costs[k]
print(tot)
