"""Fit the shipped priors on codes that the real encoder produces, and store them with a model.

The statistics a prior must learn depend on the encoder: with temporal copies chosen by rate and
distortion, repeated codes are mostly copied rather than coded, and what is coded is what changed.
So the priors are fitted on the codes :class:`~vqcodec.coding.encoder.GopEncoder` emits (copy decisions,
cross-GOP prediction and all), at every operating point, on training clips:

* ``empirical-static``: per-stream histograms of the *coded* symbols;
* ``learned``: :meth:`LearnedPrior.fit` on runs of consecutive GOPs with their copy maps.

The decisions themselves depend on the prior that prices them, so fitting runs in rounds: the
first round decides with the model's current priors (or none), each later round with the priors
the round before fitted (two rounds settle: the second changes total bits by well under 1%).

The commands ``vqv ship`` and ``vqv train-prior`` (:mod:`vqcodec.release.ship`) use this.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from vqcodec.codes import STEP_DEN, Codes
from vqcodec.coding.encoder import EncodedGop, GopEncoder, code_file
from vqcodec.coding.enhancement import fit_basis
from vqcodec.coding.enhancement import quantise as quantise_coefficients
from vqcodec.coding.gop_coding import LevelLayout
from vqcodec.coding.gops import GOP_FRAMES, coded_symbols, gop_layout, layout_streams, pad_gop, padded_size, synthesise
from vqcodec.coding.ladder import Ladder, LadderPoint
from vqcodec.coding.prior_choice import decision_prior
from vqcodec.entropy.learned_prior import LearnedPrior
from vqcodec.entropy.priors import EmpiricalStaticPrior, Prior
from vqcodec.entropy.scalar_prior import MAX_LIMIT, ScalarTables, quantise
from vqcodec.settings import DEFAULT_RDO_STRENGTH, EncodeSettings
from vqcodec.weights import LADDER_KIND, CodecModel

Log = Callable[[str], None]


def codebook_sizes(model: CodecModel) -> dict[str, int]:
    """``{stream name: K}`` of every stream the network has (its top operating point and beyond)."""
    layout = gop_layout(model, model.point(model.vq_qualities[-1]), *_clip_grid(model))
    full = [LevelLayout(lv.name, lv.codebook_size,
                              model.cfg.top_stages if lv.name == "top" else max(model.cfg.bottom_stages, 0), lv.grid)
            for lv in layout]
    return dict(layout_streams(full))


def _clip_grid(model: CodecModel) -> tuple[int, int, int]:
    c = model.cfg.clip_size
    return GOP_FRAMES, c, c


def runs_of(keys: Sequence[tuple[int, int]], lengths: Sequence[int]) -> list[list[int]]:
    """Group clip indices into runs of consecutive clips: same segment, each starting where the one
    before it ends (``keys`` are (segment, start frame))."""
    runs: list[list[int]] = []
    for i, k in enumerate(keys):
        follows = i > 0 and k[0] == keys[i - 1][0] and k[1] == keys[i - 1][1] + lengths[i - 1]
        if follows:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def encode_runs(model: CodecModel, clips: Sequence[np.ndarray], runs: list[list[int]], quality: int, *,
                prior: Prior, rdo_strength: float = DEFAULT_RDO_STRENGTH) -> list[list[Codes]]:
    """Each run coded as one video by the real encoder at ``quality``: its GOPs' codes."""
    out = []
    for run in runs:
        _, h, w, _ = clips[run[0]].shape
        enc = GopEncoder(model, EncodeSettings.build(model, quality=quality, rdo_strength=rdo_strength, refresh=0), w, h,
                         pricing_prior=prior)
        for i in run:
            for f in clips[i]:
                enc.add_frame(f)
        out.append([g.codes for g in enc.finish()])
    return out


