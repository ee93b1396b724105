"""Session 14's protocol for a residual option offered beside the shipped motion residual (used by
scalar_residual.py and ../conditional_coder/as_option.py): the shipped encoder's decisions patched so
that a predicted block may take the option; bits = the file's (a block that takes it is written with
no residual) + the option's estimated bits for the blocks that keep it predicted; PSNR of the
decisions' frames; the same run with the option off is the baseline.

``install(slice_residuals)``: the probe's patched ``slice_residuals`` computes the option where
``state["on"]`` and sets ``state["last"] = (taken (H', W'), bits (H', W'))`` (None where off).
"""
import io
from fractions import Fraction

import numpy as np

import vqcodec.coding.encoder as encmod
from vqcodec.coding import motion_residual as mr
from vqcodec.coding import motion_search as ms
from vqcodec.coding.encoder import GopEncoder, write_container
from vqcodec.settings import EncodeSettings

state = {"on": False, "cur": 0.0, "total": 0.0, "blocks": 0, "cur_blocks": 0, "last": None}
orig_slice_residuals = ms.slice_residuals
orig_decide_slice = ms.decide_slice
orig_decide_gop = ms.decide_gop
FINAL = [None]


def decide_slice(*a, start=None, **k):
    got = orig_decide_slice(*a, start=start, **k)
    extra, nb = 0.0, 0
    if state["last"] is not None:
        take, bits = state["last"]
        sel = take & got.flags
        extra, nb = float(bits[sel].sum()) - float(sel.sum()) * mr.NONE_BITS, int(sel.sum())
    if start is None:      # a first decision: the slice before is final (a second one replaces the first's)
        state["total"] += state["cur"]
        state["blocks"] += state["cur_blocks"]
    state["cur"], state["cur_blocks"] = extra, nb
    return got


def decide_gop(*a, **k):
    field, final = orig_decide_gop(*a, **k)
    state["total"] += state["cur"]
    state["blocks"] += state["cur_blocks"]
    state["cur"], state["cur_blocks"] = 0.0, 0
    FINAL[0] = final
    return field, final


def install(slice_residuals) -> None:
    ms.slice_residuals = slice_residuals
    ms.decide_slice = decide_slice
    encmod.decide_gop = decide_gop


def curve(m, clips, qs, psnr, on: bool, label: str, before_point=None):
    """Each clip's (bpp, PSNR) per Q with the option ``on`` or off; ``before_point(q)`` runs first."""
    state["on"] = on
    out = []
    for c in clips:
        pts = []
        for q in qs:
            if before_point is not None:
                before_point(q)
            state.update(total=0.0, blocks=0, cur=0.0, cur_blocks=0)
            st = EncodeSettings.build(m, quality=q, prior="auto", rdo_strength=1.0, refresh=8, motion=True,
                                      motion_search=6)
            enc = GopEncoder(m, st, 64, 64)
            for f in c.frames:
                enc.add_frame(f)
            buf = io.BytesIO()
            write_container(buf, m, st, enc.finish(), source_size=(64, 64), coded_size=(64, 64), fps=Fraction(16))
            bits = len(buf.getvalue()) * 8 + state["total"]
            pts.append((bits / c.frames[..., 0].size, psnr(FINAL[0], c.frames)))
            print(c.name, q, "on" if on else "off", f"{pts[-1][0]:.4f} {pts[-1][1]:.2f} {label} blocks {state['blocks']} "
                  f"est bits {state['total']:.0f}/{bits:.0f}", flush=True)
        out.append(pts)
    return out


def compare(V, curve, label: str, name: str) -> None:
    """The baseline and the option's curves, reported (``V``: variants.py) with the option's BD-rate."""
    base = curve(False)
    V.report("shipped (decision frames)", base)
    new = curve(True)
    V.report(label, new)
    print(f"{name} vs shipped: per clip", " ".join(f"{V.bdr(o, n):+.2f}%" for o, n in zip(base, new)),
          f"mean curve {V.bdr(np.mean(np.array(base), 0), np.mean(np.array(new), 0)):+.2f}%", flush=True)
