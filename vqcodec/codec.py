"""The codec core: GOPs of frames -> codes -> entropy-coded chunks -> a .vqv container, and back.

Data flows one way on encode (frames -> ``model.encode`` -> :class:`Codes` -> prior -> bytes) and
straight back on decode. This module works on in-memory frames and file objects; the file-level
pipeline (reading videos, resizing, reports) is ``pipeline.py``.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import BinaryIO, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from vqcodec.formats import GopChunk, Header, VqvReader, VqvWriter

from .codes import CodeLevel, Codes
from .entropy import EntropyError
from .errors import ModelMismatchError, VqvError
from .learned_prior import LearnedPrior, load_learned
from .priors import (EmpiricalAdaptivePrior, EmpiricalStaticPrior, Prior, StreamSpec, StreamSymbols, UniformPrior,
                     choose_prior, prior_from_header)
from .weights import CodecModel

GOP_FRAMES = 32
ENCODE_BATCH = 4        # GOPs per forward pass: amortises per-call overhead without much memory
PRIOR_CHOICES = ("auto", "uniform", "empirical-static", "empirical-adaptive", "learned")


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


def resize_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 (n, H, W, 3) -> (n, height, width, 3), antialiased bicubic; a no-op at the same size."""
    if frames.shape[1:3] == (height, width):
        return frames
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    down = height < frames.shape[1] or width < frames.shape[2]
    y = F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False, antialias=down)
    return y.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


# ------------------------------------------------------------------------------------------ streams

def stream_specs(model: CodecModel, quality: int, t: int, h: int, w: int) -> list[tuple[str, int, tuple[int, int, int]]]:
    """(name, codebook size, grid) of every stream a GOP of this size carries at this quality, in order."""
    ts, bs = model.net.operating_point(quality)
    grids = model.net.latent_grids(t, h, w)
    out = []
    if "top" in grids:
        out += [(f"top.{s}", model.cfg.top_codebook, grids["top"]) for s in range(ts)]
    out += [(f"bottom.{s}", model.cfg.bottom_codebook, grids["bottom"]) for s in range(bs)]
    return out


def codes_to_streams(codes: Codes) -> list[StreamSymbols]:
    return [StreamSymbols(f"{name}.{s}", k, np.ascontiguousarray(idx).reshape(-1).astype(np.int32))
            for name, s, k, idx in codes.streams()]


def streams_to_codes(model: CodecModel, quality: int, arrays: list[np.ndarray], t: int, h: int, w: int) -> Codes:
    ts, bs = model.net.operating_point(quality)
    grids = model.net.latent_grids(t, h, w)
    levels, i = [], 0
    if "top" in grids:
        top = [a.reshape(grids["top"]) for a in arrays[i:i + ts]]
        i += ts
        levels.append(CodeLevel("top", model.cfg.top_codebook,
                                np.stack(top) if top else np.zeros((0, *grids["top"]), np.int32)))
    bottom = [a.reshape(grids["bottom"]) for a in arrays[i:i + bs]]
    levels.append(CodeLevel("bottom", model.cfg.bottom_codebook,
                            np.stack(bottom) if bottom else np.zeros((0, *grids["bottom"]), np.int32)))
    return Codes(tuple(levels))


# ------------------------------------------------------------------------------------------ encoder

@dataclass
class EncodeStats:
    gops: int = 0
    frames: int = 0
    payload_bytes: int = 0
    ideal_bits: float = 0.0
    bits_per_stream: dict[str, float] = field(default_factory=dict)
    prior: str = ""
    prior_params_bytes: int = 0


class GopEncoder:
    """Turns a stream of frames into GOP codes (the model's part of encoding).

    Frames arrive one at a time at the coded size; every ``ENCODE_BATCH`` full GOPs go through the
    network together. Only the codes are kept (int16, ~1% the size of the frames), so memory does not
    grow with video length in any way that matters; the prior then needs all of them (adaptive
    histograms) before a single byte is written.
    """

    def __init__(self, model: CodecModel, quality: int, width: int, height: int) -> None:
        self.model, self.quality = model, quality
        self.width, self.height = width, height
        self.pw, self.ph = padded_size(width, height, model.cfg.stride)
        self._frames: list[np.ndarray] = []
        self._pending: list[tuple[np.ndarray, int]] = []
        self.gop_codes: list[tuple[Codes, int]] = []   # (codes, real frame count) per GOP

    def add_frame(self, frame: np.ndarray) -> None:
        self._frames.append(frame)
        if len(self._frames) == GOP_FRAMES:
            self._push_gop()

    def _push_gop(self) -> None:
        n = len(self._frames)
        gop = pad_gop(np.stack(self._frames), GOP_FRAMES, self.ph, self.pw)
        self._frames = []
        self._pending.append((gop, n))
        if len(self._pending) >= ENCODE_BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        batch = np.stack([g for g, _ in self._pending])
        codes = self.model.net.encode(batch, self.quality)
        for c, (_, n) in zip(codes.unbatch(), self._pending):
            # int16 holds any codebook up to 32768 entries; halves memory on long videos.
            small = Codes(tuple(CodeLevel(lv.name, lv.codebook_size, lv.indices.astype(np.int16)) for lv in c.levels))
            self.gop_codes.append((small, n))
        self._pending = []

    def finish(self) -> list[tuple[Codes, int]]:
        if self._frames:
            self._push_gop()
        self._flush()
        return self.gop_codes


