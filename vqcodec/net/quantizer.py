"""Residual vector quantisers with EMA codebooks, k-means init and dead-code restart.

A level of the model is a :class:`ResidualVQ`: a stack of :class:`VectorQuantizer` stages, each coding
what the previous stages left. Keeping only the first ``n`` stages gives a coarser, cheaper code, which
is how one model serves several bitrates (quantiser dropout in training, as SoundStream/EnCodec do).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

from vqcodec.net.tiling import run_alone_each


#: Rows of latents searched at once by :meth:`VectorQuantizer.nearest` (16384 x 1024 codes: 64 MB).
NEAREST_ROWS = 16384


def _dist_on() -> bool:
    return dist.is_available() and dist.is_initialized()


def _all_reduce(t: torch.Tensor) -> torch.Tensor:
    if _dist_on():
        dist.all_reduce(t)
    return t


def _broadcast(t: torch.Tensor) -> torch.Tensor:
    if _dist_on():
        dist.broadcast(t, 0)
    return t


def kmeans(x: torch.Tensor, k: int, iters: int = 10, generator: torch.Generator | None = None) -> torch.Tensor:
    """Plain Lloyd k-means on rows of ``x`` (N, D); empty clusters keep their random init."""
    n = x.shape[0]
    idx = torch.randint(0, n, (k,), generator=generator, device=x.device) if n < k else \
        torch.randperm(n, generator=generator, device=x.device)[:k]
    centers = x[idx].clone()
    for _ in range(iters):
        assign = torch.cdist(x, centers).argmin(1)
        sums = torch.zeros_like(centers).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        nonempty = counts > 0
        centers[nonempty] = sums[nonempty] / counts[nonempty, None]
    return centers


class VectorQuantizer(nn.Module):
    """One codebook, updated by exponential moving averages rather than by gradients.

    The codebook lives in buffers: it is the EMA of the encoder outputs assigned to each code
    (van den Oord et al. 2017, appendix; Razavi et al. 2019), which trains faster and more stably
    than a codebook loss. Codes whose usage decays below ``dead_threshold`` are restarted on random
    encoder outputs from the current batch, so the codebook keeps being used.
    """

    def __init__(self, dim: int, codebook_size: int, decay: float = 0.99, eps: float = 1e-5,
                 dead_after: int = 50) -> None:
        super().__init__()
        self.dim, self.codebook_size = dim, codebook_size
        self.decay, self.eps, self.dead_after = decay, eps, dead_after
        codebook = torch.empty(codebook_size, dim)
        if not codebook.is_meta:    # (random numbers on the meta device cost seconds of torch imports)
            codebook = torch.randn(codebook_size, dim) * 0.1
        self.register_buffer("codebook", codebook)
        self.register_buffer("ema_count", torch.ones(codebook_size))
        self.register_buffer("ema_sum", self.codebook.clone())
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))
        self.register_buffer("idle", torch.zeros(codebook_size, dtype=torch.int32))  # steps since last used

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each row of ``x`` (N, D), :data:`NEAREST_ROWS` rows at a
        time: the distance matrix of a 720p GOP's bottom latent would be half a gigabyte."""
        cb = self.codebook
        # ||x||^2 is the same for every code, so argmin over ||c||^2 - 2 x.c is enough.
        norms = (cb * cb).sum(1)[None, :]
        if x.shape[0] <= NEAREST_ROWS:
            return (norms - 2.0 * (x @ cb.t())).argmin(1)
        # the same chunks, each alone on one thread whichever runs it: on the tile workers where this
        # thread has them (a lone large GOP's decisions would leave the other cores idle), else here
        return torch.cat(run_alone_each([lambda part=part: (norms - 2.0 * (part @ cb.t())).argmin(1)
                                         for part in x.split(NEAREST_ROWS)]))

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(idx, self.codebook)

    @torch.no_grad()
    def set_codebook(self, codebook: torch.Tensor) -> None:
        """Make ``codebook`` (K, D) the codes, with fresh EMA statistics (each code counted once)."""
        self.codebook.copy_(codebook)
        self.ema_sum.copy_(codebook)
        self.ema_count.fill_(1.0)
        self.idle.zero_()
        self.initialised.fill_(True)

    @torch.no_grad()
    def _init_from(self, x: torch.Tensor) -> None:
        centers = kmeans(x.float(), self.codebook_size)
        _broadcast(centers)
        self.set_codebook(centers)

    @torch.no_grad()
    def _ema_update(self, x: torch.Tensor, idx: torch.Tensor) -> None:
        onehot_count = torch.bincount(idx, minlength=self.codebook_size).to(x.dtype)
        sums = torch.zeros_like(self.codebook).index_add_(0, idx, x)
        _all_reduce(onehot_count)
        _all_reduce(sums)
        self.ema_count.mul_(self.decay).add_(onehot_count, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.ema_count.sum()
        count = (self.ema_count + self.eps) / (n + self.codebook_size * self.eps) * n  # Laplace smoothing
        self.codebook.copy_(self.ema_sum / count[:, None])
        # Dead-code restart: codes idle for dead_after steps move onto inputs that are badly served
        # now (sampled by squared quantisation error), where they will be used at once.
        self.idle.add_(1).masked_fill_(onehot_count > 0, 0)
        dead = self.idle >= self.dead_after
        if self.dead_after > 0 and bool(dead.any()):
            err = (x - self.codebook[idx]).pow(2).sum(1) + 1e-12
            pick = torch.multinomial(err, self.codebook_size, replacement=True)
            fresh = _broadcast(x[pick].clone())
            self.codebook[dead] = fresh[dead]
            self.ema_sum[dead] = fresh[dead]
            self.ema_count[dead] = 1.0
            self.idle[dead] = 0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Quantise rows of ``x`` (N, D): returns (quantised with straight-through grad, indices, commit loss)."""
        if self.training and not bool(self.initialised):
            self._init_from(x.detach())
        idx = self.nearest(x.detach().float())
        q = self.lookup(idx).to(x.dtype)
        commit = F.mse_loss(x, q.detach())
        if self.training:
            self._ema_update(x.detach().float(), idx)
        return x + (q - x).detach(), idx, commit


@dataclass
class QuantOut:
    quantized: torch.Tensor      # (B, D, T, H, W), sum of the stages used
    indices: torch.Tensor        # (B, S, T, H, W) int64, S = stages used
    commit: torch.Tensor         # scalar
    perplexity: list[float]      # per stage used, exp(entropy) of this batch's code usage


class ResidualVQ(nn.Module):
    """``stages`` vector quantisers, each coding the residual the previous ones left."""

    def __init__(self, dim: int, codebook_size: int, stages: int, **vq_kwargs) -> None:
        super().__init__()
        self.dim, self.codebook_size = dim, codebook_size
        self.layers = nn.ModuleList(VectorQuantizer(dim, codebook_size, **vq_kwargs) for _ in range(stages))

    @property
    def stages(self) -> int:
        return len(self.layers)

    def forward(self, z: torch.Tensor, n_stages: int | None = None) -> QuantOut:
        n = self.stages if n_stages is None else n_stages
        b, d, t, h, w = z.shape
        flat = z.permute(0, 2, 3, 4, 1).reshape(-1, d)
        residual = flat
        total = torch.zeros_like(flat)
        idxs, commit, ppl = [], z.new_zeros(()), []
        for layer in self.layers[:n]:
            q, idx, c = layer(residual)
            # q is straight-through (value: the code, gradient: identity), so the next residual has
            # no gradient path to the encoder: the encoder gets the decoder's gradient once, and only
            # the first stage's commitment pulls on it (as in EnCodec). Letting every stage's
            # commitment pull the latent toward its partial sum shrinks the residuals until the
            # later stages carry nothing.
            residual = residual - q
            total = total + q
            commit = commit + c
            idxs.append(idx)
            if self.training:
                p = torch.bincount(idx, minlength=self.codebook_size).float()
                p = p / p.sum()
                ppl.append(float(torch.exp(-(p * torch.log(p + 1e-10)).sum())))
        quantized = total.view(b, t, h, w, d).permute(0, 4, 1, 2, 3)
        if n == 0:
            indices = torch.zeros(b, 0, t, h, w, dtype=torch.long, device=z.device)
        else:
            indices = torch.stack(idxs, 0).view(n, b, t, h, w).transpose(0, 1).contiguous()
        return QuantOut(quantized, indices, commit, ppl)

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices (B, S, T, H, W) with S ≤ stages -> quantised latent (B, D, T, H, W)."""
        b, s, t, h, w = indices.shape
        out = torch.zeros(b, t, h, w, self.dim, device=self.layers[0].codebook.device)
        for i in range(s):
            out = out + self.layers[i].lookup(indices[:, i])
        return out.permute(0, 4, 1, 2, 3).contiguous()
