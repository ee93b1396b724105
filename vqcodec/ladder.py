"""A model's quality ladder: what each ``--quality`` means, VQ stages or a scalar bottom layer.

Without a ladder a model's qualities are its network's VQ operating points (``cfg.operating_points``:
top and bottom stage counts). A weights file may ship a ladder (the prior kind ``"scalar"``) that
replaces them: each point is either a VQ point ``(top, bottom)`` or a *scalar* point ``(top, step)``,
whose bottom latent is coded as integer symbols under :class:`~vqcodec.scalar_prior.ScalarTables`
(``docs/scalar_layer_design.md``). A file's header names only its quality, so a ladder is part of
the weights file's identity: a file decodes with the ladder of the weights file it names.
"""
from __future__ import annotations

from dataclasses import dataclass

import msgpack

from .codes import STEP_DEN
from .entropy import EntropyError
from .priors import unpack_msgpack, zstd_compress, zstd_decompress
from .scalar_prior import ScalarTables

__all__ = ["LadderPoint", "Ladder", "MAX_POINTS"]

MAX_POINTS = 64
_MAGIC = "vqv-ladder"


@dataclass(frozen=True)
class LadderPoint:
    """One quality: ``top`` and ``bottom`` VQ stages, and at a scalar point (``step_num > 0``) the
    bottom latent's scalar step ``step_num / STEP_DEN`` (``bottom`` is then 0)."""

    top: int
    bottom: int
    step_num: int = 0

    @property
    def scalar(self) -> bool:
        return self.step_num > 0

    @property
    def step(self) -> float:
        return self.step_num / STEP_DEN

    def describe(self) -> str:
        return f"{self.top}+scalar/{self.step:g}" if self.scalar else f"{self.top}+{self.bottom}"


@dataclass(frozen=True)
class Ladder:
    points: tuple[LadderPoint, ...]
    tables: dict[int, ScalarTables]          # by step_num, one per scalar point's step

    def __post_init__(self) -> None:
        if not 1 <= len(self.points) <= MAX_POINTS:
            raise EntropyError(f"ladder: {len(self.points)} points (1..{MAX_POINTS})")
        for p in self.points:
            if p.scalar and (p.bottom != 0 or p.step_num not in self.tables):
                raise EntropyError(f"ladder: scalar point {p} has bottom stages or no tables")
        channels = {t.channels for t in self.tables.values()}
        if len(channels) > 1:
            raise EntropyError("ladder: scalar tables of different channel counts")

    def point(self, quality: int) -> LadderPoint:
        if not 1 <= quality <= len(self.points):
            raise ValueError(f"quality {quality} not offered by this model (choose 1..{len(self.points)})")
        return self.points[quality - 1]

    def check_network(self, n_top: int, n_bottom: int, latent_dim: int) -> None:
        """Every point fits the network: stage counts within its quantisers, tables for its latent."""
        for p in self.points:
            if not (0 <= p.top <= n_top and 0 <= p.bottom <= n_bottom):
                raise EntropyError(f"ladder point {p.describe()} needs more stages than the network has")
        for t in self.tables.values():
            if t.channels != latent_dim:
                raise EntropyError(f"ladder: scalar tables for {t.channels} channels, the latent has {latent_dim}")

    def to_bytes(self) -> bytes:
        body = {"magic": _MAGIC, "v": 1, "points": [[p.top, p.bottom, p.step_num] for p in self.points],
                "tables": [self.tables[k].to_bytes() for k in sorted(self.tables)]}
        return zstd_compress(msgpack.packb(body, use_bin_type=True))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Ladder":
        what = "quality ladder"
        obj = unpack_msgpack(zstd_decompress(bytes(data), what), what)
        if not isinstance(obj, dict) or obj.get("magic") != _MAGIC or obj.get("v") != 1:
            raise EntropyError(f"{what}: unknown format")
        pts, tabs = obj.get("points"), obj.get("tables")
        if not isinstance(pts, list) or not isinstance(tabs, list) or len(tabs) > MAX_POINTS:
            raise EntropyError(f"{what}: bad fields")
        points = []
        for p in pts:
            if not (isinstance(p, list) and len(p) == 3
                    and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 31 for v in p)):
                raise EntropyError(f"{what}: bad point {p!r}")
            points.append(LadderPoint(*p))
        tables = {}
        for b in tabs:
            if not isinstance(b, bytes):
                raise EntropyError(f"{what}: bad tables")
            t = ScalarTables.from_bytes(b)
            tables[t.step_num] = t
        return cls(tuple(points), tables)
