"""Start the network as a linear transform code: bottom latent = PCA of pixel blocks, bottom stages = k-means.

Measured on the first run (``docs/DESIGN.md``, "Design choices, and why"): after 3,280 CPU steps the
autoencoder reconstructed the validation clips at 22.4 dB even from its *unquantised* latents, while a
PCA with the same 32 coefficients per 4x8x8 pixel block gives 27.1 dB, and those coefficients coded by
six k-means residual stages 25.0 dB. Deep autoencoders reach and pass a linear code only after long
training, which 2 CPU cores cannot give; so a model with ``linear_path`` starts *as* the linear code:

- ``lin_enc`` projects each bottom-grid pixel block onto the leading principal components (its bias
  removes the mean) and ``lin_dec`` maps coefficients back (its bias adds the mean);
- the deep contributions to the bottom latent (``pre_bottom``) and to the output (the decoder's last
  layer) are zeroed, so at step 0 the network computes exactly the linear code while every other
  layer keeps its weights (trained ones, on a warm restart);
- each bottom residual stage's codebook is k-means on what the previous stages left.

Training then teaches the deep paths what to add. Needs no data beyond the clips handed in.
"""
from __future__ import annotations

import torch

from vqcodec.errors import VqvError
from vqcodec.net.model import MSVQVAE, space_to_depth
from vqcodec.net.quantizer import kmeans


def pixel_blocks(x: torch.Tensor, factor: tuple[int, int, int]) -> torch.Tensor:
    """(B, 3, T, H, W) -> (N, 3*ft*fh*fw): one row per bottom-grid position, in ``space_to_depth`` order."""
    b = space_to_depth(x, factor)
    return b.permute(0, 2, 3, 4, 1).reshape(-1, b.shape[1])