def fit_priors(model: CodecModel, sequences: list[list[Codes]], sources: Sequence[int] | None = None
               ) -> dict[str, bytes]:
    """Static and learned priors from the encoder's codes (copied positions are not coded);
    ``sources``: which video each sequence is (see :meth:`LearnedPrior.fit`)."""
    counts: dict[str, np.ndarray] = {}
    for seq in sequences:
        for codes in seq:
            for s in coded_symbols(codes):
                counts[s.name] = counts.get(s.name, 0) + np.bincount(s.symbols, minlength=s.codebook_size)
    static = EmpiricalStaticPrior.from_counts(counts)
    learned = LearnedPrior.fit(sequences, codebook_sizes(model), sources=sources)
    return {"empirical-static": static.to_bytes(), "learned": learned.to_bytes()}


def refit_priors(model: CodecModel, clips: Sequence[np.ndarray], keys: Sequence[tuple[int, int]], *,
                 qualities: Sequence[int] | None = None, rounds: int = 2,
                 rdo_strength: float = DEFAULT_RDO_STRENGTH, log: Log = print) -> tuple[dict[str, bytes], dict]:
    """Fit the priors in ``rounds`` rounds (see the module docstring); returns them and a report."""
    runs = runs_of(keys, [len(c) for c in clips])
    qualities = list(qualities or model.vq_qualities)          # scalar points code no VQ bottom streams
    priors = dict(model.priors)
    report: dict = {"clips": len(clips), "runs": len(runs), "qualities": qualities, "rounds": []}
    for r in range(rounds):
        t0 = time.time()
        # the decisions are priced as the encoder prices them with these priors
        decider = decision_prior(CodecModel.unsaved(model.net, priors), "auto")
        seqs = [seq for q in qualities for seq in encode_runs(model, clips, runs, q, prior=decider,
                                                             rdo_strength=rdo_strength)]
        # folds by source video: runs of one video, at any quality, stay on one side
        fitted = fit_priors(model, seqs, sources=[keys[r[0]][0] for _ in qualities for r in runs])
        bits = _total_bits(model, seqs, fitted)
        log(f"prior round {r + 1}: {sum(len(s) for s in seqs)} GOPs coded and fitted in {time.time() - t0:.0f}s; "
            f"learned prior {bits['learned'] / 8 / 1000:.1f} kB, static {bits['empirical-static'] / 8 / 1000:.1f} kB")
        report["rounds"].append({"gops": sum(len(s) for s in seqs), **{k: round(v) for k, v in bits.items()}})
        priors = {**priors, **fitted}
    report["prior_bytes"] = {k: len(v) for k, v in fitted.items()}
    return fitted, report


def _total_bits(model: CodecModel, seqs: list[list[Codes]], priors: dict[str, bytes]) -> dict[str, float]:
    """Ideal bits of the fitted priors on the codes they were fitted on (a training-set figure)."""
    out = {}
    for kind, prior in (("learned", LearnedPrior.from_bytes(priors["learned"])),
                        ("empirical-static", EmpiricalStaticPrior.from_bytes(priors["empirical-static"]))):
        out[kind] = sum(sum(c.bits.values()) for seq in seqs for c in code_file(
            prior, [EncodedGop(g, 0, i == 0) for i, g in enumerate(seq)],
            copy_mode=True))
    return out


ENHANCEMENT_CHANNELS = 128     # pixel-basis coefficients kept: 256 measured no better (enhancement_probe)


