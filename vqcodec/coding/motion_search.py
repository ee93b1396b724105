"""The encoder's motion decisions: for every block of every slice, in decode order, keep the network's
reconstruction or predict the block from the previous decoded frame (:mod:`vqcodec.coding.motion`),
whichever costs less in ``D + lambda * R``.

* Search: per block, the vector whose prediction of the slice's frames (frame ``j`` moved by ``j + 1``
  vectors from the decoded frame before the slice) is closest to the source, by SAD plus
  :data:`VECTOR_COST_SCALE` x sqrt(lambda) x the vector's estimated bits as a difference from the
  vector the coder will predict it by (so vectors stay coherent): an integer full search within
  ``search`` pixels per frame (ties to the shorter vector), refined to half and then quarter pixels,
  on the reference interpolated once at every quarter-pixel phase. A slice is decided twice: the coder
  predicts a pass-1 block's vector from its predicted pass-0 neighbours (:mod:`vqcodec.coding.motion`),
  known only once those are decided; the second search refines the first one's vectors.
* Decision: ``D`` is the block's squared error over its frames (predicted as the decoder predicts it),
  ``R`` the bits of the network's codes of the position (as the copy decisions priced them) against
  the motion layer's flag and vector. A predicted block's latent codes are copied from the slice
  before (nearly free): the saving. Decisions use floats; only the encoder makes them.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from vqcodec.codes import MotionField
from vqcodec.coding.motion import (MAX_BEND, MAX_VECTOR, SUBPEL, MotionResidual, block_view, displacements,
                                   predict_slice)
from vqcodec.coding import sad_kernels
from vqcodec.coding.bent_pricing import BentPricing
from vqcodec.coding.block_subsets import BlockSubset
from vqcodec.coding.side_thread import SIDE_THREAD_BLOCKS, side_pool
from vqcodec.coding.conditional_coder import choose_conditional
from vqcodec.coding.motion_residual import slice_residuals

#: One unit of latent distortion in 8-bit pixel SSE: the linear path's latent is an orthonormal
#: projection of the pixel block scaled to [-1, 1] (docs/DESIGN.md, "Copy mode").
PIXEL_SSE_PER_LATENT = 127.5 ** 2
#: Estimated bits of a motion block's flag (its vector's are :func:`vector_bits`).
FLAG_BITS = 1.0
#: The search's price of a vector bit in SAD per sqrt(lambda): twice x264's (docs/DESIGN.md, "Motion").
VECTOR_COST_SCALE = 2.0
#: Estimated bits of a bent block's flag beyond a straight one's (version 7).
BEND_FLAG_BITS = 1.0
#: How far (whole pixels, each way) a bent path's frame is searched, on every second pixel, around the
#: line through the frames before (docs/DESIGN.md, "Bent paths": 6 gained 0.3% for twice the work).
BEND_SEARCH = 4


def block_sse(a: np.ndarray, b: np.ndarray, block: tuple[int, int], frames: int | None = None) -> np.ndarray:
    """Squared error per block over frames: (T, H, W, 3) pairs -> int64 (H', W'); over the first ``frames`` only
    where given (a slice partly of a GOP's padding, which no decoder shows: format 13.0's encoder)."""
    if frames is not None:
        a, b = a[:frames], b[:frames]
    small = a.dtype == b.dtype == np.uint8                 # then every square fits int32 (half the memory)
    d = np.subtract(a, b, dtype=np.int32 if small else np.int64)
    (bh, bw), (t, h, w, c) = block, d.shape
    return np.square(d, out=d).reshape(t, h // bh, bh, w // bw, bw, c).sum(axis=(0, 2, 4, 5), dtype=np.int64)


def vector_bits(v: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Estimated bits of vectors ``v`` (..., 2) coded as differences from ``pred``: an exp-Golomb-like
    length per component (what an adaptive table of small differences approaches)."""
    d = np.abs(np.asarray(v, np.int64) - pred)
    return (2 * np.log2(d + 1) + 1).sum(-1)


