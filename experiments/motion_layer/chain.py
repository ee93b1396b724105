"""Ceiling of *chained* prediction: a predicted block's frame 0 from the frame before the slice (as now),
each later frame from the slice's own frame before it, as the decoder will have finished it (the
network's blocks and the predicted ones, residual included), by its own vector. On bikes' source
frames (path_models.py) frame by frame predicts 23.2 dB where a free displacement per frame from the
frame before the slice (what bent paths approach) gives 21.0 dB.

Rate = the file's bits (a chain block is written as predicted with frame 0's vector and its residual)
+ the estimate of what a chain adds (frames 1.. vectors as differences from the frame before's, and
one bit) + a mode flag per predicted block at the entropy of the chain share. The decision is made
against the shipped decision's frames as references; PSNR is that of the frames the decoder would make
with those decisions (every chained frame predicted again, in order, from the finished frame before).
Same protocol as trajectories.py (the baseline is the protocol without chains): compare its figures.

    QS=3,4,6,9 RADIUS=3 PYTHONPATH=. python experiments/motion_layer/chain.py
"""
import os
import sys
from pathlib import Path

import numpy as np

from vqcodec.coding import motion_search as ms
from vqcodec.coding.motion import predict_blocks

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ceiling_protocol import orig_slice_residuals, run, with_blocks  # noqa: E402

R = int(os.environ.get("RADIUS", "3"))
OFFS = np.array(sorted(((oy, ox) for oy in range(-R, R + 1) for ox in range(-R, R + 1) if oy or ox),
                       key=lambda o: (abs(o[0]) + abs(o[1]), o)), np.int64) * ms.SUBPEL
RING = np.array([(oy, ox) for oy in (-1, 0, 1) for ox in (-1, 0, 1) if oy or ox], np.int64)


def search(planes, target, guess, priced, mu, block, lim):
    """Per block the vector near ``guess`` whose prediction from ``planes`` costs least (SAD + mu bits
    of its difference from ``priced``): whole pixels within R, then 1/2, 1/4 pixel."""
    tb = ms.block_view(target.astype(np.int32), block)

    def cost(c):
        return np.abs(planes.blocks(c, block) - tb).sum(axis=(-3, -2, -1)) + mu * ms.vector_bits(c, priced)

    g = np.clip(guess, -lim, lim)
    cur, best = ms._first_least(g.astype(np.int32), np.full(g.shape[:2], np.inf), g[None], cost(g[None]))
    cand = np.clip(g[None] + OFFS[:, None, None, :], -lim, lim)
    cur, best = ms._first_least(cur, best, cand, cost(cand))
    for step in (ms.SUBPEL // 2, ms.SUBPEL // 4):
        cand = np.clip(cur[None].astype(np.int64) + RING[:, None, None, :] * step, -lim, lim)
        cur, best = ms._first_least(cur, best, cand, cost(cand))
    return cur.astype(np.int64)


def chained(refs_first, refs, vecs, block, mask, base):
    """The slice ``base`` with the ``mask`` blocks predicted frame by frame: frame 0 from ``refs_first``,
    frame j from ``refs(j, frames)`` (the finished frame before, or a fixed reference)."""
    out = np.array(base, copy=True)
    for j, v in enumerate(vecs):
        ref = refs_first if j == 0 else refs(j, out)
        if mask.any():
            ms.block_view(out[j], block)[mask] = predict_blocks(ref, v, mask, block)
    return out


def make(frames, before, vecs, resid, take, block):
    final = np.where(ms._pixels(take, block), 0, frames).astype(np.uint8)
    for j, v in enumerate(vecs):
        ref = before if j == 0 else final[j - 1]
        moved = predict_blocks(ref, v, take, block).astype(np.int32)
        res = ms.block_view(resid[j], block)[take]
        ms.block_view(final[j], block)[take] = np.clip(moved + res, 0, 255).astype(np.uint8)
    return final


def alternative(got, d_single, extra_single, a):
    source, recon, before, rate, lam = a.source, a.recon, a.before, a.rate, a.lam
    coded, mu, p8 = a.coded, a.mu, a.pred
    bt, bh, bw = a.block
    block = (bh, bw)
    hb, wb = rate.shape
    lim = ms.MAX_VECTOR
    # vectors: frame 0 from the frame before the slice near the searched straight vector; frame j from
    # the shipped decision's frame j - 1 near frame j - 1's vector (a constant velocity)
    vecs = [search(a.planes, source[0], got.searched.astype(np.int64), p8, mu, block, lim)]
    for j in range(1, bt):
        pl = ms.PhasePlanes(got.frames[j - 1], ms.MAX_VECTOR // ms.SUBPEL + 2)
        vecs.append(search(pl, source[j], vecs[-1], vecs[-1], mu, block, lim))
    every = np.ones((hb, wb), bool)
    trial = chained(before, lambda j, out: got.frames[j - 1], vecs, block, every, recon)
    d_chain = ms.block_sse(trial, source, block).astype(np.float64)
    option = codes = None
    extra = np.zeros((hb, wb))
    resid = np.zeros(trial.shape, np.int32)
    if coded is not None:
        option, codes, with_res, d_chain, extra = orig_slice_residuals(coded, source, trial, d_chain, lam)
        resid = with_res.astype(np.int32) - trial
        trial = with_res
    first_bits = ms.vector_bits(vecs[0], p8)
    ex = sum(ms.vector_bits(vecs[j], vecs[j - 1]) for j in range(1, bt))
    c_chain = d_chain + lam * (ms.FLAG_BITS + 1.0 + first_bits + ex + extra)
    c_single = d_single + lam * (ms.FLAG_BITS + ms.vector_bits(got.searched, p8) + extra_single)
    d_net = ms.block_sse(recon, source, block).astype(np.float64)
    take = c_chain < np.minimum(c_single, c_net := d_net + lam * rate)
    if not take.any():
        return got, 0.0, 0
    # what the decoder makes: the taken blocks frame by frame from the finished frame before, residual
    # added; the decision above read frame j - 1 where the block itself may have been the network's, so
    # blocks whose real cost loses are dropped, and the rest made again, until none is dropped
    bits_chain = c_chain - d_chain
    while True:
        final = make(got.frames, before, vecs, resid, take, block)
        real = ms.block_sse(final, source, block).astype(np.float64)
        keep = take & (real + bits_chain < np.minimum(c_single, c_net))
        if (keep == take).all() or not keep.any():
            break
        take = keep
    if not keep.any():
        return got, 0.0, 0
    got = with_blocks(got, take, final, vecs[0].astype(np.int32), option, codes)
    extra_bits = float((ex + 1.0)[take].sum())
    return got, extra_bits, int(take.sum())


run("chain", alternative)
