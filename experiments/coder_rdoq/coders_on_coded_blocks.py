"""Emulation (session 26): the conditional coders on the blocks of *predicted* slices that the motion layer
leaves to the network (not predicted), as session 24 put them on the first slice: after a slice's motion
decisions, every such block may be refined by a coder with P = the slice as it stands, chosen per block by
D + lambda R against the block as it is (``choose_intra``: NONE_BITS for a block left alone, OPTION_BITS +
its symbols' bits for a refined one; the shipped dead zones; the slice's lambda per block), and the refined
slice is the reference of the next. The decisions see it (``decide_slice`` wrapped), and the final frames
(encoder and decoder alike: ``motion.predict_slice`` wrapped) replay the stored choices on the slice as
predicted then. One-GOP clips only (32 frames). Bits: the file's bytes + the emulated option and symbol
bits. k 0 = the shipped encoder, k 1 = with the refinement.

    PYTHONPATH=. python experiments/coder_rdoq/coders_on_coded_blocks.py 3,4,...,12 CLIPS... > out.jsonl
    PYTHONPATH=. python experiments/intra_slice/bd_jsonl.py out.jsonl
"""
import numpy as np
import vqcodec.coding.motion as motion
import vqcodec.coding.motion_search as ms
import vqcodec.coding.encoder as encoder
from vqcodec.coding.conditional_coder import apply_conditional, choose_intra
from vqcodec.coding.motion_residual import NONE_BITS, OPTION_BITS
from rd_rows import run

state = {"on": False, "choices": {}, "bits": {}}
orig_decide_slice, orig_predict_slice, orig_decide_gop = ms.decide_slice, motion.predict_slice, ms.decide_gop


def decide_gop(source, *a, **kw):
    state["gop"] = source
    return orig_decide_gop(source, *a, **kw)


def decide_slice(source, recon, before, rate, lam, search, block, pred=None, residual=None, coded=None, **kw):
    got = orig_decide_slice(source, recon, before, rate, lam, search, block, pred, residual, coded, **kw)
    if not state["on"] or coded is None or coded.coder is None:
        return got
    g = state["gop"]
    t = (source.__array_interface__["data"][0] - g.__array_interface__["data"][0]) // (g[0].nbytes * block[0])
    opt, syms, _ = choose_intra(coded.coder, source, got.frames, coded.first_coder, lam, coded.dead_zones)
    opt = np.where(got.flags, 0, opt).astype(np.int32)
    frames = got.frames
    if (opt > 0).any():
        frames = apply_conditional(coded.coder, got.frames, opt, syms, coded.first_coder)
    bits = coded.coder.block_bits
    taken = opt > 0
    b = float(NONE_BITS * (~got.flags & ~taken).sum())
    for j in range(coded.coder.coders):
        sel = opt == coded.first_coder + j
        if sel.any():
            b += float((bits(j, np.where(sel[..., None], syms, 0)) + OPTION_BITS)[sel].sum())
    state["choices"][int(t)] = (opt, syms, coded)
    state["bits"][int(t)] = b
    return got._replace(frames=frames)


def predict_slice(out, field, t, before, block, motion_residual=None):
    orig_predict_slice(out, field, t, before, block, motion_residual)
    if state["on"] and t in state["choices"]:
        opt, syms, coded = state["choices"][t]
        if (opt > 0).any():
            sl = slice(t * block[0], (t + 1) * block[0])
            out[sl] = apply_conditional(coded.coder, out[sl], opt, syms, coded.first_coder)


ms.decide_slice, motion.predict_slice, encoder.decide_gop = decide_slice, predict_slice, decide_gop

def extra():
    return {"extra_bytes": sum(state["bits"].values()) / 8,
            "taken": sum(int((c[0] > 0).sum()) for c in state["choices"].values())}


if __name__ == "__main__":
    run([0, 1], lambda k: state.update(on=bool(k), choices={}, bits={}), extra)
