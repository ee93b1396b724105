"""How many bits would the bottom codes cost if each were coded as its *rank* among the codewords
ordered by distance to a prediction the decoder can make (a temporally conditioned prior computed
from decoded pixels through the linear path, no training)?

Per coded (not copied, not motion-predicted) bottom position of slice t >= 1 and per stage s, the
rank of the sent code among stage s's codewords sorted by distance to  zhat - sum_{j<s} c_j  (the
codes before it as decoded); bits = plug-in entropy of the rank's log2 bucket + the bucket's width
(uniform inside it). Predictions zhat:
  prev   the previous slice's decoded latent at the position (all its stages)
  linP   lin_enc (with bias) of the last decoded frame before the slice, repeated 4 frames
  prev+d prev + lin_enc(last frame x4) - lin_enc(previous slice as decoded)
  oracle lin_enc(source slice) + bias (what the linear term alone says; not decodable)
Validation clips (benchmark protocol, 32 frames 64x64), Q given by QS; MOTION=1 for --motion files.

    QS=4,6 PYTHONPATH=. python experiments/temporal_prior/rank_prior.py
"""
from collections import defaultdict

import numpy as np
import torch

from common import CLIPS as clips, MODEL as m, MOTION, bucket_bits, code_clip, qualities
from vqcodec.coding.decoder import decode_bytes
from vqcodec.net.model import space_to_depth

net = m.net
QS = qualities("4,6")
CB = [l.codebook.detach().double().numpy() for l in net.bottom_quantizer.layers]
We = net.lin_enc.weight.detach().double().reshape(64, -1).numpy()
be = net.lin_enc.bias.detach().double().numpy()


def lin(frames: np.ndarray) -> np.ndarray:
    """uint8 (4k, H, W, 3) -> (k, H/8, W/8, 64) lin_enc with bias."""
    x = torch.from_numpy(frames.astype(np.float64) / 127.5 - 1.0).permute(3, 0, 1, 2)[None]
    s = space_to_depth(x, (4, 8, 8))[0].numpy()               # (768, k, H', W')
    return np.einsum("oc,cthw->thwo", We, s) + be


for q in QS:
    ranks = defaultdict(list)
    total_bits = 0
    for c in clips:
        coded = code_clip(c.frames, q)
        total_bits += len(coded.data) * 8
        dec = decode_bytes(coded.data, model=m)
        bot = coded.codes.level("bottom")
        idx, copied = bot.indices, bot.copy_map()
        S, T = idx.shape[0], idx.shape[1]
        if S == 0:
            continue
        qlat = sum(CB[s][idx[s]] for s in range(S))                      # (T, H', W', 64)
        pad = np.pad(qlat, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
        up, left, upleft = pad[:, :-2, 1:-1], pad[:, 1:-1, :-2], pad[:, :-2, :-2]
        box = sum(pad[:, dy:dy + qlat.shape[1], dx:dx + qlat.shape[2]] for dy in range(3) for dx in range(3)) / 9
        flagged = coded.flagged
        lin_dec_slices = lin(dec)                                          # per decoded slice
        src = lin(c.frames)
        for t in range(1, T):
            last = np.repeat(dec[4 * t - 1:4 * t], 4, 0)
            lp = lin(last)[0]
            preds = {"prev": qlat[t - 1], "linP": lp, "prev+d": qlat[t - 1] + lp - lin_dec_slices[t - 1],
                     "oracle": src[t], "box": box[t - 1], "nbr": (up[t] + left[t]) / 2,
                     "grad": qlat[t - 1] + (up[t] + left[t] - up[t - 1] - left[t - 1]) / 2,
                     "mix": 0.5 * qlat[t - 1] + 0.25 * (up[t] + left[t]),
                     "planar": up[t] + left[t] - upleft[t]}
            sel = ~copied[t] & ~flagged[t]
            for name, zh in preds.items():
                r = zh[sel]
                for s in range(S):
                    k = idx[s, t][sel]
                    d = ((r[:, None, :] - CB[s][None]) ** 2).sum(-1)           # (n, K)
                    mine = d[np.arange(len(k)), k]
                    ranks[(name, s)].extend((d < mine[:, None]).sum(1).tolist())
                    r = r - CB[s][k]
    n0 = len(ranks[("prev", 0)])
    print(f"Q{q} motion={MOTION} file bits {total_bits}, coded positions at t>=1: {n0} x {S} stages "
          f"(uniform: {n0 * S * 10} bits)")
    for name in ("prev", "linP", "prev+d", "oracle", "box", "nbr", "grad", "mix", "planar"):
        per = [bucket_bits(np.array(ranks[(name, s)])) for s in range(S)]
        med = [int(np.median(ranks[(name, s)])) for s in range(S)]
        saved = sum(10 - b for b in per) * n0
        print(f"  {name:7s} bits/code per stage {' '.join(f'{b:.2f}' for b in per)}  median rank {med}  "
              f"saves {saved:.0f} bits ({100 * saved / total_bits:.1f}% of the files)", flush=True)
