"""Ceiling of a *scalar* motion residual: a predicted block's pixel residual projected by the linear
path's encoder (``lin_enc``) into the 64-d latent, each channel quantised at a scalar step, read back
in integers through ``lin_dec`` (as the shipped VQ residual is) -- offered beside the shipped VQ
options. Bits are estimated under the model's own scalar tables (class 0, no context: the tables the
scalar layer fitted on source latents, so an overestimate for residuals) plus 3 bits for the option.

Rate = the file's bits (a block that takes the scalar option is written with no residual) + the
estimate; PSNR of the motion decisions' frames (exact for one-GOP clips below Q10, up to the
network's second reconstruction). The same protocol without the scalar option is the baseline.

    QS=3,4,5,6,7,8,9 TAB=1536 PYTHONPATH=. python experiments/motion_layer/scalar_residual.py
TAB: the scalar tables' step_num (/1024) to use at every point, or "point" (a scalar point's own step,
1536 at VQ points). SCALE multiplies the step (the tables are kept).
"""
import os
import sys
from pathlib import Path

import numpy as np

from vqcodec.coding import motion_residual as mr
from vqcodec.entropy.rans import PRECISION_BITS

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("CORPUS", "/work/data/corpus")
os.environ.setdefault("CACHE", "/work/data/cache")
import option_protocol as P  # noqa: E402
import variants as V  # noqa: E402

m = V.m
TAB = os.environ.get("TAB", "point")
SCALE = float(os.environ.get("SCALE", "1"))
state = P.state
state["table"] = None


def scalar_option(basis, source_b, pred_b, lam):
    n = source_b.shape[0]
    diff = (source_b.astype(np.float64) - pred_b).transpose(0, 4, 1, 2, 3).reshape(n, -1)
    r = diff @ basis.encoder.T
    tab = state["table"]
    step = tab.step_num * SCALE / 1024
    lim = tab.limit
    s = np.clip(np.rint(r / step), -lim, lim).astype(np.int64)
    q = np.rint(s * (tab.step_num * SCALE * 4)).astype(np.int64)            # x 2^12 / 1024
    wq = q @ basis.decoder.T
    res = (wq + (1 << 23)) >> 24
    bt, bh, bw = basis.block
    res = res.reshape(n, 3, bt, bh, bw).transpose(0, 2, 3, 4, 1)
    blocks = mr.add_residual(pred_b, res)
    sse = ((blocks.astype(np.int64) - source_b) ** 2).reshape(n, -1).sum(1).astype(np.float64)
    if os.environ.get("IDEAL"):      # optimistic: a discrete Laplace per channel fitted to this slice's symbols
        b = np.maximum(np.abs(r / step).mean(0), 0.05)[None]
        edges = lambda x: np.sign(x) * (1 - np.exp(-np.abs(x) / b)) / 2
        p = np.maximum(edges(s + 0.5) - edges(s - 0.5), 1e-6)
    else:
        f = tab.freqs[:, 0, :]                                              # (C, 2L+1)
        p = f[np.arange(s.shape[1])[None], s + lim] / float(1 << PRECISION_BITS)
    bits = -np.log2(p).sum(1) + mr.OPTION_BITS
    return blocks, sse, bits


def slice_residuals(coded, source, trial, d_mc, lam):
    option, codes, out, sse, bits = P.orig_slice_residuals(coded, source, trial, d_mc, lam)
    if not state["on"]:
        state["last"] = None
        return option, codes, out, sse, bits
    basis = coded.basis
    sb, pb = mr._blocks(source, basis.block), mr._blocks(trial, basis.block)
    blocks, s_sse, s_bits = scalar_option(basis, sb, pb, lam)
    take = (s_sse + lam * s_bits < sse.reshape(-1) + lam * bits.reshape(-1))
    h, w = source.shape[1:3]
    ob = mr._blocks(out, basis.block)
    out = mr._unblocks(np.where(take[:, None, None, None, None], blocks, ob), h, w)
    hb, wb = d_mc.shape
    take2 = take.reshape(hb, wb)
    state["last"] = (take2, s_bits.reshape(hb, wb))
    return (np.where(take2, 0, option), np.where(take2[..., None], 0, codes), out,
            np.where(take2, s_sse.reshape(hb, wb), sse), np.where(take2, s_bits.reshape(hb, wb), bits))


def use_tables(q):
    point = m.ladder.point(q) if m.ladder else None
    key = (point.step_num if point is not None and point.scalar else 1536) if TAB == "point" else int(TAB)
    state["table"] = m.ladder.tables[key]


def curve(on):
    return P.curve(m, V.clips, V.QS, V.psnr, on, "scalar", use_tables)


P.install(slice_residuals)
P.compare(V, curve, f"+ scalar residual TAB={TAB} SCALE={SCALE}", "scalar")
