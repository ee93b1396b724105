"""Rate-distortion decisions of the encoder: where to copy the previous slice instead of coding.

For every position of every latent time slice of a level, in decode order (slice by slice), the
encoder compares

* coding the position's own codes: distortion ``|z - q|^2`` (``z`` the encoder's latent, ``q`` the
  sum of its residual codewords), rate = the copy flag's "coded" cost + every stage's code cost
  under the prior that will code the file, in its real context;
* copying the previous slice's whole code stack: distortion ``|z - q_prev|^2``, rate = the flag's
  "copied" cost;

and keeps the smaller ``D + lambda * R``. Distortion is measured in the latent, a cheap proxy of
the pixel error: with the linear path the bottom latent is an orthonormal projection of the pixel
block, so a latent error is that much pixel error (``experiments/rdo_check/README.md`` compares the two).

``lambda`` is the operating point's own exchange rate between distortion and bits, measured on the
GOP being coded: the latent distortion one more residual stage would remove per bit it would cost,
``(D(S) - D(S+1)) / log2(K)``, geometric-averaged with the same slope for the stage below. A user
knob (``strength``) scales it; 0 turns copy mode off.

The top level's latent error is a poor proxy when a bottom level is coded too: the bottom latent is
computed from the top codes actually sent, so the bottom absorbs most of a top copy's error.
Measured (``docs/DESIGN.md``, "Copy mode"; one copy at a time, decoded): a bottom copy's pixel error
follows its latent error (correlation 0.94), a top copy's hardly does (0.26-0.75) and costs 10-60x
less pixel error per unit of latent error. So at operating points with a bottom level (VQ stages, or
the scalar layer, computed from the top codes sent in the same way) the top's lambda is scaled by
:data:`TOP_SCALE_WITH_BOTTOM` / :data:`TOP_SCALE_WITH_SCALAR_BOTTOM` (chosen on training clips with
``experiments/rdo_sweep/README.md``, then again with the motion layer in
``experiments/encoder_tuning/README.md``; docs/DESIGN.md, "Copy mode").
Decisions use floats and only the encoder makes them: the decoder reads them from the bitstream.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vqcodec.codes import CodeLevel, ScalarCodes
from vqcodec.coding.gop_coding import LevelLayout
from vqcodec.entropy.copy_flags import CopyFlagModel
from vqcodec.entropy.priors import Prior, SliceContext, extended_slices, grid_ratio
from vqcodec.entropy.rans import PRECISION_BITS, symbol_freqs
from vqcodec.entropy.scalar_prior import ScalarTables

TOP_SCALE_WITH_BOTTOM = 128.0          # VQ stages below (64 until session 28)
TOP_SCALE_WITH_SCALAR_BOTTOM = 128.0   # the scalar layer below (1 until session 28)


@dataclass
class LevelLatents:
    """What the encoder knows of one level of one GOP: the latent ``z`` (D, T, H, W), the
    natural residual codes of every stage the network has ``(S_max, T, H, W)`` and the
    codebooks ``(S_max, K, D)``, all float64 / int64 numpy."""

    z: np.ndarray
    codes: np.ndarray
    codebooks: np.ndarray

    def dequantize(self, idx: np.ndarray) -> np.ndarray:
        """Codes ``(S, ...)`` -> latent vectors ``(D, ...)``: the sum of the first S codewords."""
        out = np.zeros((self.z.shape[0],) + idx.shape[1:], np.float64)
        for s in range(idx.shape[0]):
            out += np.moveaxis(self.codebooks[s][idx[s]], -1, 0)
        return out


def level_lambda(lat: LevelLatents, level: str, stages: int, below: str, strength: float) -> float:
    """The lambda of one level of one GOP (see the module docstring; ``below``: what is coded below this
    level, "vq" stages, "scalar" symbols or "" nothing)."""
    scale = 1.0
    if level == "top" and below:
        scale = TOP_SCALE_WITH_BOTTOM if below == "vq" else TOP_SCALE_WITH_SCALAR_BOTTOM
    return strength * scale * stage_lambda(lat, stages)


def stage_lambda(lat: LevelLatents, stages: int) -> float:
    """Distortion per bit at ``stages`` (see the module docstring); 0 when it cannot be measured."""
    if stages < 1:
        return 0.0
    smax, k = lat.codes.shape[0], lat.codebooks.shape[1]
    bits = math.log2(k)
    err = []
    resid = lat.z.copy()
    err.append(float((resid ** 2).sum(0).mean()))
    for s in range(min(smax, stages + 1)):
        resid = resid - np.moveaxis(lat.codebooks[s][lat.codes[s]], -1, 0)
        err.append(float((resid ** 2).sum(0).mean()))
    slopes = [max(err[j - 1] - err[j], 0.0) / bits for j in range(stages, min(smax, stages + 1) + 1)]
    return float(math.sqrt(slopes[0] * slopes[1])) if len(slopes) == 2 else float(slopes[0])


class _Recorder:
    """A channel for :meth:`CopyFlagModel.code_slice` that only hands the decisions back."""

    def code(self, tables, n, symbols):
        return symbols


def decide_level(lv: LevelLayout, lat: LevelLatents, prior: Prior, *, reference: CodeLevel | None,
                 flag_model: CopyFlagModel | None, lam: float, lower: tuple[np.ndarray, tuple] | None = None,
                 rates: np.ndarray | None = None) -> CodeLevel:
    """Copy decisions and resolved codes of one level of one GOP.

    ``reference`` is this level of the previous GOP (resolved, with its copy map) for a
    predicted GOP, ``None`` for a refresh GOP. ``flag_model`` is the level's copy-decision model
    in the state the coder will have (advanced here exactly as the coder will advance it); ``None``
    turns copying off. ``lower`` is the extended array
    and grid ratio of the stream conditioning this level's first stage (``top.0`` for the bottom),
    already resolved. Returns the level: resolved indices and copy map. ``rates`` (T, H, W), if
    given, receives the estimated bits of each position's chosen option (the motion decisions use it).
    """
    t_, h, w = lv.grid
    s_n = lv.stages
    nat = lat.codes[:s_n].astype(np.int64)
    q_nat = lat.dequantize(nat)
    copied = np.zeros((t_, h, w), bool)
    ref_level = reference          # this level of the previous GOP, or None
    if s_n == 0 or flag_model is None:
        return CodeLevel(lv.name, lv.codebook_size, nat.astype(np.int32), copied)
    exts = [extended_slices(None, ref_level.indices[s] if ref_level is not None else None, lv.grid)
            for s in range(s_n)]
    q_res = q_nat.copy()
    q_prev = lat.dequantize(ref_level.indices[:s_n, -1].astype(np.int64)) if ref_level is not None else None
    prev_flags = ref_level.copy_map()[-1] if ref_level is not None else None
    everything = np.ones((h, w), bool)
    for t in range(t_):
        if t > 0:
            q_prev, prev_flags = q_res[:, t - 1], copied[t - 1]
        if q_prev is None:                      # a refresh GOP's first slice: nothing to copy
            for s in range(s_n):
                exts[s][2] = nat[s, 0]
            continue
        # rate of coding every position's own codes, in their real context (the lower stage's
        # slice taken as coded, which is what the coder sees wherever the position is coded)
        for s in range(s_n):
            exts[s][2 + t] = nat[s, t]
        r_code = np.zeros(h * w)
        for s, name in enumerate(lv.streams()):
            low = (exts[s - 1], (1, 1, 1)) if s else lower
            ctx = SliceContext(name, lv.codebook_size, t, exts[s], None if low is None else low[0],
                               None if low is None else low[1], everything)
            tab = prior.slice_tables(ctx)
            sym = nat[s, t].reshape(-1)
            r_code += PRECISION_BITS - np.log2(symbol_freqs(tab, sym).astype(np.float64))
        f_code, f_copy = flag_model.estimate_bits(prev_flags, (h, w))
        d_code = ((lat.z[:, t] - q_nat[:, t]) ** 2).sum(0)
        d_copy = ((lat.z[:, t] - q_prev) ** 2).sum(0)
        cost_code = d_code + lam * (r_code.reshape(h, w) + f_code)
        cost_copy = d_copy + lam * f_copy
        copy = cost_copy < cost_code
        if rates is not None:
            rates[t] = np.where(copy, f_copy, r_code.reshape(h, w) + f_code)
        copied[t] = flag_model.code_slice(_Recorder(), copy, prev_flags, (h, w))
        for s in range(s_n):
            exts[s][2 + t][copy] = exts[s][1 + t][copy]
        q_res[:, t][:, copy] = q_prev[:, copy]
    idx = np.stack([e[2:] for e in exts]).astype(np.int32)
    return CodeLevel(lv.name, lv.codebook_size, idx, copied)


# ------------------------------------------------------------------------------------------ scalar layer
def scalar_lambda(step: float, strength: float) -> float:
    """Distortion per bit of a uniform scalar quantiser of step ``step`` at high rate: each latent
    dimension's error ``step**2 / 12`` falls by a factor 4 per bit spent on it, a slope of
    ``2 ln 2 * step**2 / 12`` (summed over a position's dimensions, as the distortion is)."""
    return strength * 2 * math.log(2) * step * step / 12


def decide_scalar(tables: ScalarTables, z: np.ndarray, reference: ScalarCodes | None,
                  flag_model: CopyFlagModel | None, lam: float, symbols: np.ndarray | None = None,
                  rates: np.ndarray | None = None) -> ScalarCodes:
    """Copy decisions and resolved symbols of one GOP's scalar layer (``z`` the bottom latent (C, T, H, W)):
    per position of each slice, in decode order, the cheaper in ``D + lambda * R`` of coding its own
    symbols (their table cost in the real context + the flag's "coded" cost) and repeating the slice
    before (the flag's "copied" cost). ``reference``: the previous GOP's scalar layer for a
    predicted GOP; ``flag_model`` advanced as the coder will advance it (``None``: no copies).
    ``symbols``: the quantised ``z`` when the encoder rounds its own way (the enhancement layer's
    dead zone); by default the nearest multiples of the step. The same decisions serve the
    enhancement layer (``z`` its coefficients: an orthonormal basis keeps pixel distortion). ``rates``
    (T, H, W), if given, receives the estimated bits of each position's chosen option."""
    nat = tables.quantise(z) if symbols is None else np.asarray(symbols, np.int32)
    c, t_, h, w = nat.shape
    copied = np.zeros((t_, h, w), bool)
    if flag_model is None:
        return ScalarCodes(nat, tables.step_num, copied)
    out = nat.copy()
    step = np.float64(tables.step)
    for t in range(t_):
        before = out[:, t - 1] if t else (reference.symbols[:, -1] if reference is not None else None)
        if before is None:                      # a refresh GOP's first slice: nothing to copy
            continue
        prev_flags = copied[t - 1] if t else reference.copy_map()[-1]
        r_code = tables.symbol_bits(out[:, t - 1] if t else None, nat[:, t])
        f_code, f_copy = flag_model.estimate_bits(prev_flags, (h, w))
        d_code = ((z[:, t] - step * nat[:, t]) ** 2).sum(0)
        d_copy = ((z[:, t] - step * before) ** 2).sum(0)
        copy = d_copy + lam * f_copy < d_code + lam * (r_code + f_code)
        if rates is not None:
            rates[t] = np.where(copy, f_copy, r_code + f_code)
        copied[t] = flag_model.code_slice(_Recorder(), copy, prev_flags, (h, w))
        out[:, t][:, copy] = before[:, copy]
    return ScalarCodes(out, tables.step_num, copied)


# ------------------------------------------------------------------ the motion layer's blocks

def _force_copies(values: np.ndarray, copied: np.ndarray, flags: np.ndarray, before: np.ndarray | None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``values`` (S, T, H, W) with the motion blocks' positions copied from the slice before. A
    position the encoder had copied whose source changed that way is coded again with its own values
    (else a block the network reconstructs would inherit stale codes down a chain of copies)."""
    out = np.array(values, copy=True)
    new_copied = np.array(copied, copy=True)
    for t in range(out.shape[1]):
        src = out[:, t - 1] if t else before
        if src is None:
            continue
        same = (src == values[:, t]).all(axis=0)
        new_copied[t] = flags[t] | (copied[t] & same)
        out[:, t][:, flags[t]] = src[:, flags[t]]
    return out, new_copied


def force_level_copies(level: CodeLevel, flags: np.ndarray, before: np.ndarray | None) -> CodeLevel:
    """The level with the motion blocks' positions copied from the slice before (``before``: the
    previous GOP's last slice of indices as coded, None in a refresh GOP)."""
    if level.stages == 0 or not flags.any():
        return level
    idx, copied = _force_copies(level.indices, level.copy_map(), flags, before)
    return CodeLevel(level.name, level.codebook_size, idx, copied)


def predicted_cells(flags: np.ndarray, grid: tuple[int, int, int]) -> np.ndarray | None:
    """bool ``grid``: the cells of a coarser level (the top) all of whose bottom blocks ``flags`` (T, H, W)
    are predicted (None where the grids do not nest)."""
    ratio = grid_ratio(tuple(flags.shape), tuple(grid))
    if ratio is None:
        return None
    (t, h, w), (a, b, c) = grid, ratio
    return flags.reshape(t, a, h, b, w, c).all(axis=(1, 3, 5))


def force_motion_copies(levels: tuple[CodeLevel, ...], flags: np.ndarray, before: tuple[CodeLevel, ...] | None
                        ) -> tuple[CodeLevel, ...]:
    """The levels with copies where the motion layer predicts: the bottom's predicted blocks, and a coarser
    level's cells whose bottom blocks are all predicted (their codes would reach only the network's
    reconstruction of neighbouring blocks, which the encoder then decodes again; measured, they are bits for
    nothing: docs/DESIGN.md, "Motion"). ``before``: the previous GOP's levels as coded, None in a refresh GOP."""
    prev = {lv.name: lv.indices[:, -1] for lv in before} if before is not None else {}
    out = []
    for lv in levels:
        cells = flags if lv.name == "bottom" else predicted_cells(flags, lv.grid)
        out.append(lv if cells is None else force_level_copies(lv, cells, prev.get(lv.name)))
    return tuple(out)


def force_scalar_copies(sc: ScalarCodes | None, flags: np.ndarray, before: np.ndarray | None) -> ScalarCodes | None:
    """The same for a scalar or enhancement layer (``before``: the previous GOP's last slice of symbols)."""
    if sc is None or not flags.any():
        return sc
    sym, copied = _force_copies(sc.symbols, sc.copy_map(), flags, before)
    return ScalarCodes(sym, sc.step_num, copied)


def level_latents(quantizer, z, stages: int | None = None) -> list[LevelLatents]:
    """Per clip of a batch ``z`` (a tensor, a level's latents): the latent, the natural codes of the first
    ``stages`` stages (default: every stage) of the level's ``quantizer`` and their codebooks. A stage's codes
    depend only on the stages before it, so fewer stages give the same codes for those."""
    import torch                       # (the one use of torch here: the quantizer is the network's)
    n = quantizer.stages if stages is None else min(quantizer.stages, stages)
    was_training = quantizer.training
    quantizer.eval()                   # no codebook updates
    try:
        with torch.no_grad():
            out = quantizer(z, n)
            cbs = torch.stack([layer.codebook for layer in quantizer.layers[:n]]).double().cpu().numpy()
            zz = z.double().cpu().numpy()
    finally:
        quantizer.train(was_training)
    idx = out.indices.cpu().numpy()
    return [LevelLatents(zz[i], idx[i], cbs) for i in range(z.shape[0])]
