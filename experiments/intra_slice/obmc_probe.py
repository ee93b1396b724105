"""Ceiling of overlapped block motion compensation: a real encode's decoded fields, each slice's
prediction (before residuals and coders) from the decoded frame before the slice, plain against OBMC
(H.263 weights) on the predicted blocks; PSNR of the predicted blocks against the source."""
import io, sys, numpy as np
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.motion import predict_paths, displacements, block_view
from vqcodec.formats import VqvReader
from vqcodec.weights import load_model
m = load_model()
W0 = np.array([[4,5,5,5,5,5,5,4],[5,5,5,5,5,5,5,5],[5,5,6,6,6,6,5,5],[5,5,6,6,6,6,5,5],
               [5,5,6,6,6,6,5,5],[5,5,6,6,6,6,5,5],[5,5,5,5,5,5,5,5],[4,5,5,5,5,5,5,4]], float)
WT = np.zeros((8,8)); WT[0] = 2; WT[1] = [1,1,2,2,2,2,1,1]; WT[2:4] = 1   # from the block above
WB = WT[::-1].copy()
WL = np.zeros((8,8)); WL[:, 0] = 2; WL[1:7, 1] = 2; WL[0, 1] = 1; WL[7, 1] = 1; WL[:, 2:4] = 1
WL[0, 0] = 2; WL[:, 1] = [1,2,2,2,2,2,2,1]
WR = WL[:, ::-1].copy()
assert np.allclose(W0 + WT + WB + WL + WR, 8), (W0 + WT + WB + WL + WR)
SH = {"T": (-1, 0, WT), "B": (1, 0, WB), "L": (0, -1, WL), "R": (0, 1, WR)}

def mse(a, b): return float(((a.astype(np.float64) - b) ** 2).mean())
def p(m_): return 10 * np.log10(255 ** 2 / max(m_, 1e-9))
for path in sys.argv[2:]:
    x = np.load(path)[:32]
    for q in [int(v) for v in sys.argv[1].split(",")]:
        d = encode_frames(x, 16, model=m, quality=q, intra_coder=False); y = decode_bytes(d, model=m)
        g = next(read_gop_codes(VqvReader(io.BytesIO(d)), m)); f = g.codes.motion
        se_plain = se_obmc = n = 0
        for t in range(1, 8):
            mask = f.flags[t]
            if not mask.any(): continue
            ref = y[4 * t - 1]
            disp = displacements(f.vectors[t], None if f.bends is None else f.bends[t], 4)  # (4,H',W',2)
            own = predict_paths(ref, disp, mask, (8, 8)).astype(float)   # (n,4,8,8,3)
            acc = own * W0[None, None, :, :, None]
            for k, (dy, dx, w) in SH.items():
                nd = disp.copy(); H, Wd = mask.shape
                nm = np.zeros_like(mask)
                for by, bx in zip(*np.nonzero(mask)):
                    yy, xx = by + dy, bx + dx
                    if 0 <= yy < H and 0 <= xx < Wd and mask[yy, xx]:
                        nd[:, by, bx] = disp[:, yy, xx]; nm[by, bx] = True
                pn = predict_paths(ref, nd, mask, (8, 8)).astype(float)
                use = nm[mask][:, None, None, None, None]
                acc += np.where(use, pn, own) * w[None, None, :, :, None]
            ob = np.floor((acc + 4) / 8)
            src = np.stack([block_view(x[4 * t + j], (8, 8))[mask] for j in range(4)], 1)
            se_plain += ((own - src) ** 2).sum(); se_obmc += ((ob - src) ** 2).sum(); n += src.size
        print(f"{path.split('/')[-1][:28]} Q{q}: {len(d)} B; predicted {n // (4*64*3)} blocks: plain {p(se_plain/n):.2f} dB, obmc {p(se_obmc/n):.2f} dB", flush=True)