def fit_ladder(model: CodecModel, clips: Sequence[np.ndarray], points: Sequence[tuple],
               log: Log = lambda s: None, refit_on_coded: bool = True,
               enhancement_channels: int = ENHANCEMENT_CHANNELS) -> Ladder:
    """A quality ladder: ``points`` are ``(top, bottom, None)`` VQ points or ``(top, 0, step)`` scalar
    points, whose tables are fitted on the bottom latents of ``clips`` (uint8 (T, H, W, 3) GOPs) given
    the top codes of that point (the symbols' range on these clips sets each table's limit). With
    ``refit_on_coded`` they are then refitted on what the encoder really codes with those tables: its
    copy decisions leave the static positions out, which the first fit counted as repeats.

    A fourth element ``enh_step`` (8-bit pixel units; ``None`` for none) adds an enhancement layer to a
    point (:mod:`vqcodec.coding.enhancement`): the pixel basis is a PCA of the residuals that the enhanced
    points' bases leave on ``clips`` (as the encoder codes them; every such base, pooled), and each
    step's tables are fitted on the symbols of the residuals its own base leaves."""
    base = _fit_base_ladder(model, clips, [tuple(p[:3]) for p in points], log, refit_on_coded)
    enh = [(q, float(p[3])) for q, p in enumerate(points, 1) if len(p) > 3 and p[3] is not None]
    if not enh:
        return base
    trial = model.with_priors({**model.priors, LADDER_KIND: base.to_bytes()})
    recon: dict[LadderPoint, list[np.ndarray]] = {}    # each base's reconstructions: coded and decoded once

    def residuals(q: int):
        pt = base.points[q - 1]
        if pt not in recon:
            recon[pt] = list(_reconstructions(trial, clips, q))
        return (_as_coded(trial, clip).astype(np.float64) - r for clip, r in zip(clips, recon[pt]))
    t0 = time.perf_counter()
    bases = sorted({base.points[q - 1]: q for q, _ in reversed(enh)}.values())     # one quality per distinct base
    basis = fit_basis((r for q in bases for r in residuals(q)), model.cfg.bottom_factor, enhancement_channels)
    log(f"pixel basis: {basis.channels} of {basis.basis.shape[0]} directions, fitted on the residuals of "
        f"qualities {bases}' bases, {time.perf_counter() - t0:.1f} s")
    enh_tables: dict[int, ScalarTables] = {}
    enh_nums: dict[int, int] = {}
    for q, step in enh:
        num = max(1, round(step * STEP_DEN))
        enh_nums[q] = num
        if num in enh_tables:
            continue
        t0 = time.perf_counter()
        syms = [quantise_coefficients(basis.coefficients(r), num, 1 << 19) for r in residuals(q)]
        limit = max(1, min(MAX_LIMIT, max(int(np.abs(x).max()) for x in syms)))
        enh_tables[num] = ScalarTables.fit([np.clip(x, -limit, limit) for x in syms], num, limit)
        log(f"enhancement tables for step {step:g} (quality {q}'s base): limit {limit}, "
            f"{len(enh_tables[num].to_bytes())} B, {time.perf_counter() - t0:.1f} s")
    pts = tuple(LadderPoint(p.top, p.bottom, p.step_num, enh_nums.get(q, 0)) for q, p in enumerate(base.points, 1))
    ladder = Ladder(pts, base.tables, basis, enh_tables)
    if not refit_on_coded:
        return ladder
    trial = model.with_priors({**model.priors, LADDER_KIND: ladder.to_bytes()})
    refit = {}
    for q, p in enumerate(ladder.points, 1):       # as for the scalar tables: on what the encoder codes
        if not p.enhanced or p.enh_num in refit:
            continue
        t0 = time.perf_counter()
        syms, coded = _coded_symbols(trial, clips, q, "enhancement")
        refit[p.enh_num] = ScalarTables.fit(syms, p.enh_num, enh_tables[p.enh_num].limit, coded)
        log(f"enhancement tables for step {p.enh_step:g} refitted on the encoder's coded positions "
            f"({100 * float(np.mean([c.mean() for c in coded])):.0f}% of them), {time.perf_counter() - t0:.1f} s")
    return Ladder(pts, base.tables, basis, {**enh_tables, **refit})


