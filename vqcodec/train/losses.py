"""Training losses: reconstruction, perceptual (weight-free SSIM by default, or VGG16 from a local file)."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from pytorch_msssim import ssim

from vqcodec.errors import VqvError


def frames_2d(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, T, H, W) -> (B*T, 3, H, W)."""
    b, c, t, h, w = x.shape
    return x.transpose(1, 2).reshape(b * t, c, h, w)


class SSIMLoss(nn.Module):
    """1 - SSIM per frame (11x11 Gaussian window, sigma 1.5), on [0, 1] images: needs no weights."""

    def forward(self, recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        r = frames_2d((recon.clamp(-1, 1) + 1) / 2).float()
        t = frames_2d((target + 1) / 2).float()
        return 1.0 - ssim(r, t, data_range=1.0, size_average=True)


# torchvision's VGG16 "features" layout: conv channels, 'M' = max-pool.
_VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
_VGG_TAPS = (3, 8, 15, 22)  # relu1_2, relu2_2, relu3_3, relu4_3 (indices into features)


class VGG16Perceptual(nn.Module):
    """The paper's perceptual loss: L2 between VGG16 activations of frames.

    Loads torchvision-format ImageNet weights (``vgg16-397923af.pth`` or any state dict holding
    ``features.N.weight``/``bias`` keys) from a local file; nothing is downloaded.
    """

    def __init__(self, weights: str | Path) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in _VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
                cin = v
        self.features = nn.Sequential(*layers[: _VGG_TAPS[-1] + 1])
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"VGG16 weights not found: {path} (pass a torchvision vgg16 .pth file)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
            raise VqvError(f"cannot read VGG16 weights {path}: {e}".splitlines()[0]) from None
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        feats = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        own = self.features.state_dict()
        missing = [k for k in own if k not in feats or feats[k].shape != own[k].shape]
        if missing:
            raise VqvError(f"{path} is not a torchvision VGG16 state dict (missing/mismatched {missing[0]})")
        self.features.load_state_dict({k: feats[k] for k in own})
        self.features.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> "VGG16Perceptual":
        super().train(mode)
        self.features.eval()  # frozen feature extractor
        return self

    def forward(self, recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        r = (frames_2d((recon.clamp(-1, 1) + 1) / 2) - self.mean) / self.std
        t = (frames_2d((target + 1) / 2) - self.mean) / self.std
        loss = recon.new_zeros(())
        for i, layer in enumerate(self.features):
            r, t = layer(r), layer(t)
            if i in _VGG_TAPS:
                loss = loss + F.mse_loss(r, t.detach())
        return loss


def reconstruction_loss(recon: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    if kind == "mse":
        return F.mse_loss(recon, target)
    if kind == "l1":
        return F.l1_loss(recon, target)
    if kind == "mse+l1":
        return F.mse_loss(recon, target) + F.l1_loss(recon, target)
    raise ValueError(f"unknown reconstruction loss {kind!r}")

