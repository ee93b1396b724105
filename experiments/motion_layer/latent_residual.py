"""Ceiling of a residual for motion-predicted blocks coded by the bottom quantiser's own residual
stages (no training): the pixel residual of a block's prediction, projected by the linear path's
encoder into the 64-d latent, quantised by stages m..m+k-1 of the shipped residual VQ (greedy), read
back by the linear decoder and added to the prediction. Per block the encoder picks the option of
least D + lambda R (R: 10 bits a code, log2(options) to say which, plus the vector), against the
prediction alone and the network's reconstruction (the shipped decision otherwise).

Rate is estimated: the file's bits (motion layer as shipped) + the residual's estimated bits; PSNR
is of the encoder's reconstruction as decided. Validation clips, one GOP each, against the shipped
--motion and motion off (off_curve.json).

    OPTS="1:1,2:1,3:1,2:2" QS=2,3,4,5,6,7,8,9 PYTHONPATH=. python experiments/motion_layer/latent_residual.py
"""
import io
import os
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

import vqcodec.coding.encoder as encmod
from vqcodec.codes import MotionField
from vqcodec.coding import motion_search as ms
from vqcodec.coding.motion import predict_slice
from vqcodec.coding.encoder import GopEncoder, write_container
from vqcodec.coding.decoder import decode_bytes
from vqcodec.net.model import depth_to_space, space_to_depth
from vqcodec.settings import EncodeSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("CORPUS", "/work/data/corpus")
os.environ.setdefault("CACHE", "/work/data/cache")
import variants as V  # noqa: E402  (loads clips, model, off curve)

m, net = V.m, V.m.net
OPTS = [tuple(int(a) for a in o.split(":")) for o in os.environ.get("OPTS", "1:1,2:1,3:1,2:2").split(",")]
SIDE = np.log2(len(OPTS) + 1)
CB = [l.codebook.detach().double() for l in net.bottom_quantizer.layers]
We = net.lin_enc.weight.detach().double().reshape(64, -1)
Wd = net.lin_dec.weight.detach().double().reshape(-1, 64)
used = {"bits": 0.0, "blocks": 0, "pred": 0}


def to_latent(res: np.ndarray) -> torch.Tensor:
    """Pixel residual (4, H, W, 3) int -> (H', W', 64) latent (no bias: a difference)."""
    x = torch.from_numpy(res.astype(np.float64) / 127.5).permute(3, 0, 1, 2)[None]
    s = space_to_depth(x, (4, 8, 8))[0]               # (768, 1, H', W')
    return torch.einsum("oc,chw->hwo", We, s[:, 0])


def to_pixels(lat: torch.Tensor) -> np.ndarray:
    s = torch.einsum("co,hwo->chw", Wd, lat)[:, None][None]
    return (depth_to_space(s, (4, 8, 8))[0].permute(1, 2, 3, 0) * 127.5).numpy()


def rvq(r: torch.Tensor, first: int, k: int) -> torch.Tensor:
    q = torch.zeros_like(r)
    left = r
    for s in range(first, first + k):
        d = torch.cdist(left.reshape(-1, 64), CB[s])
        c = CB[s][d.argmin(1)].reshape(left.shape)
        q, left = q + c, left - c
    return q


def residual_for(lam):
    def residual(source, trial):
        r = to_latent(source.astype(np.int64) - trial.astype(np.int64))
        best_d = None
        for first, k in OPTS:
            out = np.clip(np.rint(trial + to_pixels(rvq(r, first, k))), 0, 255).astype(np.uint8)
            d = ms.block_sse(out, source, (8, 8)).astype(np.float64)
            bits = np.full(d.shape, 10.0 * k + SIDE)
            if best_d is None:
                best_d, best_b, best_o = d, bits, out
            else:
                take = d + lam * bits < best_d + lam * best_b
                best_d, best_b = np.where(take, d, best_d), np.where(take, bits, best_b)
                best_o = np.where(ms._pixels(take, (8, 8)), out, best_o)
        return best_o, best_b
    return residual


def decide_slice(source, recon, before, rate, lam, search, block, pred=None, residual=None, coded=None):
    bt, bh, bw = block
    mu = np.sqrt(lam)
    vec = ms.search_vectors(source, before, (bh, bw), search, pred, mu)
    trial = np.array(recon, copy=True)
    predict_slice(trial, MotionField(np.ones((1, *rate.shape), bool), vec[None]), 0, before, block)
    d_mc = ms.block_sse(trial, source, (bh, bw)).astype(np.float64)
    enhanced, bits = residual_for(lam)(source, trial)
    d_res = ms.block_sse(enhanced, source, (bh, bw)).astype(np.float64)
    use = d_res + lam * bits < d_mc + lam * 1.0
    d_mc, extra = np.where(use, d_res, d_mc), np.where(use, bits, 0.0)
    trial = np.where(ms._pixels(use, (bh, bw)), enhanced, trial)
    d_net = ms.block_sse(recon, source, (bh, bw)).astype(np.float64)
    flags = d_mc + lam * (ms.FLAG_BITS + 1.0 + ms.vector_bits(vec, 0 if pred is None else pred) + extra) < d_net + lam * rate
    used["bits"] += float(extra[flags].sum()) + float(flags.sum())     # + a use flag a predicted block
    used["blocks"] += int((flags & use).sum())
    used["pred"] += int(flags.sum())
    return (flags, np.where(flags[..., None], vec, 0).astype(np.int32),
            np.where(ms._pixels(flags, (bh, bw)), trial, recon), None)


ms.decide_slice = decide_slice
recons = []


def curve():
    out = []
    for c in V.clips:
        pts = []
        for q in V.QS:
            used.update(bits=0.0, blocks=0, pred=0)
            st = EncodeSettings.build(m, quality=q, prior="auto", rdo_strength=1.0, refresh=8, motion=True, motion_search=6,
                                      motion_residual=False)   # the shipped residual off: this script adds its own
            enc = GopEncoder(m, st, 64, 64)
            got = []
            enc.on_gop = lambda gop, n, codes, recon: got.append(recon)
            for f in c.frames:
                enc.add_frame(f)
            buf = io.BytesIO()
            write_container(buf, m, st, enc.finish(), source_size=(64, 64), coded_size=(64, 64), fps=Fraction(16))
            bits = len(buf.getvalue()) * 8 + used["bits"]
            final = decode_bytes(buf.getvalue(), model=m) if FINAL[0] is None else FINAL[0]
            FINAL[0] = None
            pts.append((bits / c.frames[..., 0].size, V.psnr(final, c.frames)))
            print(c.name, q, f"{pts[-1][0]:.4f} {pts[-1][1]:.2f} residual blocks {used['blocks']}/{used['pred']} "
                  f"bits {used['bits']:.0f}/{bits:.0f}", flush=True)
        out.append(pts)
    return out


FINAL = [None]
orig_decide_gop = ms.decide_gop


def decide_gop(*a, **k):
    field, final = orig_decide_gop(*a, **k)
    FINAL[0] = final
    return field, final


encmod.decide_gop = decide_gop
on_new = curve()
V.report("vq residual " + os.environ.get("OPTS", ""), on_new)
