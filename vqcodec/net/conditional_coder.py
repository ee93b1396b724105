"""The conditional residual coder's network: a slice's pixels X coded given their motion-compensated
prediction P (DVC's residual coding, conditioned on P as DCVC's coders are).

A slice is ``bt`` = 4 frames, RGB, as 12 channels in 0..1 (frame-major: channel ``3 j + c``); its
latent has ``channels`` symbols per 8x8 block. The linear part is a transform codec of X - P (a PCA
basis of the residual at ship time, 8x8 stride); the rest is what training added to it: an analysis
that sees X and P, and a synthesis that sees the rounded symbols and P at 1/2, 1/4 and 1/8
(experiments/conditional_coder/pca_start.py trains it; docs/DESIGN.md, "Conditional coders", has the
measurements). This module knows nothing of blocks chosen, tables or bytes
(:mod:`vqcodec.coding.conditional_coder` does).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from vqcodec.net import bfloat16

FRAMES = 4            # the slice's frames (the shipped model's bottom block is 4 x 8 x 8)
BLOCK = 8             # pixels per latent position, each way
IN_CHANNELS = 3 * FRAMES


class ConditionalCoderNet(nn.Module):
    #: What the non-linear parts compute in: float32, or bfloat16 in the copy :meth:`in_bfloat16` makes (the
    #: linear parts, ``enc_lin`` and ``dec_lin``, and the prediction added to the output stay float32);
    #: ``emulated``: that copy's bfloat16 arithmetic runs on float32 kernels (:mod:`vqcodec.net.bfloat16`).
    compute_dtype: torch.dtype = torch.float32
    emulated: bool = False

    def __init__(self, channels: int = 64, width: int = 64, features: int = 32) -> None:
        super().__init__()
        act = nn.SiLU
        k, c = channels, IN_CHANNELS
        self.channels = k
        self.enc_lin = nn.Conv2d(c, k, BLOCK, BLOCK, bias=False)
        self.dec_lin = nn.ConvTranspose2d(k, c, BLOCK, BLOCK, bias=False)
        self.enc_nl = nn.Sequential(nn.Conv2d(2 * c, width, 5, 2, 2), act(), nn.Conv2d(width, width, 5, 2, 2), act(),
                                    nn.Conv2d(width, k, 5, 2, 2))
        self.p1 = nn.Sequential(nn.Conv2d(c, features, 3, 2, 1), act())
        self.p2 = nn.Sequential(nn.Conv2d(features, features, 3, 2, 1), act())
        self.p3 = nn.Sequential(nn.Conv2d(features, features, 3, 2, 1), act())
        self.s3 = nn.Sequential(nn.Conv2d(k + features, width, 3, 1, 1), act(),
                                nn.ConvTranspose2d(width, width, 4, 2, 1), act())
        self.s2 = nn.Sequential(nn.Conv2d(width + features, width, 3, 1, 1), act(),
                                nn.ConvTranspose2d(width, width, 4, 2, 1), act())
        self.s1 = nn.Sequential(nn.Conv2d(width + features, width, 3, 1, 1), act(),
                                nn.ConvTranspose2d(width, features, 4, 2, 1), act())
        self.out = nn.Sequential(nn.Conv2d(features + c, features, 3, 1, 1), act(), nn.Conv2d(features, c, 3, 1, 1))

    def in_bfloat16(self, emulate: bool | None = None) -> "ConditionalCoderNet":
        """A copy whose non-linear parts compute in bfloat16 (about 3x as fast on CPUs with bfloat16
        instructions; ``emulate``, default where the CPU has none: on float32 kernels)."""
        return bfloat16.copy_in_bfloat16(self, [n for n, _ in self.named_children() if n not in ("enc_lin", "dec_lin")],
                                         emulate)

    def _in(self, t: torch.Tensor) -> torch.Tensor:
        return bfloat16.to_compute(t, self.compute_dtype, self.emulated)

    def analysis(self, x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """(N, 12, H, W) source and prediction -> the unrounded latent (N, channels, H/8, W/8)."""
        return self.enc_lin(x - p) + self.enc_nl(self._in(torch.cat([x, p], 1))).float()

    def synthesis(self, y: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """Rounded symbols ``y`` (N, channels, H/8, W/8) and the prediction -> the slice (N, 12, H, W),
        unclipped, in 0..1 units."""
        pc = self._in(p)
        f1 = self.p1(pc)
        f2 = self.p2(f1)
        f3 = self.p3(f2)
        h = _up(self.s3, torch.cat([self._in(y), f3], 1))
        h = _up(self.s2, torch.cat([h, f2], 1))
        h = _up(self.s1, torch.cat([h, f1], 1))
        return p + self.dec_lin(y) + self.out(torch.cat([h, pc], 1)).float()


def _up(stage: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """A synthesis stage (conv, act, transposed conv, act), its transposed convolution fed channels-last
    (oneDNN's kernel for it is 2-6x faster on this CPU than on NCHW input; the 3x3 convs are not) and its
    output back in NCHW."""
    h = stage[1](stage[0](x)).contiguous(memory_format=torch.channels_last)
    return stage[3](stage[2](h)).contiguous()
