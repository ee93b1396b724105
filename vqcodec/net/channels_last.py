"""The codec's native bfloat16 networks run channels-last: the same operations as the modules' own
forwards, on tensors whose channels are the innermost axis.

oneDNN's bfloat16 convolutions are fastest on channels-last input, and the temporal (3, 1, 1) and
per-position (1, 1, 1) convolutions most of all: on NCDHW input each convolution reorders its input
and output, and :class:`~vqcodec.net.model.TemporalConv3d`'s 2D route is slower than a
channels-last Conv3d (measured in docs/speed.md, session 35). The arithmetic is a 10.x file's (SPEC, "Network
float": bfloat16 operands, float32 sums in an order the implementation chooses), so the codes are
unchanged and the pixels may differ from the NCDHW order's by a level or two in a few percent of them,
as two CPUs' kernels may (DESIGN.md, "Network float"). float32 and emulated networks keep the modules'
forwards (the suite's pinned bytes).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from vqcodec.net.config import Stride

CHANNELS_LAST = torch.channels_last_3d


def as_input(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``x`` (N, C, T, H, W) in ``dtype``, channels-last, in one copy."""
    return x.to(dtype=dtype, memory_format=CHANNELS_LAST)


def _order(channels: int, s: Stride) -> torch.Tensor:
    """For each channel of the (st, sh, sw, c) order this module keeps a space-to-depth block in, the
    index it has in the model's (c, st, sh, sw) order."""
    return torch.arange(channels * s[0] * s[1] * s[2]).reshape(channels, *s).permute(1, 2, 3, 0).reshape(-1)


def depth_to_space(x: torch.Tensor, s: Stride) -> torch.Tensor:
    """:func:`vqcodec.net.model.depth_to_space` of ``x`` whose channels are in (st, sh, sw, c) order
    (:func:`_order`), channels-last: each output pixel's channels are copied as one run."""
    b, c, t, h, w = x.shape
    st, sh, sw = s
    co = c // (st * sh * sw)
    p = x.permute(0, 2, 3, 4, 1).reshape(b, t, h, w, st, sh, sw, co)
    p = p.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, t * st, h * sh, w * sw, co)
    return p.permute(0, 4, 1, 2, 3)


def space_to_depth(x: torch.Tensor, s: Stride) -> torch.Tensor:
    """:func:`vqcodec.net.model.space_to_depth` with the channels in (st, sh, sw, c) order
    (:func:`_order`), channels-last: each input pixel's channels are copied as one run."""
    b, c, t, h, w = x.shape
    st, sh, sw = s
    p = x.permute(0, 2, 3, 4, 1).reshape(b, t // st, st, h // sh, sh, w // sw, sw, c)
    p = p.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(b, t // st, h // sh, w // sw, st * sh * sw * c)
    return p.permute(0, 4, 1, 2, 3)


def _weights(m: nn.Conv3d, outputs: Stride | None, inputs: Stride | None):
    """``m``'s weight and bias with its output channels (an Up's conv) or input channels (a Down's) in
    this module's order (gathered per call: small beside the convolution, and nothing to keep in step)."""
    w, b = m.weight, m.bias
    if outputs is not None:
        idx = _order(w.shape[0] // (outputs[0] * outputs[1] * outputs[2]), outputs)
        w, b = w[idx], None if b is None else b[idx]
    if inputs is not None:
        w = w[:, _order(w.shape[1] // (inputs[0] * inputs[1] * inputs[2]), inputs)]
    return w, b


def _conv(m: nn.Conv3d, x: torch.Tensor, outputs: Stride | None = None, inputs: Stride | None = None) -> torch.Tensor:
    # TemporalConv3d's own forward takes a 2D route that is fast only on NCDHW input: every Conv3d
    # here goes to conv3d itself, with the same weights (their channels in this module's order where a
    # depth-to-space follows or a space-to-depth precedes), bias and padding
    if m.stride != (1, 1, 1) or m.dilation != (1, 1, 1) or m.groups != 1 or m.padding_mode != "zeros":
        raise TypeError(f"no channels-last route for {m}")
    w, b = _weights(m, outputs, inputs)
    return F.conv3d(x, w, b, padding=m.padding)


def run(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` computed channels-last: ``x`` from :func:`as_input`; the result in the layout the
    kernels leave (channels-last for oneDNN's bfloat16 ones). Knows the blocks the network is built of
    (nn.Sequential, Conv3d, ResBlock3d, Up, Down, SiLU) and refuses any other module rather than run it
    differently."""
    from vqcodec.net.model import Down, ResBlock3d, Up     # model.py imports this module
    if isinstance(module, nn.Sequential):
        for m in module:
            x = run(m, x)
        return x
    if isinstance(module, ResBlock3d):
        return x + _conv(module.c2, F.silu(_conv(module.c1, F.silu(x))))
    if isinstance(module, Up):
        return depth_to_space(_conv(module.conv, x, outputs=module.s), module.s)
    if isinstance(module, Down):
        return _conv(module.conv, space_to_depth(x, module.s), inputs=module.s)
    if isinstance(module, nn.SiLU):
        return F.silu(x)
    if isinstance(module, nn.Conv3d):
        return _conv(module, x)
    raise TypeError(f"no channels-last route for {type(module).__name__}")


def computed(module: nn.Module, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``module`` (converted to ``dtype``) on float32 ``x`` by :func:`run`; the result float32, NCDHW."""
    return run(module, as_input(x, dtype)).to(torch.float32, memory_format=torch.contiguous_format)
