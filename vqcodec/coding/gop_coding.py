"""One GOP's codes and copy decisions <-> one entropy-coded payload (no network, no files).

The payload of a GOP is one rANS stream holding, level by level (top, then bottom):

1. the level's copy decisions, slice by slice (:mod:`vqcodec.entropy.copy_flags`), when the file uses copy
   mode; slice 0 has decisions only when the GOP is predicted (its reference is the previous GOP's
   last slice);
2. then, stage by stage and slice by slice, the codes of the positions that are *not* copied,
   each slice under the tables the prior gives for it (:class:`~vqcodec.entropy.priors.SliceContext`);
3. at a scalar point, after every level, the bottom latent's integer symbols slice by slice, each
   slice under the tables its previous slice selects (:mod:`vqcodec.entropy.scalar_prior`);
4. at an enhanced point, last, the enhancement layer's coefficient symbols on the bottom grid, coded
   exactly as the scalar layer (its own copy decisions, then the symbols of the positions not
   copied) with its own tables (:mod:`vqcodec.coding.enhancement`).

Encoder and decoder walk exactly the same code (:func:`code_gop`), differing only in the
channel: the encoder's (:class:`EncodeChannel`) records the symbols it is given, the decoder's
(:class:`DecodeChannel`) pops them off the payload. So the two cannot drift apart, and any prior
works without a codec change.

A version-2 payload ends with :data:`END_CHECK`, two fixed bytes coded last: an rANS stream that
runs out decodes zeros without complaint, so a payload too short for its symbols (a truncated or
forged chunk that still has a valid CRC) is caught by the check instead of decoding into codes
no encoder wrote. Together with "nothing left over" the payload must be used up exactly. The
decoder also stops such a payload early, before it builds the tables of the next slice (which can
take a gigabyte for a learned prior at the largest coded size): see :class:`DecodeChannel`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from vqcodec.codes import CodeLevel, Codes, MotionField, ScalarCodes, lower_stream, parse_stream_name, stream_name
from vqcodec.coding.channels import END_CHECK, DecodeChannel, EncodeChannel  # noqa: F401  (re-exported)
from vqcodec.entropy.copy_flags import CopyFlagModel, LabelledChannel, checkerboard
from vqcodec.entropy.priors import Prior, SliceContext, extended_slices, grid_ratio
from vqcodec.entropy.rans import MAX_SYMBOLS, EntropyError
from vqcodec.coding.motion import BEND_LABEL, MOTION_LABEL, VECTOR_LABEL, VectorModel, code_motion_layer
from vqcodec.coding.motion_residual import CONDITIONAL_LABEL, INTRA_LABEL, RESIDUAL_LABEL
from vqcodec.entropy.scalar_prior import ScalarTables, neighbour_medians

COPY_LABEL = "copy."     # bit-report label prefix of a level's copy decisions ("copy.bottom")
SCALAR_LABEL = "scalar"  # the scalar layer's symbol count in a chunk, and its bit-report label
ENHANCEMENT_LABEL = "enhancement"   # the same for the enhancement layer


@dataclass(frozen=True)
class LevelLayout:
    """One level of a GOP at an operating point: its name, codebook, stages kept and grid."""

    name: str
    codebook_size: int
    stages: int
    grid: tuple[int, int, int]

    def streams(self) -> list[str]:
        return [stream_name(self.name, s) for s in range(self.stages)]


def layout_of(codes: Codes) -> list[LevelLayout]:
    """The layout a GOP's codes have (levels, codebooks, stages kept, grids)."""
    return [LevelLayout(lv.name, lv.codebook_size, lv.stages, lv.grid) for lv in codes.levels]


def label_level(label: str) -> str:
    """The level a bit-report label belongs to: ``"bottom.3"`` and ``"copy.bottom"`` -> ``"bottom"``;
    a scalar point's ``"scalar"`` and ``"copy.scalar"`` -> ``"bottom"`` (it codes the bottom latent);
    ``"enhancement"`` is a level of its own."""
    name = label[len(COPY_LABEL):] if label.startswith(COPY_LABEL) else label
    if name in (MOTION_LABEL, VECTOR_LABEL, RESIDUAL_LABEL, BEND_LABEL, CONDITIONAL_LABEL, INTRA_LABEL):
        return MOTION_LABEL
    if name == SCALAR_LABEL:
        return "bottom"
    if name == ENHANCEMENT_LABEL:
        return name
    return name if label.startswith(COPY_LABEL) else parse_stream_name(name)[0]


