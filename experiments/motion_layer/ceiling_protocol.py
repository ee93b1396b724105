"""The protocol split_blocks.py and trajectories.py share: an alternative to the motion layer's
straight-path block, offered beside the shipped choices in each slice decision (the 5.0 encoder,
bent paths off), each block taking the least D + lambda R. Rate = the file's bits + the estimate of
what the alternative adds (``alternative`` reports it) + a mode flag per predicted block at the entropy
of the alternative's share; PSNR of the motion decisions' frames. The baseline is the same protocol
with the alternative off. Validation clips (32 frames) and the moving training clips' first 32 frames.

A script calls ``run(name, alternative)``; ``alternative(got, d_single, extra_single, args)`` gets the
shipped decision, each block's D and residual bits as it saw them, and the slice decision's arguments
(``args.source`` ..., with ``mu``, ``pred`` never None and ``planes`` made),
and returns (the decision, extra bits, blocks that took the alternative).
"""
import io
import os
import sys
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

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
state = dict(on=False, captured=None, cur=(0.0, 0, 0), total=[0.0, 0, 0])   # extra bits, blocks on the alternative, predicted
orig_slice_residuals = ms.slice_residuals
orig_decide_slice = ms.decide_slice
orig_decide_gop = ms.decide_gop


def slice_residuals(coded, source, trial, d_mc, lam):
    out = orig_slice_residuals(coded, source, trial, d_mc, lam)
    state["captured"] = (out[3], out[4])       # per block: D and the residual's bits, as the decision saw them
    return out


ALTERNATIVE = [None]


def with_blocks(got, take, trial, vectors, option, codes):
    """The decision ``got`` with the ``take`` blocks (H', W') predicted as ``trial`` shows them, with
    these ``vectors`` and (with a motion residual) residual ``option`` and ``codes``."""
    block = got.frames.shape[1] // take.shape[0], got.frames.shape[2] // take.shape[1]
    frames = np.where(ms._pixels(take, block), trial, got.frames)
    chosen = got.chosen
    if chosen is not None:
        chosen = (np.where(take, option, chosen[0]).astype(np.int32),
                  np.where(take[..., None], codes, chosen[1]).astype(np.int32))
    return ms.SliceDecision(got.flags | take, np.where(take[..., None], vectors, got.vectors).astype(np.int32),
                            frames, chosen, got.searched)


def decide_slice(source, recon, before, rate, lam, search, block, pred=None, residual=None, coded=None,
                 start=None, planes=None, **kw):
    got = orig_decide_slice(source, recon, before, rate, lam, search, block, pred, residual, coded,
                            start=start, planes=planes, **kw)
    extra_bits, n_alt = 0.0, 0
    if state["on"]:
        # the decision's arguments, and what every alternative derives from them: the search's price of a
        # vector bit, the vectors' predictions (zeros where none), the reference's phase planes
        args = SimpleNamespace(source=source, recon=recon, before=before, rate=rate, lam=lam, search=search,
                               block=block, coded=coded, mu=ms.VECTOR_COST_SCALE * np.sqrt(lam),
                               pred=np.zeros((*rate.shape, 2), np.int64) if pred is None else np.asarray(pred, np.int64),
                               planes=planes if planes is not None else ms.search_planes(before, block[0], search))
        got, extra_bits, n_alt = ALTERNATIVE[0](got, *state["captured"], args)
    if start is None:
        for i, v in enumerate(state["cur"]):
            state["total"][i] += v
    state["cur"] = (extra_bits, n_alt, int(got.flags.sum()))
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


def curve(on, clips, name_of):
    state["on"] = on
    out = []
    for name, frames in clips:
        pts = []
        h, w = frames.shape[1:3]
        for q in V.QS:
            state.update(cur=(0.0, 0, 0), total=[0.0, 0, 0])
            st = EncodeSettings.build(m, quality=q, prior="auto", rdo_strength=1.0, refresh=8, motion=True,
                                      motion_search=6, motion_bends=False)
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
                print(f"{name} Q{q}: {pts[-1][0]:.4f} {pts[-1][1]:.2f} {name_of} {n_split}/{n_pred} predicted, "
                      f"extra {extra:.0f} + flags {flag_bits:.0f} of {bits:.0f} bits", flush=True)
        out.append(pts)
    return out


def run(name: str, alternative) -> None:
    """Both curves of each group, and the BD-rate of the alternative's against the baseline's."""
    ALTERNATIVE[0] = alternative
    for g, clips in [(g, GROUPS[g]) for g in os.environ.get("GROUPS", "moving,validation").split(",")]:
        base = curve(False, clips, name)
        new = curve(True, clips, name)
        per = [V.bdr(o, n) for o, n in zip(base, new)]
        print(f"{g}: {name} vs shipped, per clip {' '.join(f'{r:+.2f}%' for r in per)}, mean curve "
              f"{V.bdr(np.mean(np.array(base), 0), np.mean(np.array(new), 0)):+.2f}%", flush=True)
