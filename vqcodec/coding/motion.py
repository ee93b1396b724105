"""The motion layer: blocks of the decoded picture predicted from the previous decoded frame, moved.

A *block* is one bottom-grid position: ``bt`` frames x ``bh`` x ``bw`` pixels (4 x 8 x 8 for the
shipped model), the pixels one bottom latent position codes. Per block of each latent slice the
encoder chooses (:mod:`vqcodec.coding.motion_search`) between the network's reconstruction and a
*motion-compensated prediction*: frame ``j`` of the block is the decoded frame before the slice
displaced by ``j + 1`` times the block's vector ``(dy, dx)``, in quarter pixels per frame (constant
motion over the slice's 4 frames, a quarter second at 16 fps), or in a version-7 file along a *bent
path*, one bend per frame after the first (:func:`displacements`). A flagged block's
latent codes are copies of the slice before (nearly free), so it costs its flag and its vector.

Everything the decoder computes here is integer arithmetic on uint8 frames: the sub-pixel
interpolation is bilinear on a quarter-pixel grid, ``(sum of weight * pixel + 8) >> 4`` with integer
weights summing to 16, and positions outside the frame clamp to its edge. So the prediction from a
given frame is the same on every machine. (The frames it predicts from include the network's
reconstruction, whose float convolutions may round a pixel differently on another CPU: such a
difference is carried along a chain of predicted blocks until a block the network reconstructs or
a refresh GOP; docs/DESIGN.md, "Motion", has the measured drift.)

Coding (in a GOP's payload after every other layer; SPEC.md, "Motion layer"): per slice, the flags
of the positions whose bottom codes are copies (a predicted block's always are; the others cannot be
predicted and have no flag) with the copy decisions' adaptive checkerboard model (:class:`~vqcodec.entropy.copy_flags.CopyFlagModel`,
context = the previous slice's flags), then the vectors of the flagged blocks in two checkerboard
passes, each component as its difference from a prediction (pass 0: the block's vector in the slice
before if it was flagged there, else 0; pass 1: the median of the flagged 4-neighbours of pass 0,
else as pass 0) under an adaptive integer table (:class:`VectorModel`); in a version-7 file then
whether each flagged block's path bends and the bends of those that do (:class:`BendModel`); in a
version-5 (or 6, 7) file then the residual of the flagged blocks (:mod:`vqcodec.coding.motion_residual`). Slice 0 of a refresh GOP has
nothing to predict from and carries no motion layer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from vqcodec.codes import MotionField
from vqcodec.coding.conditional_coder import ConditionalCoder, apply_conditional
from vqcodec.coding.effort import PRICED_CODERS
from vqcodec.coding.motion_residual import (RESIDUAL_LABEL, ResidualBasis, ResidualCoder,
                                            ResidualSyntax, add_residual)
from vqcodec.entropy.copy_flags import CopyFlagModel, LabelledChannel, checkerboard, median_of_neighbours
from vqcodec.entropy.rans import EntropyError, freqs_from_counts

MOTION_LABEL = "motion"                  # the flags' bit-report label and the chunk's count of flagged blocks
VECTOR_LABEL = "motion.vectors"          # the vectors' bit-report label
BEND_LABEL = "motion.bends"              # the bent paths' bit-report label (flags and bends, version 7)
SUBPEL = 4                               # vectors are in quarter pixels
MAX_VECTOR = 8 * SUBPEL                  # |dy|, |dx| <= 8 pixels per frame
MAX_DIFF = 2 * MAX_VECTOR                # a difference from a prediction within the range
DIFF_SYMBOLS = 2 * MAX_DIFF + 1
COUNT_STEP = 8                           # what one coded difference adds to its count
COUNT_LIMIT = 1 << 12                    # vector counts are halved past this: recent slices weigh more
MAX_BEND = MAX_VECTOR                    # |bend| <= 8 pixels per component
BEND_SYMBOLS = 2 * MAX_BEND + 1


@dataclass(frozen=True)
class MotionResidual:
    """What a version-5 file's motion residual needs: its options (header key 18) and the model's basis;
    in a version-8 file also the conditional coders (header key 20), options ``len(options) + 1 ..``."""

    options: tuple[tuple[int, int], ...]
    basis: ResidualBasis
    coder: ConditionalCoder | None = None
    intra: bool = False      # version 9: the coders refine a refresh GOP's first slice's blocks too
    dead_zones: tuple[float, ...] = (0.0,)   # the encoder's: the roundings of the coders' symbols it prices
    priced_coders: int = PRICED_CODERS       # ... and how many coders it prices

    @property
    def pricing(self) -> tuple[tuple[float, ...], int]:
        """The encoder's (dead zones, coders priced): what ``choose_conditional`` and ``choose_intra`` take."""
        return self.dead_zones, self.priced_coders

    @property
    def first_coder(self) -> int:
        """The option number of the first conditional coder."""
        return len(self.options) + 1

    @property
    def syntax(self):
        """What the payload walk codes the residual with: the options (5.x-7.x), or with the coders'
        tables (8.x)."""
        return self.options if self.coder is None else ResidualSyntax(self.options, self.coder.tables, self.intra)