def _static_prior(model: CodecModel) -> EmpiricalStaticPrior | None:
    return EmpiricalStaticPrior.from_bytes(model.priors["empirical-static"]) if "empirical-static" in model.priors else None


def _learned_prior(model: CodecModel) -> LearnedPrior | None:
    try:
        return load_learned(model.priors)
    except EntropyError as e:
        raise VqvError(f"the model's learned prior is unusable: {e}") from None


def candidate_priors(model: CodecModel, kind: str, all_streams: list[list[StreamSymbols]]) -> list:
    """The priors to try for a file: the one asked for, or under ``auto`` every available one."""
    static = _static_prior(model)
    learned = _learned_prior(model) if kind in ("learned", "auto") else None
    if kind == "uniform":
        return [UniformPrior()]
    if kind == "empirical-static":
        if static is None:
            raise VqvError("this model ships no empirical-static prior")
        return [static]
    if kind == "empirical-adaptive":
        return [EmpiricalAdaptivePrior.fit(all_streams)]
    if kind == "learned":
        if learned is None:
            raise VqvError("this model ships no learned prior (add one with `vqv train-prior`)")
        return [learned]
    if kind == "auto":
        candidates: list = [UniformPrior()] + ([static] if static else [])
        candidates.append(EmpiricalAdaptivePrior.fit(all_streams))
        if learned is not None:
            candidates.append(learned)
        return candidates
    raise VqvError(f"unknown prior {kind!r} (choose from {', '.join(PRIOR_CHOICES)})")


def build_prior(model: CodecModel, kind: str, all_streams: list[list[StreamSymbols]]) -> Prior:
    """The non-contextual prior for a file: the one asked for, or under ``auto`` the cheapest in
    ideal total bits among uniform / static / adaptive (kept for callers that need a table prior)."""
    cands = [p for p in candidate_priors(model, kind, all_streams) if not isinstance(p, LearnedPrior)]
    if not cands:
        raise VqvError(f"prior {kind!r} is not a table prior")
    return choose_prior(cands, all_streams)


def _grids(codes: Codes) -> dict[str, tuple[int, int, int]]:
    return {f"{lv.name}.{s}": lv.grid for lv in codes.levels for s in range(lv.stages)}


def _stream_arrays(streams: list[StreamSymbols] | list[np.ndarray], grids: dict[str, tuple[int, int, int]],
                   names: list[str] | None = None) -> dict[str, np.ndarray]:
    if names is None:
        return {s.name: np.asarray(s.symbols).reshape(grids[s.name]) for s in streams}
    return {n: np.asarray(a).reshape(grids[n]) for n, a in zip(names, streams)}


def _code_file(prior, gop_codes, all_streams, use_context: bool):
    """Payloads, per-GOP context flags and per-stream ideal bits of every GOP under one prior."""
    payloads, flags, bits = [], [], []
    prev = None
    for (codes, _), streams in zip(gop_codes, all_streams):
        if isinstance(prior, LearnedPrior):
            grids = _grids(codes)
            payload = prior.encode_gop(streams, grids, None)
            ctx = None
            if use_context and prev is not None:
                # context only where it pays (not across a scene cut): a GOP without context is
                # also a random-access point
                with_ctx = prior.encode_gop(streams, grids, prev)
                if len(with_ctx) < len(payload):
                    payload, ctx = with_ctx, prev
            payloads.append(payload)
            flags.append(ctx is not None)
            bits.append(prior.stream_bits(streams, grids, ctx))
            prev = _stream_arrays(streams, grids)
        else:
            payloads.append(prior.encode_gop(streams))
            flags.append(False)
            bits.append({s.name: prior.estimate_bits([s]) for s in streams})
    return payloads, flags, bits


