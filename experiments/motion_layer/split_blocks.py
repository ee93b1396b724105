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
import io
import os
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

import vqcodec.coding.encoder as encmod
from vqcodec.codes import MotionField
from vqcodec.coding import motion_search as ms
from vqcodec.coding.encoder import GopEncoder, write_container
from vqcodec.coding.motion import predict_slice
from vqcodec.settings import EncodeSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("CORPUS", "/work/data/corpus")
os.environ.setdefault("CACHE", "/work/data/cache")
os.environ.setdefault("QS", "3,4,5,6,7,8,9")
import variants as V  # noqa: E402
from vector_contexts import long_clips  # noqa: E402

m = V.m
state = dict(on=False, captured=None, cur=(0.0, 0, 0), total=[0.0, 0, 0])   # extra bits, split blocks, predicted
orig_slice_residuals = ms.slice_residuals
orig_decide_slice = ms.decide_slice
orig_decide_gop = ms.decide_gop


def slice_residuals(coded, source, trial, d_mc, lam):
    out = orig_slice_residuals(coded, source, trial, d_mc, lam)
    state["captured"] = (out[3], out[4])       # per block: D and the residual's bits, as the decision saw them
    return out


def decide_slice(source, recon, before, rate, lam, search, block, pred=None, residual=None, coded=None,
                 start=None, planes=None):
    got = orig_decide_slice(source, recon, before, rate, lam, search, block, pred, residual, coded,
                            start=start, planes=planes)
    d_single, extra_single = state["captured"]
    bt, bh, bw = block
    hb, wb = rate.shape
    extra_bits, n_split = 0.0, 0
    if state["on"]:
        mu = ms.VECTOR_COST_SCALE * np.sqrt(lam)
        p8 = np.zeros((hb, wb, 2), np.int64) if pred is None else np.asarray(pred, np.int64)
        p4 = np.repeat(np.repeat(p8, 2, 0), 2, 1)
        sub = ms.search_vectors(source, before, (bh // 2, bw // 2), search, p4, mu, None, planes)
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
            px = ms._pixels(take, (bh, bw))
            frames = np.where(px, trial, got.frames)
            flags = got.flags | take
            vectors = np.where(take[..., None], first, got.vectors).astype(np.int32)
            chosen = got.chosen
            if coded is not None:
                chosen = (np.where(take, option, chosen[0]).astype(np.int32),
                          np.where(take[..., None], codes, chosen[1]).astype(np.int32))
            got = ms.SliceDecision(flags, vectors, frames, chosen, got.searched)
            extra_bits = float((vb4 - ms.vector_bits(first, p8) + 1.0)[take].sum())
            n_split = int(take.sum())
    if start is None:
        for i, v in enumerate(state["cur"]):
            state["total"][i] += v
    state["cur"] = (extra_bits, n_split, int(got.flags.sum()))
    return got


FINAL = [None]


def decide_gop(*a, **k):
    field, final = orig_decide_gop(*a, **k)
    for i, v in enumerate(state["cur"]):
        state["total"][i] += v
    state["cur"] = (0.0, 0, 0)
    FINAL[0] = final
    return field, final


ms.slice_residuals = slice_residuals
ms.decide_slice = decide_slice
encmod.decide_gop = decide_gop
GROUPS = {"validation": [(c.name.split("/")[-1], c.frames) for c in V.clips],
          "moving": [(n, f[:32]) for n, f in long_clips()]}


def curve(on, clips):
    state["on"] = on
    out = []
    for name, frames in clips:
        pts = []
        h, w = frames.shape[1:3]
        for q in V.QS:
            state.update(cur=(0.0, 0, 0), total=[0.0, 0, 0])
            st = EncodeSettings.build(m, quality=q, prior="auto", rdo_strength=1.0, refresh=8, motion=True,
                                      motion_search=6)
            enc = GopEncoder(m, st, w, h)
            for f in frames:
                enc.add_frame(f)
            buf = io.BytesIO()
            write_container(buf, m, st, enc.finish(), source_size=(w, h), coded_size=(w, h), fps=Fraction(16))
            extra, n_split, n_pred = state["total"]
            p = n_split / max(n_pred, 1)
            flag_bits = n_pred * (0 if p in (0, 1) else -(p * np.log2(p) + (1 - p) * np.log2(1 - p)))
            bits = len(buf.getvalue()) * 8 + extra + flag_bits
            pts.append((bits / frames[..., 0].size, V.psnr(FINAL[0][:, :h, :w], frames)))
            if on:
                print(f"{name} Q{q}: {pts[-1][0]:.4f} {pts[-1][1]:.2f} split {n_split}/{n_pred} predicted, "
                      f"extra {extra:.0f} + flags {flag_bits:.0f} of {bits:.0f} bits", flush=True)
        out.append(pts)
    return out


for g, clips in GROUPS.items():
    base = curve(False, clips)
    new = curve(True, clips)
    per = [V.bdr(o, n) for o, n in zip(base, new)]
    print(f"{g}: split blocks vs shipped, per clip {' '.join(f'{r:+.2f}%' for r in per)}, mean curve "
          f"{V.bdr(np.mean(np.array(base), 0), np.mean(np.array(new), 0)):+.2f}%", flush=True)
