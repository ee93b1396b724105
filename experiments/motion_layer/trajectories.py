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
import io
import os
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

import vqcodec.coding.encoder as encmod
from vqcodec.coding import motion_search as ms
from vqcodec.coding.encoder import GopEncoder, write_container
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
        pl = planes if planes is not None else ms.search_planes(before, bt, search)
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
            px = ms._pixels(take, (bh, bw))
            frames = np.where(px, trial, got.frames)
            flags = got.flags | take
            vectors = np.where(take[..., None], np.clip(disp[0], -ms.MAX_VECTOR, ms.MAX_VECTOR), got.vectors).astype(np.int32)
            chosen = got.chosen
            if coded is not None:
                chosen = (np.where(take, option, chosen[0]).astype(np.int32),
                          np.where(take[..., None], codes, chosen[1]).astype(np.int32))
            got = ms.SliceDecision(flags, vectors, frames, chosen, got.searched)
            extra_bits = float((ex + 1.0 + tb_bits - ms.vector_bits(np.clip(disp[0], -ms.MAX_VECTOR, ms.MAX_VECTOR), p8))[take].sum())
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
                print(f"{name} Q{q}: {pts[-1][0]:.4f} {pts[-1][1]:.2f} traj {n_split}/{n_pred} predicted, "
                      f"extra {extra:.0f} + flags {flag_bits:.0f} of {bits:.0f} bits", flush=True)
        out.append(pts)
    return out


for g, clips in [(g, GROUPS[g]) for g in os.environ.get("GROUPS", "moving,validation").split(",")]:
    base = curve(False, clips)
    new = curve(True, clips)
    per = [V.bdr(o, n) for o, n in zip(base, new)]
    print(f"{g}: trajectories vs shipped, per clip {' '.join(f'{r:+.2f}%' for r in per)}, mean curve "
          f"{V.bdr(np.mean(np.array(base), 0), np.mean(np.array(new), 0)):+.2f}%", flush=True)
