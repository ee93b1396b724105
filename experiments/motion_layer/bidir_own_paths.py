"""Probe: the file's own predicted blocks (its vectors and bent paths), predicted forward as the decoder
does (the final frame before the slice) against bidirectionally: the average of that and the network's
reconstruction of the next slice's first frame (what the decoder has before the motion layer reaches
that slice) moved along the same path extended one frame (d_4 = 2 d_3 - d_2; backward displacement
d_j - d_4), no new vector. Slices 1..6 of each GOP (slice 7's next is in the next GOP).
Then also a backward velocity of its own per block (whole pixels within +-4 a frame, frame j moved
(BT - j) w from the next slice's first frame), no cost counted. usage: bidir_own_paths.py Q clip.npy..."""
import io, sys
import numpy as np
from vqcodec.weights import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.motion import displacements, predict_paths
from vqcodec.formats import VqvReader

q = int(sys.argv[1]); R = 4
m = load_model()
BT, BH, BW = 4, 8, 8
for path in sys.argv[2:]:
    x = np.load(path)
    data = encode_frames(x, 16, model=m, quality=q, prior="empirical-static")
    d = decode_bytes(data, model=m)
    S = x.astype(np.int64)
    acc = {"fwd": 0, "bidir": 0, "best": 0}
    nb = npred = nbi = 0
    g0 = 0
    for g in read_gop_codes(VqvReader(io.BytesIO(data)), m):
        N = m.net.decode(g.codes)
        f = g.codes.motion
        if f is None:
            g0 += g.frames; continue
        for t in range(1, 7):
            t0 = g0 + t * BT
            if t0 + BT >= len(x) or (t + 1) * BT >= g.frames:
                break
            mask = f.flags[t]
            if not mask.any():
                continue
            disp = displacements(f.vectors[t], None if f.bends is None else f.bends[t], BT)   # d_0..d_3
            disp = np.concatenate([disp, (2 * disp[-1] - disp[-2])[None]])                      # d_4: no bend
            fwd = predict_paths(d[t0 - 1], disp[:BT], mask, (BH, BW)).astype(np.int64)          # (n, 4, bh, bw, 3)
            bwd = predict_paths(np.ascontiguousarray(N[(t + 1) * BT]), disp[:BT] - disp[BT][None], mask, (BH, BW)).astype(np.int64)
            by, bx = np.nonzero(mask)
            src = np.stack([S[t0:t0 + BT, y * BH:(y + 1) * BH, xx * BW:(xx + 1) * BW] for y, xx in zip(by, bx)])
            e_f = ((fwd - src) ** 2).sum((1, 2, 3, 4))
            e_b = ((((fwd + bwd + 1) >> 1) - src) ** 2).sum((1, 2, 3, 4))
            # a backward vector of its own: frame j from the next slice's first frame moved (BT - j) w
            best_b = np.full(len(by), np.inf)
            for wy in range(-R, R + 1):
                for wx in range(-R, R + 1):
                    w = np.array([wy, wx]) * 4
                    db = np.broadcast_to(((BT - np.arange(BT))[:, None] * w)[:, None, None, :], disp[:BT].shape)
                    bw_ = predict_paths(np.ascontiguousarray(N[(t + 1) * BT]), np.ascontiguousarray(db), mask, (BH, BW)).astype(np.int64)
                    best_b = np.minimum(best_b, ((((fwd + bw_ + 1) >> 1) - src) ** 2).sum((1, 2, 3, 4)))
            e_b = np.minimum(e_b, best_b)
            acc["fwd"] += e_f.sum(); acc["bidir"] += e_b.sum(); acc["best"] += np.minimum(e_f, e_b).sum()
            npred += len(by); nbi += (e_b < e_f).sum()
        g0 += g.frames
    n = npred * BT * BH * BW * 3
    ps = lambda v: 10 * np.log10(255 ** 2 * n / max(v, 1))
    print(f"{path.split('/')[-1][:24]:24s} Q{q} predicted blocks {npred}: forward {ps(acc['fwd']):.2f} dB, bidir {ps(acc['bidir']):.2f}, "
          f"best of both {ps(acc['best']):.2f} (bidir better in {nbi / max(npred, 1):.0%})", flush=True)