# ------------------------------------------------------------------------------------------ prediction

def predict_blocks(ref: np.ndarray, vectors: np.ndarray, mask: np.ndarray, block: tuple[int, int]) -> np.ndarray:
    """The blocks ``mask`` (H', W') selects, predicted from ``ref`` uint8 (H, W, 3) moved by their
    ``vectors`` (H', W', 2) quarter pixels -> uint8 (n, bh, bw, 3), in row-major block order: each
    pixel the bilinear mix ``((4 - fy)((4 - fx) a + fx b) + fy((4 - fx) c + fx d) + 8) >> 4`` of the
    four whole pixels around it, positions beyond the frame clamped to its edge."""
    return predict_paths(ref, np.asarray(vectors)[None], mask, block)[:, 0]


def predict_paths(ref: np.ndarray, disp: np.ndarray, mask: np.ndarray, block: tuple[int, int]) -> np.ndarray:
    """:func:`predict_blocks` for several displacements of each block at once (a slice's frames):
    ``disp`` (F, H', W', 2) -> uint8 (n, F, bh, bw, 3)."""
    bh, bw = block
    h, w, c = ref.shape
    by, bx = np.nonzero(mask)
    if not len(by):
        return np.zeros((0, disp.shape[0], bh, bw, c), np.uint8)
    v = disp[:, by, bx].astype(np.int64)                         # (F, n, 2)
    # a block's pixels share one phase: its (bh + 1) x (bw + 1) whole pixels, read from the frame
    # edge-padded far enough for every block (padding = clamping), each row one window of a padded row
    p = int(np.abs(v).max()) // SUBPEL + 2
    ys, xs = np.clip(np.arange(-p, h + p + 1), 0, h - 1), np.clip(np.arange(-p, w + p + 1), 0, w - 1)
    rows = ref[ys][:, xs].reshape(len(ys), -1)
    windows = np.lib.stride_tricks.sliding_window_view(rows, (bw + 1) * c, axis=1)
    y0 = by * bh + (v[..., 0] >> 2) + p
    x0 = bx * bw + (v[..., 1] >> 2) + p
    patch = windows[y0[..., None] + np.arange(bh + 1), (x0 * c)[..., None]].reshape(*y0.shape, bh + 1, bw + 1, c)
    patch = patch.astype(np.int16)            # every sum below is at most 16 x 255 + 8: int16 is exact
    fy = (v[..., 0] & 3).astype(np.int16)[..., None, None, None]
    fx = (v[..., 1] & 3).astype(np.int16)[..., None, None, None]
    across = (SUBPEL - fx) * patch[..., :-1, :] + fx * patch[..., 1:, :]
    acc = (SUBPEL - fy) * across[..., :-1, :, :] + fy * across[..., 1:, :, :]
    return ((acc + 8) >> 4).astype(np.uint8).swapaxes(0, 1)


