"""Discrete codes: what the model emits, what the bitstream carries and what ML pipelines read.

A clip (or a batch of clips) is coded as a few *levels* (``top`` then ``bottom``). Each level is a
residual vector quantiser, so it holds ``stages`` index maps on its latent grid; an operating point
keeps only the first few stages of each level. Each (level, stage) pair is one *stream* of symbols
in ``range(codebook_size)`` for the entropy coder.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CodeLevel:
    """The indices of one latent level.

    ``indices`` is int32 of shape ``(stages, T, H, W)`` for one clip, or ``(N, stages, T, H, W)``
    for a batch; ``stages`` may be 0 (a level dropped at the lowest operating points).
    """

    name: str
    codebook_size: int
    indices: np.ndarray

    @property
    def stages(self) -> int:
        return int(self.indices.shape[-4])

    @property
    def grid(self) -> tuple[int, int, int]:
        t, h, w = self.indices.shape[-3:]
        return int(t), int(h), int(w)


@dataclass(frozen=True)
class Codes:
    """All levels of one clip or batch, coarsest first."""

    levels: tuple[CodeLevel, ...]

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

    def unbatch(self) -> list["Codes"]:
        if not self.batched:
            return [self]
        n = self.levels[0].indices.shape[0]
        return [Codes(tuple(CodeLevel(lv.name, lv.codebook_size, lv.indices[i]) for lv in self.levels))
                for i in range(n)]

    @staticmethod
    def stack(items: list["Codes"]) -> "Codes":
        first = items[0]
        return Codes(tuple(
            CodeLevel(lv.name, lv.codebook_size, np.stack([c.levels[k].indices for c in items]))
            for k, lv in enumerate(first.levels)))
