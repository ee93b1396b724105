"""The codec core: GOPs of frames -> codes -> entropy-coded chunks -> a .vqv container, and back.

Data flows one way on encode (frames -> network latents -> rate-distortion decisions
(:mod:`vqcodec.coding.rdo`) -> :class:`Codes` with copy maps -> :mod:`vqcodec.coding.gop_coding` under a prior ->
chunks) and straight back on decode (chunks -> codes -> network -> frames). A GOP is either a
*refresh* GOP, decodable alone, or *predicted* from the previous GOP's decoded codes (its first
slice may copy their last slice, and the prior sees them as context); ``refresh`` sets how often
a refresh GOP comes. This module works on in-memory frames and file objects; the file-level
pipeline (reading videos, resizing, reports) is ``pipeline.py``.
"""
from __future__ import annotations

import contextlib
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import BinaryIO, Callable, Iterable, Iterator, NamedTuple

import numpy as np
import torch

from vqcodec.formats import GopChunk, Header, VqvReader, VqvWriter

from vqcodec.coding import enhancement, rdo
from vqcodec.codes import CodeLevel, Codes, ScalarCodes, stream_name
from vqcodec.entropy.copy_flags import CopyFlagModel
from vqcodec.entropy.rans import EntropyError
from vqcodec.errors import ModelMismatchError, OptionError, VqvError
from vqcodec.coding.gop_coding import (ENHANCEMENT_LABEL, SCALAR_LABEL, CodedGop, GopReference, LevelLayout, copy_summary, decode_gop, encode_gop,
                         layout_of)
from vqcodec.entropy.scalar_prior import ScalarTables
from vqcodec.entropy.learned_prior import LearnedPrior, load_learned
from vqcodec.entropy.priors import (EmpiricalAdaptivePrior, EmpiricalStaticPrior, Prior, StreamSymbols, UniformPrior, extended_slices,
                     grid_ratio, prior_from_header)
from vqcodec.net.model import TILE_HALO_PIXELS, TILE_PIXELS
from vqcodec.weights import CodecModel

GOP_FRAMES = 32
#: Memory the GOPs in the network at once may take together (see :func:`network_workers`).
NETWORK_MEMORY_BUDGET = 4 << 30
ENCODE_BATCH = 4        # GOPs analysed per round (spread over the worker threads), decided in order
ROUND_PIXELS = 4 * 32 * 64 * 64 * 4   # fewer GOPs per round when frames are large (memory, not speed)
PRIOR_CHOICES = ("auto", "uniform", "empirical-static", "empirical-adaptive", "learned")
# A refresh GOP every 8 GOPs (256 frames, 16 s at 16 fps; x264's default keyint is 250 frames).
# Seeking decodes at most 7 earlier GOPs' *codes* (entropy decoding only, no network), and damage
# stops at the next refresh point. README ("Refresh points") has the measured cost of others.
DEFAULT_REFRESH = 8
DEFAULT_RDO_STRENGTH = 1.0
MAX_CODED_SIDE = 4096   # the encoder codes at most this per side; a file claiming more is refused


# ------------------------------------------------------------------------------------------ geometry