def copy_summary(gops) -> tuple[dict[str, float], dict[str, float]]:
    """Over ``(codes, bits)`` pairs of a file's GOPs: per level, the fraction of positions copied
    and the ideal bits of its copy decisions (levels with no stages are left out; a scalar point's
    bottom latent counts as ``bottom``, the enhancement layer as ``enhancement``)."""
    counts: dict[str, list[int]] = {}
    bits: dict[str, float] = {}
    for codes, gop_bits in gops:
        maps = [(lv.name, lv.copy_map()) for lv in codes.levels if lv.stages]
        if codes.scalar is not None:
            maps.append(("bottom", codes.scalar.copy_map()))
        if codes.enhancement is not None:
            maps.append((ENHANCEMENT_LABEL, codes.enhancement.copy_map()))
        for name, m in maps:
            c = counts.setdefault(name, [0, 0])
            c[0] += int(m.sum())
            c[1] += m.size
        for label, b in gop_bits.items():
            if label.startswith(COPY_LABEL):
                level = label_level(label)
                bits[level] = bits.get(level, 0.0) + b
    return {k: v[0] / v[1] for k, v in counts.items() if v[1]}, bits


def motion_summary(gops, first_coder: int = 0) -> dict[str, float]:
    """Over ``(codes, bits)`` pairs of a file's GOPs with a motion layer: the share of blocks predicted
    from the previous frame, and the bits of the flags and of the vectors (empty without the layer);
    with a residual (version 5) and bent paths (version 7) their shares of the predicted blocks and bits;
    with conditional coders (version 8; ``first_coder``: the first coder's option) theirs; in version 9 also the
    share of the refresh GOPs' first-slice blocks a coder refined, and their bits (options and symbols)."""
    n = flagged = intra_n = intra_blocks = 0
    flag_bits = vector_bits = residual_bits = bend_bits = coder_bits = intra_bits = 0.0
    with_residual: int | None = None
    bent: int | None = None
    coded: int | None = None
    for codes, gop_bits in gops:
        if codes.motion is None:
            continue
        n += codes.motion.flags.size
        flagged += int(codes.motion.flags.sum())
        flag_bits += gop_bits.get(MOTION_LABEL, 0.0)
        vector_bits += gop_bits.get(VECTOR_LABEL, 0.0)
        if codes.motion.residual is not None:
            stage = codes.motion.residual > 0
            if codes.motion.coder_symbols is not None and first_coder:
                taken = (codes.motion.residual >= first_coder) & codes.motion.flags
                if INTRA_LABEL in gop_bits:          # version 9, a refresh GOP: its first slice's coders
                    intra_n += int((codes.motion.residual[0] >= first_coder).sum())
                    intra_blocks += codes.motion.residual[0].size
                    intra_bits += gop_bits[INTRA_LABEL]
                stage &= ~taken
                coded = (coded or 0) + int(taken.sum())
                coder_bits += gop_bits.get(CONDITIONAL_LABEL, 0.0)
            with_residual = (with_residual or 0) + int(stage.sum())
            residual_bits += gop_bits.get(RESIDUAL_LABEL, 0.0)
        if codes.motion.bends is not None:
            bent = (bent or 0) + int(codes.motion.bends.any(axis=(-2, -1)).sum())
            bend_bits += gop_bits.get(BEND_LABEL, 0.0)
    if not n:
        return {}
    out = {"predicted": flagged / n, "flag_bits": flag_bits, "vector_bits": vector_bits}
    if with_residual is not None:          # version 5: the share of predicted blocks with a residual
        out.update(residual=with_residual / max(flagged, 1), residual_bits=residual_bits)
    if bent is not None:                   # version 7: the share of predicted blocks whose path bends
        out.update(bent=bent / max(flagged, 1), bend_bits=bend_bits)
    if coded is not None:                  # version 8: the share of predicted blocks a coder made
        out.update(conditional=coded / max(flagged, 1), conditional_bits=coder_bits)
    if intra_blocks:                       # version 9: the share of first-slice blocks a coder refined
        out.update(intra=intra_n / intra_blocks, intra_bits=intra_bits)
    return out


