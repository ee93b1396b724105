"""The decoder: a .vqv container -> each GOP's chunk -> codes (entropy decoding, no network) ->
the network -> frames. Straight back along the encoder's path; a predicted GOP's codes need the
previous GOP's, so reading one GOP alone decodes the codes from its refresh point first."""
from __future__ import annotations

import functools
import io
from typing import Callable, Iterable, Iterator, NamedTuple

import numpy as np

from vqcodec.codes import Codes
from vqcodec.coding.gop_coding import CodedGop, GopReference, decode_gop
from vqcodec.coding.gops import (
    GOP_FRAMES,
    MAX_CODED_SIDE,
    chunk_streams,
    enhancement_residual,
    enhancement_tables,
    gop_layout,
    network_pool,
    network_round,
    padded_size,
    scalar_tables,
    synthesise,
)
from vqcodec.coding.conditional_coder import ConditionalCoder
from vqcodec.coding.motion import MotionResidual, apply_motion
from vqcodec.coding.prior_choice import file_prior
from vqcodec.entropy.learned_prior import LearnedPrior
from vqcodec.entropy.rans import EntropyError
from vqcodec.errors import ModelMismatchError, VqvError, one_line
from vqcodec.formats import Header, VqvFormatError, VqvReader, check_payload_present
from vqcodec.weights import CodecModel, conditional_coder_for_file


def check_model(header: Header, model: CodecModel) -> CodecModel:
    """The model to decode ``header``'s file with: ``model`` itself, or ``model`` as the earlier
    release that wrote the file (same network, that release's priors), computing in the float the file
    names (header key 21: a 10.x file's network runs in bfloat16)."""
    found = model.for_digest(header.model_digest)
    if found is None:
        raise ModelMismatchError(
            f"file was encoded with model {header.model_digest.hex()}, but the loaded model is "
            f"{model.digest.hex()} (pass the right --model)")
    if header.quality not in found.qualities:
        raise VqvError(f"file uses quality {header.quality}, which this model does not offer")
    return found.computing_in(header.network_float)


FILLS = ("freeze", "black", "drop")        # what stands for a damaged GOP's frames (--skip-damaged)


class DecodedGop(NamedTuple):
    index: int
    codes: Codes                # resolved, with copy maps (and the motion layer, if the file has one)
    frames: int                 # real frames (the last GOP may be padded)
    bits: dict[str, float]      # ideal bits per stream and per level's copy decisions ("copy.<level>")
    refresh: bool = True        # decodable alone (a refresh GOP)


class _ChunkDecoder:
    """Decodes one GOP's chunk of a file into codes, given the previous GOP's reference."""

    def __init__(self, reader: VqvReader, model: CodecModel) -> None:
        h = reader.header
        if h.gop_length != GOP_FRAMES:
            raise VqvError(f"unsupported GOP length {h.gop_length} (this decoder uses {GOP_FRAMES})")
        if max(h.coded_width, h.coded_height) > MAX_CODED_SIDE:
            # bounded before anything is allocated: the entropy tables and the network scale with it
            raise VqvError(f"coded size {h.coded_width}x{h.coded_height} exceeds {MAX_CODED_SIDE} per side "
                           "(no vqv encoder writes that: damaged or hostile file)")
        pw, ph = padded_size(h.coded_width, h.coded_height, model.cfg.stride)
        point = model.point(h.quality)
        if h.gop_trim % int(model.cfg.stride[0]):
            raise VqvError(f"this file's GOPs are trimmed to groups of {h.gop_trim} frames; the model's top slices "
                           f"are {int(model.cfg.stride[0])}")
        self.reader, self.quality = reader, h.quality
        self.layout = gop_layout(model, point, GOP_FRAMES, ph, pw)
        # a trimmed GOP's (13.x): its levels over fewer slices
        self.layout_for = functools.lru_cache(maxsize=None)(lambda t: gop_layout(model, point, t, ph, pw))
        self.prior = file_prior(reader, model, self.layout)
        self.scalar, self.enh = scalar_tables(model, point, reader.scalar_context), enhancement_tables(model, point)
        self.copy_mode = bool(h.copy_mode) and reader.version[0] >= 2
        self.motion = reader.motion_layer         # a 3.x payload ends with the motion layer (4.x: as the header says)
        residual = file_motion_residual(reader, model)
        if residual is not None:
            self.motion = residual.syntax         # 5.x: with a residual for predicted blocks, these options (8.x: and coders)
        # 7.x: predicted blocks carry bent paths, one bend per frame of a slice after the first
        self.bends = int(model.cfg.bottom_factor[0]) if reader.motion_bends and self.motion else 0
        self.names = chunk_streams(self.layout, self.scalar, self.enh, self.motion)
        if reader.version[0] < 2 and not isinstance(self.prior, LearnedPrior) and h.gop_prediction:
            raise VqvError("this version-1 file's GOPs need a context model its prior does not provide")

    def __call__(self, i: int, ref: GopReference | None,
                 before_motion: Callable[[int, Codes], None] | None = None) -> CodedGop:
        chunk = self.reader.read_chunk(i)
        if self.reader.version[0] < 2:          # no end check: a missing payload would decode to zeros
            check_payload_present(chunk, f"GOP {i}")
        if len(chunk.symbol_counts) != len(self.names):
            raise VqvError(f"GOP {i}: {len(chunk.symbol_counts)} streams stored, the model's quality "
                           f"{self.quality} has {len(self.names)}")
        if chunk.predicted and ref is None:
            raise VqvError(f"GOP {i} is predicted from GOP {i - 1}, which is not available")
        layout = self.layout_for(self.reader.header.gop_coded_frames(i))
        try:
            return decode_gop(layout, self.prior, chunk.payload, dict(zip(self.names, chunk.symbol_counts)),
                              copy_mode=self.copy_mode, reference=ref if chunk.predicted else None,
                              end_check=self.reader.version[0] >= 2, scalar=self.scalar, enhancement=self.enh,
                              motion=self.motion, bends=self.bends,
                              before_motion=None if before_motion is None else lambda c: before_motion(i, c))
        except EntropyError as e:
            ctx = " (or in the GOPs before it, which it is predicted from)" if chunk.predicted else ""
            raise EntropyError(f"GOP {i}{ctx}: {e}") from None


