"""A model's quality ladder: what each ``--quality`` means, VQ stages or a scalar bottom layer, and
optionally an enhancement layer on top.

Without a ladder a model's qualities are its network's VQ operating points (``cfg.operating_points``:
top and bottom stage counts). A weights file may ship a ladder (the prior kind ``"scalar"``) that
replaces them: each point is either a VQ point ``(top, bottom)`` or a *scalar* point ``(top, step)``,
whose bottom latent is coded as integer symbols under :class:`~vqcodec.entropy.scalar_prior.ScalarTables`
(``docs/scalar_layer_design.md``). Any point may add an *enhancement* layer (``enh_num > 0``): the
residual of its reconstruction coded on a pixel basis (:mod:`vqcodec.coding.enhancement`) at step
``enh_num / STEP_DEN`` in 8-bit pixel units, under tables of its own. A file's header names only its
quality, so a ladder is part of the weights file's identity: a file decodes with the ladder of the
weights file it names.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import msgpack

from vqcodec.codes import STEP_DEN
from vqcodec.coding.enhancement import PixelBasis
from vqcodec.entropy.blob import unpack_msgpack, zstd_compress, zstd_decompress
from vqcodec.entropy.scalar_prior import ScalarTables
from vqcodec.errors import ModelDataError

__all__ = ["LadderPoint", "Ladder", "MAX_POINTS"]

MAX_POINTS = 64
_MAGIC = "vqv-ladder"


@dataclass(frozen=True)
class LadderPoint:
    """One quality: ``top`` and ``bottom`` VQ stages, and at a scalar point (``step_num > 0``) the
    bottom latent's scalar step ``step_num / STEP_DEN`` (``bottom`` is then 0); with ``enh_num > 0``
    an enhancement layer at step ``enh_num / STEP_DEN`` (8-bit pixel units)."""

    top: int
    bottom: int
    step_num: int = 0
    enh_num: int = 0

    @property
    def scalar(self) -> bool:
        return self.step_num > 0

    @property
    def step(self) -> float:
        return self.step_num / STEP_DEN

    @property
    def enhanced(self) -> bool:
        return self.enh_num > 0

    @property
    def enh_step(self) -> float:
        return self.enh_num / STEP_DEN

    def base(self) -> "LadderPoint":
        """The point without its enhancement layer."""
        return LadderPoint(self.top, self.bottom, self.step_num)

    def describe(self) -> str:
        base = f"{self.top}+scalar/{self.step:g}" if self.scalar else f"{self.top}+{self.bottom}"
        return f"{base}+enh/{self.enh_step:g}" if self.enhanced else base


@dataclass(frozen=True)
class Ladder:
    points: tuple[LadderPoint, ...]
    tables: dict[int, ScalarTables]          # by step_num, one per scalar point's step
    basis: PixelBasis | None = None          # the enhancement layer's pixel basis
    enh_tables: dict[int, ScalarTables] = field(default_factory=dict)   # by enh_num

    def __post_init__(self) -> None:
        if not 1 <= len(self.points) <= MAX_POINTS:
            raise ModelDataError(f"ladder: {len(self.points)} points (1..{MAX_POINTS})")
        for p in self.points:
            if p.scalar and (p.bottom != 0 or p.step_num not in self.tables):
                raise ModelDataError(f"ladder: scalar point {p} has bottom stages or no tables")
            if p.enhanced and (self.basis is None or p.enh_num not in self.enh_tables):
                raise ModelDataError(f"ladder: enhanced point {p} has no pixel basis or no tables")
        channels = {t.channels for t in self.tables.values()}
        if len(channels) > 1:
            raise ModelDataError("ladder: scalar tables of different channel counts")
        if self.enh_tables and (self.basis is None
                                or any(t.channels != self.basis.channels for t in self.enh_tables.values())):
            raise ModelDataError("ladder: enhancement tables do not fit the pixel basis")

    @property
    def version(self) -> int:
        """1 without an enhancement layer (the bytes release 0.5 wrote), 2 with one."""
        return 2 if self.basis is not None else 1

    def point(self, quality: int) -> LadderPoint:
        if not 1 <= quality <= len(self.points):
            raise ValueError(f"quality {quality} not offered by this model (choose 1..{len(self.points)})")
        return self.points[quality - 1]

    def check_network(self, n_top: int, n_bottom: int, latent_dim: int,
                      bottom_factor: tuple[int, int, int] | None = None) -> None:
        """Every point fits the network: stage counts within its quantisers, tables for its latent,
        the enhancement blocks on the bottom grid."""
        for p in self.points:
            if not (0 <= p.top <= n_top and 0 <= p.bottom <= n_bottom):
                raise ModelDataError(f"ladder point {p.describe()} needs more stages than the network has")
        for t in self.tables.values():
            if t.channels != latent_dim:
                raise ModelDataError(f"ladder: scalar tables for {t.channels} channels, the latent has {latent_dim}")
        if self.basis is not None and bottom_factor is not None and self.basis.block != tuple(bottom_factor):
            raise ModelDataError(f"ladder: enhancement blocks {self.basis.block} are not the bottom grid's "
                               f"{tuple(bottom_factor)}")

    def to_bytes(self) -> bytes:
        if self.version == 1:
            body = {"magic": _MAGIC, "v": 1, "points": [[p.top, p.bottom, p.step_num] for p in self.points],
                    "tables": [self.tables[k].to_bytes() for k in sorted(self.tables)]}
        else:
            body = {"magic": _MAGIC, "v": 2,
                    "points": [[p.top, p.bottom, p.step_num, p.enh_num] for p in self.points],
                    "tables": [self.tables[k].to_bytes() for k in sorted(self.tables)],
                    "basis": self.basis.to_bytes(),
                    "enh_tables": [self.enh_tables[k].to_bytes() for k in sorted(self.enh_tables)]}
        return zstd_compress(msgpack.packb(body, use_bin_type=True))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Ladder":
        what = "quality ladder"
        obj = unpack_msgpack(zstd_decompress(bytes(data), what, error=ModelDataError), what, ModelDataError)
        if not isinstance(obj, dict) or obj.get("magic") != _MAGIC or obj.get("v") not in (1, 2):
            raise ModelDataError(f"{what}: unknown format")
        version = obj["v"]
        pts, tabs = obj.get("points"), obj.get("tables")
        if not isinstance(pts, list) or not isinstance(tabs, list) or len(tabs) > MAX_POINTS:
            raise ModelDataError(f"{what}: bad fields")
        points = []
        for p in pts:
            if not (isinstance(p, list) and len(p) == 2 + version
                    and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 31 for v in p)):
                raise ModelDataError(f"{what}: bad point {p!r}")
            points.append(LadderPoint(*p))
        basis, enh = None, {}
        if version == 2:
            b, et = obj.get("basis"), obj.get("enh_tables")
            if not isinstance(b, bytes) or not isinstance(et, list) or len(et) > MAX_POINTS:
                raise ModelDataError(f"{what}: bad enhancement fields")
            basis, enh = PixelBasis.from_bytes(b), _tables(et, what)
        return cls(tuple(points), _tables(tabs, what), basis, enh)


def _tables(blobs: list, what: str) -> dict[int, ScalarTables]:
    tables = {}
    for b in blobs:
        if not isinstance(b, bytes):
            raise ModelDataError(f"{what}: bad tables")
        t = ScalarTables.from_bytes(b)
        tables[t.step_num] = t
    return tables
