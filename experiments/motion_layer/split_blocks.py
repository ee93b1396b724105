"""Ceiling of *split* motion blocks (x264's partitions): a predicted 8x8 block may carry four 4x4
sub-block vectors instead of one, for blocks that straddle a motion boundary. Offered beside the
shipped choices (network codes / one vector), each block taking the least D + lambda R.

Rate = the file's bits (a split block is written as predicted with its top-left sub-vector and its
residual) + the estimate of what a split block adds (its other three sub-vectors' bits, as
differences from the block's predicted vector, and one bit) + a split flag per predicted block at
the entropy of the split share; PSNR of the motion decisions' frames (exact for one-GOP clips
below Q10, up to the network's second reconstruction). The same protocol without splits is the
baseline. Validation clips (32 frames) and the moving training clips' first 32 frames.

    QS=3,4,5,6,7,8,9 PYTHONPATH=. python experiments/motion_layer/split_blocks.py
"""
import sys
from pathlib import Path

import numpy as np

from vqcodec.codes import MotionField
from vqcodec.coding import motion_search as ms
from vqcodec.coding.motion import predict_slice

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ceiling_protocol import orig_slice_residuals, run, with_blocks  # noqa: E402


def alternative(got, d_single, extra_single, a):
    source, recon, before, rate, lam = a.source, a.recon, a.before, a.rate, a.lam
    search, block, coded, mu, p8 = a.search, a.block, a.coded, a.mu, a.pred
    bt, bh, bw = block
    hb, wb = rate.shape
    extra_bits, n_split = 0.0, 0
    p4 = np.repeat(np.repeat(p8, 2, 0), 2, 1)
    sub = ms.search_vectors(source, before, (bh // 2, bw // 2), search, p4, mu, None, a.planes)
    trial = np.array(recon, copy=True)
    predict_slice(trial, MotionField(np.ones((1, 2 * hb, 2 * wb), bool), sub[None]), 0, before,
                  (bt, bh // 2, bw // 2))
    d_split = ms.block_sse(trial, source, (bh, bw)).astype(np.float64)
    option = codes = None
    extra = np.zeros((hb, wb))
    if coded is not None:
        option, codes, trial, d_split, extra = orig_slice_residuals(coded, source, trial, d_split, lam)
    vb4 = ms.vector_bits(sub, p4).reshape(hb, 2, wb, 2).sum((1, 3))
    first = sub[0::2, 0::2]
    c_split = d_split + lam * (ms.FLAG_BITS + 1.0 + vb4 + extra)
    c_single = d_single + lam * (ms.FLAG_BITS + ms.vector_bits(got.searched, p8) + extra_single)
    d_net = ms.block_sse(recon, source, (bh, bw)).astype(np.float64)
    c_net = d_net + lam * rate
    take = c_split < np.minimum(c_single, c_net)
    if take.any():
        got = with_blocks(got, take, trial, first, option, codes)
        extra_bits = float((vb4 - ms.vector_bits(first, p8) + 1.0)[take].sum())
        n_split = int(take.sum())
    return got, extra_bits, n_split


run('split', alternative)
