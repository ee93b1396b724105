"""The trained conditional coders of pca_start.py offered per block beside the shipped motion residual
options (issue 20, session 20): what would they save in a file? The protocol of
../motion_layer/scalar_residual.py (session 14): the shipped encoder, its decisions patched so that a
predicted block may instead take a coder's reconstruction; bits = the file's + the estimate for the
blocks that take it (its symbols at the block's latent position under a static Laplace per channel fitted
on 400 training pairs, as a decoder could hold without P, + 3 bits for the option, - the 1 bit of "no
residual" the file then writes); PSNR of the decisions' frames. The same run without the option is the
baseline. A ceiling in one respect: the coder's synthesis reaches past its block (its output for a
block is taken as computed with every neighbour coded too); ``REALISTIC=1``: the blocks that take a
coder are then made as a decoder would, from the symbols sent and zeros elsewhere (the choice kept).

    CC_WORK=/work/s20/cc CC_MODELS=pca_0.001_trained,pca_0.003_trained QS=3,4,5,6,7,8,9 \
        PYTHONPATH=. python experiments/conditional_coder/as_option.py
"""
import os
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "motion_layer"))
os.environ.setdefault("CORPUS", "/work/data/corpus")
os.environ.setdefault("CACHE", "/work/data/cache")
import option_protocol as P  # noqa: E402
import pca_start as S  # noqa: E402
import variants as V  # noqa: E402

from vqcodec.coding import motion_residual as mr  # noqa: E402
from vqcodec.coding.motion_search import block_sse  # noqa: E402

m = V.m
pairs = np.load(S.WORK / "pairs.npz")
coders = []
for name in os.environ.get("CC_MODELS", "pca_0.001_trained").split(","):
    cc, _ = S.load(S.WORK / f"{name}.pt")
    coders.append((name, cc, S.static_prior(cc, pairs)))
REALISTIC = bool(os.environ.get("REALISTIC"))
state = P.state


@torch.no_grad()
def coder_option(cc, b_static, source, trial):
    """The coder on the whole slice (every block predicted): its frames, each block's bits (H', W') and
    its symbols."""
    cc.record = []
    xh, _ = cc(S._t(source[None]), S._t(trial[None]), noise=False)
    yq = cc.record[0]
    cc.record = None
    return S._frames(xh)[0], S.symbol_bits(yq, b_static).sum(1)[0].numpy().astype(np.float64), yq


@torch.no_grad()
def as_decoded(cc, yq, trial, keep):
    """What a decoder would make: the synthesis with the symbols of the blocks that took this coder
    (``keep`` (H', W')) and zeros elsewhere."""
    y = yq * torch.from_numpy(keep)[None, None].float()
    return S._frames(cc.synthesis(y, S._t(trial[None])))[0]


def slice_residuals(coded, source, trial, d_mc, lam):
    option, codes, out, sse, bits = P.orig_slice_residuals(coded, source, trial, d_mc, lam)
    if not state["on"]:
        state["last"] = None
        return option, codes, out, sse, bits
    hb, wb = d_mc.shape
    h, w = source.shape[1:3]
    block = coded.basis.block
    best_cost = (sse + lam * bits).reshape(-1)
    t_bits = np.zeros(hb * wb)
    ob = mr._blocks(out, block)
    t_sse = sse.reshape(-1).copy()
    which = np.full(hb * wb, -1)
    symbols = []
    for k, (_, cc, b_static) in enumerate(coders):
        frames, c_bits, yq = coder_option(cc, b_static, source, trial)
        symbols.append(yq)
        c_sse = block_sse(frames, source, block[1:]).reshape(-1).astype(np.float64)
        c_bits = c_bits.reshape(-1) + mr.OPTION_BITS
        take = c_sse + lam * c_bits < best_cost
        best_cost = np.where(take, c_sse + lam * c_bits, best_cost)
        which = np.where(take, k, which)
        t_bits = np.where(take, c_bits, t_bits)
        t_sse = np.where(take, c_sse, t_sse)
        ob = np.where(take[:, None, None, None, None], mr._blocks(frames, block), ob)
    if REALISTIC:     # each coder's blocks as its synthesis makes them from the symbols sent (the choice kept)
        for k, (_, cc, _) in enumerate(coders):
            sel = which == k
            if sel.any():
                frames = as_decoded(cc, symbols[k], trial, sel.reshape(hb, wb))
                ob[sel] = mr._blocks(frames, block)[sel]
                t_sse[sel] = block_sse(frames, source, block[1:]).reshape(-1)[sel]
    out = mr._unblocks(ob, h, w)
    take2 = (which >= 0).reshape(hb, wb)
    state["last"] = (take2, t_bits.reshape(hb, wb))
    return (np.where(take2, 0, option), np.where(take2[..., None], 0, codes), out,
            t_sse.reshape(hb, wb), np.where(take2, t_bits.reshape(hb, wb), bits))


def curve(on):
    return P.curve(m, V.clips, V.QS, V.psnr, on, "coder")


P.install(slice_residuals)
P.compare(V, curve, f"+ conditional coder ({', '.join(n for n, _, _ in coders)}){' realistic' if REALISTIC else ''}",
          "coder option")
