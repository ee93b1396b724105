"""Rate-distortion optimised quantisation (RDOQ) of the scalar layers' symbols, encoder only, patched into
the encoder when imported (environment, read once):

    RDOQ=S       the scalar bottom layer (Q7-Q12): per symbol, of round(z / step), one step towards zero and
                 0, the least (z - step s)^2 + S * lambda * bits(s | the slice before's symbol), lambda the
                 copy decisions' own (rdo.scalar_lambda); then the copy decisions as shipped
    RDOQ_W=F     the same with each channel's squared error weighted by F.npy (sensitivity.py), mean 1
    RDOQ_ENH=S   the enhancement layer of GOPs with a motion layer (Q10-Q12): the same choice from plain
                 rounding instead of the shipped dead zone (enhancement.ROUNDING), lambda in pixels

Files stay what a decoder reads (only the encoder's choice of symbols changes)."""
import os

import numpy as np

from vqcodec.coding import encoder as _enc, motion_search as _ms, rdo
from vqcodec.coding.rdo import ScalarCodes, _Recorder
from vqcodec.entropy.scalar_prior import N_CLASSES, PRECISION_BITS, context_classes

SCALE = float(os.environ.get("RDOQ", "0"))
ENH = float(os.environ.get("RDOQ_ENH", "0"))
W = None
if os.environ.get("RDOQ_W"):
    W = np.load(os.environ["RDOQ_W"])
    W = (W / W.mean())[:, None, None]


def symbol_bits_each(tables, prev, s):
    """Bits (C, H, W) of each symbol of a slice under its table and context class."""
    rows = np.arange(s.shape[0], dtype=np.int64)[:, None, None] * N_CLASSES + context_classes(prev, s.shape)
    f = tables.freqs.reshape(-1, tables.alphabet)[rows, np.asarray(s, np.int64) + tables.limit]
    return PRECISION_BITS - np.log2(f.astype(np.float64))


def rdoq_slice(tables, z, nat, prev, lam):
    step = np.float64(tables.step)
    cands = [nat, nat - np.sign(nat), np.zeros_like(nat)]
    weight = W if W is not None and len(W) == len(z) else 1
    cost = np.stack([weight * (z - step * c) ** 2 + lam * symbol_bits_each(tables, prev, c) for c in cands])
    return np.choose(np.argmin(cost, axis=0), cands).astype(np.int32)


_decide_scalar = rdo.decide_scalar


def decide_scalar(tables, z, reference, flag_model, lam, symbols=None, rates=None):
    """rdo.decide_scalar with each slice's symbols chosen by rdoq_slice before its copy decisions."""
    if SCALE <= 0 or symbols is not None:
        return _decide_scalar(tables, z, reference, flag_model, lam, symbols, rates)
    nat = tables.quantise(z)
    c, t_, h, w = nat.shape
    copied = np.zeros((t_, h, w), bool)
    out = nat.copy()
    step = np.float64(tables.step)
    for t in range(t_):
        prev_s = out[:, t - 1] if t else None
        sym = rdoq_slice(tables, z[:, t], nat[:, t], prev_s, lam * SCALE)
        out[:, t] = sym
        before = out[:, t - 1] if t else (reference.symbols[:, -1] if reference is not None else None)
        if flag_model is None or before is None:
            continue
        prev_flags = copied[t - 1] if t else reference.copy_map()[-1]
        r_code = tables.symbol_bits(prev_s, sym)
        f_code, f_copy = flag_model.estimate_bits(prev_flags, (h, w))
        d_code = ((z[:, t] - step * sym) ** 2).sum(0)
        d_copy = ((z[:, t] - step * before) ** 2).sum(0)
        copy = d_copy + lam * f_copy < d_code + lam * (r_code + f_code)
        if rates is not None:
            rates[t] = np.where(copy, f_copy, r_code + f_code)
        copied[t] = flag_model.code_slice(_Recorder(), copy, prev_flags, (h, w))
        out[:, t][:, copy] = before[:, copy]
    return ScalarCodes(out, tables.step_num, copied)


_decide_predicted_enhancement = _ms.decide_predicted_enhancement


def decide_predicted_enhancement(tables, basis, source, frames, predicted, before, prev_flags, flag_model, lam,
                                 real=None):
    """motion_search.decide_predicted_enhancement with RDOQ instead of the dead zone (``real``: the distortion over
    the slice's first ``real`` frames only, as there)."""
    if ENH <= 0:
        return _decide_predicted_enhancement(tables, basis, source, frames, predicted, before, prev_flags,
                                             flag_model, lam, real)
    block = basis.block[1:]
    coef = basis.coefficients(source, frames)[:, 0]
    near = np.clip(np.rint(coef / tables.step), -tables.limit, tables.limit).astype(np.int32)
    nat = rdoq_slice(tables, coef, near, before, lam * ENH)
    h, w = predicted.shape
    if before is None or flag_model is None:
        return nat, np.zeros((h, w), bool)
    d_code = _ms.block_sse(basis.apply(frames, nat[:, None], tables.step), source, block, real)
    d_copy = np.where(predicted, _ms.block_sse(frames, source, block, real),
                      _ms.block_sse(basis.apply(frames, before[:, None], tables.step), source, block, real))
    r_code = tables.symbol_bits(before, nat)
    f_code, f_copy = flag_model.estimate_bits(prev_flags, (h, w))
    copy = d_copy + lam * f_copy < d_code + lam * (r_code + f_code)
    copied = flag_model.code_slice(_Recorder(), copy, prev_flags, (h, w))
    return np.where(copied[None], before, nat), copied


rdo.decide_scalar = decide_scalar
_enc.decide_predicted_enhancement = decide_predicted_enhancement
