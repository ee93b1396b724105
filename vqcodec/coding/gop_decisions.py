"""A GOP's motion decisions: slice by slice in decode order, each slice decided twice (the coder predicts a pass-1
block's vector from its predicted pass-0 neighbours, known only once those are decided; :mod:`vqcodec.coding.motion`).

Without the conditional coders a block's decision reads that block alone, so the second decision need not make any
block's decision twice (:func:`decide_in_two`): the pass-0 blocks are decided first (their predictions never change),
then the pass-1 blocks with the predictions those give, and the pass-0 blocks whose vector the second search moved.
Every decision then stands, so each searches the bent paths (:attr:`~vqcodec.coding.effort.Effort.bends_first`
saves work only where the second decision is of the whole slice).
Every block decides as the whole slice decided twice would (``tests/test_block_subsets.py``). With the coders (whose
prices read a block's neighbours) the second decision is of the whole slice
(:func:`~vqcodec.coding.motion_search.decide_slice`), and the first decides only the pass-0 blocks (priced without
the coders), the only ones of its decisions read.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from vqcodec.codes import MotionField
from vqcodec.coding.conditional_coder import choose_intra
from vqcodec.coding.effort import Effort
from vqcodec.coding.motion import MotionResidual, neighbour_predictions, slice_real_frames
from vqcodec.coding.motion_search import (Residual, SliceDecision, decide_blocks, decide_slice, search_planes,
                                          search_slice)
from vqcodec.entropy.copy_flags import checkerboard


def decide_gop(source: np.ndarray, recon: np.ndarray, before: np.ndarray | None, rates: np.ndarray, lam,
               search: int, block: tuple[int, int, int], residual: Residual | None = None,
               coded: MotionResidual | None = None, bends: bool = False,
               before_field: MotionField | None = None, effort: Effort = Effort(),
               frames: int | None = None, real_only: bool = False) -> tuple[MotionField, np.ndarray]:
    """A GOP's motion field, slice by slice in decode order, and its frames as the decoder will
    reconstruct them (``before``: the previous GOP's last decoded frame, None in a refresh GOP;
    ``bends``: version 7, predicted blocks may follow bent paths; ``before_field``: the previous
    GOP's motion field, whose last slice the coder predicts the first slice's vectors from; ``lam``: one, or
    one per block (T', H', W'), :mod:`vqcodec.coding.propagation`).
    ``frames``: the GOP's own frames (the rest is padding, which no decoder shows): a slice wholly of
    padding repeats the frame before it (every block predicted, vector 0, nothing else), the cheapest; with
    ``real_only`` (format 13.0's encoder) a slice partly of padding prices its blocks on its own frames only."""
    if bends and not (effort.second or effort.bends_first):
        raise ValueError("bent paths need a decision that searches them")
    bt, t_ = block[0], rates.shape[0]
    lams = [lam] * t_ if np.ndim(lam) == 0 else lam       # a lambda per block (T', H', W'), or the GOP's
    flags, vectors = np.zeros(rates.shape, bool), np.zeros((*rates.shape, 2), np.int32)
    width = 0 if coded is None else max(c for _, c in coded.options)
    coded = coded and dataclasses.replace(coded, dead_zones=effort.dead_zones, priced_coders=effort.coders)
    option, codes = np.zeros(rates.shape, np.int32), np.zeros((*rates.shape, width), np.int32)
    symbols = None if coded is None or coded.coder is None else \
        np.zeros((*rates.shape, coded.coder.tables.channels), np.int32)
    paths = np.zeros((*rates.shape, bt - 1, 2), np.int32) if bends else None
    final = np.array(recon, copy=True)
    pred = np.zeros((*rates.shape[1:], 2), np.int64)
    if before is not None and before_field is not None:     # the coder's pass-0 prediction of slice 0
        pred = np.where(before_field.flags[-1][..., None], before_field.vectors[-1], 0).astype(np.int64)
    for t in range(t_):
        prev = final[t * bt - 1] if t else before
        real = slice_real_frames(t, bt, frames) if real_only else None
        if prev is None:                  # a refresh GOP's first slice: nothing to predict from
            if coded is not None and coded.intra:         # version 9: the coders refine it
                option[0], symbols[0], final[:bt] = choose_intra(coded.coder, source[:bt], final[:bt],
                                                                 coded.first_coder, lams[0], *coded.pricing, real)
            continue
        sl = slice(t * bt, (t + 1) * bt)
        if frames is not None and t * bt >= frames:
            flags[t], final[sl], pred = True, prev, np.zeros_like(pred)
            continue
        got = decide_twice((source[sl], final[sl], prev, rates[t], lams[t], search, block), pred, residual, coded,
                           bends, effort, real)
        flags[t], vectors[t], final[sl] = got.flags, got.vectors, got.frames
        if paths is not None:
            paths[t] = got.bends
        if got.chosen is not None:
            option[t], codes[t] = got.chosen[:2]
            if symbols is not None:
                symbols[t] = got.chosen[2]
        # the coder predicts a pass-0 vector from the block's in the slice before, where it moved, else 0
        pred = np.where(flags[t][..., None], vectors[t], 0).astype(np.int64)
    if coded is None:
        return MotionField(flags, vectors, bends=paths), final
    return MotionField(flags, vectors, option, codes, paths, symbols), final


def coder_predictions(flags: np.ndarray, vectors: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The vector predictions of a slice's blocks as the coder will form them once ``flags`` and
    ``vectors`` (H', W') of its pass-0 blocks are known: a pass-1 block's is the median of its
    predicted pass-0 neighbours, where it has one; every other block keeps ``pred``."""
    even, odd = checkerboard(*flags.shape)
    return np.where(odd[..., None], neighbour_predictions(vectors, flags & even, pred), pred)


def decide_twice(args: tuple, pred: np.ndarray, residual: Residual | None, coded: MotionResidual | None,
                 bends: bool, effort: Effort, real: int | None) -> SliceDecision:
    """One slice's decisions (``args``: :func:`decide_slice`'s first seven) as ``effort`` asks: the first with the
    coder's pass-0 predictions ``pred``, and the second (:attr:`Effort.second`) with its own."""
    source, recon, before, rate, lam, search, block = args
    planes = search_planes(before, block[0], search)
    if not effort.second:
        return decide_slice(*args, pred, residual, coded, planes=planes, bends=bends, real=real)
    if coded is None or coded.coder is None:    # each block once: every decision stands, all search the bent paths
        return decide_in_two(*args, pred, residual, coded, planes, bends, real)
    # the conditional coders (the dearest option) only in the decision that stands, the second, of the whole slice:
    # of the first only the search and the pass-0 blocks' decisions (the coder's predictions) are read
    vec = search_slice(source, before, lam, search, block, pred, None, planes, real)
    got = decide_blocks(source, recon, before, rate, lam, block, vec, pred, planes, residual,
                        dataclasses.replace(coded, coder=None), bends and effort.bends_first, real,
                        ids=np.flatnonzero(checkerboard(*rate.shape)[0]))
    again = coder_predictions(got.flags, got.vectors, pred)
    return decide_slice(*args, again, residual, coded, start=vec, planes=planes, bends=bends, real=real)


def decide_in_two(source: np.ndarray, recon: np.ndarray, before: np.ndarray, rate: np.ndarray, lam, search: int,
                  block: tuple[int, int, int], pred: np.ndarray, residual: Residual | None,
                  coded: MotionResidual | None, planes, bends: bool, real: int | None) -> SliceDecision:
    """A slice decided twice without the conditional coders (:func:`decide_slice`'s arguments): the decision the
    second of two whole-slice decisions makes, each block decided once (the pass-0 blocks moved by the second
    search twice)."""
    even, odd = checkerboard(*rate.shape)
    common = source, recon, before, rate, lam, block
    vec = search_slice(source, before, lam, search, block, pred, None, planes, real)
    got = decide_blocks(*common, vec, pred, planes, residual, coded, bends, real, ids=np.flatnonzero(even))
    again = coder_predictions(got.flags, got.vectors, pred)        # (a pass-0 block's prediction stays)
    redo = odd
    if (again != pred).any():                    # searched again from where it ended, as a second decision is
        moved = search_slice(source, before, lam, search, block, again, vec, planes, real)
        redo, vec, pred = odd | (moved != vec).any(-1), moved, again
    return decide_blocks(*common, vec, pred, planes, residual, coded, bends, real, ids=np.flatnonzero(redo), into=got)
