"""The conditional coders: a predicted block's residual coded by a small trained network given the
slice's motion-compensated prediction (version-8 files; issue 20).

A predicted block (:mod:`vqcodec.coding.motion`) may take, instead of one of the stage options of
:mod:`vqcodec.coding.motion_residual`, one of the file's conditional coders (the shipped file has four,
trained at four lambdas; a file may hold up to 8): its ``channels`` symbols at the block's latent
position, integers within +-``limit``, coded under the coder's static tables (per channel and activity
context: :class:`~vqcodec.coding.motion_residual.CoderTables`). The decoder, after predicting every
predicted block of a slice (and adding their stage residuals), runs each coder's synthesis once on the
whole slice as it stands then (P: the predicted blocks and the network's reconstruction elsewhere), the
symbols of the blocks that took that coder in place and zeros elsewhere, and replaces those blocks by its
output (rounded, clipped). The synthesis is float convolutions run on one thread, batch 1, the same way on
both sides: on another CPU a pixel may round differently by a level, which a chain of predictions carries
to the next refresh point as it carries the network's own (SPEC.md, "Conditional coders").

The encoder (:func:`choose_conditional`) runs the analysis and synthesis of each coder trained near the
slice's lambda (:meth:`ConditionalCoder.priced`) on the slice with every block predicted, with the
analysis rounded each way the encoder's effort names (the nearest integer by its synthesis, dead zones by
that synthesis plus the linear path's image of the change), prices every block under the tables (plus the option's bits), lets the cheapest (coder, rounding)
win where ``D + lambda R`` is lower than the block's best stage option (or none), and then makes the blocks
that took a coder as the decoder will (symbols of the others zeroed).
"""
from __future__ import annotations

import contextlib
import math
import threading
from dataclasses import dataclass

import numpy as np
import torch

from vqcodec.coding.effort import PRICED_CODERS
from vqcodec.coding.motion_residual import NONE_BITS, OPTION_BITS, CoderTables
from vqcodec.net.conditional_coder import BLOCK, FRAMES, ConditionalCoderNet
from vqcodec.net.tiling import run_alone_each

#: A coder trained at lambda (bits per pixel + lambda x MSE per channel) weighs pixel squared error
#: against bits as the encoder's D + lam R does at lam = this / lambda.
RATE_LAMBDA_PER_CODER_LAMBDA = 3.0
_BFLOAT16_LOCK = threading.Lock()


@contextlib.contextmanager
def one_thread():
    """torch on one intra-op thread inside (a convolution's floats may depend on how many threads split it)."""
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def _tensor(frames: np.ndarray) -> torch.Tensor:
    """A slice uint8 (bt, H, W, 3) -> (1, 3 bt, H, W) float in 0..1."""
    t = torch.from_numpy(np.ascontiguousarray(frames)).float().div_(255)
    bt, h, w, c = t.shape
    return t.permute(0, 3, 1, 2).reshape(1, bt * c, h, w)