def pca_basis(rows: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and the leading ``k`` principal directions (k, D), orthonormal rows, of ``rows`` (N, D)."""
    mu = rows.mean(0)
    return mu, torch.linalg.svd(rows - mu, full_matrices=False).Vh[:k]


def pca_basis_cov(rows: torch.Tensor, k: int, chunk: int = 65536) -> tuple[torch.Tensor, torch.Tensor]:
    """As :func:`pca_basis`, from the covariance accumulated in double over chunks (rows may be float32 and many)."""
    mu = rows.double().mean(0)
    cov = torch.zeros(rows.shape[1], rows.shape[1], dtype=torch.float64)
    for i in range(0, rows.shape[0], chunk):
        c = rows[i:i + chunk].double() - mu
        cov += c.T @ c
    return mu, torch.linalg.eigh(cov).eigenvectors.flip(1)[:, :k].T.contiguous()


@torch.no_grad()
def init_linear_code(net: MSVQVAE, x: torch.Tensor, *, kmeans_iters: int = 10, max_rows: int = 80_000,
                     seed: int = 0, fit_rows: int | None = None) -> dict:
    """Initialise ``net`` (with ``cfg.linear_path``) from clips ``x`` (B, 3, T, H, W) in [-1, 1]; returns a report.

    ``fit_rows=None``: the PCA and every stage's k-means see one random subset of ``max_rows`` pixel blocks.
    ``fit_rows=N``: the PCA sees every block, and each stage's k-means a fresh random subset of N blocks
    (what the stages before it left of them), so later stages are fitted to out-of-sample residuals, as
    they meet them in use; with many (augmented) clips this is 0.4-0.7 dB better on the validation clips
    from ~6 stages up (``experiments/width_sweep/README.md``).
    """
    cfg = net.cfg
    if not cfg.linear_path:
        raise ValueError("init_linear_code needs a model with linear_path=True")
    g = torch.Generator().manual_seed(seed)
    if fit_rows is None:
        rows = pixel_blocks(x.double().cpu(), cfg.bottom_factor)
        if rows.shape[0] > max_rows:
            rows = rows[torch.randperm(rows.shape[0], generator=g)[:max_rows]]
    else:
        rows = pixel_blocks(x.float().cpu(), cfg.bottom_factor)
    if rows.shape[0] < cfg.latent_dim:
        raise VqvError(f"need at least {cfg.latent_dim} pixel blocks for the PCA, got {rows.shape[0]} (too few training clips)")
    mu, basis = pca_basis(rows, cfg.latent_dim) if fit_rows is None else pca_basis_cov(rows, cfg.latent_dim)
    if basis.shape[0] < cfg.latent_dim:   # fewer pixels per block than latent dims: pad with zeros
        basis = torch.cat([basis, basis.new_zeros(cfg.latent_dim - basis.shape[0], basis.shape[1])])
    coeff = ((rows - mu.to(rows.dtype)) @ basis.T.to(rows.dtype)).float()
    del rows
    dev = net.lin_enc.weight.device
    net.lin_enc.weight.copy_(basis.float()[:, :, None, None, None].to(dev))
    net.lin_enc.bias.copy_((-(basis @ mu)).float().to(dev))
    net.lin_dec.weight.copy_(basis.T.float()[:, :, None, None, None].to(dev))
    net.lin_dec.bias.copy_(mu.float().to(dev))
    net.pre_bottom.weight.zero_()
    net.pre_bottom.bias.zero_()
    last = net.decoder[-1].conv
    last.weight.zero_()
    last.bias.zero_()
    total = float(((coeff - coeff.mean(0)) ** 2).sum(1).mean().clamp_min(1e-12))
    left = fit_residual_stages(net.bottom_quantizer.layers, coeff, total, fit_rows=fit_rows, iters=kmeans_iters,
                               generator=g)
    return {"pca_rows": int(coeff.shape[0]), "kmeans_rows": int(min(fit_rows or coeff.shape[0], coeff.shape[0])),
            "residual_left_after_stage": left}


@torch.no_grad()
def add_bottom_stages(net: MSVQVAE, frames: torch.Tensor, extra: int, *, kmeans_iters: int = 15,
                      fit_rows: int | None = 80_000, batch: int = 16, seed: int = 0) -> tuple[MSVQVAE, dict]:
    """A copy of ``net`` with ``extra`` more bottom residual stages, each a k-means codebook of what the
    stages before it leave of the bottom latents of ``frames`` (uint8 clips (N, T, H, W, 3): the
    encoder's own latents, given the top codes it sends), each stage fitted on a fresh random subset of
    ``fit_rows`` of them. Every trained weight is kept, so the existing operating points code and decode
    exactly as before; the new stages extend the ladder towards the unquantised latent, which the
    decoder already knows from the bypass steps of training. Returns the new network and a report."""
    from dataclasses import replace  # noqa: PLC0415

    if extra < 1:
        raise ValueError("extra must be at least 1")
    cfg = replace(net.cfg, bottom_stages=net.cfg.bottom_stages + extra)
    out = MSVQVAE(cfg).to(next(net.parameters()).device)
    missing, unexpected = out.load_state_dict(net.state_dict(), strict=False)
    fresh = tuple(f"bottom_quantizer.layers.{i}." for i in range(net.cfg.bottom_stages, cfg.bottom_stages))
    assert not unexpected and all(k.startswith(fresh) for k in missing), (missing, unexpected)
    out.eval()
    rows = []
    for i in range(0, frames.shape[0], batch):
        pixel_term, h_b, z_t = out.analyse(frames[i:i + batch])
        top = None if z_t is None else out.top_quantizer(z_t).indices
        z_b = out.bottom_latent(pixel_term, h_b, top)
        q = out.bottom_quantizer(z_b, net.cfg.bottom_stages).quantized
        r = z_b - q
        rows.append(r.permute(0, 2, 3, 4, 1).reshape(-1, r.shape[1]).float().cpu())
    r = torch.cat(rows)
    total = float((r ** 2).sum(1).mean().clamp_min(1e-12))
    left = fit_residual_stages(out.bottom_quantizer.layers[net.cfg.bottom_stages:], r, total, fit_rows=fit_rows,
                               iters=kmeans_iters, generator=torch.Generator().manual_seed(seed))
    return out, {"rows": int(r.shape[0]), "kmeans_rows": int(min(fit_rows or r.shape[0], r.shape[0])),
                 "residual_left_after_new_stage": left}


def fit_residual_stages(layers, r: torch.Tensor, total: float, *, fit_rows: int | None, iters: int,
                        generator: torch.Generator) -> list[float]:
    """Make each quantiser of ``layers`` k-means on what the ones before it leave of the rows ``r``
    (N, D), each fitted on a fresh random subset of ``fit_rows`` rows (all rows if ``None``); returns
    the share of ``total`` left after each stage."""
    left = []
    for vq in layers:
        fit = r if not fit_rows or fit_rows >= r.shape[0] else \
            r[torch.randperm(r.shape[0], generator=generator)[:fit_rows]]
        cb = kmeans(fit, vq.codebook_size, iters=iters, generator=generator)
        vq.set_codebook(cb.to(vq.codebook.device))
        r = r - cb[vq.nearest(r.to(vq.codebook.device)).cpu()]
        left.append(round(float((r ** 2).sum(1).mean()) / total, 4))
    return left
