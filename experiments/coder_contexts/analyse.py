"""What an extra context would save on the conditional coders' symbols (session 29), from collect.py's blocks.
Each (coder, channel, activity context[, extra]) gets a zero-mean discretised Laplace whose scale is fitted on the
other clips (leave one clip out); the ideal bits on the held-out clip are summed. Rows: the shipped tables (the bits
files pay), the refit without an extra context (the same model fitted this way), and each extra context."""
import sys

import numpy as np

from vqcodec.weights import default_conditional_coder

z = np.load(sys.argv[1])
meta, sym, prev = z["meta"], z["sym"].astype(np.int64), z["prev"].astype(np.int64)
clip, q, coder, pcoder = meta[:, 0], meta[:, 1], meta[:, 5], meta[:, 6]
tables = default_conditional_coder().tables
lim, C = tables.limit, tables.channels
mag = np.abs(sym)
ctx = tables.contexts(np.cumsum(mag, 1) - mag)                       # (n, 64) the shipped activity contexts
shipped = tables.bits[coder[:, None], np.arange(C)[None], ctx, sym + lim]
pact = np.abs(prev).sum(1)
extras = {
    "none": np.zeros_like(sym),
    "prev block took a coder": np.broadcast_to((pcoder >= 0)[:, None], sym.shape).astype(np.int64),
    "prev activity (7 bins)": np.broadcast_to(np.where(pcoder < 0, 0, 1 + np.searchsorted([1, 4, 10, 25, 60], pact, "right"))[:, None], sym.shape),
    "prev |same channel| (none,0,1,2+)": np.where(pcoder[:, None] < 0, 0, 1 + np.minimum(np.abs(prev), 2)),
    "prev |same channel| + activity": np.where(pcoder[:, None] < 0, 0, 1 + np.minimum(np.abs(prev), 2)) * 7
    + np.where(pcoder < 0, 0, 1 + np.searchsorted([1, 4, 10, 25, 60], pact, "right"))[:, None],
}


def loo_bits(extra, alpha=16.0):
    """Held-out ideal bits under p(s | key) = (count(key, s) + alpha p_shipped(s)) / (n(key) + alpha), counts from
    the other clips (the shipped table is the prior each key's counts refine)."""
    ne = int(extra.max()) + 1
    base = (coder[:, None] * C + np.arange(C)[None]) * 10 + ctx           # the shipped table's row
    key = (base * ne + extra).ravel()
    s_all = (sym + lim).ravel()
    p_ship = 2.0 ** -tables.bits.reshape(-1, 2 * lim + 1)                    # (rows, symbols)
    total = 0.0
    cl = np.broadcast_to(clip[:, None], sym.shape).ravel()
    for c in np.unique(clip):
        tr, te = cl != c, cl == c
        pair = key[tr] * (2 * lim + 1) + s_all[tr]
        uk, cnt = np.unique(pair, return_counts=True)
        counts = dict(zip(uk.tolist(), cnt.tolist()))
        nk = np.bincount(key[tr], minlength=key.max() + 1)
        kt, st, bt = key[te], s_all[te], base.ravel()[te]
        c_ks = np.array([counts.get(int(k) * (2 * lim + 1) + int(v), 0) for k, v in zip(kt, st)])
        p = (c_ks + alpha * p_ship[bt, st]) / (nk[kt] + alpha)
        total += -np.log2(p).sum()
    return total


print(f"blocks {len(sym)}; shipped tables {shipped.sum() / 8:.0f} bytes")
base = loo_bits(extras["none"])
for name, e in extras.items():
    b = loo_bits(np.ascontiguousarray(e))
    print(f"| {name} | {b / 8:.0f} B | {100 * (b / base - 1):+.2f}% of the refit | {100 * (b / shipped.sum() - 1):+.2f}% of shipped |")
for qq in (4, 6, 9, 12):
    sel = q == qq
    print(f"Q{qq}: blocks {sel.sum()}, shipped {shipped[sel].sum() / 8:.0f} B")
