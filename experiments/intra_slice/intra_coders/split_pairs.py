"""Merge the intra pairs' shards; write one npz per coder lambda with the Qs where that coder is priced."""
import os
import numpy as np
W = os.environ.get("CC_WORK", "/work/s25/cc") + "/"
z = [np.load(W + f"intra_pairs_{i}.npz") for i in (0, 1)]
x = np.concatenate([a["x"] for a in z]); p = np.concatenate([a["p"] for a in z]); q = np.concatenate([a["q"] for a in z])
np.savez(W + "pairs.npz", x=x, p=p, q=q)
for lam, qs in {"0.0004": (3,), "0.001": (3, 4), "0.003": (4, 6, 8), "0.01": (6, 8)}.items():
    sel = np.isin(q, qs)
    np.savez(W + f"intra_{lam}.npz", x=x[sel], p=p[sel])
    print(lam, int(sel.sum()))
