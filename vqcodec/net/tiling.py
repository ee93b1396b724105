"""Run a fully convolutional network piece over large frames in spatial tiles, to bound memory.

The full-resolution ends of the network (the bottom encoder's first stages and the decoder's last)
hold tens of channels per pixel for a whole GOP: 48 x 32 frames x 1280 x 720 floats is 5.6 GB at
720p. :func:`map_tiled` runs the piece on overlapping tiles instead and keeps only each tile's core,
so memory follows the tile, not the frame. The overlap (``halo``) is wider than the reach of the
piece's convolutions that matters in practice, so tiled and whole-frame results agree to float
rounding (tests/test_tiling.py measures it). The tiling is a function of the frame size alone, the
same on every machine, so encoder and decoder see the same numbers wherever they run.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable

import torch

Piece = Callable[[torch.Tensor], torch.Tensor]


def tile_starts(size: int, core: int) -> list[int]:
    """Where the cores of ``core``-wide tiles start along an axis of ``size`` (the last may be short)."""
    return list(range(0, size, core))


def map_tiled(piece: Piece, x: torch.Tensor, *, scale: Fraction, core: int, halo: int) -> torch.Tensor:
    """``piece(x)`` computed tile by tile over the last two (spatial) axes of ``x`` (N, C, T, H, W).

    ``piece`` maps an input of spatial size (h, w) to an output of (h * scale, w * scale); ``core``
    and ``halo`` are in input units and must keep ``* scale`` whole (multiples of the piece's
    stride), so every tile samples the same grid phase as the whole frame. A frame that fits in
    one core is passed through whole.
    """
    h, w = x.shape[-2:]
    if h <= core and w <= core:
        return piece(x)
    for v in (core, halo):
        if (v * scale).denominator != 1:
            raise ValueError(f"tile size {v} does not keep the scale {scale} whole")
    out = None
    for y0 in tile_starts(h, core):
        y1 = min(y0 + core, h)
        for x0 in tile_starts(w, core):
            x1 = min(x0 + core, w)
            ey0, ey1 = max(0, y0 - halo), min(h, y1 + halo)       # the tile with its halo
            ex0, ex1 = max(0, x0 - halo), min(w, x1 + halo)
            y = piece(x[..., ey0:ey1, ex0:ex1])
            if out is None:
                out = y.new_empty(*y.shape[:-2], int(h * scale), int(w * scale))
            oy, ox = int((y0 - ey0) * scale), int((x0 - ex0) * scale)
            ch, cw = int((y1 - y0) * scale), int((x1 - x0) * scale)
            out[..., int(y0 * scale):int(y1 * scale), int(x0 * scale):int(x1 * scale)] = \
                y[..., oy:oy + ch, ox:ox + cw]
            del y
    return out