def _coded_symbols(model: CodecModel, clips: Sequence[np.ndarray], quality: int, layer: str):
    """The symbols of ``layer`` ("scalar" or "enhancement") the encoder sends for each clip (one
    refresh GOP each: no scene cuts) at ``quality``, and the positions it codes rather than copies."""
    syms, coded = [], []
    for clip in clips:
        enc = GopEncoder(model, EncodeSettings.build(model, quality=quality, scene_cuts=False), clip.shape[2],
                         clip.shape[1])
        for f in clip:
            enc.add_frame(f)
        for g in enc.finish():
            sc = getattr(g.codes, layer)
            syms.append(sc.symbols)
            coded.append(~sc.copy_map())
    return syms, coded


def _reconstructions(model: CodecModel, clips: Sequence[np.ndarray], quality: int):
    """Per clip, its reconstruction (uint8, padded GOP) at ``quality``, each clip one refresh GOP coded
    as the encoder codes it (no scene cuts: a cut inside the clip would make two GOPs)."""
    for clip in clips:
        settings = EncodeSettings.build(model, quality=quality, scene_cuts=False)
        enc = GopEncoder(model, settings, clip.shape[2], clip.shape[1])
        for f in clip:
            enc.add_frame(f)
        (g,) = enc.finish()
        yield synthesise(enc.model, g.codes)          # (the encoder's model, in its network float)


def _as_coded(model: CodecModel, clip: np.ndarray) -> np.ndarray:
    """A clip as the encoder sees it: one GOP padded to the network's stride."""
    pw, ph = padded_size(clip.shape[2], clip.shape[1], model.cfg.stride)
    return pad_gop(np.asarray(clip), GOP_FRAMES, ph, pw)


def _fit_base_ladder(model: CodecModel, clips: Sequence[np.ndarray], points: Sequence[tuple[int, int, float | None]],
                     log: Log, refit_on_coded: bool) -> Ladder:
    tables: dict[int, ScalarTables] = {}
    out = []
    for top, bottom, step in points:
        if step is None:
            out.append(LadderPoint(int(top), int(bottom)))
            continue
        step_num = max(1, round(step * STEP_DEN))
        if step_num not in tables:
            t0 = time.perf_counter()
            syms = [quantise(z, step_num, 1 << 19) for z in _bottom_latents(model, clips, int(top))]
            limit = max(1, max(int(np.abs(s).max()) for s in syms))
            tables[step_num] = ScalarTables.fit(syms, step_num, limit)
            log(f"scalar tables for step {step_num}/{STEP_DEN} (top {top}): limit {limit}, "
                f"{len(tables[step_num].to_bytes())} B, {time.perf_counter() - t0:.1f} s")
        out.append(LadderPoint(int(top), 0, step_num))
    ladder = Ladder(tuple(out), tables)
    if not refit_on_coded or not tables:
        return ladder
    trial = model.with_priors({**model.priors, LADDER_KIND: ladder.to_bytes()})
    refit = {}
    for q, p in enumerate(ladder.points, 1):
        if not p.scalar or p.step_num in refit:
            continue
        t0 = time.perf_counter()
        syms, coded = _coded_symbols(trial, clips, q, "scalar")
        old = tables[p.step_num]
        refit[p.step_num] = ScalarTables.fit(syms, p.step_num, old.limit, coded)
        share = float(np.mean([c.mean() for c in coded]))
        log(f"scalar tables for step {p.step_num}/{STEP_DEN} refitted on the encoder's coded positions "
            f"({100 * share:.0f}% of them), {time.perf_counter() - t0:.1f} s")
    return Ladder(ladder.points, {**tables, **refit})


def _bottom_latents(model: CodecModel, clips: Sequence[np.ndarray], top: int):
    """Each clip's bottom latent (C, T, H, W) given its top codes at ``top`` stages (as the encoder
    computes it at a scalar point, before any copy decision)."""
    import torch  # noqa: PLC0415

    net = model.net
    for clip in clips:
        pixel_term, h_b, z_t = net.analyse(np.asarray(clip)[None])
        top_idx = None
        if z_t is not None:
            with torch.no_grad():
                top_idx = net.top_quantizer.eval()(z_t, top).indices
        yield net.bottom_latent(pixel_term, h_b, top_idx)[0].float().cpu().numpy()