def rounded_motion(m: dict[str, float]) -> dict[str, float]:
    """:func:`motion_summary` as reports show it: shares to 4 decimals, bits to 1."""
    return {k: round(v, 4 if k in ("predicted", "residual", "bent", "conditional", "intra") else 1) for k, v in m.items()}


@dataclass
class GopReference:
    """What a predicted GOP needs of the GOP before it: its resolved codes (with copy maps) and
    the copy-decision models' state after it."""

    codes: Codes
    flag_models: dict[str, CopyFlagModel | VectorModel] = field(default_factory=dict)


@dataclass
class CodedGop:
    """The result of coding one GOP either way."""

    codes: Codes                          # resolved codes with copy maps
    counts: dict[str, int]                # coded symbols per stream
    reference: GopReference               # what the next GOP predicts from
    payload: bytes = b""                  # encoder only
    bits: dict[str, float] = field(default_factory=dict)   # ideal bits per stream and "copy.<level>"


def slice_contexts_for(layout: list[LevelLayout]) -> dict[str, tuple[str | None, tuple[int, int, int] | None]]:
    """Per stream: its lower stream (if present in this layout) and the grid ratio to it."""
    grids = {n: lv.grid for lv in layout for n in lv.streams()}
    out = {}
    for n in grids:
        low = lower_stream(n)
        ratio = grid_ratio(grids[n], grids[low]) if low in grids else None
        out[n] = (low if ratio is not None else None, ratio)
    return out


