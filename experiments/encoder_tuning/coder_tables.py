"""Do the coders' static tables fit real files? The coders' symbols of real files (the 7 clips at Q4/Q6/Q9,
session 27's encoder) priced under the shipped tables with every row spread by one factor s per file
(p^(1/s), renormalised; s = 2^(-1..1) in quarter octaves): the best s and what it saves. Command line:
``FILES...`` (.vqv)."""
import sys
import numpy as np
from vqcodec.pipeline import read_codes_with_model
from vqcodec.weights import default_conditional_coder
cc = default_conditional_coder(); T = cc.tables; lim = T.limit
P = T.freqs / float(1 << 24)
S = 2.0 ** (np.arange(-4, 5) / 4)
for path in sys.argv[1:]:
    model, cf = read_codes_with_model(path)
    m = cf.gops[0].motion; nb = len(open(path, "rb").read()) * 8
    hist = np.zeros(P.shape)
    for j in range(T.coders):
        sel = m.residual == 5 + j
        if not sel.any(): continue
        s = m.coder_symbols[sel].astype(np.int64); ctx = T.all_contexts(s)
        for c in range(T.channels):
            np.add.at(hist[j, c], (ctx[:, c], s[:, c] + lim), 1)
    costs = []
    for sc in S:
        q = P ** (1 / sc); q /= q.sum(-1, keepdims=True)
        costs.append(-(hist * np.log2(q)).sum())
    costs = np.array(costs); i1 = int(np.argmin(costs))
    # per coder and per channel-group choice
    print(f"{path.split('/')[-1]:38s} {nb:6d}  syms {costs[4]:7.0f}  best s={S[i1]:.2f}: {costs[i1]-costs[4]:+6.0f} ({(costs[i1]-costs[4])/nb*100:+.2f}% of file)  " + " ".join(f"{c - costs[4]:+.0f}" for c in costs))
