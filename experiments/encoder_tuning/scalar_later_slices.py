"""Later slices (t >= 1) of the scalar layer: their coded (not copied) positions on pass 1 of a checkerboard,
the temporal class (as coded) vs the class of the median of the 4 neighbours in the same slice (all known if the
neighbours are pass 0: copied or coded first)."""
import sys, numpy as np
from vqcodec.pipeline import read_codes_with_model
from vqcodec.coding.gops import scalar_tables
from vqcodec.entropy.scalar_prior import neighbour_medians
from vqcodec.entropy.copy_flags import checkerboard
tt = ts = tall = 0.0; fb = 0
for path in sys.argv[1:]:
    model, cf = read_codes_with_model(path)
    sc = cf.gops[0].scalar
    tabs = scalar_tables(model, model.point(cf.header.quality))
    S = sc.symbols.astype(np.int64); cop = sc.copy_map()
    C, T, H, W = S.shape
    F = tabs.freqs / float(1 << 24); lim = tabs.limit
    ch = np.arange(C)[:, None, None].repeat(H, 1).repeat(W, 2)
    first, second = checkerboard(H, W)
    for t in range(1, T):
        s = S[:, t]; coded = ~cop[t]
        bt = -np.log2(F[ch, 7 + np.clip(S[:, t - 1], -6, 6), s + lim])
        med = neighbour_medians(s, first)
        bs = -np.log2(F[ch, 7 + np.clip(med, -6, 6), s + lim])
        m = np.broadcast_to(coded & second, s.shape)
        tt += bt[m].sum(); ts += bs[m].sum(); tall += bt[np.broadcast_to(coded, s.shape)].sum()
    fb += len(open(path, "rb").read()) * 8
print(f"later slices' coded symbols {tall:.0f} bits of {fb}; their pass-1 half: temporal {tt:.0f}, spatial median {ts:.0f} ({(ts-tt)/tt*100:+.1f}%)")
