"""uint8 frames and the network's floats: the conversions both ends of the network use, element by element (so
tiles convert alike), and the checks on frames handed to it."""
from __future__ import annotations

import numpy as np
import torch

from vqcodec.net.config import Stride


def frames_to_input(frames: np.ndarray | torch.Tensor, stride: Stride, device) -> tuple[torch.Tensor, bool]:
    f = torch.as_tensor(np.asarray(frames)) if not isinstance(frames, torch.Tensor) else frames
    if f.dtype != torch.uint8:
        raise TypeError(f"frames must be uint8, got {f.dtype}")
    batched = f.ndim == 5
    if not batched:
        f = f[None]
    if f.ndim != 5 or f.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) or (N, T, H, W, 3), got {tuple(f.shape)}")
    _, t, h, w, _ = f.shape
    if t % stride[0] or h % stride[1] or w % stride[2]:
        raise ValueError(f"frame grid {t}x{h}x{w} is not a multiple of the model stride {stride}")
    return f.permute(0, 4, 1, 2, 3).to(device), batched


def bytes_to_unit(f: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, T, H, W) -> float in [-1, 1], element by element (so tiles convert alike)."""
    return f.float().div(127.5).sub(1.0)


def unit_to_bytes(y: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] -> uint8, rounded, element by element."""
    return ((y.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)


def uint8_to_input(f: torch.Tensor) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) -> float (B, 3, T, H, W) in [-1, 1]."""
    return bytes_to_unit(f.permute(0, 4, 1, 2, 3))


def to_uint8(y: torch.Tensor) -> np.ndarray:
    """float (B, 3, T, H, W) in [-1, 1] -> uint8 (B, T, H, W, 3), rounded."""
    return unit_to_bytes(y).permute(0, 2, 3, 4, 1).cpu().numpy()