def code_gop(layout: list[LevelLayout], prior: Prior, channel, *, copy_mode: bool,
             reference: GopReference | None, codes: Codes | None = None,
             counts: dict[str, int] | None = None, scalar: ScalarTables | None = None,
             enhancement: ScalarTables | None = None, motion: bool | tuple = False, bends: int = 0,
             before_motion: Callable[[Codes], None] | None = None) -> CodedGop:
    """Walk one GOP through ``channel``: encode ``codes`` (resolved, with copy maps), or decode
    (``codes=None``; ``counts`` are the chunk's symbol counts, checked against the decisions).

    ``reference`` is the previous GOP's state for a predicted GOP, ``None`` for a refresh GOP.
    ``scalar``: at a scalar point, the tables of the bottom latent's symbols, coded after the levels.
    ``enhancement``: at an enhanced point, the tables of the enhancement layer, coded after the scalar layer.
    ``motion``: the file has a motion layer (version 3), coded last (:mod:`vqcodec.coding.motion`): True,
    or (version 5) the residual options of its predicted blocks, a non-empty tuple of (first, count).
    ``bends``: with the motion layer in a version-7 file, the frames of a slice (predicted blocks carry
    bent paths, one bend per frame after the first); 0 without.
    ``before_motion``: with the motion layer, told the codes the network reads (every level, the scalar and
    enhancement layers) before the layer is walked, so that the decoder's network can start on them.
    """
    encoding = codes is not None
    walk = _LevelWalk(prior, channel, slice_contexts_for(layout), None if encoding else counts)
    levels, models = [], {}
    for lv in layout:
        ref_level = reference.codes.level(lv.name) if reference is not None else None
        given = codes.level(lv.name) if encoding else None
        _check_level(lv, ref_level, given)
        if lv.stages == 0:
            levels.append(CodeLevel(lv.name, lv.codebook_size, np.zeros((0, *lv.grid), np.int32),
                                    np.zeros(lv.grid, bool)))
            continue
        # 1. copy decisions
        copied = np.zeros(lv.grid, bool)
        if given is not None:
            want = given.copy_map()
            if want.any() and not copy_mode:
                raise EntropyError(f"level {lv.name}: copied positions but copy mode is off")
            if ref_level is None and want[0].any():
                raise EntropyError(f"level {lv.name}: a refresh GOP cannot copy into its first slice")
        if copy_mode:
            models[lv.name] = _code_copy_map(lv, channel, reference, ref_level, given, copied)
        # 2. codes of the coded positions, stage by stage, slice by slice
        levels.append(CodeLevel(lv.name, lv.codebook_size, walk.level_codes(lv, ref_level, given, copied), copied))
    got_counts = walk.counts
    scalar_codes = None
    if scalar is not None:
        scalar_codes = _code_scalar(layout, scalar, channel, codes.scalar if encoding else None,
                                    None if encoding else counts, copy_mode=copy_mode, reference=reference,
                                    models=models)
        got_counts[SCALAR_LABEL] = scalar.channels * int((~scalar_codes.copy_map()).sum())
    enh_codes = None
    if enhancement is not None:
        enh_codes = _code_scalar(layout, enhancement, channel, codes.enhancement if encoding else None,
                                 None if encoding else counts, copy_mode=copy_mode, reference=reference,
                                 models=models, label=ENHANCEMENT_LABEL)
        got_counts[ENHANCEMENT_LABEL] = enhancement.channels * int((~enh_codes.copy_map()).sum())
    motion_field = None
    if motion and before_motion is not None:
        before_motion(Codes(tuple(levels), scalar_codes, enh_codes, None))
    if motion:
        bottom = next(lv for lv in levels if lv.name == "bottom")
        copied = bottom.copy_map() if bottom.stages else scalar_codes.copy_map() if scalar_codes is not None \
            else np.zeros(bottom.grid, bool)
        given = None
        if encoding:    # codes made without the layer (e.g. written again from an older file's): nothing predicted
            given = codes.motion if codes.motion is not None else \
                MotionField(np.zeros(bottom.grid, bool), np.zeros((*bottom.grid, 2), np.int32))
        motion_field = code_motion_layer(bottom.grid, channel, given, reference, models,
                                         copied, None if motion is True else motion, bottom.codebook_size,
                                         bends=bends > 0, frames=max(bends, 1))
        got_counts[MOTION_LABEL] = int(motion_field.flags.sum())
        if not encoding and (counts or {}).get(MOTION_LABEL) != got_counts[MOTION_LABEL]:
            raise EntropyError(f"motion layer: {(counts or {}).get(MOTION_LABEL)} predicted blocks stored but "
                               f"{got_counts[MOTION_LABEL]} decoded")
    out_codes = Codes(tuple(levels), scalar_codes, enh_codes, motion_field)
    ref_next = GopReference(out_codes, models)
    return CodedGop(out_codes, got_counts, ref_next)


def _check_level(lv: LevelLayout, ref_level: CodeLevel | None, given: CodeLevel | None) -> None:
    if ref_level is not None and (ref_level.grid[1:] != lv.grid[1:] or ref_level.stages < lv.stages):
        raise EntropyError(f"level {lv.name}: the reference GOP's codes do not fit this GOP")
    if given is not None and (given.grid != lv.grid or given.stages != lv.stages):
        raise EntropyError(f"level {lv.name}: codes of shape {given.indices.shape} do not fit the layout")


def _code_copy_map(lv: LevelLayout, channel, reference: GopReference | None, ref_level: CodeLevel | None,
                   given: CodeLevel | None, copied: np.ndarray) -> CopyFlagModel:
    """A level's copy decisions, slice by slice, into ``copied``; returns the flag model after them."""
    t_, h, w = lv.grid
    fm = reference.flag_models[lv.name].clone() if reference is not None and lv.name in reference.flag_models \
        else CopyFlagModel()
    want = given.copy_map() if given is not None else None
    for t in range(t_):
        if t == 0 and ref_level is None:
            continue
        prev = copied[t - 1] if t else ref_level.copy_map()[-1]
        copied[t] = fm.code_slice(LabelledChannel(channel, COPY_LABEL + lv.name),
                                  want[t] if want is not None else None, prev, (h, w))
    return fm