def padded_size(width: int, height: int, stride: tuple[int, int, int]) -> tuple[int, int]:
    """The model's input size for a coded size: each side rounded up to the spatial stride."""
    return -(-width // stride[2]) * stride[2], -(-height // stride[1]) * stride[1]


def pad_gop(frames: np.ndarray, t: int, h: int, w: int) -> np.ndarray:
    """Pad (n, H0, W0, 3) to (t, h, w, 3) by repeating the last frame / edge pixels."""
    n, h0, w0, _ = frames.shape
    if (n, h0, w0) == (t, h, w):
        return frames
    return np.pad(frames, ((0, t - n), (0, h - h0), (0, w - w0), (0, 0)), mode="edge")


# ------------------------------------------------------------------------------------------ network runs

def gop_network_bytes(height: int, width: int) -> int:
    """About how much memory one GOP of ``height`` x ``width`` frames needs in the network: the
    full-resolution tile at work (``model.TILE_PIXELS`` plus margins; ~180 bytes per pixel and frame)
    and the GOP's buffers (~12 bytes per pixel and frame). Measured: 1.3 GB for a 720p GOP."""
    side = TILE_PIXELS + 2 * TILE_HALO_PIXELS
    tile = min(height, side) * min(width, side)
    return GOP_FRAMES * (180 * tile + 12 * height * width)


def network_round(height: int, width: int) -> tuple[int, int]:
    """(GOPs run at once, GOPs per round) for frames of ``height`` x ``width``. At once: torch's
    thread count (``--threads``), fewer where those GOPs together would need more than
    :data:`NETWORK_MEMORY_BUDGET` (720p: 3, 4K: 1). Per round: ``ENCODE_BATCH`` at small sizes, down
    to one per worker for large frames, whose decoded GOPs alone are hundreds of megabytes. Neither
    changes the output."""
    threads = max(1, torch.get_num_threads())
    workers = max(1, min(threads, NETWORK_MEMORY_BUDGET // gop_network_bytes(height, width)))
    return workers, max(workers, min(ENCODE_BATCH, ROUND_PIXELS // (GOP_FRAMES * height * width)))


@contextlib.contextmanager
def network_pool(workers: int | None = None) -> Iterator[ThreadPoolExecutor]:
    """Worker threads for the network, one GOP each, every op single-threaded.

    The same output for any thread count: a conv's result can depend on how many threads split
    it, and on the batch it sits in, so every GOP goes through the network alone (batch 1) with
    one intra-op thread; parallelism comes from running several GOPs at once instead. The pool has
    ``workers`` workers (default: as many as torch had threads, ``--threads``).
    """
    threads = max(1, torch.get_num_threads())
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=workers or threads) as pool:
            yield pool
    finally:
        torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------ layout

def gop_layout(model: CodecModel, quality: int, t: int, h: int, w: int) -> list[LevelLayout]:
    """The levels a GOP of this padded size carries at this quality, in coding order."""
    pt = model.point(quality)
    ts, bs = pt.top, pt.bottom
    grids = model.cfg.latent_grids(t, h, w)
    out = []
    if "top" in grids:
        out.append(LevelLayout("top", model.cfg.top_codebook, ts, grids["top"]))
    out.append(LevelLayout("bottom", model.cfg.bottom_codebook, bs, grids["bottom"]))
    return out


def scalar_tables(model: CodecModel, quality: int) -> ScalarTables | None:
    """The scalar layer's tables at a scalar point, else None."""
    pt = model.point(quality)
    return model.ladder.tables[pt.step_num] if pt.scalar else None


def enhancement_tables(model: CodecModel, quality: int) -> ScalarTables | None:
    """The enhancement layer's tables at an enhanced point, else None."""
    pt = model.point(quality)
    return model.ladder.enh_tables[pt.enh_num] if pt.enhanced else None


def chunk_streams(layout: list[LevelLayout], scalar: ScalarTables | None,
                  enhancement: ScalarTables | None = None) -> list[str]:
    """The names of the symbol counts a chunk stores, in order: every VQ stream, then the scalar
    layer, then the enhancement layer."""
    return [n for n, _ in layout_streams(layout)] + ([SCALAR_LABEL] if scalar is not None else []) \
        + ([ENHANCEMENT_LABEL] if enhancement is not None else [])


def synthesise(model: CodecModel, codes: Codes) -> np.ndarray:
    """Codes of one GOP (padded size) -> uint8 frames (T, H, W, 3): the network's reconstruction,
    plus the enhancement layer at an enhanced point."""
    frames = model.net.decode(codes)
    if codes.enhancement is None:
        return frames
    basis = model.ladder.basis
    if basis is None:
        raise VqvError("these codes carry an enhancement layer but the model has no pixel basis")
    return basis.apply(frames, codes.enhancement.symbols, codes.enhancement.step)


def layout_streams(layout: list[LevelLayout]) -> list[tuple[str, int]]:
    """``(stream name, codebook size)`` of every coded stream, in coding order (the chunk's order)."""
    return [(n, lv.codebook_size) for lv in layout for n in lv.streams()]


def coded_symbols(codes: Codes) -> list[StreamSymbols]:
    """The symbols a GOP actually codes (copied positions left out), per stream."""
    out = []
    for lv in codes.levels:
        keep = ~lv.copy_map()
        for s in range(lv.stages):
            out.append(StreamSymbols(stream_name(lv.name, s), lv.codebook_size,
                                     np.ascontiguousarray(lv.indices[s][keep]).astype(np.int32)))
    return out


def is_refresh(gop_index: int, refresh: int) -> bool:
    """GOP 0 always; then every ``refresh`` GOPs (``refresh`` 0: never again)."""
    return gop_index == 0 or (refresh > 0 and gop_index % refresh == 0)


# ------------------------------------------------------------------------------------------ priors

def _static_prior(model: CodecModel) -> EmpiricalStaticPrior | None:
    return EmpiricalStaticPrior.from_bytes(model.priors["empirical-static"]) if "empirical-static" in model.priors else None


def _learned_prior(model: CodecModel) -> LearnedPrior | None:
    try:
        return load_learned(model.priors)
    except EntropyError as e:
        raise VqvError(f"the model's learned prior is unusable: {e}") from None


def decision_prior(model: CodecModel, kind: str) -> Prior:
    """The prior whose costs the encoder's decisions are made with: the one asked for, or (for
    ``auto``, or ``empirical-adaptive``, which is fitted after the decisions) the best the model
    ships: learned, else static, else uniform."""
    if kind == "uniform":
        return UniformPrior()
    if kind == "empirical-static":
        static = _static_prior(model)
        if static is None:
            raise VqvError("this model ships no empirical-static prior")
        return static
    if kind == "learned":
        learned = _learned_prior(model)
        if learned is None:
            raise VqvError("this model ships no learned prior (add one with `vqv train-prior`)")
        return learned
    if kind not in PRIOR_CHOICES:
        raise VqvError(f"unknown prior {kind!r} (choose from {', '.join(PRIOR_CHOICES)})")
    return _learned_prior(model) or _static_prior(model) or UniformPrior()


def candidate_priors(model: CodecModel, kind: str, gop_codes: list[Codes]) -> list[Prior]:
    """The priors to try for a file: the one asked for, or under ``auto`` every available one."""
    if kind == "empirical-adaptive":
        return [EmpiricalAdaptivePrior.fit(s for c in gop_codes for s in coded_symbols(c))]
    if kind != "auto":
        return [decision_prior(model, kind)]
    static, learned = _static_prior(model), _learned_prior(model)
    return [p for p in (UniformPrior(), static, EmpiricalAdaptivePrior.fit(s for c in gop_codes for s in coded_symbols(c)),
                        learned) if p is not None]


# ------------------------------------------------------------------------------------------ encoder

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
    prior: str = ""
    prior_params_bytes: int = 0


@dataclass
class EncodedGop:
    codes: Codes            # resolved codes with copy maps
    frames: int             # real frames in the GOP
    refresh: bool           # decodable alone


class GopEncoder:
    """Turns a stream of frames into GOP codes with copy decisions (the model's part of encoding).

    Frames arrive one at a time at the coded size; every ``ENCODE_BATCH`` full GOPs go through the
    network's analysis together, then the rate-distortion decisions run GOP by GOP in decode
    order (a predicted GOP's decisions need the previous GOP's result). Only the codes are kept
    (int16), so memory does not grow with video length in any way that matters; the prior then
    needs all of them (adaptive histograms) before a single byte is written. ``on_gop(frames,
    n, codes)`` is called with each GOP's padded input frames and its codes (the pipeline uses it
    to measure quality).
    """

    def __init__(self, model: CodecModel, quality: int, width: int, height: int, *, prior: str | Prior = "auto",
                 rdo_strength: float = DEFAULT_RDO_STRENGTH, refresh: int = DEFAULT_REFRESH,
                 on_gop: Callable[[np.ndarray, int, Codes], None] | None = None) -> None:
        if not rdo_strength >= 0 or rdo_strength == float("inf"):
            raise OptionError(f"--rdo-strength must be a finite number >= 0, got {rdo_strength}")
        if refresh < 0:
            raise OptionError(f"--refresh must be >= 0, got {refresh}")
        self.model, self.quality = model, quality
        self.width, self.height = width, height
        self.pw, self.ph = padded_size(width, height, model.cfg.stride)
        self.copy_mode = rdo_strength > 0
        self.strength = float(rdo_strength)
        self.refresh = int(refresh)
        self.layout = gop_layout(model, quality, GOP_FRAMES, self.ph, self.pw)
        self.scalar = scalar_tables(model, quality)
        self.enhancement = enhancement_tables(model, quality)
        self.prior = prior if isinstance(prior, Prior) else decision_prior(model, prior)
        self.on_gop = on_gop
        self._frames: list[np.ndarray] = []
        self._pending: list[tuple[np.ndarray, int]] = []
        self.workers, self.round = network_round(self.ph, self.pw)
        self._ref_levels: dict[str, CodeLevel] = {}      # the previous GOP's resolved levels
        self._ref_flags: dict[str, CopyFlagModel] = {}   # the copy-decision models after it
        self._ref_scalar: ScalarCodes | None = None       # the previous GOP's scalar layer
        self._ref_enh: ScalarCodes | None = None          # the previous GOP's enhancement layer
        self.gops: list[EncodedGop] = []

    def add_frame(self, frame: np.ndarray) -> None:
        self._frames.append(frame)
        if len(self._frames) == GOP_FRAMES:
            self._push_gop()

    def _push_gop(self) -> None:
        n = len(self._frames)
        gop = pad_gop(np.stack(self._frames), GOP_FRAMES, self.ph, self.pw)
        self._frames = []
        self._pending.append((gop, n))
        if len(self._pending) >= self.round:
            self._encode_pending()

    def _encode_pending(self) -> None:
        if not self._pending:
            return
        net = self.model.net
        with network_pool(self.workers) as pool:
            analysed = list(pool.map(lambda g: net.analyse(g[0][None]), self._pending))   # (pixel term, h_b, z_t)
            first = len(self.gops)
            refresh = [is_refresh(first + i, self.refresh) for i in range(len(self._pending))]
            decided: list[dict[str, CodeLevel]] = [{} for _ in self._pending]
            ref_top: list[CodeLevel | None] = []
            z_bottom: list[torch.Tensor] = []
            for lv in self.layout:                       # top first: the bottom latent depends on it
                if lv.name == "bottom":
                    def bottom_latent(i: int) -> torch.Tensor:
                        pixel_term, h_b, z_t = analysed[i]
                        top_idx = None if z_t is None else \
                            torch.from_numpy(decided[i]["top"].indices[None].astype(np.int64))
                        return net.bottom_latent(pixel_term, h_b, top_idx)
                    z_bottom = list(pool.map(bottom_latent, range(len(self._pending))))
                    if self.scalar is not None:          # the scalar layer codes it (below): no VQ stages
                        for i in range(len(self._pending)):
                            decided[i][lv.name] = self._ref_levels[lv.name] = CodeLevel(
                                lv.name, lv.codebook_size, np.zeros((0, *lv.grid), np.int32), np.zeros(lv.grid, bool))
                        continue
                    lat = list(pool.map(lambda z: _level_latents(net.bottom_quantizer, z)[0], z_bottom))
                else:
                    lat = list(pool.map(lambda a: _level_latents(net.top_quantizer, a[2])[0], analysed))
                for i in range(len(self._pending)):
                    ref = None if refresh[i] else self._ref_levels.get(lv.name)
                    if lv.name == "top":
                        ref_top.append(ref)
                    lower = None
                    if lv.name == "bottom" and "top" in decided[i] and decided[i]["top"].stages:
                        top = decided[i]["top"]
                        lower = (extended_slices(top.indices[0], None if ref_top[i] is None else ref_top[i].indices[0],
                                                 top.grid), grid_ratio(lv.grid, top.grid))
                    fm = None
                    if self.copy_mode and lv.stages:
                        old = None if refresh[i] else self._ref_flags.get(lv.name)
                        fm = old.clone() if old is not None else CopyFlagModel()
                        self._ref_flags[lv.name] = fm
                    lam = rdo.level_lambda(lat[i], lv.name, lv.stages, self.layout[-1].stages, self.strength)
                    level = rdo.decide_level(lv, lat[i], self.prior, reference=ref, flag_model=fm, lam=lam,
                                             lower=lower)
                    decided[i][lv.name] = level
                    self._ref_levels[lv.name] = level
        scalars: list[ScalarCodes | None] = [None] * len(self._pending)
        if self.scalar is not None:       # the bottom latent given the top codes sent, as symbols
            lam = rdo.scalar_lambda(self.scalar.step, self.strength)
            for i, z in enumerate(z_bottom):    # in decode order: a predicted GOP copies from the one before
                z_b = z[0].double().cpu().numpy()
                fm = None
                if self.copy_mode:
                    old = None if refresh[i] else self._ref_flags.get(SCALAR_LABEL)
                    fm = old.clone() if old is not None else CopyFlagModel()
                    self._ref_flags[SCALAR_LABEL] = fm
                scalars[i] = rdo.decide_scalar(self.scalar, z_b, None if refresh[i] else self._ref_scalar, fm, lam)
                self._ref_scalar = scalars[i]
        all_codes = [Codes(tuple(CodeLevel(lv.name, lv.codebook_size, lv.indices.astype(np.int16), lv.copied)
                                 for lv in (decided[i][lv.name] for lv in self.layout)), scalars[i])
                     for i in range(len(self._pending))]
        if self.enhancement is not None:     # what the decoder will reconstruct from the codes so far
            with network_pool(self.workers) as pool:
                bases = list(pool.map(lambda c: self.model.net.decode(c), all_codes))
            basis, tabs = self.model.ladder.basis, self.enhancement
            for i, ((gop, _), base) in enumerate(zip(self._pending, bases)):      # in decode order
                coef = basis.coefficients(gop, base)
                sym = enhancement.quantise(coef, tabs.step_num, tabs.limit)
                fm = None
                if self.copy_mode:
                    old = None if refresh[i] else self._ref_flags.get(ENHANCEMENT_LABEL)
                    fm = old.clone() if old is not None else CopyFlagModel()
                    self._ref_flags[ENHANCEMENT_LABEL] = fm
                self._ref_enh = rdo.decide_scalar(tabs, coef, None if refresh[i] else self._ref_enh, fm,
                                                  rdo.scalar_lambda(tabs.step, self.strength), symbols=sym)
                all_codes[i] = Codes(all_codes[i].levels, all_codes[i].scalar, self._ref_enh)
        for i, (gop, n) in enumerate(self._pending):
            codes = all_codes[i]
            self.gops.append(EncodedGop(codes, n, refresh[i]))
            if self.on_gop is not None:
                self.on_gop(gop, n, codes)
        self._pending = []

    def finish(self) -> list[EncodedGop]:
        if self._frames:
            self._push_gop()
        self._encode_pending()
        return self.gops


@torch.no_grad()
def _level_latents(quantizer, z: torch.Tensor) -> list[rdo.LevelLatents]:
    """Per clip of a batch: the latent, the natural codes of every stage and the codebooks."""
    was_training = quantizer.training
    quantizer.eval()                   # no codebook updates
    try:
        out = quantizer(z)
    finally:
        quantizer.train(was_training)
    cbs = torch.stack([layer.codebook for layer in quantizer.layers]).double().cpu().numpy()
    zz = z.double().cpu().numpy()
    idx = out.indices.cpu().numpy()
    return [rdo.LevelLatents(zz[i], idx[i], cbs) for i in range(z.shape[0])]


def code_file(prior: Prior, layout: list[LevelLayout], gops: list[EncodedGop], copy_mode: bool,
              scalar: ScalarTables | None = None, enhancement: ScalarTables | None = None) -> list[CodedGop]:
    """Entropy-code a file's GOPs in order, each predicted GOP from the one before it."""
    out, ref = [], None
    for g in gops:
        res = encode_gop(layout, prior, g.codes, copy_mode=copy_mode, reference=None if g.refresh else ref,
                         scalar=scalar, enhancement=enhancement)
        out.append(res)
        ref = res.reference
    return out


def write_container(out: BinaryIO, model: CodecModel, quality: int, gops: list[EncodedGop], *,
                    prior_kind: str, source_size: tuple[int, int], coded_size: tuple[int, int],
                    fps: Fraction, copy_mode: bool = True, refresh: int = DEFAULT_REFRESH) -> EncodeStats:
    """Entropy-code every GOP with one prior and write the container to ``out``.

    Under ``auto`` every available prior codes the whole file and the smallest real total (payload
    bytes + side info) wins (ties: the earliest of uniform, static, adaptive, learned).
    """
    if not gops:
        raise VqvError("empty video")
    g0 = gops[0].codes
    layout = layout_of(g0)
    scalar, enh = scalar_tables(model, quality), enhancement_tables(model, quality)
    best = None
    for prior in candidate_priors(model, prior_kind, [g.codes for g in gops]):
        coded = code_file(prior, layout, gops, copy_mode, scalar, enh)
        size = sum(len(c.payload) for c in coded) + len(prior.params())
        if best is None or size < best[0]:
            best = (size, prior, coded)
    _, prior, coded = best
    stats = EncodeStats(prior=prior.kind, prior_params_bytes=len(prior.params()))
    writer = VqvWriter(out)
    names = chunk_streams(layout, scalar, enh)
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
    fr = Fraction(fps).limit_denominator(1_000_000)
    header = Header(model_digest=model.digest, source_width=source_size[0], source_height=source_size[1],
                    coded_width=coded_size[0], coded_height=coded_size[1], fps_num=fr.numerator,
                    fps_den=fr.denominator, frame_count=stats.frames, gop_length=GOP_FRAMES, quality=quality,
                    prior=prior.kind, prior_params=prior.params(), gop_prediction=any(not g.refresh for g in gops),
                    copy_mode=copy_mode, refresh_interval=refresh)
    writer.finish(header)
    return stats


# ------------------------------------------------------------------------------------------ decoder

def check_model(header: Header, model: CodecModel) -> CodecModel:
    """The model to decode ``header``'s file with: ``model`` itself, or ``model`` as the earlier
    release that wrote the file (same network, that release's priors)."""
    found = model.for_digest(header.model_digest)
    if found is None:
        raise ModelMismatchError(
            f"file was encoded with model {header.model_digest.hex()}, but the loaded model is "
            f"{model.digest.hex()} (pass the right --model)")
    if header.quality not in found.qualities:
        raise VqvError(f"file uses quality {header.quality}, which this model does not offer")
    return found


def _file_prior(reader: VqvReader, model: CodecModel, layout: list[LevelLayout]) -> Prior:
    h = reader.header
    streams = layout_streams(layout)
    if h.prior == "learned":
        if h.prior_params:
            raise EntropyError("learned prior takes no params")
        learned = _learned_prior(model)
        if learned is None:
            raise VqvError("file uses the learned prior but the model ships none")
        learned.check_streams(streams)
        return learned
    return prior_from_header(h.prior, h.prior_params, streams, _static_prior(model))


class DecodedGop(NamedTuple):
    index: int
    codes: Codes                # resolved, with copy maps
    frames: int                 # real frames (the last GOP may be padded)
    bits: dict[str, float]      # ideal bits per stream and per level's copy decisions ("copy.<level>")


def read_gop_codes(reader: VqvReader, model: CodecModel, indices: Iterable[int] | None = None
                   ) -> Iterator[DecodedGop]:
    """Each GOP's codes (all GOPs, or the ones asked for, in the order asked), without pixels.

    A predicted GOP needs the previous GOP's decoded codes: asking for it alone decodes the codes
    of the GOPs from the nearest refresh point first (entropy decoding only, no network).
    """
    model = check_model(reader.header, model)
    h = reader.header
    if h.gop_length != GOP_FRAMES:
        raise VqvError(f"unsupported GOP length {h.gop_length} (this decoder uses {GOP_FRAMES})")
    if max(h.coded_width, h.coded_height) > MAX_CODED_SIDE:
        # bounded before anything is allocated: the entropy tables and the network scale with it
        raise VqvError(f"coded size {h.coded_width}x{h.coded_height} exceeds {MAX_CODED_SIDE} per side "
                       "(no vqv encoder writes that: damaged or hostile file)")
    pw, ph = padded_size(h.coded_width, h.coded_height, model.cfg.stride)
    layout = gop_layout(model, h.quality, GOP_FRAMES, ph, pw)
    prior = _file_prior(reader, model, layout)
    scalar, enh = scalar_tables(model, h.quality), enhancement_tables(model, h.quality)
    names = chunk_streams(layout, scalar, enh)
    copy_mode = bool(h.copy_mode) and reader.version[0] >= 2
    if reader.version[0] < 2 and not isinstance(prior, LearnedPrior) and h.gop_prediction:
        raise VqvError("this version-1 file's GOPs need a context model its prior does not provide")
    last: tuple[int, CodedGop] | None = None      # the last GOP decoded

    def decode(i: int, ref: GopReference | None) -> CodedGop:
        chunk = reader.read_chunk(i)
        if len(chunk.symbol_counts) != len(names):
            raise VqvError(f"GOP {i}: {len(chunk.symbol_counts)} streams stored, the model's quality "
                           f"{h.quality} has {len(names)}")
        if chunk.predicted and ref is None:
            raise VqvError(f"GOP {i} is predicted from GOP {i - 1}, which is not available")
        try:
            return decode_gop(layout, prior, chunk.payload, dict(zip(names, chunk.symbol_counts)),
                              copy_mode=copy_mode, reference=ref if chunk.predicted else None,
                              end_check=reader.version[0] >= 2, scalar=scalar, enhancement=enh)
        except EntropyError as e:
            ctx = " (or in the GOPs before it, which it is predicted from)" if chunk.predicted else ""
            raise EntropyError(f"GOP {i}{ctx}: {e}") from None

    for i in (range(len(reader)) if indices is None else indices):
        i = int(i)
        if not 0 <= i < len(reader):
            raise VqvError(f"GOP {i} out of range (the file has {len(reader)})")
        if last is not None and last[0] == i:
            res = last[1]
        else:
            start = i if last is not None and last[0] == i - 1 else reader.refresh_point(i)
            ref = last[1].reference if last is not None and last[0] == start - 1 else None
            for j in range(start, i + 1):
                res = decode(j, ref)
                ref = res.reference
            last = (i, res)
        yield DecodedGop(i, res.codes, _frame_count(reader, i), res.bits)


def _frame_count(reader: VqvReader, i: int) -> int:
    h = reader.header
    return min(h.gop_length, h.frame_count - i * h.gop_length)


def decode_gops(reader: VqvReader, model: CodecModel) -> Iterator[np.ndarray]:
    """uint8 frames (n, coded H, coded W, 3) per GOP, in order; a round of GOPs at a time through
    the network, each alone on one worker (see :func:`network_pool`, :func:`network_round`)."""
    h = reader.header
    model = check_model(h, model)     # an earlier release's file: that release's ladder (its pixel basis)
    batch: list[tuple[Codes, int]] = []

    def run(pool, items):
        frames = pool.map(lambda item: synthesise(model, item[0]), items)
        for f, (_, n) in zip(frames, items):
            yield f[:n, :h.coded_height, :h.coded_width]

    pw, ph = padded_size(h.coded_width, h.coded_height, model.cfg.stride)
    workers, per_round = network_round(ph, pw)
    with network_pool(workers) as pool:
        for g in read_gop_codes(reader, model):
            batch.append((g.codes, g.frames))
            if len(batch) == per_round:
                yield from run(pool, batch)
                batch = []
        if batch:
            yield from run(pool, batch)


# ------------------------------------------------------------------------------------------ in memory

def encode_frames(frames: np.ndarray, fps: Fraction | float, *, model: CodecModel, quality: int | None = None,
                  prior: str = "auto", rdo_strength: float = DEFAULT_RDO_STRENGTH,
                  refresh: int = DEFAULT_REFRESH) -> bytes:
    """uint8 frames (T, H, W, 3), already at the coded size -> .vqv bytes."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise VqvError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if frames.shape[0] == 0:
        raise VqvError("empty video")
    q = quality or model.default_quality
    model.point(q)
    _, h, w, _ = frames.shape
    enc = GopEncoder(model, q, w, h, prior=prior, rdo_strength=rdo_strength, refresh=refresh)
    for f in frames:
        enc.add_frame(f)
    buf = io.BytesIO()
    write_container(buf, model, q, enc.finish(), prior_kind=prior, source_size=(w, h), coded_size=(w, h),
                    fps=Fraction(fps).limit_denominator(1_000_000), copy_mode=enc.copy_mode, refresh=refresh)
    return buf.getvalue()


def decode_bytes(data: bytes, *, model: CodecModel) -> np.ndarray:
    """.vqv bytes -> uint8 frames (T, coded H, coded W, 3)."""
    reader = VqvReader(io.BytesIO(data))
    parts = list(decode_gops(reader, model))
    h = reader.header
    if not parts:
        return np.zeros((0, h.coded_height, h.coded_width, 3), np.uint8)
    return np.concatenate(parts)