def read_gop_codes(reader: VqvReader, model: CodecModel, indices: Iterable[int] | None = None,
                   before_motion: Callable[[int, Codes], None] | None = None) -> Iterator[DecodedGop]:
    """Each GOP's codes (all GOPs, or the ones asked for, in the order asked), without pixels.

    A predicted GOP needs the previous GOP's decoded codes: asking for it alone decodes the codes
    of the GOPs from the nearest refresh point first (entropy decoding only, no network).
    ``before_motion(i, codes)``: in a file with a motion layer, told GOP ``i``'s codes without it as soon
    as they are read (the network's input; the layer is coded last in the payload).
    """
    model = check_model(reader.header, model)
    decode = _ChunkDecoder(reader, model)
    last: tuple[int, CodedGop] | None = None      # the last GOP decoded
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
                res = decode(j, ref, before_motion)
                ref = res.reference
            last = (i, res)
        yield DecodedGop(i, res.codes, reader.header.gop_frames(i), res.bits, reader.is_refresh(i))


class DamagedGop(NamedTuple):
    """A GOP that could not be decoded (``--skip-damaged``): its own damage, or a damaged GOP it is
    predicted from (``reason`` says which)."""

    index: int
    frames: int                 # real frames it held
    reason: str


class DamageLog:
    """``on_damage`` for :func:`decode_gops` that gathers damaged GOPs into spans of consecutive GOPs,
    each with its frame range and the damage that started it (``vqv decode --skip-damaged``)."""

    def __init__(self, header: Header) -> None:
        self.header = header
        self.spans: list[dict] = []

    def __call__(self, d: DamagedGop) -> None:
        first = self.header.gop_start(d.index)
        last = first + d.frames - 1
        if self.spans and self.spans[-1]["gops"][1] == d.index - 1:
            self.spans[-1]["gops"][1] = d.index
            self.spans[-1]["frames"][1] = last
        else:
            self.spans.append({"gops": [d.index, d.index], "frames": [first, last], "reason": d.reason})


def tolerant_gop_codes(reader: VqvReader, model: CodecModel,
                       before_motion: Callable[[int, Codes], None] | None = None) -> Iterator[DecodedGop | DamagedGop]:
    """Each GOP's codes in order, as :func:`read_gop_codes` (``before_motion`` too), except that a GOP that cannot be
    decoded (CRC, framing or payload damage) is a :class:`DamagedGop`, and so is every GOP after it
    up to the next refresh point, which starts afresh (nothing decoded from damaged data is used)."""
    model = check_model(reader.header, model)
    decode = _ChunkDecoder(reader, model)
    ref: GopReference | None = None
    broken: int | None = None                    # the damaged GOP the chain hangs on
    for i in range(len(reader)):
        n = reader.header.gop_frames(i)
        try:
            refresh = reader.is_refresh(i)
            if broken is not None and not refresh:
                yield DamagedGop(i, n, f"predicted from damaged GOP {broken}")
                continue
            res = decode(i, None if refresh else ref, before_motion)
        except (VqvError, VqvFormatError, EntropyError) as e:
            broken, ref = i, None
            yield DamagedGop(i, n, one_line(e))
            continue
        broken, ref = None, res.reference
        yield DecodedGop(i, res.codes, n, res.bits, refresh)


