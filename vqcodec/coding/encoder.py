"""The encoder: frames -> GOPs -> network latents -> rate-distortion decisions -> codes -> one
entropy-coded chunk per GOP -> a .vqv container.

Data flows one way: :class:`GopEncoder` turns frames into each GOP's codes with copy decisions
(:mod:`vqcodec.coding.rdo`), in decode order; :func:`write_container` entropy-codes them under a prior
(:mod:`vqcodec.coding.gop_coding`) and writes the file. Both take the :class:`EncodeSettings` built once
from the user's options. A GOP is either a *refresh* GOP, decodable alone, or *predicted* from the
previous GOP's decoded codes (its first slice may copy their last slice, and the prior sees them as
context); ``settings.refresh`` sets how often a refresh GOP comes.
"""
from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import BinaryIO, Callable

import numpy as np
import torch

from vqcodec.codes import CodeLevel, Codes, MotionField, ScalarCodes
from vqcodec.coding import lambdas, propagation, rdo
from vqcodec.coding.enhancement import quantise as quantise_coefficients
from vqcodec.coding.gop_coding import (ENHANCEMENT_LABEL, SCALAR_LABEL, CodedGop, LevelLayout, copy_summary,
                                        encode_gop, layout_of, motion_summary)
from vqcodec.coding.gops import (GOP_FRAMES, chunk_streams, coded_gop_frames, enhancement_residual, enhancement_tables,
                                 gop_layout, is_refresh, network_pool, network_round, pad_gop, padded_size,
                                 predicted_residual, file_scalar_tables, scalar_tables, single_threaded_blas)
from vqcodec.coding.motion import MotionResidual, apply_motion, predict_slice, slice_real_frames
from vqcodec.coding.gop_decisions import decide_gop
from vqcodec.coding.motion_search import SIDE_THREAD_BLOCKS, decide_predicted_enhancement
from vqcodec.coding.prior_choice import candidate_priors, decision_prior
from vqcodec.coding.pricing import code_file_each
from vqcodec.coding.scene_cuts import SceneCuts
from vqcodec.entropy.copy_flags import CopyFlagModel
from vqcodec.entropy.priors import Prior, extended_slices, grid_ratio
from vqcodec.entropy.scalar_prior import ScalarTables
from vqcodec.errors import VqvError
from vqcodec.formats import GopChunk, Header, VqvWriter, version_for
from vqcodec.formats.audio import AudioTrack, encode_audio
from vqcodec.formats.sections import SECTION_AUDIO
from vqcodec.settings import (DEFAULT_INTRA_CODER, DEFAULT_MOTION_RESIDUAL, DEFAULT_PRESET, DEFAULT_RDO_STRENGTH,
                              DEFAULT_REFRESH, DEFAULT_SCALAR_CONTEXT, DEFAULT_SCENE_CUTS, EncodeSettings)
from vqcodec.weights import CodecModel


@dataclass
class EncodeStats:
    gops: int = 0
    frames: int = 0
    payload_bytes: int = 0
    ideal_bits: float = 0.0
    bits_per_stream: dict[str, float] = field(default_factory=dict)   # streams and "copy.<level>"
    copied: dict[str, float] = field(default_factory=dict)            # level -> fraction of positions copied
    copy_bits: dict[str, float] = field(default_factory=dict)         # level -> bits of its copy decisions
    refresh_gops: int = 0
    scene_cuts: int = 0         # GOPs ended before a scene cut
    trimmed_gops: int = 0       # GOPs coded over fewer frames than a GOP's (format 13.0)
    prior: str = ""
    prior_params_bytes: int = 0
    motion: dict[str, float] = field(default_factory=dict)            # the motion layer's share and bits


@dataclass
class EncodedGop:
    codes: Codes            # resolved codes with copy maps
    frames: int             # real frames in the GOP
    refresh: bool           # decodable alone


