"""Ceiling of per-frame *trajectories*: a predicted block may carry a free displacement for each of
its slice's frames (each frame still predicted from the frame before the slice, no chain) instead of
one constant velocity, for motion that is not uniform over 4 frames (measured on bikes' source
frames: constant velocity 18.1 dB, a free vector per frame 21.0 dB, frame by frame 23.2 dB).

Rate = the file's bits (a trajectory block is written as predicted with its first frame's
displacement and its residual) + the estimate of what a trajectory adds (the other frames'
displacements as differences from the linear extrapolation of the two before, and one bit) + a
mode flag per predicted block at the entropy of the trajectory share; PSNR of the motion decisions'
frames. Same protocol as split_blocks.py (the baseline is the protocol without trajectories).

    QS=3,4,6,9 RADIUS=2 PYTHONPATH=. python experiments/motion_layer/trajectories.py
"""
import os
import sys
from pathlib import Path

import numpy as np

from vqcodec.coding import motion_search as ms

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ceiling_protocol import orig_slice_residuals, run, with_blocks  # noqa: E402


def alternative(got, d_single, extra_single, a):
    source, recon, before, rate, lam = a.source, a.recon, a.before, a.rate, a.lam
    block, coded, mu, p8 = a.block, a.coded, a.mu, a.pred
    bt, bh, bw = block
    hb, wb = rate.shape
    extra_bits, n_split = 0.0, 0
    pl = a.planes
    lim = (pl.reach - 1) * ms.SUBPEL
    v = got.searched.astype(np.int64)
    tb = [ms.block_view(source[j].astype(np.int32), (bh, bw)) for j in range(bt)]
    # a free displacement per frame: frame j searched alone around (j + 1) v, +-R whole pixels, then
    # refined to half and quarter pixels; priced as differences from the linear extrapolation
    disp, prev1, prev2 = [], np.zeros_like(v), np.zeros_like(v)
    R = int(os.environ.get("RADIUS", "2"))
    for j in range(bt):
        guess = v * (j + 1) if j == 0 else 2 * prev1 - prev2
        guess = np.clip(guess, -lim, lim)
        base = v * (j + 1)
        def cost(c):
            sad = np.abs(pl.blocks(c, (bh, bw)) - tb[j]).sum(axis=(-3, -2, -1))
            return sad + mu * ms.vector_bits(c, guess)
        offs = np.array([(oy, ox) for oy in range(-R, R + 1) for ox in range(-R, R + 1)], np.int64)
        offs = offs[np.argsort(np.abs(offs).sum(1), kind="stable")] * ms.SUBPEL
        cur, best = base.astype(np.int32), np.full((hb, wb), np.inf)
        for centre in (base, guess):
            cand = np.clip(centre[None] + offs[:, None, None, :], -lim, lim)
            cur, best = ms._first_least(cur, best, cand, cost(cand))
        ring = np.array([(oy, ox) for oy in (-1, 0, 1) for ox in (-1, 0, 1) if oy or ox], np.int64)
        for step in (2, 1):
            cand = np.clip(cur[None].astype(np.int64) + ring[:, None, None, :] * step, -lim, lim)
            cur, best = ms._first_least(cur, best, cand, cost(cand))
        disp.append(cur.astype(np.int64))
        prev2, prev1 = prev1, cur.astype(np.int64)
    ref = np.array(before, copy=True)
    trial = np.array(recon, copy=True)
    ones = np.ones((hb, wb), bool)
    from vqcodec.coding.motion import predict_blocks
    for j in range(bt):
        ms.block_view(trial[j], (bh, bw))[ones] = predict_blocks(ref, disp[j], ones, (bh, bw))
    d_traj = ms.block_sse(trial, source, (bh, bw)).astype(np.float64)
    option = codes = None
    extra = np.zeros((hb, wb))
    if coded is not None:
        option, codes, trial, d_traj, extra = orig_slice_residuals(coded, source, trial, d_traj, lam)
    tb_bits = ms.vector_bits(disp[0], p8)
    ex = sum(ms.vector_bits(disp[j], 2 * disp[j - 1] - (disp[j - 2] if j > 1 else 0)) for j in range(1, bt))
    c_traj = d_traj + lam * (ms.FLAG_BITS + 1.0 + tb_bits + ex + extra)
    c_single = d_single + lam * (ms.FLAG_BITS + ms.vector_bits(got.searched, p8) + extra_single)
    d_net = ms.block_sse(recon, source, (bh, bw)).astype(np.float64)
    c_net = d_net + lam * rate
    take = c_traj < np.minimum(c_single, c_net)
    if take.any():
        got = with_blocks(got, take, trial, np.clip(disp[0], -ms.MAX_VECTOR, ms.MAX_VECTOR), option, codes)
        extra_bits = float((ex + 1.0 + tb_bits - ms.vector_bits(np.clip(disp[0], -ms.MAX_VECTOR, ms.MAX_VECTOR), p8))[take].sum())
        n_split = int(take.sum())
    return got, extra_bits, n_split


run('traj', alternative)