def _frames(t: torch.Tensor) -> np.ndarray:
    _, tc, h, w = t.shape
    return (t.clamp(0, 1) * 255).round().byte().reshape(tc // 3, 3, h, w).permute(0, 2, 3, 1).numpy()


@dataclass(frozen=True, eq=False)     # (compared and hashed by identity: it holds arrays and networks)
class ConditionalCoder:
    """The coders of one coder file: their networks (eval mode), their tables and the file's digest."""

    nets: tuple[ConditionalCoderNet, ...]
    tables: CoderTables
    digest: bytes                  # the first 8 bytes of the file's SHA-256 (header key 20)
    lambdas: tuple[float, ...] = ()

    @property
    def coders(self) -> int:
        return len(self.nets)

    def computing_in(self, network_float: str) -> "ConditionalCoder":
        """These coders as a file of ``network_float`` ("float32" or "bfloat16", header key 21) runs them: the
        same tables and digest, bfloat16 copies of the networks made once."""
        if network_float == "float32":
            return self
        if network_float != "bfloat16":
            raise ValueError(f"unknown network float {network_float!r}")
        with _BFLOAT16_LOCK:         # (the decoder's and the encoder's threads may ask at once: one copy)
            if "_bfloat16" not in self.__dict__:
                object.__setattr__(self, "_bfloat16", ConditionalCoder(tuple(n.in_bfloat16() for n in self.nets),
                                                                       self.tables, self.digest, self.lambdas))
        return self.__dict__["_bfloat16"]

    @staticmethod
    def fits(block: tuple[int, int, int]) -> bool:
        """Whether a model's bottom block is the coders' (4 x 8 x 8)."""
        return tuple(block) == (FRAMES, BLOCK, BLOCK)

    @torch.no_grad()
    def analysis(self, j: int, source: np.ndarray, pred: np.ndarray) -> torch.Tensor:
        """Coder ``j``'s analysis of a slice (``source``, ``pred`` uint8 (bt, H, W, 3)): float (H', W',
        channels), before rounding."""
        with one_thread():
            return self.nets[j].analysis(_tensor(source), _tensor(pred))[0].permute(1, 2, 0)

    def symbols(self, y: torch.Tensor, dead_zone: float = 0.0) -> np.ndarray:
        """An analysis ``y`` rounded (0: to the nearest integer, as ever; else ``sign(y) floor(|y| + 0.5 -
        dead_zone)``) and clipped to the tables' range: int32 (H', W', channels)."""
        lim = self.tables.limit
        q = torch.round(y) if dead_zone == 0 else torch.sign(y) * torch.floor(y.abs() + (0.5 - dead_zone))
        return q.clamp_(-lim, lim).numpy().astype(np.int32)

    @torch.no_grad()
    def linear_image(self, j: int, delta: np.ndarray) -> np.ndarray:
        """Coder ``j``'s linear path's image of a change ``delta`` (H', W', channels) of its symbols: float32
        (bt, H, W, 3) in 8-bit units, each latent position's change within its own 8x8 block."""
        d = torch.from_numpy(np.ascontiguousarray(delta.transpose(2, 0, 1), np.float32))[None]
        with one_thread():
            d = self.nets[j].dec_lin(d)
        _, tc, h, w = d.shape
        return (d * 255).reshape(tc // 3, 3, h, w).permute(0, 2, 3, 1).numpy()

    @torch.no_grad()
    def reconstruct(self, j: int, symbols: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """Coder ``j``'s slice from ``symbols`` (H', W', channels) and the prediction: uint8 (bt, H, W, 3)."""
        y = torch.from_numpy(np.ascontiguousarray(symbols.transpose(2, 0, 1), np.float32))[None]
        with one_thread():
            return _frames(self.nets[j].synthesis(y, _tensor(pred)))

    def priced(self, lam: float, count: int = PRICED_CODERS) -> list[int]:
        """The coders the encoder tries at ``lam`` (D + lam R, 8-bit pixel units): all of them, or the
        ``count`` whose training lambda is nearest (on a log scale), in index order."""
        n = self.coders
        lam = lam if np.ndim(lam) == 0 else float(np.exp(np.log(lam).mean()))   # per block: their geometric mean
        if n <= count or len(self.lambdas) != n or min(self.lambdas) <= 0 or lam <= 0:
            return list(range(n))
        target = math.log(RATE_LAMBDA_PER_CODER_LAMBDA / lam)
        nearest = sorted(range(n), key=lambda j: (abs(math.log(self.lambdas[j]) - target), j))
        return sorted(nearest[:count])

    def block_bits(self, j: int, symbols: np.ndarray) -> np.ndarray:
        """Each block's symbols' bits under coder ``j``'s tables, (H', W')."""
        bits = self.tables.bits[j]                                   # (channels, contexts, 2 limit + 1)
        s = symbols.reshape(-1, symbols.shape[-1]).astype(np.int64)
        ctx = self.tables.all_contexts(s)
        return bits[np.arange(bits.shape[0])[None], ctx, s + self.tables.limit].sum(1).reshape(symbols.shape[:2])


def apply_conditional(coder: ConditionalCoder, frames: np.ndarray, option: np.ndarray, symbols: np.ndarray,
                      first: int) -> np.ndarray:
    """A slice ``frames`` (bt, H, W, 3) as predicted (P) -> the same with every block whose ``option``
    (H', W') is ``first + j`` made by coder ``j`` from ``symbols`` (H', W', channels) (zeros elsewhere)."""
    from vqcodec.coding.motion_search import _pixels      # (motion_search imports this module)
    sel = {j: option == first + j for j in range(coder.coders)}
    used = [j for j in sel if sel[j].any()]
    made = run_alone_each([lambda j=j: coder.reconstruct(j, np.where(sel[j][..., None], symbols, 0), frames) for j in used])
    out = frames
    for j, m in zip(used, made):
        out = np.where(_pixels(sel[j], (BLOCK, BLOCK)), m, out)
    return out


def _roundings(coder: ConditionalCoder, j: int, source: np.ndarray, pred: np.ndarray,
               dead_zones: tuple[float, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Coder ``j``'s symbols of a slice rounded each way (the nearest first, then each non-zero dead zone), each
    with the slice it makes: the nearest's by its synthesis, a dead zone's by that synthesis plus the linear
    path's image of the change (as good as a synthesis of each, a fraction of the work: docs/DESIGN.md,
    "Conditional coders")."""
    y = coder.analysis(j, source, pred)
    nearest = coder.symbols(y)
    made = coder.reconstruct(j, nearest, pred)
    out = [(nearest, made)]
    for s in (coder.symbols(y, z) for z in dead_zones if z):
        moved = made.astype(np.float32) + coder.linear_image(j, s - nearest)
        out.append((s, np.clip(np.round(moved), 0, 255).astype(np.uint8)))
    return out


def _cheaper_coders(coder: ConditionalCoder, source: np.ndarray, pred: np.ndarray, lam: float, cost: np.ndarray,
                    dead_zones: tuple[float, ...] = (0.0,), coders: int = PRICED_CODERS, real: int | None = None):
    """Each block's cheapest of the ``coders`` priced at ``lam`` (conditioned on ``pred``; their symbols rounded
    each way of ``dead_zones``, :func:`_roundings`), where it costs less
    than ``cost`` (``D + lam R``, R its symbols' bits + :data:`OPTION_BITS`; analyses and syntheses side by
    side on the tile workers). Returns (the coder's index per block, -1 where none won; the winners' symbols
    (H', W', channels), 0 elsewhere; their bits; each block's cost, ``cost`` where none won). ``real``: the
    distortion over the slice's first ``real`` frames only (the rest is padding)."""
    from vqcodec.coding.motion_search import block_sse
    won = np.full(cost.shape, -1, np.int32)
    symbols = np.zeros((*cost.shape, coder.tables.channels), np.int32)
    bits = np.zeros(cost.shape)
    priced = coder.priced(lam, coders)
    jobs = [lambda j=j: _roundings(coder, j, source, pred, dead_zones) for j in priced]
    for j, roundings in zip(priced, run_alone_each(jobs)):
        for y, made in roundings:
            c_sse = block_sse(made, source, (BLOCK, BLOCK), real).astype(np.float64)
            c_bits = coder.block_bits(j, y) + OPTION_BITS
            take = c_sse + lam * c_bits < cost
            cost = np.where(take, c_sse + lam * c_bits, cost)
            won = np.where(take, j, won)
            symbols = np.where(take[..., None], y, symbols)
            bits = np.where(take, c_bits, bits)
    return won, symbols, bits, cost


def choose_conditional(coder: ConditionalCoder, source: np.ndarray, trial: np.ndarray, first: int, option: np.ndarray,
                       out: np.ndarray, sse: np.ndarray, bits: np.ndarray, lam: float,
                       dead_zones: tuple[float, ...] = (0.0,), coders: int = PRICED_CODERS, real: int | None = None):
    """One slice of predicted blocks after their stage options were chosen (``option`` (H', W'), ``out``
    the slice with them, ``sse`` and ``bits`` per block): where a coder costs less (``D + lam R``, R its
    symbols' bits + :data:`OPTION_BITS`) the block takes it (option ``first + j``). ``trial``: the slice
    with every block predicted, without residuals (what the coders are conditioned on); ``dead_zones``,
    ``coders``: the roundings of the symbols and the coders priced (:func:`_cheaper_coders`). Returns
    (option, symbols (H', W', channels), the slice, sse, bits)."""
    from vqcodec.coding.motion_search import _pixels, block_sse
    won, symbols, c_bits, _ = _cheaper_coders(coder, source, trial, lam, sse + lam * bits, dead_zones, coders, real)
    option = np.where(won >= 0, first + won, option)
    bits = np.where(won >= 0, c_bits, bits)
    sse = sse.copy()
    taken = option >= first
    if not taken.any():
        return option, symbols, out, sse, bits
    # the blocks that took a coder as the decoder makes them: P is the slice with the stage residuals
    # of the other blocks and none on these, the symbols of the other blocks zero
    pred = np.where(_pixels(taken, (BLOCK, BLOCK)), trial, out)
    made = apply_conditional(coder, pred, option, symbols, first)
    sse = np.where(taken, block_sse(made, source, (BLOCK, BLOCK), real).astype(np.float64), sse)
    return option, symbols, made, sse, bits


def choose_intra(coder: ConditionalCoder, source: np.ndarray, recon: np.ndarray, first: int, lam: float,
                 dead_zones: tuple[float, ...] = (0.0,), coders: int = PRICED_CODERS, real: int | None = None):
    """A refresh GOP's first slice (version 9): where a coder, conditioned on the network's reconstruction
    ``recon`` (bt, H, W, 3) as P, costs less than the reconstruction alone (``D + lam R``; R its symbols'
    bits + :data:`OPTION_BITS`, against :data:`NONE_BITS`), the block takes it. The slice then becomes the
    reference of the next, so a better one pays twice; the encoder's lambda is the motion decisions'. ``real``: the
    distortion over the first ``real`` frames only (a refresh GOP of fewer frames than a slice).
    Returns (option (H', W'), symbols (H', W', channels), the slice as the decoder makes it)."""
    from vqcodec.coding.motion_search import block_sse
    d_net = block_sse(recon, source, (BLOCK, BLOCK), real).astype(np.float64)
    won, symbols, _, _ = _cheaper_coders(coder, source, recon, lam, d_net + lam * NONE_BITS, dead_zones, coders, real)
    option = np.where(won >= 0, first + won, 0).astype(np.int32)
    if not (option > 0).any():
        return option, symbols, recon
    return option, symbols, apply_conditional(coder, recon, option, symbols, first)