class _LevelWalk:
    """The codes of a GOP's levels under a prior, stream by stream: each stream's slices extended
    with the reference's last slice, copied positions filled from the slice before, the rest coded."""

    def __init__(self, prior: Prior, channel, lowers: dict, counts: dict[str, int] | None) -> None:
        self.prior, self.channel, self.lowers = prior, channel, lowers
        self.stored = counts              # decoding: the chunk's symbol counts; encoding: None
        self.exts: dict[str, np.ndarray] = {}
        self.counts: dict[str, int] = {}

    def level_codes(self, lv: LevelLayout, ref_level: CodeLevel | None, given: CodeLevel | None,
                    copied: np.ndarray) -> np.ndarray:
        n_coded = int((~copied).sum())
        idx = np.zeros((lv.stages, *lv.grid), np.int64)
        for s, name in enumerate(lv.streams()):
            if given is None:
                want_n = self.stored.get(name) if self.stored is not None else None
                if want_n != n_coded:
                    raise EntropyError(f"stream {name}: {want_n} symbols stored but the copy decisions leave {n_coded}")
                if n_coded > MAX_SYMBOLS:
                    raise EntropyError(f"stream {name}: {n_coded} symbols exceed the limit")
            ext = extended_slices(None, ref_level.indices[s] if ref_level is not None else None, lv.grid)
            self.exts[name] = ext
            for t in range(lv.grid[0]):
                self._code_slice(lv, name, s, t, ext, copied[t], given)
            idx[s] = ext[2:]
            self.counts[name] = n_coded
        return idx.astype(np.int32)

    def _code_slice(self, lv: LevelLayout, name: str, s: int, t: int, ext: np.ndarray, keep: np.ndarray,
                    given: CodeLevel | None) -> None:
        if keep.any():
            ext[2 + t][keep] = ext[1 + t][keep]
        coded = ~keep
        low, ratio = self.lowers[name]
        ctx = SliceContext(name, lv.codebook_size, t, ext, self.exts.get(low) if low else None, ratio, coded,
                           tuple(self.exts[n] for n in lv.streams()[:s]))
        sym_in = None
        if given is not None:
            g = np.asarray(given.indices[s, t], np.int64)
            if keep.any() and not np.array_equal(g[keep], ext[2 + t][keep]):
                raise EntropyError(f"stream {name}: copied positions of slice {t} differ from the slice before")
            sym_in = g[coded]
        n = int(coded.sum())
        if n:
            self.channel.check_not_exhausted()      # before the tables: they may be large
            tables = self.prior.slice_tables(ctx)
            sym = self.channel.code(tables, n, sym_in, name)
            if int(np.max(sym)) >= lv.codebook_size:
                raise EntropyError(f"stream {name}: decoded symbol out of range")
            ext[2 + t][coded] = sym