class GopEncoder:
    """Turns a stream of frames into GOP codes with copy decisions (the model's part of encoding).

    Frames arrive one at a time at the coded size; every round of full GOPs goes through the network's
    analysis together, then the rate-distortion decisions run GOP by GOP in decode order (a predicted GOP's
    decisions need the previous GOP's result). Only the codes are kept (int16), so memory does not grow with
    video length in any way that matters; the prior then needs all of them (adaptive histograms) before a
    byte is written. ``on_gop(frames, n, codes, recon)`` is called with each GOP's padded input frames, its
    codes and, where the encoder reconstructed the GOP anyway (the enhancement or motion layer), that
    reconstruction as the decoder will make it (None otherwise, or when ``reconstructions`` is false; the
    pipeline measures quality with it). With the motion layer (``settings.motion_layer``) each round also
    decides which blocks the decoder predicts from the previous frame (:mod:`vqcodec.coding.motion_search`)
    on the network's reconstruction of the codes, copies those blocks' codes, and reconstructs again where
    the enhancement layer or ``on_gop`` reads it. ``pricing_prior`` overrides the prior the decisions are
    priced with (prior fitting prices them with the prior being refitted)."""

    def __init__(self, model: CodecModel, settings: EncodeSettings, width: int, height: int, *,
                 on_gop: Callable[[np.ndarray, int, Codes, np.ndarray | None], None] | None = None,
                 reconstructions: bool = True, pricing_prior: Prior | None = None) -> None:
        self.model, self.settings = model.computing_in(settings.network_float), settings
        self.width, self.height = width, height
        self.pw, self.ph = padded_size(width, height, model.cfg.stride)
        self.layout = gop_layout(model, settings.point, GOP_FRAMES, self.ph, self.pw)   # the round in hand's
        self.trim = int(model.cfg.stride[0]) if settings.trim_gops else 0     # format 13.0: short GOPs trimmed
        self.scalar = scalar_tables(model, settings.point)
        self.enhancement = enhancement_tables(model, settings.point)
        self.prior = pricing_prior if pricing_prior is not None else decision_prior(model, settings.prior)
        self.on_gop = on_gop       # the motion layer's second decode of a GOP serves only these two:
        self._final_decode = self.enhancement is not None or (on_gop is not None and reconstructions)
        self._frames: list[np.ndarray] = []
        self._pending: list[tuple[np.ndarray, int]] = []
        self._cut_gops: set[int] = set()   # the GOPs that begin at a scene cut (refresh GOPs)
        self._cuts = SceneCuts(int(model.cfg.bottom_factor[0])) if settings.cuts_at_scenes else None
        self.workers, self.round = network_round(self.ph, self.pw)
        self._ref_levels: dict[str, CodeLevel] = {}      # the previous GOP's resolved levels
        self._ref_flags: dict[str, CopyFlagModel] = {}   # the copy-decision models after it
        self._ref_scalar: ScalarCodes | None = None       # the previous GOP's scalar layer
        self._ref_enh: ScalarCodes | None = None          # the previous GOP's enhancement layer
        self.motion = settings.motion_layer
        options = settings.residual_options       # with them, a predicted block may carry a residual (5.0)
        self.coded_residual = MotionResidual(options, model.motion_residual_basis, settings.conditional,
                                             settings.intra_refinement) if options else None
        self.block = tuple(int(b) for b in model.cfg.bottom_factor)
        self._prev_codes: Codes | None = None             # with motion: the previous GOP's codes as coded
        self._last_frame: np.ndarray | None = None        # with motion: the previous GOP's last decoded frame
        self._est_last: np.ndarray | None = None          # ... as the previous GOP's motion decisions estimated it
        self._rates: list[np.ndarray] = []                # with motion: per GOP of the round, each position's bits
        self._lams: list[dict[str, float]] = []           # per GOP of the round: each level's lambda
        self.gops: list[EncodedGop] = []

    def add_frame(self, frame: np.ndarray) -> None:
        gop = len(self.gops) + len(self._pending)        # the GOP being filled
        if self._cuts is not None and self._cuts.ends_gop(frame, len(self._frames), gop in self._cut_gops):
            self._push_gop()
            self._cut_gops.add(gop + 1)
        self._frames.append(frame)
        if len(self._frames) == GOP_FRAMES:
            self._push_gop()

    def finish(self) -> list[EncodedGop]:
        if self._frames:
            self._push_gop()
        self._encode_pending()
        return self.gops

    def _push_gop(self) -> None:
        n = len(self._frames)
        t = coded_gop_frames(n, self.trim)
        if t != GOP_FRAMES:         # a trimmed GOP's grids differ: it is a round of its own
            self._encode_pending()
        gop = pad_gop(np.stack(self._frames), t, self.ph, self.pw)
        self._frames = []
        self._pending.append((gop, n))
        if len(self._pending) >= self.round or t != GOP_FRAMES:
            self._encode_pending()

    @single_threaded_blas()
    def _encode_pending(self) -> None:
        if not self._pending:
            return
        net = self.model.net
        self.layout = gop_layout(self.model, self.settings.point, len(self._pending[0][0]), self.ph, self.pw)
        first = len(self.gops)
        refresh = [is_refresh(first + i, self.settings.refresh) or first + i in self._cut_gops
                   for i in range(len(self._pending))]
        grid = self.layout[-1].grid
        self._rates = [np.zeros(grid) for _ in self._pending] if self.motion else []
        self._lams = [{} for _ in self._pending]
        with network_pool(self.workers) as pool:
            analysed = list(pool.map(lambda g: net.analyse(g[0][None]), self._pending))   # (pixel term, h_b, z_t)
            decided, z_bottom = self._decide_levels(pool, analysed, refresh)
        scalars = self._decide_scalar(z_bottom, refresh)
        all_codes = [Codes(tuple(CodeLevel(lv.name, lv.codebook_size, lv.indices.astype(np.int16), lv.copied)
                                 for lv in (decided[i][lv.name] for lv in self.layout)), scalars[i])
                     for i in range(len(self._pending))]
        bases = None
        if self.motion:
            all_codes, bases = self._decide_motion(all_codes, refresh)
        elif self.enhancement is not None:
            with network_pool(self.workers) as pool:
                bases = list(pool.map(self._synthesise, all_codes))
        if self.enhancement is not None:
            all_codes = self._decide_enhancement(all_codes, bases, refresh)
        recons = self._final_frames(all_codes, bases, refresh) if bases is not None else [None] * len(all_codes)
        for (gop, n), codes, fresh, recon in zip(self._pending, all_codes, refresh, recons):
            self.gops.append(EncodedGop(codes, n, fresh))
            if self.on_gop is not None:
                self.on_gop(gop, n, codes, recon)
        self._pending = []

    def _flag_model(self, label: str, refresh: bool) -> CopyFlagModel | None:
        """The copy-decision model for ``label`` in this GOP: carried on from the previous GOP's,
        or fresh in a refresh GOP; None without copy mode."""
        if not self.settings.copy_mode:
            return None
        old = None if refresh else self._ref_flags.get(label)
        fm = old.clone() if old is not None else CopyFlagModel()
        self._ref_flags[label] = fm
        return fm

    def _decide_levels(self, pool: ThreadPoolExecutor, analysed: list, refresh: list[bool]
                       ) -> tuple[list[dict[str, CodeLevel]], list[torch.Tensor]]:
        """Every VQ level's codes and copy decisions, top first (the bottom latent is computed from
        the top codes actually sent); also each GOP's bottom latent."""
        net, n = self.model.net, len(analysed)
        decided: list[dict[str, CodeLevel]] = [{} for _ in range(n)]
        ref_top: list[CodeLevel | None] = []
        z_bottom: list[torch.Tensor] = []
        for lv in self.layout:
            if lv.name == "bottom":
                def bottom_latent(i: int) -> torch.Tensor:
                    pixel_term, h_b, z_t = analysed[i]
                    top_idx = None if z_t is None else torch.from_numpy(decided[i]["top"].indices[None].astype(np.int64))
                    return net.bottom_latent(pixel_term, h_b, top_idx)
                z_bottom = list(pool.map(bottom_latent, range(n)))
                if self.scalar is not None:          # the scalar layer codes it (below): no VQ stages
                    for i in range(n):
                        decided[i][lv.name] = self._ref_levels[lv.name] = CodeLevel(
                            lv.name, lv.codebook_size, np.zeros((0, *lv.grid), np.int32), np.zeros(lv.grid, bool))
                    continue
                # the decisions read one stage past the point's own (its lambda's slope), no more
                lat = list(pool.map(lambda z: rdo.level_latents(net.bottom_quantizer, z, lv.stages + 1)[0], z_bottom))
            else:
                lat = list(pool.map(lambda a: rdo.level_latents(net.top_quantizer, a[2], lv.stages + 1)[0], analysed))
            for i in range(n):
                ref = None if refresh[i] else self._ref_levels.get(lv.name)
                if lv.name == "top":
                    ref_top.append(ref)
                level = self._decide_level(i, lv, lat[i], ref, refresh[i], decided[i],
                                           ref_top[i] if lv.name == "bottom" and ref_top else None)
                decided[i][lv.name] = level
                self._ref_levels[lv.name] = level
        return decided, z_bottom

    def _decide_level(self, i: int, lv: LevelLayout, lat: rdo.LevelLatents, ref: CodeLevel | None, refresh: bool,
                      decided: dict[str, CodeLevel], ref_top: CodeLevel | None) -> CodeLevel:
        lower = None
        if lv.name == "bottom" and "top" in decided and decided["top"].stages:
            top = decided["top"]
            lower = (extended_slices(top.indices[0], None if ref_top is None else ref_top.indices[0], top.grid),
                     grid_ratio(lv.grid, top.grid))
        fm = self._flag_model(lv.name, refresh) if lv.stages else None
        below = "vq" if self.layout[-1].stages else "scalar" if self.scalar is not None else ""
        lam = rdo.level_lambda(lat, lv.name, lv.stages, below, self.settings.rdo_strength)
        self._lams[i][lv.name] = lam
        rates = self._rates[i] if self.motion and lv.name == "bottom" else None
        return rdo.decide_level(lv, lat, self.prior, reference=ref, flag_model=fm, lam=lam, lower=lower, rates=rates)

    def _decide_scalar(self, z_bottom: list[torch.Tensor], refresh: list[bool]) -> list[ScalarCodes | None]:
        """At a scalar point: the bottom latent given the top codes sent, as symbols with copy decisions."""
        scalars: list[ScalarCodes | None] = [None] * len(self._pending)
        if self.scalar is None:
            return scalars
        lam = rdo.scalar_lambda(self.scalar.step, self.settings.rdo_strength)
        for i, z in enumerate(z_bottom):    # in decode order: a predicted GOP copies from the one before
            fm = self._flag_model(SCALAR_LABEL, refresh[i])
            scalars[i] = rdo.decide_scalar(self.scalar, z[0].double().cpu().numpy(),
                                           None if refresh[i] else self._ref_scalar, fm, lam,
                                           rates=self._rates[i] if self.motion else None)
            self._ref_scalar = scalars[i]
        return scalars

    def _synthesise(self, codes: Codes) -> np.ndarray:
        """The network's reconstruction of a GOP's codes, as the decoder makes it (the enhancement and motion layers'
        decisions read it)."""
        return self.model.net.decode(codes, light=self.model.light)

    def _decide_enhancement(self, all_codes: list[Codes], bases: list[np.ndarray], refresh: list[bool]) -> list[Codes]:
        """At an enhanced point: the enhancement layer's symbols for what the network's reconstruction
        (``bases``) leaves out, with copy decisions (and copies at the motion layer's blocks)."""
        basis, tabs = self.model.ladder.basis, self.enhancement
        out = list(all_codes)
        lam = rdo.scalar_lambda(tabs.step, self.settings.rdo_strength) * (
            lambdas.ENHANCEMENT_LAMBDA_SCALE if self.coded_residual is not None else 1.0)
        last = self._last_frame
        for i, ((gop, n), base) in enumerate(zip(self._pending, bases)):      # in decode order
            fm = self._flag_model(ENHANCEMENT_LABEL, refresh[i])
            before = None if refresh[i] else self._ref_enh
            field = all_codes[i].motion
            if field is not None:
                enh, last = self._enhance_predicted(gop, base, field, None if refresh[i] else last, before, fm, lam, n)
            else:
                coef = basis.coefficients(gop, base)
                enh = rdo.decide_scalar(tabs, coef, before, fm, lam,
                                        symbols=quantise_coefficients(coef, tabs.step_num, tabs.limit))
            self._ref_enh = enh
            out[i] = Codes(all_codes[i].levels, all_codes[i].scalar, enh, all_codes[i].motion)
        return out

    def _enhance_predicted(self, gop: np.ndarray, base: np.ndarray, field: MotionField, last: np.ndarray | None,
                           before: ScalarCodes | None, fm: CopyFlagModel | None, lam: float, n: int
                           ) -> tuple[ScalarCodes, np.ndarray]:
        """A GOP with a motion layer: its enhancement decisions slice by slice, each on the slice as
        predicted from the one before as enhanced (the order the decoder reconstructs in; with trimmed GOPs a
        slice partly of padding priced on its ``n``-frame GOP's own frames); returns the layer and the GOP's last
        frame."""
        basis, tabs, bt = self.model.ladder.basis, self.enhancement, self.block[0]
        frames = np.array(base, copy=True)
        t_, h, w = field.flags.shape
        sym = np.zeros((tabs.channels, t_, h, w), np.int32)
        copied = np.zeros((t_, h, w), bool)
        for t in range(t_):
            sl = slice(t * bt, (t + 1) * bt)
            predict_slice(frames, field, t, last, self.block, self.coded_residual)
            prev = sym[:, t - 1] if t else None if before is None else before.symbols[:, -1]
            prev_flags = copied[t - 1] if t else None if before is None else before.copy_map()[-1]
            real = slice_real_frames(t, bt, n) if self.trim else None
            sym[:, t], copied[t] = decide_predicted_enhancement(tabs, basis, gop[sl], frames[sl], field.flags[t],
                                                                prev, prev_flags, fm, lam, real)
            frames[sl] = predicted_residual(basis, frames[sl], sym[:, t], tabs.step, field.flags[t] & copied[t])
        return ScalarCodes(sym, tabs.step_num, copied), frames[-1]

    # ---------------------------------------------------------------------------------- motion layer
    def _motion_lambda(self, i: int) -> float:
        lams = self._lams[i]
        return lambdas.motion_lambda(self.settings.rdo_strength, self.coded_residual is not None, self.scalar,
                                     self.enhancement, lams["bottom"] if self.layout[-1].stages else lams.get("top", 0.0))

    def _enhancement_estimate(self, gop: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What the enhancement layer would add to ``base`` (no copies), and its bits per position."""
        basis, tabs = self.model.ladder.basis, self.enhancement
        sym = quantise_coefficients(basis.coefficients(gop, base), tabs.step_num, tabs.limit)
        rates = np.stack([tabs.symbol_bits(sym[:, t - 1] if t else None, sym[:, t]) for t in range(sym.shape[1])])
        return basis.apply(base, sym, tabs.step), rates

    def _residual_estimate(self, source: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One slice's ``frames`` with the enhancement of what they miss of ``source`` (no copies), and
        its bits per position (the motion search's price of a predicted block's residual)."""
        enhanced, rates = self._enhancement_estimate(source, frames)
        return enhanced, rates[0]

    def _decide_motion(self, all_codes: list[Codes], refresh: list[bool]) -> tuple[list[Codes], list[np.ndarray] | None]:
        """The motion layer of each GOP of the round, decided on the network's reconstruction of the
        codes so far (the motion blocks' codes become copies of the slice before); returns the codes and
        the network's reconstruction of them (None where nothing reads it). The decisions run GOP by GOP
        here while the workers reconstruct the next GOPs' codes and the decided ones' (the same calls);
        slices too small for the decisions' side thread price their coders on the tile workers."""
        decode, out, est_last, finals = self._synthesise, [], self._est_last, []
        with network_pool(self.workers, share_tiles=int(np.prod(self.layout[-1].grid[-2:])) < SIDE_THREAD_BLOCKS) as pool:
            firsts = [pool.submit(decode, c) for c in all_codes]
            for i, ((gop, n), first, codes) in enumerate(zip(self._pending, firsts, all_codes)):
                base = first.result()
                recon, rates = base, self._rates[i]
                if self.enhancement is not None:
                    recon, enh_rates = self._enhancement_estimate(gop, base)
                    rates = rates + enh_rates
                lam = self._motion_lambda(i)
                if propagation.STRENGTH:          # a lambda per block, from how much is predicted from it
                    lam = propagation.block_lambdas(gop, recon, rates, lam, self.settings.motion_search, self.block)
                field, final = decide_gop(gop, recon, None if refresh[i] else est_last, rates, lam,
                                          self.settings.motion_search, self.block,
                                          self._residual_estimate if self.enhancement is not None else None,
                                          self.coded_residual, self.settings.bend_frames > 0,
                                          None if refresh[i] or self._prev_codes is None else self._prev_codes.motion,
                                          self.settings.effort, n, real_only=self.trim > 0)
                est_last = final[-1]
                prev = None if refresh[i] else self._prev_codes
                levels = rdo.force_motion_copies(codes.levels, field.flags, None if prev is None else prev.levels)
                scalar = rdo.force_scalar_copies(codes.scalar, field.flags,
                                                 None if prev is None or prev.scalar is None else prev.scalar.symbols[:, -1])
                codes = Codes(levels, scalar, None, field)
                out.append(codes)
                finals.append(pool.submit(decode, codes) if self._final_decode else None)
                self._prev_codes = codes
            bases = [f.result() for f in finals] if self._final_decode else None
        # the next GOP is decided on this one as its decisions left it, across rounds as within one
        # (a round is as many GOPs as the workers run at once: else the bytes would depend on --threads)
        self._est_last = est_last
        return out, bases

    def _final_frames(self, all_codes: list[Codes], bases: list[np.ndarray], refresh: list[bool]) -> list[np.ndarray]:
        """Each GOP of the round as the decoder will reconstruct it (padded size), in order."""
        out = []
        for i, (codes, base) in enumerate(zip(all_codes, bases)):
            frames = base
            if codes.motion is not None:
                frames = apply_motion(frames, codes.motion, None if refresh[i] else self._last_frame, self.block,
                                      enhancement_residual(self.model, codes), self.coded_residual)
                self._last_frame = frames[-1]
            elif codes.enhancement is not None:
                frames = self.model.ladder.basis.apply(base, codes.enhancement.symbols, codes.enhancement.step)
            out.append(frames)
        return out


# ------------------------------------------------------------------------------------------ entropy coding

def code_file(prior: Prior, gops: list[EncodedGop], copy_mode: bool,
              scalar: ScalarTables | None = None, enhancement: ScalarTables | None = None,
              motion: bool = False, bends: int = 0) -> list[CodedGop]:
    """Entropy-code a file's GOPs in order, each predicted GOP from the one before it."""
    out, ref = [], None
    for g in gops:
        res = encode_gop(layout_of(g.codes), prior, g.codes, copy_mode=copy_mode, reference=None if g.refresh else ref,
                         scalar=scalar, enhancement=enhancement, motion=motion, bends=bends)
        out.append(res)
        ref = res.reference
    return out


@single_threaded_blas()
def write_container(out: BinaryIO, model: CodecModel, settings: EncodeSettings, gops: list[EncodedGop], *,
                    source_size: tuple[int, int], coded_size: tuple[int, int], fps: Fraction,
                    audio: AudioTrack | None = None) -> EncodeStats:
    """Entropy-code every GOP with one prior and write the container to ``out`` (with ``audio``, a 4.0
    file with an audio section; the video's bytes do not depend on it).

    Under ``auto`` every available prior codes the whole file (in one walk of the GOPs:
    :mod:`vqcodec.coding.pricing`) and the smallest real total (payload bytes + side info) wins
    (ties: the earliest of uniform, static, adaptive, learned, rank).
    """
    if not gops:
        raise VqvError("empty video")
    layout = layout_of(gops[0].codes)
    scalar = file_scalar_tables(model, settings.point, settings.first_slice_context, gops)
    enh = enhancement_tables(model, settings.point)
    best = None
    candidates = candidate_priors(model, settings.prior, [g.codes for g in gops])
    coded_each = code_file_each(candidates, [(g.codes, g.refresh) for g in gops], settings.copy_mode,
                                scalar, enh, settings.motion_coding, bends=settings.bend_frames)
    for prior, coded in zip(candidates, coded_each):
        size = sum(len(c.payload) for c in coded) + len(prior.params())
        if best is None or size < best[0]:
            best = (size, prior, coded)
    _, prior, coded = best
    short = tuple((i, g.frames) for i, g in enumerate(gops[:-1]) if g.frames < GOP_FRAMES)    # cut at scenes
    per_slice = int(model.cfg.bottom_factor[0])
    trimmed = sum(layout_of(g.codes)[-1].grid[0] * per_slice < GOP_FRAMES for g in gops)
    trim = int(model.cfg.stride[0]) if trimmed else 0         # format 13.0: some GOP coded over fewer frames
    stats = EncodeStats(prior=prior.kind, prior_params_bytes=len(prior.params()), scene_cuts=len(short),
                        trimmed_gops=trimmed)
    bfloat16 = settings.network_float == "bfloat16"
    scalar_context = scalar is not None and scalar.first_slice_context
    version = version_for(settings.motion_layer, audio is not None, bool(settings.residual_options), prior.kind == "rank",
                          settings.bend_frames > 0, settings.conditional is not None, settings.intra_refinement,
                          bfloat16, scalar_context, bool(short), bool(trim))
    writer = VqvWriter(out, version)
    names = chunk_streams(layout, scalar, enh, settings.motion_layer)
    for i, (g, c) in enumerate(zip(gops, coded)):
        writer.write_chunk(GopChunk(index=i, frame_count=g.frames, symbol_counts=tuple(c.counts[n] for n in names),
                                    predicted=not g.refresh, payload=c.payload))
        stats.gops += 1
        stats.refresh_gops += int(g.refresh)
        stats.frames += g.frames
        stats.payload_bytes += len(c.payload)
        for k, b in c.bits.items():
            stats.bits_per_stream[k] = stats.bits_per_stream.get(k, 0.0) + b
            stats.ideal_bits += b
    stats.copied, stats.copy_bits = copy_summary((g.codes, c.bits) for g, c in zip(gops, coded))
    stats.motion = motion_summary(((c.codes, c.bits) for c in coded), len(settings.residual_options) + 1)
    fr = Fraction(fps).limit_denominator(1_000_000)
    header = Header(model_digest=model.digest, source_width=source_size[0], source_height=source_size[1],
                    coded_width=coded_size[0], coded_height=coded_size[1], fps_num=fr.numerator,
                    fps_den=fr.denominator, frame_count=stats.frames, gop_length=GOP_FRAMES, quality=settings.quality,
                    prior=prior.kind, prior_params=prior.params(), gop_prediction=any(not g.refresh for g in gops),
                    copy_mode=settings.copy_mode, refresh_interval=settings.refresh,
                    motion_layer=settings.motion_layer and version[0] >= 4,
                    motion_residual=settings.residual_options, motion_bends=settings.bend_frames > 0,
                    conditional_coder=b"" if settings.conditional is None else settings.conditional.digest,
                    network_float=settings.network_float, intra_coder=version[0] >= 10 and settings.intra_refinement,
                    short_gops=short, scalar_context=version[0] >= 12 and scalar_context, gop_trim=trim)
    if audio is not None:
        writer.add_section(SECTION_AUDIO, encode_audio(audio))
    writer.finish(header)
    return stats


def encode_frames(frames: np.ndarray, fps: Fraction | float, *, model: CodecModel, quality: int | None = None,
                  prior: str = "auto", rdo_strength: float = DEFAULT_RDO_STRENGTH,
                  refresh: int = DEFAULT_REFRESH, motion: bool | None = None,
                  motion_search: int | None = None, motion_residual: bool = DEFAULT_MOTION_RESIDUAL,
                  motion_bends: bool | None = None, preset: str = DEFAULT_PRESET,
                  conditional_coder: bool | None = None, intra_coder: bool = DEFAULT_INTRA_CODER,
                  network_float: str | None = None, scalar_context: bool = DEFAULT_SCALAR_CONTEXT,
                  scene_cuts: bool = DEFAULT_SCENE_CUTS, trim_gops: bool | None = None) -> bytes:
    """uint8 frames (T, H, W, 3), already at the coded size -> .vqv bytes (the motion options left at
    None: ``preset``'s)."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise VqvError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if frames.shape[0] == 0:
        raise VqvError("empty video")
    settings = EncodeSettings.build(model, quality=quality or None, prior=prior, rdo_strength=rdo_strength,
                                    refresh=refresh, motion=motion, motion_search=motion_search,
                                    motion_residual=motion_residual, motion_bends=motion_bends, preset=preset,
                                    conditional_coder=conditional_coder, intra_coder=intra_coder,
                                    network_float=network_float, scalar_context=scalar_context, scene_cuts=scene_cuts,
                                    trim_gops=trim_gops)
    _, h, w, _ = frames.shape
    settings = settings.for_size(w, h)
    enc = GopEncoder(model, settings, w, h)
    for f in frames:
        enc.add_frame(f)
    buf = io.BytesIO()
    write_container(buf, model, settings, enc.finish(), source_size=(w, h), coded_size=(w, h),
                    fps=Fraction(fps).limit_denominator(1_000_000))
    return buf.getvalue()
