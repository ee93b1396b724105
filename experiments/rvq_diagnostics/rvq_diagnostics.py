"""How much of each latent the residual quantiser stages carry, and what the unquantised latents could give.

    python experiments/rvq_diagnostics/rvq_diagnostics.py runs/cpu/checkpoint.pt --data corpus:data/corpus --cache-dir data/cache

Prints, on the validation clips (centre 32x64x64 crops):
- the PSNR of every operating point and of the *continuous ceiling* (the decoder fed the unquantised
  latents): no number of stages can beat the ceiling, so a ceiling close to the best point means the
  autoencoder, not the quantiser, limits quality;
- with ``--pca-reference``, what a linear transform code with as many coefficients as the bottom latent
  has reaches (PCA of the bottom grid's pixel blocks, fitted on training clips, unquantised): a
  ceiling far below it means the autoencoder is undertrained, not short of latent dimensions;
- per level, the latent variance left after each residual stage (a fraction of the total): a first
  stage that already leaves ~1-5% means the encoder has collapsed its outputs onto the codebook and the
  later stages have nothing left to code.
"""
from __future__ import annotations

import argparse
import json
import math

import torch

from vqcodec import metrics
from vqcodec.train.data import ClipSpec, build_dataset
from vqcodec.net.linear_init import pca_basis, pixel_blocks
from vqcodec.net.model import MSVQVAE, to_uint8, uint8_to_input


def load_net(path: str) -> MSVQVAE:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state:         # a training checkpoint or best.pt
        from vqcodec.weights import net_from_checkpoint
        return net_from_checkpoint(path)
    from vqcodec.weights import load_model
    return load_model(path).net.float().eval()


def psnr(recon: torch.Tensor, x: torch.Tensor) -> float:
    """PSNR of a batch of clips taken as one long clip (the MSE over every sample of every clip)."""
    frames = [to_uint8(v).reshape(-1, *x.shape[-2:], 3) for v in (x, recon)]
    return metrics.psnr(*frames)


@torch.no_grad()
def diagnose(net: MSVQVAE, x: torch.Tensor) -> dict:
    cfg = net.cfg
    out: dict = {"ceiling_psnr": round(psnr(net(x, bypass=True).recon, x), 2), "points": {}}
    for q, (ts, bs) in enumerate(cfg.operating_points, 1):
        out["points"][q] = {"stages": [ts, bs], "psnr": round(psnr(net(x, ts, bs).recon, x), 2)}
    h_b = net.enc_bottom(x)
    latents = {}
    top_indices = None
    if not cfg.single_level:
        z_t = net.enc_top(h_b)
        latents["top"] = (z_t, net.top_quantizer)
        top_indices = net.top_quantizer(z_t).indices
    latents["bottom"] = (net.bottom_latent(net._pixel_term(x), h_b, top_indices), net.bottom_quantizer)
    for name, (z, rvq) in latents.items():
        flat = z.permute(0, 2, 3, 4, 1).reshape(-1, z.shape[1])
        var = float(((flat - flat.mean(0)) ** 2).sum(1).mean())
        r, left = flat.clone(), []
        for layer in rvq.layers:
            r = r - layer.lookup(layer.nearest(r))
            left.append(round(float((r ** 2).sum(1).mean()) / var, 4))
        out[name] = {"variance_per_dim": round(var / flat.shape[1], 4), "residual_left_after_stage": left}
    return out


def pca_reference(net: MSVQVAE, train_x: torch.Tensor, x: torch.Tensor) -> float:
    """PSNR of a PCA with ``latent_dim`` components per bottom-grid pixel block (fit on ``train_x``)."""
    f = net.cfg.bottom_factor
    tr, va = pixel_blocks(train_x.double(), f), pixel_blocks(x.double(), f)
    mu, basis = pca_basis(tr, net.cfg.latent_dim)
    rec = (va - mu) @ basis.T @ basis + mu
    mse = float((((rec.clamp(-1, 1) - va) * 127.5) ** 2).mean())
    return round(10 * math.log10(255.0 ** 2 / mse), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="a training checkpoint or a shipped weights file")
    ap.add_argument("--data", required=True, help="dataset spec, e.g. corpus:data/corpus")
    ap.add_argument("--cache-dir", required=True)
    ap.add_argument("--split", default="val")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pca-reference", action="store_true", help="also fit a PCA on the training clips")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    net = load_net(a.model)
    ds = build_dataset(a.data, a.split, ClipSpec(net.cfg.clip_frames, net.cfg.clip_size, 16.0), a.cache_dir,
                       train=False, progress=False)
    x = uint8_to_input(torch.stack([ds[i] for i in range(len(ds))]))
    rep = diagnose(net, x)
    if a.pca_reference:
        tr = build_dataset(a.data, "train", ClipSpec(net.cfg.clip_frames, net.cfg.clip_size, 16.0), a.cache_dir,
                           train=False, progress=False)
        train_x = uint8_to_input(torch.stack([tr[i] for i in range(len(tr))]))
        rep["pca_reference_psnr"] = pca_reference(net, train_x, x)
    print(json.dumps(rep))


if __name__ == "__main__":
    main()
