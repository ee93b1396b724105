"""The network's configuration: :class:`ModelConfig` (layer sizes, codebooks, stage counts and the
VQ operating points a model without a quality ladder offers) and the named presets (:func:`get_config`).

No torch here: a config is read from a weights file's JSON before any network is built.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from vqcodec.errors import VqvError

__all__ = ["Stride", "ModelConfig", "PRESETS", "get_config"]

Stride = tuple[int, int, int]


@dataclass(frozen=True)
class ModelConfig:
    name: str = "cpu"
    # Encoder: one (stride, channels, res_blocks) per stage, finest first; the product of the strides
    # is the bottom grid's down-sampling factor in (T, H, W).
    bottom_strides: tuple[Stride, ...] = ((1, 2, 2), (2, 2, 2), (2, 2, 2))
    bottom_channels: tuple[int, ...] = (32, 96, 192)
    bottom_blocks: tuple[int, ...] = (1, 2, 3)
    top_stride: Stride = (2, 2, 2)
    top_channels: int = 192
    top_blocks: int = 2
    # Decoder stages mirror the encoder (coarsest first).
    decoder_channels: tuple[int, ...] = (256, 128, 48)
    decoder_blocks: tuple[int, ...] = (3, 2, 1)
    # A light synthesis beside the decoder (empty: none), built as the decoder is but from a per-position conv and
    # with these channels and residual blocks per stage; the codec decodes with it wherever the bottom latent is
    # coded (MSVQVAE.synthesis_for). Trained alone with the rest frozen (experiments/light_synthesis/).
    light_channels: tuple[int, ...] = ()
    light_blocks: tuple[int, ...] = ()
    conv: str = "2+1d"                  # "3d": full 3x3x3 kernels; "2+1d": 1x3x3 then 3x1x1 (cheaper)
    latent_dim: int = 32
    top_codebook: int = 1024
    bottom_codebook: int = 1024
    top_stages: int = 4
    bottom_stages: int = 6              # 0 makes a single-level model (the paper's baseline)
    ema_decay: float = 0.99
    # A linear path between pixels and the bottom latent, beside the convolutional one: each bottom
    # position's block of pixels is projected into its latent, and back (see MSVQVAE.__init__).
    linear_path: bool = False
    # Operating points: (top stages, bottom stages) kept, numbered 1..N from the smallest files up.
    # Each is a measured trade on the shipped model: top stages 3-4 add nothing without a bottom code,
    # every bottom stage adds ~1 dB (README, model card).
    operating_points: tuple[tuple[int, int], ...] = ((2, 0), (4, 1), (4, 2), (4, 3), (4, 4), (4, 6))
    default_quality: int = 4
    clip_frames: int = 32
    clip_size: int = 64

    @property
    def single_level(self) -> bool:
        return self.top_stages == 0

    @property
    def default_stages(self) -> tuple[int, int]:
        """(top, bottom) stages of the default operating point: what :meth:`MSVQVAE.encode` keeps unless
        told otherwise."""
        pts = self.operating_points
        if not 1 <= self.default_quality <= len(pts):
            raise ValueError(f"quality {self.default_quality} not offered by this model (choose 1..{len(pts)})")
        top, bottom = pts[self.default_quality - 1]
        return top, bottom

    @property
    def bottom_factor(self) -> Stride:
        f = np.prod(np.array(self.bottom_strides), axis=0)
        return int(f[0]), int(f[1]), int(f[2])

    @property
    def stride(self) -> Stride:
        """Total down-sampling: inputs must be a multiple of this in (T, H, W)."""
        b = self.bottom_factor
        if self.single_level:
            return b
        return b[0] * self.top_stride[0], b[1] * self.top_stride[1], b[2] * self.top_stride[2]

    def latent_grids(self, t: int, h: int, w: int) -> dict[str, Stride]:
        """The (T, H, W) grid of each latent level, coarsest first, for a ``t x h x w`` clip."""
        bf = self.bottom_factor
        grids = {"bottom": (t // bf[0], h // bf[1], w // bf[2])}
        if not self.single_level:
            st = self.stride
            grids = {"top": (t // st[0], h // st[1], w // st[2]), **grids}
        return grids

    @property
    def has_light_synthesis(self) -> bool:
        return bool(self.light_channels)

    def to_dict(self) -> dict:
        d = asdict(self)
        if not self.light_channels:        # written only where there is one: the weights files of earlier
            del d["light_channels"], d["light_blocks"]     # models keep their bytes and their digests
        return d

    @staticmethod
    def from_dict(d: dict) -> "ModelConfig":
        def tup(v):
            return tuple(tup(x) for x in v) if isinstance(v, (list, tuple)) else v
        known = {f for f in ModelConfig.__dataclass_fields__}
        return ModelConfig(**{k: tup(v) for k, v in d.items() if k in known})


PRESETS: dict[str, ModelConfig] = {
    # The default we ship: sized for training on 2 CPU cores; starts as a linear transform code (linear_init.py).
    "cpu": ModelConfig(linear_path=True),
    # The paper's scale (~18.5M parameters): full 3D kernels, bottom grid T/4 x H/4 x W/4.
    "paper": ModelConfig(
        name="paper", bottom_strides=((1, 2, 2), (2, 2, 2), (2, 1, 1)), bottom_channels=(64, 128, 160),
        bottom_blocks=(1, 2, 2), top_stride=(2, 2, 2), top_channels=160, top_blocks=2,
        decoder_channels=(192, 128, 64), decoder_blocks=(2, 2, 1), conv="3d", latent_dim=64,
        top_codebook=512, bottom_codebook=512, top_stages=1, bottom_stages=1,
        operating_points=((1, 1),), default_quality=1),
    # The paper's single-scale baseline: the `cpu` network without its top level (one latent level at
    # the bottom grid, the same linear path), for the multi-scale vs single-scale ablation.
    "single-scale": ModelConfig(
        name="single-scale", linear_path=True, top_stages=0, top_blocks=0, bottom_stages=6,
        operating_points=((0, 1), (0, 2), (0, 3), (0, 4), (0, 6)), default_quality=3),
    # A very small model for tests.
    "tiny": ModelConfig(
        name="tiny", bottom_strides=((1, 2, 2), (2, 2, 2)), bottom_channels=(8, 16), bottom_blocks=(0, 1),
        top_stride=(2, 2, 2), top_channels=16, top_blocks=1, decoder_channels=(16, 8), decoder_blocks=(1, 0),
        latent_dim=8, top_codebook=32, bottom_codebook=64, top_stages=1, bottom_stages=2,
        operating_points=((1, 0), (1, 1), (1, 2)), default_quality=2, clip_frames=8, clip_size=16),
}
PRESETS["tiny-linear"] = replace(PRESETS["tiny"], name="tiny-linear", linear_path=True)   # tests the linear path
# The `cpu` network with a wider bottom latent and more bottom stages, for a ladder from ~0.01 to ~0.5 bpp.
# Sized by measurement (experiments/width_sweep/README.md: PCA of the 4x8x8 pixel blocks plus
# k-means residual stages, fitted on training clips, PSNR on the validation clips): 64 dims beat 48 from
# ~8 stages up (+0.2 dB at 12, +0.4 at 14) and 96 by 0.1-0.2 dB everywhere up to 16 stages, while the
# unquantised ceiling rises from 28.9 (48) to 30.4 dB (64). 14 stages of 0.039 bpp raw put the top point
# at 0.57 bpp raw (~0.5 after entropy coding); the linear start gives 28.4 dB there, so 30 dB needs
# training to add ~1.6 dB. Only the decoder's first conv grows: decoding costs about the same as `cpu`.
# (Training got the ceiling to 30.1 dB; the shipped file reaches 30.3 dB at 0.49 bpp with the ladder's
# scalar and enhancement layers, vqcodec/coding/ladder.py.)
PRESETS["cpu-hq"] = ModelConfig(
    name="cpu-hq", linear_path=True, latent_dim=64, bottom_stages=14,
    operating_points=((2, 0), (4, 0), (4, 1), (4, 2), (4, 3), (4, 4), (4, 6), (4, 8), (4, 10), (4, 12), (4, 14)),
    default_quality=5)


def get_config(name: str) -> ModelConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise VqvError(f"unknown model config {name!r} (choose from {', '.join(PRESETS)})") from None


def raw_bits(cfg: ModelConfig, t: int = 32, h: int = 64, w: int = 64) -> dict[str, float]:
    """Bits per clip at each operating point if every index were sent with log2(codebook) bits."""
    return {q: stage_bits(cfg, ts, bs, t, h, w) for q, (ts, bs) in enumerate(cfg.operating_points, 1)}


def stage_bits(cfg: ModelConfig, top: int, bottom: int, t: int = 32, h: int = 64, w: int = 64) -> float:
    """Bits per clip of ``top`` + ``bottom`` VQ stages at log2(codebook) bits per index."""
    grids = cfg.latent_grids(t, h, w)
    bits = bottom * math.prod(grids["bottom"]) * math.log2(cfg.bottom_codebook)
    if "top" in grids:
        bits += top * math.prod(grids["top"]) * math.log2(cfg.top_codebook)
    return bits
