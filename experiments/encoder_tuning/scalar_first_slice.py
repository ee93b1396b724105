"""What spatial context would save on the scalar layer's first slice (a lead for a format change, not built).
A refresh GOP's first slice has no slice before it, so the scalar layer codes its symbols under one table per
channel (class 0). Coded in two checkerboard passes instead, the second pass could take, per symbol, the table
the shipped ladder already has for "the slice before held v" (classes 1..13), with v the lower median of its 4
first-pass neighbours in the same channel (integers only: every decoder picks the same row); or in three
passes (the (even, even) quarter first, then (odd, odd) from its 4 diagonal neighbours, then the rest from its
4 neighbours). Priced on real files (ideal bits under the rows; edges replicate, which a real scheme would
replace by the neighbours it has). Command line: ``FILES...`` (.vqv at scalar points)."""
import sys

import numpy as np

from vqcodec.coding.gops import scalar_tables
from vqcodec.pipeline import read_codes_with_model

total = {"slice 0, as coded": 0.0, "two passes": 0.0, "three passes": 0.0}
file_bits = 0
for path in sys.argv[1:]:
    model, cf = read_codes_with_model(path)
    sc = cf.gops[0].scalar
    if sc is None:
        continue
    tabs = scalar_tables(model, model.point(cf.header.quality))
    s = sc.symbols[:, 0].astype(np.int64)
    c, h, w = s.shape
    f = tabs.freqs / float(1 << 24)
    lim = tabs.limit
    ch = np.arange(c)[:, None, None].repeat(h, 1).repeat(w, 2)
    yy, xx = np.mgrid[0:h, 0:w]
    pad = np.pad(s, ((0, 0), (1, 1), (1, 1)), mode="edge")
    four = np.sort(np.stack([pad[:, :-2, 1:-1], pad[:, 2:, 1:-1], pad[:, 1:-1, :-2], pad[:, 1:-1, 2:]]), 0)[1]
    diag = np.sort(np.stack([pad[:, :-2, :-2], pad[:, :-2, 2:], pad[:, 2:, :-2], pad[:, 2:, 2:]]), 0)[1]
    plain = -np.log2(f[ch, 0, s + lim])
    by_four = -np.log2(f[ch, 7 + np.clip(four, -6, 6), s + lim])
    by_diag = -np.log2(f[ch, 7 + np.clip(diag, -6, 6), s + lim])
    second = np.broadcast_to((yy + xx) % 2 == 1, s.shape)
    a = np.broadcast_to((yy % 2 == 0) & (xx % 2 == 0), s.shape)
    b = np.broadcast_to((yy % 2 == 1) & (xx % 2 == 1), s.shape)
    total["slice 0, as coded"] += plain.sum()
    total["two passes"] += plain[~second].sum() + by_four[second].sum()
    total["three passes"] += plain[a].sum() + by_diag[b].sum() + by_four[~(a | b)].sum()
    file_bits += len(open(path, "rb").read()) * 8
base = total["slice 0, as coded"]
print(f"{len(sys.argv) - 1} files, {file_bits} bits; the scalar layer's first slices {base:.0f} bits")
for k, v in total.items():
    print(f"{k:18s} {v:8.0f} bits  {(v - base) / base * 100:+.1f}% of them  {(v - base) / file_bits * 100:+.2f}% of the files")
