"""MS-VQ-VAE: a two-level space-time VQ-VAE (Kotthapalli & Rekabdar, arXiv 2512.24547); its
configuration and presets are ``config.py``.

    frames ─► bottom encoder ─► h_b (bottom grid) ─► top encoder ─► z_t ─► TopQuantizer ─► q_t
                                  │                                           │
                                  │                              top decoder ▼ (2x up)
                                  └──────── concat ◄───────────────────── u_t
                                              ▼
                                     z_b ─► BottomQuantizer ─► q_b
    decoder( concat(u_t, q_b) ) ─► frames

Both levels are residual vector quantisers (see ``quantizer.py``); keeping fewer stages gives a lower
bitrate, and the bottom may keep zero stages (the decoder then works from the top level alone). The
network is fully convolutional in space and time and knows nothing about files or bytes:
:meth:`MSVQVAE.encode` turns uint8 frames into :class:`~vqcodec.codes.Codes` of a given number of
stages and :meth:`MSVQVAE.decode` turns codes back into uint8 frames. Qualities are not its business:
what each one means is the model's ladder (:mod:`vqcodec.coding.ladder`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from vqcodec.codes import CodeLevel, Codes
from vqcodec.net import bfloat16, channels_last

# ModelConfig and get_config live in config.py; imported from here too by the many callers that build a network
from vqcodec.net.config import PRESETS, ModelConfig, Stride, get_config, raw_bits, stage_bits  # noqa: F401
# the pixel conversions live in pixels.py; imported from here too by their many callers
from vqcodec.net.pixels import bytes_to_unit, frames_to_input, to_uint8, uint8_to_input, unit_to_bytes  # noqa: F401
from vqcodec.net.quantizer import QuantOut, ResidualVQ
from vqcodec.net.tiling import map_tiled

#: Frames wider or taller than this many pixels go through the network's full-resolution ends in
#: tiles of this size, each with a margin of TILE_HALO_PIXELS that is computed and dropped. The
#: margin covers the reach of those ends' convolutions: on the shipped model tiled results equal
#: whole-frame ones exactly from 48 pixels up (tests/test_tiling.py).
TILE_PIXELS = 256
TILE_HALO_PIXELS = 64
#: Tiles of other sizes than the fixed ones (tiling.tile_plan) are used only where every tile is at
#: least this wide and tall: torch runs a conv on thin inputs with another algorithm, whose floats
#: differ (on the shipped model the analysis's first conv switches below 107 pixels of height).
MIN_TILE_PIXELS = 128


# ----------------------------------------------------------------------------------------------- blocks

class TemporalConv3d(nn.Conv3d):
    """A (k, 1, 1) Conv3d run as a 2D conv over (T, H*W).

    Same parameters as the Conv3d, same result; PyTorch's CPU backend sends (k, 1, 1) 3D kernels to a
    slow reference path, and this takes the oneDNN path instead (about 5x faster in training).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        y = F.conv2d(x.reshape(b, c, t, h * w), self.weight.squeeze(-1), self.bias, padding=(self.padding[0], 0))
        return y.view(b, -1, y.shape[2], h, w)