def write_container(out: BinaryIO, model: CodecModel, quality: int, gop_codes: list[tuple[Codes, int]], *,
                    prior_kind: str, source_size: tuple[int, int], coded_size: tuple[int, int],
                    fps: Fraction, gop_context: bool = True) -> EncodeStats:
    """Entropy-code every GOP with one prior and write the container to ``out``.

    Under ``auto`` every available prior codes the whole file and the smallest real total (payload
    bytes + side info) wins (ties: the earliest of uniform, static, adaptive, learned). With the
    learned prior and ``gop_context`` each GOP after the first is coded with the previous GOP's
    codes as context (``uses_context``); otherwise every GOP decodes on its own. The header's
    ``gop_context`` is true only when some GOP can use context.
    """
    all_streams = [codes_to_streams(c) for c, _ in gop_codes]
    best = None
    for prior in candidate_priors(model, prior_kind, all_streams):
        use_ctx = bool(gop_context) and isinstance(prior, LearnedPrior)
        coded = _code_file(prior, gop_codes, all_streams, use_ctx)
        size = sum(len(p) for p in coded[0]) + len(prior.params())
        if best is None or size < best[0]:
            best = (size, prior, use_ctx, coded)
    _, prior, use_ctx, (payloads, flags, bits) = best
    stats = EncodeStats(prior=prior.kind, prior_params_bytes=len(prior.params()))
    writer = VqvWriter(out)
    for i, ((codes, n), streams) in enumerate(zip(gop_codes, all_streams)):
        payload = payloads[i]
        writer.write_chunk(GopChunk(index=i, frame_count=n, symbol_counts=tuple(len(s.symbols) for s in streams),
                                    uses_context=flags[i], payload=payload))
        stats.gops += 1
        stats.frames += n
        stats.payload_bytes += len(payload)
        for s in streams:
            b = bits[i][s.name]
            stats.bits_per_stream[s.name] = stats.bits_per_stream.get(s.name, 0.0) + b
            stats.ideal_bits += b
    fr = Fraction(fps).limit_denominator(1_000_000)
    header = Header(model_digest=model.digest, source_width=source_size[0], source_height=source_size[1],
                    coded_width=coded_size[0], coded_height=coded_size[1], fps_num=fr.numerator,
                    fps_den=fr.denominator, frame_count=stats.frames, gop_length=GOP_FRAMES, quality=quality,
                    prior=prior.kind, prior_params=prior.params(), gop_context=use_ctx and any(flags))
    writer.finish(header)
    return stats


# ------------------------------------------------------------------------------------------ decoder

def check_model(header: Header, model: CodecModel) -> None:
    if header.model_digest != model.digest:
        raise ModelMismatchError(
            f"file was encoded with model {header.model_digest.hex()}, but the loaded model is "
            f"{model.digest.hex()} (pass the right --model)")
    if header.quality not in model.qualities:
        raise VqvError(f"file uses quality {header.quality}, which this model does not offer")


def _file_prior(reader: VqvReader, model: CodecModel):
    h = reader.header
    pw, ph = padded_size(h.coded_width, h.coded_height, model.cfg.stride)
    specs = stream_specs(model, h.quality, h.gop_length, ph, pw)
    if h.gop_length != GOP_FRAMES:
        raise VqvError(f"unsupported GOP length {h.gop_length} (this decoder uses {GOP_FRAMES})")
    if h.prior == "learned":
        if h.prior_params:
            raise EntropyError("learned prior takes no params")
        learned = _learned_prior(model)
        if learned is None:
            raise VqvError("file uses the learned prior but the model ships none")
        for name, k, _ in specs:
            learned._model(name, k)                      # raises on a codebook size mismatch
        return learned, specs
    static = _static_prior(model)
    spec_objs = [StreamSpec(name, k, math.prod(g)) for name, k, g in specs]
    return prior_from_header(h.prior, h.prior_params, spec_objs, static), specs