def file_motion_residual(reader: VqvReader, model: CodecModel) -> MotionResidual | None:
    """A 5.x file's motion residual: its options with the model's integer tables (None in other files)."""
    options = reader.motion_residual
    if not options:
        return None
    basis = model.motion_residual_basis
    if basis is None:
        raise VqvError("this file's motion residual needs a model with a linear path; this model has none")
    try:
        basis.check_options(options)
    except EntropyError as e:
        raise VqvError(str(e)) from None
    coder = None
    if reader.conditional_coder:                  # 8.x: predicted blocks may take a conditional coder
        if not ConditionalCoder.fits(tuple(model.cfg.bottom_factor)):
            raise VqvError("this file's conditional coders need a model with 4 x 8 x 8 bottom blocks")
        coder = conditional_coder_for_file(reader.conditional_coder).computing_in(reader.network_float)
    return MotionResidual(tuple(tuple(o) for o in options), basis, coder, reader.intra_coder)


def decode_gops(reader: VqvReader, model: CodecModel, *,
                on_damage: Callable[[DamagedGop], None] | None = None, fill: str = "freeze") -> Iterator[np.ndarray]:
    """uint8 frames (n, coded H, coded W, 3) per GOP, in order; each GOP through the network as soon
    as its codes are read, alone on one worker (see :func:`~vqcodec.coding.gops.network_pool`), up to a
    round of them at once, then the motion layer GOP by GOP in order (each predicts from the frame
    before it) while the later GOPs are in the network.

    ``on_damage`` (``--skip-damaged``): a damaged GOP (and the GOPs predicted from it, up to the next
    refresh point) does not stop the decode (:func:`tolerant_gop_codes`); ``on_damage`` is told of
    it, and in its place come its frames filled as ``fill`` says ("freeze": the last good frame,
    black before any; "black"; "drop": no frames)."""
    if fill not in FILLS:
        raise VqvError(f"unknown fill {fill!r} (choose from {', '.join(FILLS)})")
    h = reader.header
    model = check_model(h, model)     # an earlier release's file: that release's ladder (its pixel basis)
    block = tuple(int(b) for b in model.cfg.bottom_factor)
    motion_residual = file_motion_residual(reader, model)
    last: list[np.ndarray | None] = [None]      # the previous GOP's last frame (padded size)
    shown: list[np.ndarray | None] = [None]     # the last frame handed out (coded size)

    started: dict = {}      # GOP index -> its network's future, started before its motion layer was read

    def start(i, codes):
        # the motion layer is coded last: the network (a worker) runs while the main thread reads it
        started[i] = pool.submit(synthesise, model, codes, enhance=False)

    def submit(pool, g):
        fut = started.pop(g.index, None)
        return g, fut or pool.submit(synthesise, model, g.codes, enhance=g.codes.motion is None)

    def finish(g, fut):
        f = fut.result()
        if g.codes.motion is not None:
            f = apply_motion(f, g.codes.motion, None if g.refresh else last[0], block,
                             enhancement_residual(model, g.codes), motion_residual)
            last[0] = f[-1]
        out = f[:g.frames, :h.coded_height, :h.coded_width]
        shown[0] = out[-1]
        return out

    def filled(d: DamagedGop):
        last[0] = None
        if fill == "drop":
            return np.zeros((0, h.coded_height, h.coded_width, 3), np.uint8)
        frame = shown[0] if fill == "freeze" and shown[0] is not None \
            else np.zeros((h.coded_height, h.coded_width, 3), np.uint8)
        return np.broadcast_to(frame, (d.frames, *frame.shape)).copy()

    pw, ph = padded_size(h.coded_width, h.coded_height, model.cfg.stride)
    workers, per_round = network_round(ph, pw)
    gops = tolerant_gop_codes(reader, model, start) if on_damage is not None else read_gop_codes(reader, model, None, start)
    # Each GOP goes to the network as soon as its codes are read, so the network runs while the next
    # GOPs are entropy-decoded; at most a round of GOPs is in it (memory), and their motion layers run in
    # order as they come out (the same calls on the same codes, only sooner).
    ahead: list = []
    with network_pool(workers, share_tiles=True) as pool:
        for g in gops:
            damaged = isinstance(g, DamagedGop)
            if not damaged:
                ahead.append(submit(pool, g))
            while len(ahead) > (0 if damaged else per_round):     # all of it before a damaged GOP's fill
                yield finish(*ahead.pop(0))
            if damaged:
                started.pop(g.index, None)          # (its motion layer was damaged: the network's frames are dropped)
                on_damage(g)
                yield filled(g)
        for g, fut in ahead:
            yield finish(g, fut)


def decode_bytes(data: bytes, *, model: CodecModel) -> np.ndarray:
    """.vqv bytes -> uint8 frames (T, coded H, coded W, 3)."""
    reader = VqvReader(io.BytesIO(data))
    parts = list(decode_gops(reader, model))
    h = reader.header
    if not parts:
        return np.zeros((0, h.coded_height, h.coded_width, 3), np.uint8)
    return np.concatenate(parts)
