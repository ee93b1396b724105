"""Discrete codes: what the model emits, what the bitstream carries and what ML pipelines read.

A clip (or a batch of clips) is coded as a few *levels* (``top`` then ``bottom``). Each level is a
residual vector quantiser, so it holds ``stages`` index maps on its latent grid; an operating point
keeps only the first few stages of each level. Each (level, stage) pair is one *stream* of symbols
in ``range(codebook_size)`` for the entropy coder, named ``"level.stage"`` (:func:`stream_name`).

At a *scalar* operating point the bottom latent is not vector-quantised: it is sent as integer
symbols ``s`` on the bottom grid, one per latent channel, and decoded as ``s * step``
(:class:`ScalarCodes`; ``step = step_num / STEP_DEN``, an exact integer on the wire). The bottom
level then has no stages.

A level may also carry a *copy map*: ``copied[t, y, x]`` is true where the encoder chose to reuse
the whole code stack of the previous latent time slice (temporal skip) instead of sending codes.
The indices are always complete (copies resolved), so a reader of codes never needs the map; it
says which positions were repeats, not new information.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


STEP_DEN = 1024          # a scalar step is step_num / STEP_DEN


def stream_name(level: str, stage: int) -> str:
    """The stream of ``stage`` of ``level``: ``"bottom.2"``."""
    return f"{level}.{int(stage)}"


def parse_stream_name(name: str) -> tuple[str, int] | None:
    """``"bottom.2"`` -> ``("bottom", 2)``; ``None`` if ``name`` is not a stream name."""
    level, _, st = str(name).rpartition(".")
    if not level or not st.isdigit():
        return None
    return level, int(st)


@dataclass(frozen=True)
class CodeLevel:
    """The indices of one latent level.

    ``indices`` is int32 of shape ``(stages, T, H, W)`` for one clip, or ``(N, stages, T, H, W)``
    for a batch; ``stages`` may be 0 (a level dropped at the lowest operating points). ``copied``,
    when known, is bool ``(T, H, W)`` (or ``(N, T, H, W)``): positions whose codes repeat the
    previous latent time slice by the encoder's choice.
    """

    name: str
    codebook_size: int
    indices: np.ndarray
    copied: np.ndarray | None = None

    @property
    def stages(self) -> int:
        return int(self.indices.shape[-4])

    @property
    def grid(self) -> tuple[int, int, int]:
        t, h, w = self.indices.shape[-3:]
        return int(t), int(h), int(w)

    def copy_map(self) -> np.ndarray:
        """The copy map, all false when none was recorded."""
        if self.copied is not None:
            return self.copied
        return np.zeros(self.indices.shape[:-4] + self.indices.shape[-3:], bool)


@dataclass(frozen=True)
class ScalarCodes:
    """A latent sent as integer symbols: int32 ``(C, T, H, W)`` for one clip or ``(N, C, T, H, W)``
    for a batch, decoded as ``symbols * step``; with a copy map as a level's (the symbols always
    complete: copies resolved). The scalar bottom latent, or the enhancement layer's coefficients
    (:mod:`vqcodec.coding.enhancement`; never copied)."""

    symbols: np.ndarray
    step_num: int
    copied: np.ndarray | None = None       # bool (T, H, W) / (N, T, H, W): positions that repeat the slice before

    def copy_map(self) -> np.ndarray:
        if self.copied is not None:
            return self.copied
        return np.zeros(self.symbols.shape[:-4] + self.symbols.shape[-3:], bool)

    @property
    def step(self) -> float:
        return self.step_num / STEP_DEN

    def latent(self) -> np.ndarray:
        return np.asarray(self.symbols, np.float32) * np.float32(self.step)


@dataclass(frozen=True)
class MotionField:
    """The motion layer of one GOP, on the bottom grid: ``flags`` bool ``(T, H, W)`` says which blocks
    (a bottom position's 4 frames x 8x8 pixels) are predicted from the previous decoded frame instead
    of taken from the network's reconstruction; ``vectors`` int32 ``(T, H, W, 2)`` their displacement
    ``(dy, dx)`` per frame, in quarter pixels (zero where not flagged). Every frame of a flagged block
    is its previous frame's pixels moved by the vector (:mod:`vqcodec.coding.motion`), plus its
    residual where it has one (:mod:`vqcodec.coding.motion_residual`)."""

    flags: np.ndarray
    vectors: np.ndarray
    #: with a motion residual (version 5): per block its option (0 = none, else 1-based into the file's
    #: options) int32 (T, H, W), and its codes int32 (T, H, W, S), one per stage of the option (0 beyond)
    residual: np.ndarray | None = None
    residual_codes: np.ndarray | None = None
    #: with bent paths (version 7): per block the bends int32 (T, H, W, bt - 1, 2) of frames 1.. of its
    #: slice, in quarter pixels, each frame's displacement off the straight line through the two before
    #: (all 0: the block moves by its vector each frame); see :func:`vqcodec.coding.motion.displacements`
    bends: np.ndarray | None = None
    #: with conditional coders (version 8): per block the symbols int32 (T, H, W, channels) of the coder
    #: its residual option names (0 elsewhere); see :mod:`vqcodec.coding.conditional_coder`
    coder_symbols: np.ndarray | None = None

    @property
    def grid(self) -> tuple[int, int, int]:
        t, h, w = self.flags.shape
        return int(t), int(h), int(w)


@dataclass(frozen=True)
class Codes:
    """All levels of one clip or batch, coarsest first, the scalar bottom latent at a scalar point,
    the enhancement layer's coefficients at an enhanced point, and the motion layer (one clip only)."""

    levels: tuple[CodeLevel, ...]
    scalar: ScalarCodes | None = None
    enhancement: ScalarCodes | None = None
    motion: MotionField | None = None          # the motion layer, when the file has one

    @property
    def batched(self) -> bool:
        return self.levels[0].indices.ndim == 5

    def level(self, name: str) -> CodeLevel:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(name)

    def streams(self) -> list[tuple[str, int, int, np.ndarray]]:
        """``(level_name, stage, codebook_size, indices)`` for every stream, in coding order."""
        out = []
        for lv in self.levels:
            for s in range(lv.stages):
                out.append((lv.name, s, lv.codebook_size, lv.indices[..., s, :, :, :]))
        return out

    def stream_arrays(self) -> dict[str, np.ndarray]:
        """``{"level.stage": (T, H, W) int64 indices}`` of one clip, in coding order."""
        if self.batched:
            raise ValueError("stream_arrays needs the codes of one clip")
        return {stream_name(lv, s): np.asarray(idx, np.int64) for lv, s, _, idx in self.streams()}

    def padded_to(self, bottom_slices: int) -> "Codes":
        """One clip's codes over ``bottom_slices`` bottom slices (each level in proportion), the slices added
        repeating the last as copies and predicting nothing: how readers of codes see a GOP a 13.x file coded
        over fewer frames (trimmed), with the grid of every other GOP (the frames past its own are padding, as
        in a last GOP of older files). Codes already that long come back as they are."""
        t_b = self.level("bottom").grid[0]
        if t_b >= bottom_slices:
            return self

        def longer(a: np.ndarray | None, axis: int, t: int, fill=None) -> np.ndarray | None:
            if a is None:
                return None
            widths = [(0, 0)] * a.ndim
            widths[axis] = (0, t - a.shape[axis])
            return np.pad(a, widths, mode="edge") if fill is None else np.pad(a, widths, constant_values=fill)

        def level_slices(lv: CodeLevel) -> int:
            return lv.grid[0] * bottom_slices // t_b

        levels = tuple(CodeLevel(lv.name, lv.codebook_size, longer(lv.indices, 1, level_slices(lv)),
                                 longer(lv.copy_map(), 0, level_slices(lv), True)) for lv in self.levels)

        def scalar(sc: ScalarCodes | None) -> ScalarCodes | None:
            return None if sc is None else ScalarCodes(longer(sc.symbols, 1, bottom_slices), sc.step_num,
                                                       longer(sc.copy_map(), 0, bottom_slices, True))
        motion = None
        if self.motion is not None:
            m = self.motion
            motion = MotionField(*(longer(getattr(m, f), 0, bottom_slices, 0) for f in (
                "flags", "vectors", "residual", "residual_codes", "bends", "coder_symbols")))
        return Codes(levels, scalar(self.scalar), scalar(self.enhancement), motion)

    def unbatch(self) -> list["Codes"]:
        if not self.batched:
            return [self]
        n = self.levels[0].indices.shape[0]

        def one(sc: ScalarCodes | None, i: int) -> ScalarCodes | None:
            return None if sc is None else ScalarCodes(sc.symbols[i], sc.step_num,
                                                       None if sc.copied is None else sc.copied[i])
        return [Codes(tuple(CodeLevel(lv.name, lv.codebook_size, lv.indices[i],
                                      None if lv.copied is None else lv.copied[i]) for lv in self.levels),
                      one(self.scalar, i), one(self.enhancement, i))
                for i in range(n)]


def lower_stream(name: str) -> str | None:
    """The stream whose codes at the same place condition ``name`` (the model's structure): stage
    ``s - 1`` of the same level, ``top.0`` for ``bottom.0`` (the bottom is conditioned on the top),
    nothing for ``top.0`` or a name that is not a stream name."""
    parsed = parse_stream_name(name)
    if parsed is None:
        return None
    level, s = parsed
    if s > 0:
        return stream_name(level, s - 1)
    if level == "bottom":
        return stream_name("top", 0)
    return None