def read_gop_codes(reader: VqvReader, model: CodecModel, indices: Iterable[int] | None = None) -> Iterator[tuple[int, Codes, int]]:
    """(GOP index, codes, real frame count) for each GOP (all, or the ones asked for), without pixels.

    A GOP coded with context (learned prior, ``gop_context`` files) needs the previous GOP's codes:
    asking for it alone decodes its predecessors back to the last GOP without context first.
    """
    check_model(reader.header, model)
    prior, specs = _file_prior(reader, model)
    h = reader.header
    pw, ph = padded_size(h.coded_width, h.coded_height, model.cfg.stride)
    grids = {n: g for n, _, g in specs}
    names = [n for n, _, _ in specs]
    stream_specs_ = [StreamSpec(n, k, math.prod(g)) for n, k, g in specs]
    expected = tuple(math.prod(g) for _, _, g in specs)
    learned = isinstance(prior, LearnedPrior)
    cache: dict[int, tuple[dict[str, np.ndarray], Codes, int]] = {}   # last decoded GOP

    def decode(i: int, prev: dict[str, np.ndarray] | None):
        chunk = reader.read_chunk(i)
        if tuple(chunk.symbol_counts) != expected:
            raise VqvError(f"GOP {i}: symbol counts {tuple(chunk.symbol_counts)} do not match the model's {expected}")
        if chunk.uses_context and not learned:
            raise VqvError(f"GOP {i} needs a context model this decoder's prior does not provide")
        if learned:
            if chunk.uses_context and prev is None:
                raise VqvError(f"GOP {i} is coded with context but GOP {i - 1} is not available")
            try:
                arrays = prior.decode_gop(chunk.payload, stream_specs_, grids, prev if chunk.uses_context else None)
            except EntropyError as e:
                ctx = " (or in the GOPs before it, which it is predicted from)" if chunk.uses_context else ""
                raise EntropyError(f"GOP {i}{ctx}: {e}") from None
        else:
            arrays = prior.decode_gop(chunk.payload, stream_specs_)
        codes = streams_to_codes(model, h.quality, arrays, GOP_FRAMES, ph, pw)
        return _stream_arrays(arrays, grids, names), codes, chunk.frame_count

    def get(i: int):
        if i in cache:
            return cache[i]
        if not 0 <= i < len(reader):
            raise VqvError(f"GOP {i} out of range (the file has {len(reader)})")
        if not learned or not h.gop_context:
            return decode(i, None)
        # walk back to the nearest GOP we have or that needs no context, then forward
        start = i
        while start > 0 and start - 1 not in cache and reader.read_chunk(start).uses_context:
            start -= 1
        prev = cache[start - 1][0] if start - 1 in cache else None
        for j in range(start, i + 1):
            res = decode(j, prev)
            cache.clear()
            cache[j] = res
            prev = res[0]
        return cache[i]

    for i in (range(len(reader)) if indices is None else indices):
        arrays, codes, n = get(int(i))
        yield int(i), codes, n


def decode_gops(reader: VqvReader, model: CodecModel) -> Iterator[np.ndarray]:
    """uint8 frames (n, coded H, coded W, 3) per GOP, in order; batches GOPs through the network."""
    h = reader.header
    batch: list[tuple[Codes, int]] = []

    def run(items):
        frames = model.net.decode(Codes.stack([c for c, _ in items]))
        for f, (_, n) in zip(frames, items):
            yield f[:n, :h.coded_height, :h.coded_width]

    for _, codes, n in read_gop_codes(reader, model):
        batch.append((codes, n))
        if len(batch) == ENCODE_BATCH:
            yield from run(batch)
            batch = []
    if batch:
        yield from run(batch)


# ------------------------------------------------------------------------------------------ in memory

def encode_frames(frames: np.ndarray, fps: Fraction | float, *, model: CodecModel, quality: int | None = None,
                  prior: str = "auto", gop_context: bool = True) -> bytes:
    """uint8 frames (T, H, W, 3), already at the coded size -> .vqv bytes."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise VqvError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if frames.shape[0] == 0:
        raise VqvError("empty video")
    q = quality or model.default_quality
    model.net.operating_point(q)
    _, h, w, _ = frames.shape
    enc = GopEncoder(model, q, w, h)
    for f in frames:
        enc.add_frame(f)
    buf = io.BytesIO()
    write_container(buf, model, q, enc.finish(), prior_kind=prior, source_size=(w, h), coded_size=(w, h),
                    fps=Fraction(fps).limit_denominator(1_000_000), gop_context=gop_context)
    return buf.getvalue()


def decode_bytes(data: bytes, *, model: CodecModel) -> np.ndarray:
    """.vqv bytes -> uint8 frames (T, coded H, coded W, 3)."""
    reader = VqvReader(io.BytesIO(data))
    parts = list(decode_gops(reader, model))
    h = reader.header
    if not parts:
        return np.zeros((0, h.coded_height, h.coded_width, 3), np.uint8)
    return np.concatenate(parts)