def slice_real_frames(t: int, bt: int, frames: int | None) -> int | None:
    """How many of slice ``t``'s ``bt`` frames are its GOP's own where the GOP's ``frames`` end inside it, else None."""
    return frames - t * bt if frames is not None and t * bt < frames < (t + 1) * bt else None


def block_view(frame: np.ndarray, block: tuple[int, int]) -> np.ndarray:
    """A writable view (H', W', bh, bw, 3) of a frame (H, W, 3) cut into blocks."""
    bh, bw = block
    h, w, c = frame.shape
    return frame.reshape(h // bh, bh, w // bw, bw, c).transpose(0, 2, 1, 3, 4)


def displacements(vectors: np.ndarray, bends: np.ndarray | None, frames: int) -> np.ndarray:
    """Each frame's displacement from the frame before the slice, int64 (frames, H', W', 2) quarter
    pixels: ``d_0`` is the vector, ``d_j = 2 d_(j-1) - d_(j-2) + bend_j`` (``d_(-1) = 0``), the straight
    line through the two before plus the bend; without bends ``d_j = (j + 1) x vector``. Integers only."""
    v = np.asarray(vectors, np.int64)
    out = [v]
    for j in range(1, frames):
        d = 2 * out[-1] - (out[-2] if j > 1 else 0)
        out.append(d if bends is None else d + np.asarray(bends[..., j - 1, :], np.int64))
    return np.stack(out)


def check_displacements(disp: np.ndarray, mask: np.ndarray) -> None:
    """A flagged block's frame ``j`` may move at most ``(j + 1) x MAX_VECTOR`` per component (what a
    straight path reaches); anything beyond is damage."""
    reach = (np.arange(disp.shape[0]) + 1) * MAX_VECTOR
    beyond = (np.abs(disp).max(-1) > reach[:, None, None])[:, mask]
    if beyond.any():
        j = int(np.nonzero(beyond.any(axis=1))[0][0])
        raise EntropyError(f"motion layer: a bent path beyond {j + 1} x 8 pixels at frame {j} of its slice")


def predict_slice(frames: np.ndarray, field: MotionField, t: int, before: np.ndarray | None,
                  block: tuple[int, int, int], residual: MotionResidual | None = None) -> None:
    """Replace the flagged blocks of slice ``t`` of ``frames`` (T, H, W, 3, in place) by their
    prediction: frame ``j`` of the slice is the frame before the slice (``before`` for the GOP's first
    slice) moved by ``j + 1`` times the block's vector, so no frame is interpolated from an
    interpolated one (with bends, version 7: by its :func:`displacements`); plus, with ``residual``
    (the file's options and the model's basis), each block's residual where the field gives it one; with
    conditional coders (version 8) then the blocks that take one, made from the slice as predicted."""
    bt, bh, bw = block
    mask = field.flags[t]
    if not mask.any():
        if t == 0 and before is None and residual is not None:      # version 9: a refresh GOP's first slice
            refine_intra(frames, field, block, residual)
        return
    ref = frames[t * bt - 1] if t else before
    if ref is None:
        raise EntropyError("motion layer: a block of the GOP's first slice is predicted, but there is no "
                           "frame before it")
    ref = np.array(ref, copy=True)            # the slice's frames may be written below
    disp = displacements(field.vectors[t], None if field.bends is None else field.bends[t], bt)
    if field.bends is not None:
        check_displacements(disp, mask)
    pred = np.ascontiguousarray(predict_paths(ref, disp, mask, (bh, bw)))
    if residual is not None and field.residual is not None and field.residual[t].any():
        opt = field.residual[t][mask]
        has = (opt > 0) & (opt < residual.first_coder)
        pred[has] = add_residual(pred[has], residual.basis.pixels(residual.options, opt[has],
                                                                  field.residual_codes[t][mask][has]))
    for j in range(bt):
        block_view(frames[t * bt + j], (bh, bw))[mask] = pred[:, j]
    if residual is not None and residual.coder is not None and field.coder_symbols is not None:
        opt = np.where(mask, field.residual[t], 0)
        if (opt >= residual.first_coder).any():      # the conditional coders, on the slice as predicted
            sl = slice(t * bt, (t + 1) * bt)
            frames[sl] = apply_conditional(residual.coder, frames[sl], opt, field.coder_symbols[t],
                                           residual.first_coder)


def refine_intra(frames: np.ndarray, field: MotionField, block: tuple[int, int, int], residual: MotionResidual) -> None:
    """Version 9: the blocks of a refresh GOP's first slice that took a conditional coder, made by it from the
    network's reconstruction of the slice (P) and their symbols, in ``frames`` (in place)."""
    if residual.coder is None or field.residual is None or field.coder_symbols is None:
        return
    opt = field.residual[0]
    if (opt >= residual.first_coder).any():
        bt = block[0]
        frames[:bt] = apply_conditional(residual.coder, frames[:bt], opt, field.coder_symbols[0], residual.first_coder)


def apply_motion(frames: np.ndarray, field: MotionField | None, before: np.ndarray | None,
                 block: tuple[int, int, int], residual: Callable[[np.ndarray, int], np.ndarray] | None = None,
                 motion_residual: MotionResidual | None = None) -> np.ndarray:
    """The GOP's frames (T, H, W, 3 uint8, padded size) with every flagged block predicted, slice by
    slice in order; ``before`` is the previous GOP's last decoded frame (None in a refresh GOP).
    ``motion_residual``: the file's residual options and the model's basis (version 5).
    ``residual(frames, t)``, at an enhanced point: slice ``t``'s frames with its enhancement layer
    added, applied to each slice after its prediction (so a predicted block's enhancement codes what
    the prediction missed, and the next slice predicts from the enhanced frame)."""
    if residual is None and (field is None or not (field.flags.any() or (
            field.residual is not None and field.residual[0].any()))):
        return frames
    out = np.array(frames, np.uint8, copy=True)
    bt = block[0]
    for t in range(out.shape[0] // bt):
        if field is not None:
            predict_slice(out, field, t, before, block, motion_residual)
        if residual is not None:
            out[t * bt:(t + 1) * bt] = residual(out[t * bt:(t + 1) * bt], t)
    return out


# ------------------------------------------------------------------------------------------ coding

def neighbour_predictions(vectors: np.ndarray, pass0: np.ndarray, base: np.ndarray) -> np.ndarray:
    """A pass-1 block's vector prediction: the median of its pass-0 predicted neighbours (``pass0``
    (H, W) bool, their ``vectors``), where it has one, else ``base`` (the slice before's vector)."""
    med, have = median_of_neighbours(vectors, pass0)
    return np.where(have[..., None], med, base)


class VectorModel:
    """Adaptive integer tables of the vector differences: one per pass and component (integer counts
    only, so both sides build the same tables everywhere)."""

    def __init__(self) -> None:
        d = np.abs(np.arange(DIFF_SYMBOLS) - MAX_DIFF)
        # half the differences are 0 and a quarter +-1 (moving training clips, docs/DESIGN.md "Motion")
        start = np.select([d == 0, d == 1, d == 2, d <= 4, d <= 8], [512, 140, 52, 16, 6], 1)
        self.counts = np.tile(start, (2, 2, 1)).astype(np.int64)

    def clone(self) -> "VectorModel":
        m = VectorModel()
        m.counts = self.counts.copy()
        return m

    def table(self, pass_: int, comp: int) -> np.ndarray:
        return freqs_from_counts(self.counts[pass_, comp])

    def update(self, pass_: int, comp: int, diffs: np.ndarray) -> None:
        self.counts[pass_, comp] += COUNT_STEP * np.bincount(diffs, minlength=DIFF_SYMBOLS)
        if self.counts[pass_, comp].sum() > COUNT_LIMIT:
            self.counts[pass_, comp] = (self.counts[pass_, comp] + 1) >> 1


class BendModel:
    """Adaptive integer tables of the bends (version 7): one per component over ``-MAX_BEND..MAX_BEND``,
    integer counts only; a bent block's flag has its own :class:`CopyFlagModel`."""

    def __init__(self) -> None:
        d = np.abs(np.arange(BEND_SYMBOLS) - MAX_BEND)
        start = np.select([d == 0, d == 1, d <= 2, d <= 4, d <= 8, d <= 16], [256, 160, 96, 48, 16, 4], 1)
        self.counts = np.tile(start, (2, 1)).astype(np.int64)
        self.flags = CopyFlagModel()

    def clone(self) -> "BendModel":
        m = BendModel()
        m.counts, m.flags = self.counts.copy(), self.flags.clone()
        return m

    def code_slice(self, channel, flags: np.ndarray, prev_bent: np.ndarray, frames: int,
                   given: np.ndarray | None) -> np.ndarray:
        """One slice's bends (H, W, frames - 1, 2) of the flagged blocks: per flagged block whether its
        path bends (context: the slice before's bent blocks), then the bends of the bent ones, frame
        by frame, each component under its table."""
        h, w = flags.shape
        out = np.zeros((h, w, frames - 1, 2), np.int32)
        bent = self.flags.code_slice(LabelledChannel(channel, BEND_LABEL),
                                     None if given is None else given.any(axis=(-2, -1)), prev_bent, (h, w),
                                     where=flags)
        n = int(bent.sum())
        if not n:
            return out
        for j in range(frames - 1):
            for comp in range(2):
                want = None
                if given is not None:
                    b = np.asarray(given[..., j, comp][bent], np.int64)
                    if np.abs(b).max() > MAX_BEND:
                        raise EntropyError(f"motion layer: a bend beyond +-{MAX_BEND} quarter pixels")
                    want = b + MAX_BEND
                sym = np.asarray(channel.code(freqs_from_counts(self.counts[comp]), n, want, BEND_LABEL), np.int64)
                out[..., j, comp][bent] = sym - MAX_BEND
                self.counts[comp] += COUNT_STEP * np.bincount(sym, minlength=BEND_SYMBOLS)
                if self.counts[comp].sum() > COUNT_LIMIT:
                    self.counts[comp] = (self.counts[comp] + 1) >> 1
        return out


class MotionCoder:
    """Codes one GOP's motion layer through a channel (``gop_coding``'s encode or decode channel):
    the encoder passes the field, the decoder ``None``; both get the field back."""

    def __init__(self, flags: CopyFlagModel | None = None, vectors: VectorModel | None = None,
                 residual: ResidualCoder | None = None, bends: BendModel | None = None) -> None:
        self.flags = flags.clone() if flags is not None else CopyFlagModel()
        self.vectors = vectors.clone() if vectors is not None else VectorModel()
        self.residual = residual.clone() if residual is not None else None
        self.bends = bends.clone() if bends is not None else None

    def code(self, channel, grid: tuple[int, int, int], given: MotionField | None,
             before: MotionField | None, copied: np.ndarray, frames: int = 4) -> MotionField:
        """``copied`` (T, H, W): the bottom latent's copy map; only copied positions can be predicted.
        ``frames``: a slice's frames (the bends' count is one less)."""
        t_, h, w = grid
        if given is not None and (given.flags & ~copied).any():
            raise EntropyError("motion layer: a predicted block whose bottom codes are not copies")
        flags = np.zeros(grid, bool)
        vectors = np.zeros((*grid, 2), np.int32)
        res = None
        if self.residual is None and given is not None and given.residual is not None and given.residual.any():
            raise EntropyError("motion layer: residuals given, but this file carries none (not a 5.x file)")
        syms = None
        if self.residual is not None:
            width = max(c for _, c in self.residual.options)
            res = np.zeros(grid, np.int32), np.zeros((*grid, width), np.int32)
            if self.residual.coder is not None:
                syms = np.zeros((*grid, self.residual.coder.channels), np.int32)
            if given is not None and given.residual is not None:
                unflagged = ~given.flags
                if self.residual.intra and before is None:
                    unflagged[0] = False          # version 9: code_intra checks the first slice's options
                if (given.residual[unflagged] != 0).any():
                    raise EntropyError("motion layer: a residual for a block that is not predicted")
        bends = None
        if self.bends is None and given is not None and given.bends is not None and given.bends.any():
            raise EntropyError("motion layer: bent paths given, but this file carries none (not a 7.x file)")
        if self.bends is not None:
            bends = np.zeros((*grid, frames - 1, 2), np.int32)
            if given is not None and given.bends is not None and given.bends[~given.flags].any():
                raise EntropyError("motion layer: a bent path for a block that is not predicted")
        for t in range(t_):
            if t == 0 and before is None:
                if given is not None and given.flags[0].any():
                    raise EntropyError("motion layer: a refresh GOP cannot predict its first slice")
                if self.residual is not None and self.residual.intra:      # version 9: its blocks' coders
                    want = (None, None) if given is None else (
                        res[0][0] if given.residual is None else given.residual[0],
                        syms[0] if given.coder_symbols is None else given.coder_symbols[0])
                    res[0][0], syms[0] = self.residual.code_intra(channel, (h, w), *want)
                continue
            prev_flags = flags[t - 1] if t else before.flags[-1]
            prev_vec = vectors[t - 1] if t else before.vectors[-1]
            flags[t] = self.flags.code_slice(LabelledChannel(channel, MOTION_LABEL),
                                             None if given is None else given.flags[t], prev_flags, (h, w),
                                             where=copied[t])
            vectors[t] = self._code_vectors(channel, flags[t], prev_flags, prev_vec,
                                            None if given is None else given.vectors[t])
            if bends is not None:
                prev_bends = bends[t - 1] if t else before.bends[-1] if before.bends is not None else None
                prev_bent = np.zeros((h, w), bool) if prev_bends is None else prev_bends.any(axis=(-2, -1))
                want = None
                if given is not None:
                    want = given.bends[t] if given.bends is not None else bends[t]
                bends[t] = self.bends.code_slice(channel, flags[t], prev_bent, frames, want)
                check_displacements(displacements(vectors[t], bends[t], frames), flags[t])
            if res is not None:
                want_opt = want_codes = want_syms = None
                if given is not None:
                    has = given.residual is not None
                    want_opt = given.residual[t] if has else np.zeros((h, w), np.int32)
                    want_codes = given.residual_codes[t] if has else res[1][t]
                    if syms is not None:
                        want_syms = given.coder_symbols[t] if given.coder_symbols is not None else syms[t]
                res[0][t], res[1][t], got_syms = self.residual.code_slice(channel, flags[t], want_opt, want_codes,
                                                                          want_syms)
                if syms is not None:
                    syms[t] = got_syms
        if res is None:
            return MotionField(flags, vectors, bends=bends)
        return MotionField(flags, vectors, res[0], res[1], bends, syms)

    def _code_vectors(self, channel, flags: np.ndarray, prev_flags: np.ndarray, prev_vec: np.ndarray,
                      given: np.ndarray | None) -> np.ndarray:
        out = np.zeros((*flags.shape, 2), np.int32)
        base = np.where(prev_flags[..., None], prev_vec, 0).astype(np.int64)
        for p, mask in enumerate(checkerboard(*flags.shape)):
            sel = mask & flags
            n = int(sel.sum())
            if not n:
                continue
            pred = neighbour_predictions(out, flags & ~mask, base) if p == 1 else base
            for comp in range(2):
                want = None
                if given is not None:
                    v = np.asarray(given[..., comp][sel], np.int64)
                    if np.abs(v).max() > MAX_VECTOR:
                        raise EntropyError(f"motion layer: a vector beyond +-{MAX_VECTOR} quarter pixels")
                    want = v - pred[..., comp][sel] + MAX_DIFF
                sym = np.asarray(channel.code(self.vectors.table(p, comp), n, want, VECTOR_LABEL), np.int64)
                v = sym - MAX_DIFF + pred[..., comp][sel]
                if np.abs(v).max() > MAX_VECTOR:
                    raise EntropyError(f"motion layer: a decoded vector beyond +-{MAX_VECTOR} quarter pixels")
                out[..., comp][sel] = v
                self.vectors.update(p, comp, sym)
        return out


def motion_arrays(fields: list[MotionField]) -> dict[str, np.ndarray]:
    """What ``vqv codes`` exports of a file's motion fields (one per GOP): ``motion_predicted`` (gops, T,
    H, W) bool and ``motion_vectors`` (gops, T, H, W, 2) int32; with a residual (version 5) also
    ``motion_residual`` (gops, T, H, W) int32, each block's option (0 = none), and
    ``motion_residual_codes`` (gops, T, H, W, S) int32, its codes stage by stage; with bent paths
    (version 7) ``motion_bends`` (gops, T, H, W, bt - 1, 2) int32 (:func:`displacements`); with
    conditional coders (version 8) ``motion_conditional_symbols`` (gops, T, H, W, channels) int32."""
    out = {"motion_predicted": np.stack([f.flags for f in fields]),
           "motion_vectors": np.stack([f.vectors for f in fields]).astype(np.int32)}
    if fields[0].residual is not None:
        out["motion_residual"] = np.stack([f.residual for f in fields]).astype(np.int32)
        out["motion_residual_codes"] = np.stack([f.residual_codes for f in fields]).astype(np.int32)
    if fields[0].bends is not None:
        out["motion_bends"] = np.stack([f.bends for f in fields]).astype(np.int32)
    if fields[0].coder_symbols is not None:
        out["motion_conditional_symbols"] = np.stack([f.coder_symbols for f in fields]).astype(np.int32)
    return out


def code_motion_layer(grid: tuple[int, int, int], channel, given: MotionField | None, reference, models: dict,
                      copied: np.ndarray, residual: tuple | None = None, codebook_size: int = 0,
                      bends: bool = False, frames: int = 4) -> MotionField:
    """The motion layer of a GOP on the bottom grid (flags only where ``copied``, the bottom latent's
    copy map; ``residual``: the file's residual options, version 5; ``bends``: a 7.x file's bent
    paths, ``frames`` the slice's frames); its models carry over to a predicted GOP (``reference``:
    the previous GOP's ``GopReference``, None in a refresh GOP)."""
    before = None if reference is None else reference.codes.motion
    if reference is not None and (before is None or before.grid[1:] != grid[1:]):
        raise EntropyError("motion layer: the reference GOP's motion layer does not fit this GOP")
    if given is not None and given.grid != grid:
        raise EntropyError(f"motion layer: a field of grid {given.grid} does not fit the layout's {grid}")
    keep = reference is not None
    old = reference.flag_models.get if keep else (lambda _: None)
    res_coder = None
    if residual:
        if isinstance(residual, ResidualSyntax):        # version 8: with the conditional coders
            res_coder = old(RESIDUAL_LABEL) or ResidualCoder(residual.options, codebook_size, coder=residual.coder,
                                                             intra=residual.intra)
        else:
            res_coder = old(RESIDUAL_LABEL) or ResidualCoder(residual, codebook_size)
    bend_coder = (old(BEND_LABEL) or BendModel()) if bends else None
    coder = MotionCoder(old(MOTION_LABEL), old(VECTOR_LABEL), res_coder, bend_coder)
    field = coder.code(channel, grid, given, before, copied, frames)
    models[MOTION_LABEL], models[VECTOR_LABEL] = coder.flags, coder.vectors
    if coder.residual is not None:
        models[RESIDUAL_LABEL] = coder.residual
    if coder.bends is not None:
        models[BEND_LABEL] = coder.bends
    return field