def _code_scalar(layout: list[LevelLayout], tables: ScalarTables, channel, given: ScalarCodes | None,
                 counts: dict[str, int] | None, *, copy_mode: bool, reference: GopReference | None,
                 models: dict[str, CopyFlagModel], label: str = SCALAR_LABEL) -> ScalarCodes:
    """The scalar layer of a GOP (``label`` "scalar": the bottom latent's C channels of symbols on
    the bottom grid), or the enhancement layer (``label`` "enhancement": its K coefficients there).
    Like a level, with copy mode it first codes each slice's copy decisions (a copied position
    repeats all C symbols of the slice before, the previous GOP's last slice for slice 0 of a
    predicted GOP); then the symbols of the positions not copied, slice by slice, each under the
    table its channel and the slice before select (slice 0 under the first-slice class; a refresh GOP's, in a
    version-11 file, in two checkerboard passes, the second under its first-pass neighbours' medians)."""
    t_, h, w = next(lv for lv in layout if lv.name == "bottom").grid
    c = tables.channels
    ref = None if reference is None else \
        reference.codes.scalar if label == SCALAR_LABEL else reference.codes.enhancement
    what = f"{label} layer"
    if ref is not None and (ref.symbols.shape[::2] != (c, h) or ref.symbols.shape[3:] != (w,)
                            or ref.step_num != tables.step_num):
        raise EntropyError(f"{what}: the reference GOP's symbols do not fit this GOP")
    if given is not None:
        if given.symbols.shape != (c, t_, h, w) or given.step_num != tables.step_num:
            raise EntropyError(f"{what}: symbols {given.symbols.shape} at step {given.step_num} do not fit "
                               f"the layout {(c, t_, h, w)} at step {tables.step_num}")
        want = given.copy_map()
        if want.any() and not copy_mode:
            raise EntropyError(f"{what}: copied positions but copy mode is off")
        if ref is None and want[0].any():
            raise EntropyError(f"{what}: a refresh GOP cannot copy into its first slice")
    copied = np.zeros((t_, h, w), bool)
    if copy_mode:
        fm = reference.flag_models[label].clone() \
            if reference is not None and label in reference.flag_models else CopyFlagModel()
        models[label] = fm
        for t in range(t_):
            if t == 0 and ref is None:
                continue
            prev = copied[t - 1] if t else ref.copy_map()[-1]
            copied[t] = fm.code_slice(LabelledChannel(channel, COPY_LABEL + label),
                                      want[t] if given is not None else None, prev, (h, w))
    n = c * int((~copied).sum())
    if given is None:
        stored = counts.get(label) if counts is not None else None
        if stored != n:
            raise EntropyError(f"{what}: {stored} symbols stored but the copy decisions leave {n}")
        if n > MAX_SYMBOLS:
            raise EntropyError(f"{what}: {n} symbols exceed the limit")
    sym = np.zeros((c, t_, h, w), np.int32)
    for t in range(t_):
        before = sym[:, t - 1] if t else (ref.symbols[:, -1] if ref is not None else None)
        keep = copied[t]
        if keep.any():
            sym[:, t][:, keep] = before[:, keep]
            if given is not None and not np.array_equal(given.symbols[:, t][:, keep], before[:, keep]):
                raise EntropyError(f"{what}: copied positions of slice {t} differ from the slice before")
        passes = [~keep]
        if t == 0 and ref is None and tables.first_slice_context:    # version 11: two checkerboard passes
            passes = list(checkerboard(h, w))
        for k, coded in enumerate(passes):
            m = int(coded.sum())
            if not m:
                continue
            channel.check_not_exhausted()          # before the tables
            prev = sym[:, t - 1] if t else neighbour_medians(sym[:, 0], passes[0]) if k else None
            rows = tables.slice_tables(prev, (c, h, w), coded)
            got = channel.code(rows, c * m, None if given is None else tables.offset(given.symbols[:, t][:, coded]),
                               label)
            sym[:, t][:, coded] = tables.unoffset(got, (c, m))
    return ScalarCodes(sym, tables.step_num, copied)


def encode_gop(layout: list[LevelLayout], prior: Prior, codes: Codes, *, copy_mode: bool,
               reference: GopReference | None, end_check: bool = True,
               scalar: ScalarTables | None = None, enhancement: ScalarTables | None = None,
               motion: bool | tuple = False, bends: int = 0) -> CodedGop:
    """``end_check``: end the payload with :data:`END_CHECK` (version 2; version-1 payloads have none)."""
    ch = EncodeChannel()
    res = code_gop(layout, prior, ch, copy_mode=copy_mode, reference=reference, codes=codes, scalar=scalar,
                   enhancement=enhancement, motion=motion, bends=bends)
    res.payload = ch.payload(end_check)
    res.bits = ch.bits
    return res


def decode_gop(layout: list[LevelLayout], prior: Prior, payload: bytes, counts: dict[str, int], *,
               copy_mode: bool, reference: GopReference | None, end_check: bool = True,
               scalar: ScalarTables | None = None, enhancement: ScalarTables | None = None,
               motion: bool | tuple = False, bends: int = 0,
               before_motion: Callable[[Codes], None] | None = None) -> CodedGop:
    ch = DecodeChannel(payload, end_check)
    res = code_gop(layout, prior, ch, copy_mode=copy_mode, reference=reference, counts=counts, scalar=scalar,
                   enhancement=enhancement, motion=motion, bends=bends, before_motion=before_motion)
    ch.finish()
    res.bits = ch.bits
    return res
