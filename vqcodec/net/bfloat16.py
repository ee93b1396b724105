"""bfloat16 computing for the codec's networks (a version 10.0 file's networks compute so).

What it means, on any CPU: each convolution's weights and inputs are rounded to bfloat16 (to nearest, ties
to even), the products summed in float32, the result rounded to bfloat16; every other operation (SiLU, the
residual sums) takes bfloat16 values and rounds its result to bfloat16. On a CPU with bfloat16 instructions
the modules are converted to bfloat16 and oneDNN does exactly that, about twice as fast as float32. Elsewhere
torch would run bfloat16 convolutions on its reference kernels, ~60x slower, so the same arithmetic is
*emulated*: float32 modules whose weights are rounded to bfloat16 once and whose every module's inputs and
output are rounded to bfloat16 (a product of two bfloat16 numbers is exact in float32, so only the order of the float32
sums differs, as it does between two CPUs' kernels; docs/DESIGN.md, "Network float", has the measured
difference).
"""
from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
import torch.nn as nn


def bfloat16_is_native() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX), where bfloat16 modules run fast."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:          # a torch without these probes
        return False


def round_bfloat16(t: torch.Tensor) -> torch.Tensor:
    """float32 ``t`` rounded to the nearest bfloat16 (ties to even), as float32."""
    return t.to(torch.bfloat16).float()


def _round_inputs(module: nn.Module, args):
    return tuple(round_bfloat16(a) if isinstance(a, torch.Tensor) else a for a in args)


def _round_output(module: nn.Module, args, out):
    return round_bfloat16(out) if isinstance(out, torch.Tensor) else out


def convert(modules: Iterable[nn.Module], emulate: bool) -> None:
    """``modules`` (in place, in a copy of a network) to bfloat16 computing: converted, or emulated."""
    for module in modules:
        if not emulate:
            module.to(torch.bfloat16)
            continue
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(round_bfloat16(p))
        for m in module.modules():      # every input and output rounded (functional SiLUs between modules too)
            m.register_forward_pre_hook(_round_inputs)
            m.register_forward_hook(_round_output)


def copy_in_bfloat16(net: nn.Module, parts: Iterable[str], emulate: bool | None = None) -> nn.Module:
    """A copy of ``net`` whose children named in ``parts`` compute in bfloat16 (``emulate``: on float32
    kernels; default: where the CPU has no bfloat16 instructions); it says so in ``compute_dtype`` and
    ``emulated``, which its forward reads."""
    out = copy.deepcopy(net)
    out.emulated = not bfloat16_is_native() if emulate is None else bool(emulate)
    convert([m for n, m in out.named_children() if n in set(parts)], out.emulated)
    out.compute_dtype = torch.bfloat16
    return out


def to_compute(t: torch.Tensor, dtype: torch.dtype, emulated: bool) -> torch.Tensor:
    """A module's float32 input as the module computes on it: as it is (float32), in bfloat16, or rounded to
    bfloat16 and kept float32 (emulated)."""
    if dtype == torch.float32:
        return t
    return round_bfloat16(t) if emulated else t.to(dtype)