def _conv(cin: int, cout: int, k: Stride = (3, 3, 3)) -> nn.Conv3d:
    cls = TemporalConv3d if k[1:] == (1, 1) else nn.Conv3d
    return cls(cin, cout, k, padding=tuple(x // 2 for x in k))


class ResBlock3d(nn.Module):
    """Pre-activation residual block; ``2+1d`` splits the 3x3x3 kernel into spatial then temporal."""

    def __init__(self, ch: int, conv: str) -> None:
        super().__init__()
        if conv == "3d":
            self.c1, self.c2 = _conv(ch, ch), _conv(ch, ch)
        elif conv == "2+1d":
            self.c1, self.c2 = _conv(ch, ch, (1, 3, 3)), _conv(ch, ch, (3, 1, 1))
        else:
            raise ValueError(f"unknown conv kind {conv!r}")
        nn.init.zeros_(self.c2.weight)  # each block starts as the identity: deep stacks train stably
        nn.init.zeros_(self.c2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(F.silu(self.c1(F.silu(x))))


def space_to_depth(x: torch.Tensor, s: Stride) -> torch.Tensor:
    b, c, t, h, w = x.shape
    st, sh, sw = s
    x = x.view(b, c, t // st, st, h // sh, sh, w // sw, sw)
    return x.permute(0, 1, 3, 5, 7, 2, 4, 6).reshape(b, c * st * sh * sw, t // st, h // sh, w // sw)


def depth_to_space(x: torch.Tensor, s: Stride) -> torch.Tensor:
    b, c, t, h, w = x.shape
    st, sh, sw = s
    co = c // (st * sh * sw)
    x = x.view(b, co, st, sh, sw, t, h, w).permute(0, 1, 5, 2, 6, 3, 7, 4)
    return x.reshape(b, co, t * st, h * sh, w * sw)


def _resample_kernel(narrow: int) -> Stride:
    # A 3x3x3 kernel on the narrow side of a resampling layer only where that side is thin (next to
    # the pixels); elsewhere a 1x1x1 kernel, leaving spatial context to the residual blocks, keeps the
    # parameter count and FLOPs of wide space-to-depth layers small.
    return (3, 3, 3) if narrow <= 64 else (1, 1, 1)


class Down(nn.Module):
    """Lossless space-to-depth then a conv (a strided conv without gaps or overlap)."""

    def __init__(self, cin: int, cout: int, s: Stride) -> None:
        super().__init__()
        self.s = s
        wide = cin * s[0] * s[1] * s[2]
        self.conv = _conv(wide, cout, _resample_kernel(wide))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(space_to_depth(x, self.s))


class Up(nn.Module):
    """Conv then depth-to-space (sub-pixel convolution): no checkerboard of transposed convs."""

    def __init__(self, cin: int, cout: int, s: Stride) -> None:
        super().__init__()
        self.s = s
        wide = cout * s[0] * s[1] * s[2]
        self.conv = _conv(cin, wide, _resample_kernel(wide))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depth_to_space(self.conv(x), self.s)


def _stage(ch: int, n: int, conv: str) -> nn.Sequential:
    return nn.Sequential(*[ResBlock3d(ch, conv) for _ in range(n)])


def _synthesis(cin: int, channels: tuple[int, ...], blocks: tuple[int, ...], ups: list[Stride], conv: str,
               first: Stride) -> nn.Sequential:
    """Latents -> frames: a conv to ``channels[0]``, then per up-sampling stride residual blocks and a sub-pixel
    up-sampling to the next stage's channels (3, the pixels, after the last)."""
    layers: list[nn.Module] = [_conv(cin, channels[0], first)]
    for i, (s, nb) in enumerate(zip(ups, blocks)):
        cout = channels[i + 1] if i + 1 < len(channels) else 3
        layers += [_stage(channels[i], nb, conv), nn.SiLU(), Up(channels[i], cout, s)]
    return nn.Sequential(*layers)


def conv_reach(modules: nn.Sequential, scale: Fraction) -> tuple[Fraction, Fraction]:
    """How far (in pixels, each way) the spatial kernels of ``modules`` reach, run in order with
    the first at ``scale`` pixels per position; and the scale after them. A tile whose margins are
    at least this wide computes its core as the whole frame would (tiling.py)."""
    reach = Fraction(0)
    for m in modules:
        if isinstance(m, nn.Sequential):
            r, scale = conv_reach(m, scale)
            reach += r
        elif isinstance(m, Down):
            scale *= m.s[1]
            reach += m.conv.kernel_size[1] // 2 * scale
        elif isinstance(m, Up):
            reach += m.conv.kernel_size[1] // 2 * scale
            scale /= m.s[1]
        elif isinstance(m, ResBlock3d):
            reach += (m.c1.kernel_size[1] // 2 + m.c2.kernel_size[1] // 2) * scale
        elif isinstance(m, nn.Conv3d):
            reach += m.kernel_size[1] // 2 * scale
        elif not isinstance(m, nn.SiLU):
            raise TypeError(f"no reach known for {type(m).__name__}")
    return reach, scale


# ------------------------------------------------------------------------------------------------ model

@dataclass
class ForwardOut:
    recon: torch.Tensor          # (B, 3, T, H, W) in [-1, 1] space, not clamped
    commit: torch.Tensor
    top: QuantOut | None
    bottom: QuantOut | None


class MSVQVAE(nn.Module):
    #: What the codec path's convolutions compute in: float32, or bfloat16 in the copy that
    #: :meth:`in_bfloat16` makes (the quantisers, the linear path and the tensors between modules
    #: stay float32); ``emulated``: that copy's bfloat16 arithmetic runs on float32 kernels.
    compute_dtype: torch.dtype = torch.float32
    emulated: bool = False

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        conv = cfg.conv
        # Bottom encoder: frames -> bottom-grid features.
        layers: list[nn.Module] = []
        cin = 3
        for s, ch, nb in zip(cfg.bottom_strides, cfg.bottom_channels, cfg.bottom_blocks):
            layers += [Down(cin, ch, s), _stage(ch, nb, conv)]
            cin = ch
        self.enc_bottom = nn.Sequential(*layers, nn.SiLU())
        cb = cfg.bottom_channels[-1]
        if not cfg.single_level:
            self.enc_top = nn.Sequential(Down(cb, cfg.top_channels, cfg.top_stride),
                                         _stage(cfg.top_channels, cfg.top_blocks, conv), nn.SiLU(),
                                         _conv(cfg.top_channels, cfg.latent_dim, (1, 1, 1)))
            self.top_quantizer = ResidualVQ(cfg.latent_dim, cfg.top_codebook, cfg.top_stages, decay=cfg.ema_decay)
            # Top decoder: q_t -> features on the bottom grid (u_t), used to condition the bottom code
            # and as the decoder's coarse input.
            self.dec_top = nn.Sequential(_conv(cfg.latent_dim, cfg.top_channels),
                                         _stage(cfg.top_channels, cfg.top_blocks, conv),
                                         Up(cfg.top_channels, cfg.top_channels, cfg.top_stride), nn.SiLU())
            cond = cfg.top_channels
        else:
            cond = 0
        self.pre_bottom = _conv(cb + cond, cfg.latent_dim, (1, 1, 1))
        self.bottom_quantizer = ResidualVQ(cfg.latent_dim, cfg.bottom_codebook, max(cfg.bottom_stages, 0),
                                           decay=cfg.ema_decay)
        # Decoder: [u_t, q_b] -> frames; the light synthesis (if any) does the same job at a fraction of the cost
        ups = list(reversed(cfg.bottom_strides))
        self.decoder = _synthesis(cond + cfg.latent_dim, cfg.decoder_channels, cfg.decoder_blocks, ups, conv, (3, 3, 3))
        self.light_decoder = None if not cfg.has_light_synthesis else \
            _synthesis(cond + cfg.latent_dim, cfg.light_channels, cfg.light_blocks, ups, conv, (1, 1, 1))
        if cfg.linear_path:
            # A PCA-like shortcut: the latent gets a linear projection of its pixel block and the output a
            # linear read-back of the quantised latent. Zero-initialised, so adding it to a trained network
            # changes nothing until it learns; it gives the autoencoder a direct route to what a linear
            # transform code would keep, which the deep path reaches only after long training.
            block = 3 * int(np.prod(self.cfg.bottom_factor))
            self.lin_enc = nn.Conv3d(block, cfg.latent_dim, 1)
            self.lin_dec = nn.Conv3d(cfg.latent_dim, block, 1)
            for lin in (self.lin_enc, self.lin_dec):
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)

    # ---------------------------------------------------------------- training path
    def forward(self, x: torch.Tensor, top_stages: int | None = None, bottom_stages: int | None = None,
                bypass: bool = False) -> ForwardOut:
        """Training/eval forward on float clips (B, 3, T, H, W) in [-1, 1].

        ``bypass`` (training only) hands the decoder the continuous latents instead of their
        quantised values, while the quantisers still see them (EMA updates, commitment). Without it
        the commitment pull lets the encoder snap its outputs onto first-stage codewords, leaving the
        later residual stages nothing to code; the bypass rewards detail beyond the first stage.
        """
        h_b = self.enc_bottom(x)
        commit = x.new_zeros(())
        top = None
        feats = [h_b]
        u_t = None
        if not self.cfg.single_level:
            z_t = self.enc_top(h_b)
            top = self.top_quantizer(z_t, top_stages)
            u_t = self.dec_top(z_t if bypass else top.quantized)
            feats.append(u_t)
            commit = commit + top.commit
        z_b = self._bottom_latent(self._pixel_term(x), feats)
        bottom = self.bottom_quantizer(z_b, bottom_stages)
        commit = commit + bottom.commit
        recon = self._decode_latents(u_t, z_b if bypass else bottom.quantized)
        return ForwardOut(recon, commit, top, bottom)

    def in_bfloat16(self, emulate: bool | None = None) -> "MSVQVAE":
        """A copy whose analysis and synthesis compute in bfloat16 (:mod:`vqcodec.net.bfloat16`): about twice
        as fast on CPUs with bfloat16 instructions; ``emulate`` (default: where the CPU has none) on float32
        kernels. The quantisers' codebooks and the linear path stay float32: codes mean the same latents."""
        return bfloat16.copy_in_bfloat16(self, ("enc_bottom", "enc_top", "dec_top", "pre_bottom", "decoder",
                                                "light_decoder"), emulate)

    def _run(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """``module(x)`` in :attr:`compute_dtype`, the result as float32 (codec path)."""
        if self.compute_dtype == torch.float32:
            return module(x)
        if self.emulated:
            return module(bfloat16.to_compute(x, self.compute_dtype, True)).float()
        return channels_last.computed(module, x, self.compute_dtype)

    def _pixel_term(self, x: torch.Tensor) -> torch.Tensor | None:
        """The linear path's share of the bottom latent (None without one): a per-block projection, so
        the codec keeps this small tensor between its passes instead of the full-resolution input."""
        return self.lin_enc(space_to_depth(x, self.cfg.bottom_factor)) if self.cfg.linear_path else None

    def _bottom_latent(self, pixel_term: torch.Tensor | None, feats: list[torch.Tensor]) -> torch.Tensor:
        z_b = self._run(self.pre_bottom, torch.cat(feats, 1))
        return z_b if pixel_term is None else z_b + pixel_term

    def _decode_latents(self, u_t: torch.Tensor | None, q_b: torch.Tensor) -> torch.Tensor:
        return self._decode_latent_tile(q_b if u_t is None else torch.cat([u_t, q_b], 1))

    def _decode_latent_tile(self, z: torch.Tensor, synthesis: nn.Module | None = None) -> torch.Tensor:
        """The decoder (or ``synthesis``) on (top up-sampled, bottom) latents stacked on channels; the bottom
        latent is the last ``latent_dim`` channels."""
        y = self._run(self.decoder if synthesis is None else synthesis, z)
        if self.cfg.linear_path:
            y = y + depth_to_space(self.lin_dec(z[:, -self.cfg.latent_dim:]), self.cfg.bottom_factor)
        return y

    def _tiled(self, piece, x: torch.Tensor, scale: Fraction, halo_pixels: int = -1,
               reach_pixels: Fraction | None = None) -> torch.Tensor:
        """``piece(x)`` for a full-resolution end of the network (codec path): in spatial tiles of
        :data:`TILE_PIXELS` plus a :data:`TILE_HALO_PIXELS` margin when the frames are larger, so
        a 720p GOP needs about a gigabyte instead of six (see ``tiling.py``); given the piece's
        ``reach_pixels``, in the tiles of ``tiling.tile_plan``, which give the same numbers."""
        halo_pixels = TILE_HALO_PIXELS if halo_pixels < 0 else halo_pixels
        per_pixel = Fraction(1) / scale if scale > 1 else Fraction(1)      # input units per pixel
        grid = int(per_pixel * self.cfg.bottom_factor[1]) if scale < 1 else 1    # input units per output unit
        reach = None if reach_pixels is None else math.ceil(reach_pixels * per_pixel)
        return map_tiled(piece, x, scale=scale, core=int(TILE_PIXELS * per_pixel),
                         halo=int(halo_pixels * per_pixel), reach=reach, grid=grid,
                         min_side=int(MIN_TILE_PIXELS * per_pixel))

    def _synthesis_reach(self, synthesis: nn.Module) -> Fraction:
        """How far (pixels) a synthesis's tile piece reaches (``lin_dec`` is per position)."""
        return conv_reach(synthesis, Fraction(self.cfg.bottom_factor[1]))[0]

    def synthesis_for(self, q_b: torch.Tensor, light: bool = True) -> nn.Module:
        """What turns a clip's latents into frames: the light synthesis where the network has one, ``light``
        asks for it (a file of an earlier release of the network does not: it decodes as that release did)
        and the bottom latent is not zero everywhere; else the decoder. A point without bottom code (Q1)
        leaves everything to the top level, which only the decoder's depth reconstructs well."""
        if light and self.light_decoder is not None and bool(torch.any(q_b != 0)):
            return self.light_decoder
        return self.decoder

    def _synthesise(self, z: torch.Tensor, q_b: torch.Tensor, light: bool) -> torch.Tensor:
        """Stacked latents ``z`` (N, C, T, H, W) -> uint8 frames (N, 3, T, H, W), tile by tile, each clip by
        :meth:`synthesis_for` (its bottom latent ``q_b``)."""
        if z.shape[0] > 1 and light and self.light_decoder is not None:
            return torch.cat([self._synthesise(z[i:i + 1], q_b[i:i + 1], light) for i in range(z.shape[0])])
        syn = self.synthesis_for(q_b, light)
        return self._tiled(lambda t: unit_to_bytes(self._decode_latent_tile(t, syn)), z,
                           Fraction(self.cfg.bottom_factor[1]), reach_pixels=self._synthesis_reach(syn))

    def _analyse_pixels(self, u8: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """uint8 (N, 3, T, H, W) -> (the linear path's term or None, bottom features h_b), tile by
        tile: the float input never exists for the whole frame."""
        down = Fraction(1, self.cfg.bottom_factor[1])
        h_b = self._tiled(lambda t: self._run(self.enc_bottom, bytes_to_unit(t)), u8, down,
                          reach_pixels=conv_reach(self.enc_bottom, Fraction(1))[0])
        pixel_term = None
        if self.cfg.linear_path:          # a per-block projection: tiles need no margin
            pixel_term = self._tiled(lambda t: self._pixel_term(bytes_to_unit(t)), u8, down, halo_pixels=0)
        return pixel_term, h_b

    # ---------------------------------------------------------------- codec path
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _check_stages(self, stages: tuple[int, int]) -> tuple[int, int]:
        """``stages`` (top, bottom) as ints if this network's quantisers have that many, else ValueError."""
        ts, bs = (int(v) for v in stages)
        n_top = 0 if self.cfg.single_level else self.top_quantizer.stages
        n_bottom = self.bottom_quantizer.stages
        if not (0 <= ts <= n_top and 0 <= bs <= n_bottom):
            raise ValueError(f"stages {(ts, bs)} not offered by this network (top 0..{n_top}, bottom 0..{n_bottom})")
        return ts, bs

    @torch.no_grad()
    def encode(self, frames: np.ndarray | torch.Tensor, stages: tuple[int, int] | None = None) -> Codes:
        """uint8 frames (T, H, W, 3) or (N, T, H, W, 3), sizes a multiple of ``cfg.stride`` -> Codes of
        ``stages`` (top, bottom) quantiser stages (default: ``cfg.default_stages``). The network knows
        stage counts only; what a quality means is the model's ladder (``CodecModel.point``)."""
        ts, bs = self._check_stages(self.cfg.default_stages if stages is None else stages)
        u8, batched = frames_to_input(frames, self.cfg.stride, self.device)
        was_training = self.training
        self.eval()
        try:
            pixel_term, h_b = self._analyse_pixels(u8)
            feats = [h_b]
            levels = []
            if not self.cfg.single_level:
                top = self.top_quantizer(self._run(self.enc_top, h_b), ts)
                feats.append(self._run(self.dec_top, top.quantized))
                levels.append(CodeLevel("top", self.cfg.top_codebook, top.indices.to(torch.int32).cpu().numpy()))
            bottom = self.bottom_quantizer(self._bottom_latent(pixel_term, feats), bs)
            levels.append(CodeLevel("bottom", self.cfg.bottom_codebook, bottom.indices.to(torch.int32).cpu().numpy()))
        finally:
            self.train(was_training)
        codes = Codes(tuple(levels))
        return codes if batched else codes.unbatch()[0]

    @torch.no_grad()
    def analyse(self, frames: np.ndarray | torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
        """The encoder's part that does not depend on which codes are chosen: uint8 frames
        (N, T, H, W, 3) -> (the linear path's term or None, bottom features h_b, top latent z_t or
        None). The codec's rate-distortion encoder picks the top codes from z_t, then hands the
        first two back to :meth:`bottom_latent`."""
        u8, _ = frames_to_input(frames, self.cfg.stride, self.device)
        with _eval(self):
            pixel_term, h_b = self._analyse_pixels(u8)
            z_t = None if self.cfg.single_level else self._run(self.enc_top, h_b)
        return pixel_term, h_b, z_t

    @torch.no_grad()
    def bottom_latent(self, pixel_term: torch.Tensor | None, h_b: torch.Tensor,
                      top_indices: torch.Tensor | None) -> torch.Tensor:
        """The bottom latent z_b given the top codes actually sent (N, S, T, H, W), as in :meth:`encode`."""
        with _eval(self):
            feats = [h_b]
            if not self.cfg.single_level:
                feats.append(self._run(self.dec_top, self.top_quantizer.decode(top_indices.to(self.device))))
            return self._bottom_latent(pixel_term, feats)

    @torch.no_grad()
    def dequantise(self, codes: Codes) -> dict[str, torch.Tensor]:
        """Codes (one clip or a batch) -> the float32 latents the decoder consumes, without decoding
        pixels: ``{"top": q_t, "bottom": q_b}`` (no ``"top"`` in a single-level network), each
        ``(N, latent_dim, T, H, W)`` (``N`` = 1 for one clip) on the level's grid whatever the
        operating point: the sum of the kept residual stages' codebook vectors, the scalar symbols
        times their step at a scalar point, zeros where a level keeps no stage. The same values as
        :meth:`decode` feeds its decoder (tests/test_latents.py)."""
        batched = codes.batched

        def idx(name: str) -> torch.Tensor:
            a = codes.level(name).indices
            return torch.from_numpy(np.ascontiguousarray(a if batched else a[None])).long().to(self.device)
        out: dict[str, torch.Tensor] = {}
        if not self.cfg.single_level:
            out["top"] = self.top_quantizer.decode(idx("top"))
        q_b_idx = idx("bottom")
        if codes.scalar is not None:
            lat = codes.scalar.latent()
            out["bottom"] = torch.from_numpy(np.ascontiguousarray(lat if batched else lat[None])).to(self.device)
        elif q_b_idx.shape[1] == 0:
            b, _, t, h, w = q_b_idx.shape
            out["bottom"] = torch.zeros(b, self.cfg.latent_dim, t, h, w, device=self.device)
        else:
            out["bottom"] = self.bottom_quantizer.decode(q_b_idx)
        return out

    @torch.no_grad()
    def decode_latents(self, latents: dict[str, torch.Tensor], light: bool = True) -> np.ndarray:
        """The latents of :meth:`dequantise` (batched, ``(N, C, T, H, W)``) -> uint8 frames
        (N, T, H, W, 3): the network's part of :meth:`decode`, for latents read from a file (or
        edited)."""
        with _eval(self):
            bottom = latents["bottom"].to(self.device, torch.float32)
            u_t = None if self.cfg.single_level else self._run(self.dec_top, latents["top"].to(self.device, torch.float32))
            z = bottom if u_t is None else torch.cat([u_t, bottom], 1)
            y = self._synthesise(z, bottom, light)
        return y.permute(0, 2, 3, 4, 1).cpu().numpy()

    @torch.no_grad()
    def decode(self, codes: Codes, light: bool = True) -> np.ndarray:
        """Codes (one clip or a batch) -> uint8 frames (T, H, W, 3) or (N, T, H, W, 3); ``light``: see
        :meth:`synthesis_for`."""
        batched = codes.batched
        def idx(name: str) -> torch.Tensor:
            a = codes.level(name).indices
            return torch.from_numpy(np.ascontiguousarray(a if batched else a[None])).long().to(self.device)
        was_training = self.training
        self.eval()
        try:
            q_b_idx = idx("bottom")
            u_t = None
            if not self.cfg.single_level:
                u_t = self._run(self.dec_top, self.top_quantizer.decode(idx("top")))
            if codes.scalar is not None:          # a scalar point: the bottom latent itself
                lat = codes.scalar.latent()
                q_b = torch.from_numpy(np.ascontiguousarray(lat if batched else lat[None])).to(self.device)
            elif q_b_idx.shape[1] == 0:
                b, _, t, h, w = q_b_idx.shape
                q_b = torch.zeros(b, self.cfg.latent_dim, t, h, w, device=self.device)
            else:
                q_b = self.bottom_quantizer.decode(q_b_idx)
            z = q_b if u_t is None else torch.cat([u_t, q_b], 1)
            y = self._synthesise(z, q_b, light)
        finally:
            self.train(was_training)
        out = y.permute(0, 2, 3, 4, 1).cpu().numpy()
        return out if batched else out[0]


class _eval:
    """Run a module in eval mode (quantisers must not update their codebooks), then restore."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __enter__(self) -> None:
        self.was_training = self.module.training
        self.module.eval()

    def __exit__(self, *exc) -> None:
        self.module.train(self.was_training)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