class PhasePlanes:
    """``ref`` interpolated at the 16 quarter-pixel phases, edge-padded by ``reach`` pixels: a block
    moved by any vector within reach is then a slice of one plane (the same integers
    :func:`~vqcodec.coding.motion.predict_blocks` computes, which the tests check)."""

    def __init__(self, ref: np.ndarray, reach: int) -> None:
        self.reach, (self.h, self.w) = reach, ref.shape[:2]
        pad = np.pad(ref.astype(np.int16), ((reach, reach + 1), (reach, reach + 1), (0, 0)), mode="edge")
        # the bilinear mix across, then down (the same integers; every sum at most 16 x 255 + 8, so int16,
        # which also halves what a gather moves); plane fy * SUBPEL + fx
        across = [(SUBPEL - fx) * pad[:, :-1] + fx * pad[:, 1:] for fx in range(SUBPEL)]
        self.planes = np.stack([((SUBPEL - fy) * a[:-1] + fy * a[1:] + 8) >> 4 for fy in range(SUBPEL) for a in across])
        self._windows: dict[int, np.ndarray] = {}
        self.kernels = sad_kernels.for_frame(self.h, self.w)     # compiled SADs for large frames (the same sums)

    def frame(self, vy: int, vx: int) -> np.ndarray:
        """The whole frame moved by one vector (quarter pixels, within reach)."""
        plane = self.planes[(vy & 3) * SUBPEL + (vx & 3)]
        y, x = self.reach + (vy >> 2), self.reach + (vx >> 2)
        return plane[y:y + self.h, x:x + self.w]

    def rows(self, vectors: np.ndarray, block: tuple[int, int], first: int = 0) -> np.ndarray:
        """Every block (H', W') moved by its own vector (..., H', W', 2), within reach (the searches keep
        them so) -> int16 (..., H', W', bh, bw x 3): each of a block's rows is one run of bw pixels of a
        plane's row, gathered by one index. (``first``: the vectors are those of block rows ``first ..``.)"""
        bh, bw = block
        hb, wb = vectors.shape[-3:-1]
        p, h2, w2, c = self.planes.shape
        if bw not in self._windows:   # every run of bw pixels in the planes: a view, no copy
            self._windows[bw] = np.lib.stride_tricks.sliding_window_view(self.planes.reshape(-1), bw * c)
        v = vectors.astype(np.int64)
        top = (((v[..., 0] & 3) * SUBPEL + (v[..., 1] & 3)) * h2 + self.reach + np.arange(first, first + hb)[:, None] * bh
               + (v[..., 0] >> 2))
        left = (self.reach + np.arange(wb) * bw + (v[..., 1] >> 2)) * c
        return self._windows[bw][(top * (w2 * c) + left)[..., None] + np.arange(bh) * (w2 * c)]

    def blocks(self, vectors: np.ndarray, block: tuple[int, int]) -> np.ndarray:
        """Every block (H', W') moved by its own vector (..., H', W', 2) -> int16 (..., H', W', bh, bw, 3)."""
        out = self.rows(vectors, block)
        return out.reshape(*out.shape[:-1], block[1], self.planes.shape[-1])

    def sads(self, vectors: np.ndarray, block: tuple[int, int], targets: np.ndarray) -> np.ndarray:
        """Each moved block's sum of absolute differences from ``targets`` (H', W', bh, bw x 3) int16 ->
        int64 (..., H', W'), a few block rows at a time (in cache)."""
        if self.kernels is not None:
            return sad_kernels.moved_sads(self.kernels, self.planes, vectors, targets, self.reach, block)
        hb = vectors.shape[-3]
        step = max(1, SEARCH_BATCH_PIXELS // (vectors[..., 0].size // hb * targets[0, 0].size))
        out = np.empty(vectors.shape[:-1], np.int64)
        for first in range(0, hb, step):
            d = self.rows(vectors[..., first:first + step, :, :], block, first) - targets[first:first + step]
            out[..., first:first + step, :] = np.abs(d, out=d).sum(axis=(-2, -1))
        return out


def block_rows(frame: np.ndarray, block: tuple[int, int]) -> np.ndarray:
    """A frame (H, W, 3) cut into blocks as :meth:`PhasePlanes.rows` gives them: int16 (H', W', bh, bw x 3)."""
    (bh, bw), (h, w, c) = block, frame.shape
    return frame.astype(np.int16).reshape(h // bh, bh, w // bw, bw * c).transpose(0, 2, 1, 3)


def search_planes(ref: np.ndarray, frames: int, search: int) -> PhasePlanes:
    """``ref``'s phase planes reaching as far as a search of ``search`` pixels per frame over a slice
    of ``frames`` frames goes (made once per slice, shared by its searches)."""
    return PhasePlanes(ref, frames * (int(min(search, MAX_VECTOR // SUBPEL)) + 1))


def search_vectors(targets: np.ndarray, ref: np.ndarray, block: tuple[int, int], search: int,
                   pred: np.ndarray | None = None, mu: float = 0.0, start: np.ndarray | None = None,
                   planes: PhasePlanes | None = None) -> np.ndarray:
    """Per block of the slice ``targets`` (bt, H, W, 3): the quarter-pixel vector (H', W', 2) whose
    prediction from ``ref`` (frame ``j`` moved by ``j + 1`` vectors) costs least: sum of absolute
    differences over the slice + ``mu`` x the vector's estimated bits as a difference from ``pred``
    (H', W', 2), so that vectors stay coherent where the match is as good.

    Candidates are priced in batches (one numpy pass per batch instead of per candidate); the choice
    is the first candidate of least cost in the search order, exactly as one by one (same integer
    SADs, same float costs). ``start`` (H', W', 2), vectors found before against another ``pred``:
    instead of the integer full search, the better of each block's ``start`` and its ``pred``
    (a search again once the predictions changed, a tenth of the work), then the same refinement.
    ``planes``: :func:`search_planes` of ``ref`` made before (else made here)."""
    (bh, bw), bt, (h, w) = block, targets.shape[0], ref.shape[:2]
    search = int(min(search, MAX_VECTOR // SUBPEL))
    planes = search_planes(ref, bt, search) if planes is None else planes
    pred = np.zeros((h // bh, w // bw, 2), np.int64) if pred is None else np.asarray(pred, np.int64)
    tb = [block_rows(targets[j], block) for j in range(bt)]

    def costs(cand: np.ndarray) -> np.ndarray:      # (N, H', W', 2) quarter-pixel candidates -> (N, H', W')
        sad = sum(planes.sads(cand * (j + 1), block, tb[j]) for j in range(bt))
        return sad + mu * vector_bits(cand, pred)

    # what the planes reach: the full search and its refinement, |v| <= search + 3/4 pixels per frame
    limit = min(MAX_VECTOR, search * SUBPEL + SUBPEL - 1)
    best = np.full((h // bh, w // bw), np.inf)
    vec = np.zeros((h // bh, w // bw, 2), np.int32)
    if start is not None:
        cand = np.clip(np.stack([np.asarray(start, np.int64), pred]), -limit, limit)
        vec, best = _first_least(vec, best, cand, costs(cand))
    else:       # the integer full search; edge padding = the prediction's clamping at the frame's edge
        steps = np.array(sorted(((dy, dx) for dy in range(-search, search + 1) for dx in range(-search, search + 1)),
                                key=lambda v: (abs(v[0]) + abs(v[1]), v)), np.int64) * SUBPEL
        whole = planes.planes[0]                       # phase (0, 0): the reference at whole pixels
        tgt16 = targets.astype(np.int16)
        fast = planes.kernels is not None and sad_kernels.full_search_fits(bt, bh)
        chunk = sad_kernels.FULL_SEARCH_BATCH if fast else max(1, SEARCH_BATCH_PIXELS // (h * w * 3))
        for first in range(0, len(steps), chunk):
            cand = steps[first:first + chunk]
            if fast:
                sad = sad_kernels.full_search_sads(planes.kernels, whole, tgt16, cand // SUBPEL, planes.reach, block)
            else:
                moved = [np.stack([whole[y:y + h, x:x + w] for y, x in planes.reach + cand * (j + 1) // SUBPEL])
                         for j in range(bt)]
                sad = sad_kernels.slice_sads(moved, tgt16, block)
            cost = sad + mu * vector_bits(cand[:, None, None, :], pred)
            vec, best = _first_least(vec, best, np.broadcast_to(cand[:, None, None, :], (*cost.shape, 2)), cost)
    # refined to half, then quarter pixels around the vector found (ties keep the centre)
    offsets = np.array([(oy, ox) for oy in (-1, 0, 1) for ox in (-1, 0, 1) if oy or ox], np.int64)
    for step in (SUBPEL // 2, SUBPEL // 4):
        cand = np.clip(vec[None].astype(np.int64) + offsets[:, None, None, :] * step, -limit, limit)
        vec, best = _first_least(vec, best, cand, costs(cand))
    return vec


#: How many pixel values one batch of the integer search compares at once: small enough (int16, 512 KiB)
#: to stay in cache; larger batches measured slower (fresh memory), smaller ones pay numpy per call.
SEARCH_BATCH_PIXELS = 1 << 18


def _first_least(vec: np.ndarray, best: np.ndarray, cand: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per block, the incumbent (``vec``, ``best``) or the first of the candidates ``cand`` (N, H', W', 2)
    of least ``cost`` (N, H', W') that is strictly cheaper: what trying them one by one keeps."""
    all_cost = np.concatenate([best[None], cost])
    k = np.argmin(all_cost, axis=0)                  # the first of the least: the incumbent on a tie
    take = k > 0
    out = vec.copy()
    pick = np.take_along_axis(cand, np.maximum(k - 1, 0)[None, ..., None], axis=0)[0]
    out[take] = pick[take]
    return out, np.take_along_axis(all_cost, k[None], axis=0)[0]


#: ``(source, frames) -> (frames, bits)``: a slice's frames with the enhancement layer the encoder would
#: add (without copies), and its estimated bits per block (H', W').
Residual = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class SliceDecision(NamedTuple):
    flags: np.ndarray           # (H', W') bool: the blocks predicted
    vectors: np.ndarray         # (H', W', 2) int32: their vectors (0 elsewhere)
    frames: np.ndarray          # the slice as the decoder will reconstruct it (its enhancement estimated)
    chosen: tuple | None        # with a motion residual: (option (H', W'), codes (H', W', S)[, coder symbols])
    searched: np.ndarray        # (H', W', 2): every block's vector as the search found it
    bends: np.ndarray | None = None     # with bent paths: (H', W', bt - 1, 2) int32 (0 where straight)


def decide_slice(source: np.ndarray, recon: np.ndarray, before: np.ndarray, rate: np.ndarray, lam: float,
                 search: int, block: tuple[int, int, int], pred: np.ndarray | None = None,
                 residual: Residual | None = None, coded: MotionResidual | None = None,
                 start: np.ndarray | None = None, planes: PhasePlanes | None = None,
                 bends: bool = False, real: int | None = None) -> SliceDecision:
    """One slice: ``source`` and the network's ``recon`` (bt, H, W, 3), ``before`` the decoded frame
    before the slice, ``rate`` (H', W') the bits of each position's codes. ``residual``, at an
    enhanced point: a predicted block is priced with the enhancement of what its prediction missed.
    ``coded``, with a motion residual (version 5): a predicted block is priced with its best residual
    option too. ``start``: the vectors an earlier search found against other predictions (see
    :func:`search_vectors`); ``planes``: :func:`search_planes` of ``before``, if made already.
    ``bends`` (version 7): a predicted block may instead follow a bent path (:func:`search_bends`). ``real``: only
    the slice's first ``real`` frames count in the distortion (the rest is padding)."""
    planes = search_planes(before, block[0], search) if planes is None else planes
    vec = search_slice(source, before, lam, search, block, pred, start, planes, real)
    return decide_blocks(source, recon, before, rate, lam, block, vec, pred, planes, residual, coded, bends, real)


def search_slice(source: np.ndarray, before: np.ndarray, lam, search: int, block: tuple[int, int, int],
                 pred: np.ndarray | None, start: np.ndarray | None, planes: PhasePlanes,
                 real: int | None) -> np.ndarray:
    """:func:`decide_slice`'s search: every block's vector (H', W', 2) against its prediction ``pred``."""
    mu = VECTOR_COST_SCALE * np.sqrt(lam)     # SAD per bit: x264's motion lambda is the root of its mode lambda
    seen = source if real is None else source[:real]      # what the searches match: the slice's own frames
    return search_vectors(seen, before, block[1:], search, pred, mu, start, planes)


def decide_blocks(source: np.ndarray, recon: np.ndarray, before: np.ndarray, rate: np.ndarray, lam,
                  block: tuple[int, int, int], vec: np.ndarray, pred: np.ndarray | None, planes: PhasePlanes,
                  residual: Residual | None = None, coded: MotionResidual | None = None, bends: bool = False,
                  real: int | None = None, ids: np.ndarray | None = None,
                  into: SliceDecision | None = None) -> SliceDecision:
    """:func:`decide_slice`'s decisions once its vectors ``vec`` (H', W', 2) are searched against ``pred``: every
    block's, or, without the conditional coders (a block's decision then reads that block alone), only blocks ``ids``
    (row-major), merged into ``into``, the slice's other blocks decided before (None: undecided, as the network makes
    them): :mod:`vqcodec.coding.block_subsets`."""
    mu = VECTOR_COST_SCALE * np.sqrt(lam)
    vpred = np.zeros((*rate.shape, 2), np.int64) if pred is None else np.asarray(pred, np.int64)
    common = residual, coded, bends, real
    if ids is None:
        return _decide(source, recon, before, rate, lam, block, vec, vpred, mu, planes, *common)
    if coded is not None and coded.coder is not None:
        raise ValueError("the conditional coders' prices read a block's neighbours: a slice decides whole")
    sub = BlockSubset(ids, rate.shape, block)
    if into is None:
        grid = rate.shape
        into = SliceDecision(np.zeros(grid, bool), np.zeros((*grid, 2), np.int32), recon, None, vec,
                             np.zeros((*grid, block[0] - 1, 2), np.int32) if bends else None)
    if not len(ids):
        return sub.merged(into, None, vec)
    if block[0] * np.abs(vec).max(initial=0) > (planes.reach - 1) * SUBPEL:   # predicted at the grid's places
        return sub.merged(into, sub.of(_decide(source, recon, before, rate, lam, block, vec, vpred, mu, planes,
                                               *common)), vec)
    part = _decide(sub.frames(source), sub.frames(recon), before, *map(sub.values, (rate, lam)), block,
                   *map(sub.values, (vec, vpred, mu)), sub.planes(planes), *common)
    return sub.merged(into, part, vec)


def _decide(source: np.ndarray, recon: np.ndarray, before: np.ndarray, rate: np.ndarray, lam,
            block: tuple[int, int, int], vec: np.ndarray, vpred: np.ndarray, mu, planes, residual: Residual | None,
            coded: MotionResidual | None, bends: bool, real: int | None) -> SliceDecision:
    """:func:`decide_blocks` of every block of ``source`` (a slice, or a row of blocks gathered from one)."""
    bt, bh, bw = block
    seen = source if real is None else source[:real]

    def bent_search():                                # the same block on its own path
        bent_vec, path = search_bends(seen, planes, vec, vpred, mu, block)
        return bent_vec, path, _predicted(recon, before, bent_vec, path, block, planes)

    # the bent paths are searched and priced beside the straight ones, on another core where a slice is
    # large enough for numpy to leave the interpreter lock most of the time (the same numbers either way)
    if bends:
        side = side_pool() if rate.size >= SIDE_THREAD_BLOCKS else None
        bent_job = BentPricing(bent_search, lambda s, t, la: _priced(s, t, la, block, residual, coded, real), source,
                               vec, lam, block, per_block=coded is None or coded.coder is None, side=side)
    trial = _predicted(recon, before, vec, None, block, planes)
    trial, d_mc, extra, chosen = _priced(source, trial, lam, block, residual, coded, real)
    extra = FLAG_BITS + vector_bits(vec, vpred) + extra     # (the sum in this order: the same floats as before)
    path, chosen_vec = None, vec
    if bends:                                         # ... kept where that costs less
        bent_vec, path, bent_trial, d_bent, bent_extra, bent_chosen = bent_job.result()
        bent_extra = (FLAG_BITS + vector_bits(bent_vec, vpred) + bent_extra
                      + BEND_FLAG_BITS * path.any(axis=(-2, -1)) + bend_bits(path))
        bent = d_bent + lam * bent_extra < d_mc + lam * extra
        trial = np.where(_pixels(bent, (bh, bw)), bent_trial, trial)
        d_mc, extra = np.where(bent, d_bent, d_mc), np.where(bent, bent_extra, extra)
        if chosen is not None and bent_chosen is not None:     # (None: no block priced bent)
            chosen = tuple(np.where(bent if c.ndim == 2 else bent[..., None], b, c) for c, b in zip(chosen, bent_chosen))
        path = np.where(bent[..., None, None], path, 0).astype(np.int32)
        chosen_vec = np.where(bent[..., None], bent_vec, vec)
    d_net = block_sse(recon, source, (bh, bw), real).astype(np.float64)
    flags = d_mc + lam * extra < d_net + lam * rate
    vectors = np.where(flags[..., None], chosen_vec, 0).astype(np.int32)
    if chosen is not None:
        chosen = tuple(np.where(flags if c.ndim == 2 else flags[..., None], c, 0).astype(np.int32) for c in chosen)
    if path is not None:
        path = np.where(flags[..., None, None], path, 0).astype(np.int32)
    return SliceDecision(flags, vectors, np.where(_pixels(flags, (bh, bw)), trial, recon), chosen, vec, path)


def _predicted(recon: np.ndarray, before: np.ndarray, vec: np.ndarray, path: np.ndarray | None,
               block: tuple[int, int, int], planes: PhasePlanes) -> np.ndarray:
    """The slice with every block predicted as the decoder would (a block's prediction reads only the
    frame before the slice): read from ``planes`` (``before``'s, the same integers), or, for a path
    beyond their reach, as the decoder computes it."""
    bt, bh, bw = block
    trial = np.array(recon, copy=True)
    disp = displacements(vec, path, bt)
    if np.abs(disp).max(initial=0) > (planes.reach - 1) * SUBPEL:
        if not isinstance(planes, PhasePlanes):     # a row of blocks (decide_blocks keeps its paths within reach)
            raise ValueError("a path beyond the planes' reach in a row of gathered blocks")
        every = MotionField(np.ones((1, *vec.shape[:2]), bool), vec[None], bends=None if path is None else path[None])
        predict_slice(trial, every, 0, before, block)
        return trial
    for j in range(bt):
        block_view(trial[j], (bh, bw))[...] = planes.blocks(disp[j], (bh, bw))
    return trial


def _priced(source: np.ndarray, trial: np.ndarray, lam: float, block: tuple[int, int, int],
            residual: Residual | None, coded: MotionResidual | None, real: int | None = None):
    """Every block of a predicted slice with what the encoder adds to it: the motion residual's best
    option (version 5), then the enhancement at an enhanced point. Returns (the slice, each block's
    SSE, its extra bits, the residual's (option, codes) or None)."""
    bh, bw = block[1:]
    d_mc = block_sse(trial, source, (bh, bw), real).astype(np.float64)
    extra, chosen = 0.0, None
    if coded is not None:                             # the motion residual, then the enhancement on top
        plain = trial
        option, codes, trial, d_mc, extra = slice_residuals(coded, source, trial, d_mc, lam, real)
        chosen = option, codes
        if coded.coder is not None:                   # version 8: or a conditional coder
            option, symbols, trial, d_mc, extra = choose_conditional(
                coded.coder, source, plain, coded.first_coder, option, trial, d_mc, extra, lam, *coded.pricing, real)
            chosen = option, np.where((option >= coded.first_coder)[..., None], 0, codes), symbols
    if residual is not None:                          # the prediction alone, or with its residual coded
        enhanced, bits = residual(source, trial)
        d_res = block_sse(enhanced, source, (bh, bw), real).astype(np.float64)
        use = d_res + lam * bits < d_mc
        d_mc, extra = np.where(use, d_res, d_mc), extra + np.where(use, bits, 0.0)
        trial = np.where(_pixels(use, (bh, bw)), enhanced, trial)
    return trial, d_mc, extra + np.zeros_like(d_mc), chosen


def bend_bits(path: np.ndarray) -> np.ndarray:
    """Estimated bits (H', W') of each block's bends (H', W', bt - 1, 2), as :func:`vector_bits` prices a difference."""
    return vector_bits(path, 0).sum(-1)


def search_bends(targets: np.ndarray, planes: PhasePlanes, vec: np.ndarray, pred: np.ndarray, mu: float,
                 block: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per block, a bent path through the slice's frames (``targets``), frame by frame in order: each
    frame's displacement searched alone, on a grid of every second whole pixel within
    :data:`BEND_SEARCH` pixels of the straight line through the two frames before (frame 0: of the
    block's straight vector ``vec``) and at the straight path's ``(j + 1) x vec``, then refined to whole,
    half and quarter pixels; cost = SAD + ``mu`` x the bits of its difference from that line (frame 0:
    from the vector's prediction ``pred``). Ties keep the line; frames beyond ``targets`` (a slice's padding) keep
    it too. Returns (frame 0's vector (H', W', 2), the bends (H', W', bt - 1, 2))."""
    bt, bh, bw = block
    hb, wb = vec.shape[:2]
    lim = (planes.reach - 1) * SUBPEL            # what the planes reach (the decoder clamps beyond)
    grid = np.array(sorted(((oy, ox) for oy in range(-BEND_SEARCH, BEND_SEARCH + 1, 2)
                            for ox in range(-BEND_SEARCH, BEND_SEARCH + 1, 2) if oy or ox),
                           key=lambda o: (abs(o[0]) + abs(o[1]), o)), np.int64) * SUBPEL
    ring = np.array([(oy, ox) for oy in (-1, 0, 1) for ox in (-1, 0, 1) if oy or ox], np.int64)
    v = vec.astype(np.int64)
    disp: list[np.ndarray] = []
    for j in range(bt):
        line = v if j == 0 else 2 * disp[-1] - (disp[-2] if j > 1 else 0)
        priced = np.asarray(pred, np.int64) if j == 0 else line
        reach = min(lim, (j + 1) * MAX_VECTOR)
        low, high = (-reach, reach) if j == 0 else (line - MAX_BEND, line + MAX_BEND)
        if j >= len(targets):
            disp.append(np.clip(line, -reach, reach))
            continue
        tb = block_rows(targets[j], (bh, bw))

        def cost(c: np.ndarray) -> np.ndarray:
            return planes.sads(c, (bh, bw), tb) + mu * vector_bits(c, priced)

        def legal(c: np.ndarray) -> np.ndarray:      # within the bend's range and the frame's reach
            return np.clip(np.clip(c, low, high), -reach, reach)

        cur = legal(line).astype(np.int32)
        cur, best = _first_least(cur, np.full((hb, wb), np.inf), cur[None].astype(np.int64),
                                 cost(cur[None].astype(np.int64)))
        for cand in (legal(line[None] + grid[:, None, None, :]), legal(v * (j + 1))[None]):
            cur, best = _first_least(cur, best, cand, cost(cand))
        for step in (SUBPEL, SUBPEL // 2, SUBPEL // 4):
            cand = legal(cur[None].astype(np.int64) + ring[:, None, None, :] * step)
            cur, best = _first_least(cur, best, cand, cost(cand))
        disp.append(cur.astype(np.int64))
    path = np.stack([disp[j] - (2 * disp[j - 1] - (disp[j - 2] if j > 1 else 0)) for j in range(1, bt)], axis=-2)
    # a line that left the range may admit no legal next frame: such a block keeps its straight path
    ok = (np.abs(path) <= MAX_BEND).all(axis=(-2, -1)) & (np.abs(disp[0]) <= MAX_VECTOR).all(-1)
    return (np.where(ok[..., None], disp[0], v).astype(np.int32),
            np.where(ok[..., None, None], path, 0).astype(np.int32))


def _pixels(mask: np.ndarray, block: tuple[int, int]) -> np.ndarray:
    """A block mask (H', W') as a pixel mask (1, H, W, 1) for frames (T, H, W, 3)."""
    return np.repeat(np.repeat(mask, block[0], 0), block[1], 1)[None, :, :, None]


def decide_predicted_enhancement(tables, basis, source: np.ndarray, frames: np.ndarray, predicted: np.ndarray,
                                 before: np.ndarray | None, prev_flags: np.ndarray | None, flag_model, lam: float,
                                 real: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One slice of the enhancement layer of a GOP with a motion layer: ``frames`` (bt, H, W, 3) the
    slice as predicted, ``predicted`` (H', W') its motion blocks, ``before`` (K, H', W') the symbols
    of the slice before (None: no copies). Per block, in ``D + lambda * R`` (D in pixels), code its
    own symbols or copy; a copied motion block keeps its prediction as it is (no enhancement), any
    other copied block repeats the symbols before. Returns the symbols (K, H', W') and copy flags. ``real``: the
    distortion over the slice's first ``real`` frames only (the rest is padding)."""
    from vqcodec.coding.enhancement import quantise      # (enhancement imports nothing of motion)
    from vqcodec.coding.rdo import _Recorder

    block = basis.block[1:]
    nat = quantise(basis.coefficients(source, frames), tables.step_num, tables.limit)[:, 0]
    h, w = predicted.shape
    if before is None or flag_model is None:
        return nat, np.zeros((h, w), bool)
    d_code = block_sse(basis.apply(frames, nat[:, None], tables.step), source, block, real)
    d_copy = np.where(predicted, block_sse(frames, source, block, real),
                      block_sse(basis.apply(frames, before[:, None], tables.step), source, block, real))
    r_code = tables.symbol_bits(before, nat)
    f_code, f_copy = flag_model.estimate_bits(prev_flags, (h, w))
    copy = d_copy + lam * f_copy < d_code + lam * (r_code + f_code)
    copied = flag_model.code_slice(_Recorder(), copy, prev_flags, (h, w))
    return np.where(copied[None], before, nat), copied
