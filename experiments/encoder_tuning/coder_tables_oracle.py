"""An upper bound for adaptive coder tables: the coders' symbols of real files priced under the shipped tables
and under each row mixed with the file's own counts of that row at a prior weight N0 (an oracle: it knows the
counts before coding; an adaptive coder pays to learn them). Command line: ``FILES...`` (.vqv)."""
import sys
import numpy as np
from vqcodec.pipeline import read_codes_with_model
from vqcodec.weights import default_conditional_coder
cc = default_conditional_coder()
T = cc.tables
lim = T.limit
P = T.freqs / float(1 << 24)          # (coders, ch, ctx, sym)
for path in sys.argv[1:]:
    model, cf = read_codes_with_model(path)
    m = cf.gops[0].motion
    nb = len(open(path, "rb").read()) * 8
    opt = m.residual; syms = m.coder_symbols
    first = int(opt.max()) - T.coders + 1 if False else None
    n_opt = 4
    res = {}
    static = 0.0; hist = np.zeros(P.shape)
    for j in range(T.coders):
        sel = opt == n_opt + 1 + j
        if not sel.any(): continue
        s = syms[sel].astype(np.int64)                     # (m, ch)
        ctx = T.all_contexts(s)
        for c in range(T.channels):
            np.add.at(hist[j, c], (ctx[:, c], s[:, c] + lim), 1)
    static = -(hist * np.log2(P)).sum()
    out = []
    for n0 in (64, 256, 1024):
        # oracle-mixed per row
        n = hist.sum(-1, keepdims=True)
        q = (n0 * P + hist) / (n0 + n)
        out.append(-(hist * np.log2(q)).sum() - static)
    print(f"{path.split('/')[-1]:40s} {nb:6d} bits  coder syms {static:7.0f}  oracle-mix n0=64/256/1024: " + " ".join(f"{o:+6.0f}" for o in out) + f"  best {min(out)/nb*100:+.2f}% of file")
