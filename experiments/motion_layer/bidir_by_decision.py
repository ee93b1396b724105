"""Ceiling probe, all blocks of slices 1-6: forward = free integer displacement per frame from the final
frame before the slice (+-R px, what bent paths approach); bidir = the average of that and the network's
reconstruction of the next slice's first frame moved (4 - j) w for ONE integer backward velocity w per
block (+-W px per frame); per block the better of the two; split by the file's own decision (blocks it
predicted / blocks the network coded); and the network's own reconstruction of the latter.
usage: hypo4.py Q R W clip.npy..."""
import io, sys
import numpy as np
from vqcodec.weights import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.formats import VqvReader

q, R, WR = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
m = load_model()
B = 8


def moved(ref, offs, H, W, P):
    p = np.pad(ref, ((P, P), (P, P), (0, 0)), mode="edge")
    return np.stack([p[P + dy:P + dy + H, P + dx:P + dx + W] for dy, dx in offs])


def sse_blocks(a, tgt, H, W):
    return ((a - tgt) ** 2).reshape(len(a), H // B, B, W // B, B, 3).sum((2, 4, 5))


for path in sys.argv[4:]:
    x = np.load(path)
    data = encode_frames(x, 16, model=m, quality=q, prior="empirical-static")
    d = decode_bytes(data, model=m).astype(np.int32)
    net, flags = [], []
    for g in read_gop_codes(VqvReader(io.BytesIO(data)), m):
        net.append(m.net.decode(g.codes)[:g.frames]); flags.append(g.codes.motion.flags if g.codes.motion is not None else None)
    N = np.concatenate(net).astype(np.int32)
    S = x.astype(np.int32)
    T, H, W, _ = S.shape
    offs = [(dy, dx) for dy in range(-R, R + 1) for dx in range(-R, R + 1)]
    woffs = [(dy, dx) for dy in range(-WR, WR + 1) for dx in range(-WR, WR + 1)]
    acc = {k: 0.0 for k in ("fwd_pred", "bi_pred", "fwd_net", "bi_net", "net_net")}
    cnt = {"pred": 0, "net": 0}
    for gi, g0 in enumerate(range(0, T, 32)):
        if flags[gi] is None:
            continue
        for s in range(1, 7):
            t0 = g0 + 4 * s
            if t0 + 4 >= min(T, g0 + 32):
                break
            mf = moved(d[t0 - 1], offs, H, W, R)
            fwd_sse = np.zeros((H // B, W // B)); fwd_pix = []
            for j in range(4):
                sse = sse_blocks(mf, S[t0 + j], H, W)
                k = sse.argmin(0)
                fwd_sse += sse.min(0)
                pick = np.take_along_axis(mf.reshape(len(mf), H // B, B, W // B, B, 3), k[None, :, None, :, None, None], 0)[0]
                fwd_pix.append(pick.reshape(H, W, 3))
            bi_sse = np.full((len(woffs), H // B, W // B), 0.0)
            for j in range(4):
                mb = moved(N[t0 + 4], [((4 - j) * dy, (4 - j) * dx) for dy, dx in woffs], H, W, 4 * WR)
                bi_sse += sse_blocks((fwd_pix[j][None] + mb + 1) >> 1, S[t0 + j], H, W)
            best = np.minimum(fwd_sse, bi_sse.min(0))
            pred = flags[gi][s]
            nn_sse = sum(sse_blocks(d[t0 + j][None], S[t0 + j], H, W)[0] for j in range(4))
            acc["fwd_pred"] += fwd_sse[pred].sum(); acc["bi_pred"] += best[pred].sum()
            acc["fwd_net"] += fwd_sse[~pred].sum(); acc["bi_net"] += best[~pred].sum(); acc["net_net"] += nn_sse[~pred].sum()
            cnt["pred"] += pred.sum(); cnt["net"] += (~pred).sum()
    ps = lambda v, c: 10 * np.log10(255 ** 2 * c * 768 / max(v, 1))
    print(f"{path.split('/')[-1][:22]:22s} Q{q} predicted blocks ({cnt['pred']}): fwd {ps(acc['fwd_pred'], cnt['pred']):.2f} -> best {ps(acc['bi_pred'], cnt['pred']):.2f} | "
          f"network-coded ({cnt['net']}): fwd {ps(acc['fwd_net'], cnt['net']):.2f} -> best {ps(acc['bi_net'], cnt['net']):.2f}, decoded {ps(acc['net_net'], cnt['net']):.2f}", flush=True)
