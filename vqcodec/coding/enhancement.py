"""The enhancement layer: what the network's reconstruction left out, coded as a linear transform.

The shipped network cannot reconstruct better than its unquantised ceiling (~30.1 dB on the
validation clips), however finely its bottom latent is coded. At the top qualities the encoder
therefore also codes the *residual* ``frames - decode(base codes)``: cut into pixel blocks of the
bottom grid (``block`` = the network's bottom factor, e.g. 4x8x8, so one block per bottom-latent
position), each block projected on an orthonormal basis fitted by PCA on the residuals of the
training clips, the first ``K`` coefficients quantised with one uniform step (in 8-bit pixel units)
and entropy-coded like the scalar layer (:class:`~vqcodec.entropy.scalar_prior.ScalarTables`, one table per
coefficient and context class). A probe measured it first: on the validation clips
it adds +0.85 dB for 0.05 bpp on top of the step-0.58 scalar point, where a finer scalar step adds
+0.36 dB for 0.10 bpp (``docs/MODEL_CARD.md``, ``experiments/enhancement_probe/README.md``).

A block's 3·bt·bh·bw values are ordered (t, y, x, rgb), the last fastest. The decoder adds
``mean + basis @ (symbols * step)`` to each block of the base reconstruction, rounds to the nearest
integer and clips to 0..255. The entropy tables are integers; the basis is float32 data, so two
machines may round a pixel on an exact .5 differently (one level, never carried anywhere: nothing
is predicted from decoded pixels). The encoder rounds the coefficients towards zero by a dead zone
(:data:`ROUNDING`), which the decoder need not know. Like the scalar layer it has copy decisions
(a position repeats the slice before), made by the encoder with the same rate-distortion rule
(``rdo.decide_scalar``: the basis is orthonormal, so coefficient error is pixel error); without them
it spent bits on every slice of the frozen tails of the 128-frame validation clips. (Inheriting the
bottom latent's copies instead, with no flags, was tried and made moving content worse: a copied
latent does not mean an unchanged residual.)
"""
from __future__ import annotations

from dataclasses import dataclass

import msgpack
import numpy as np

from vqcodec.codes import STEP_DEN
from vqcodec.entropy.blob import MAX_BLOB, unpack_msgpack, zstd_compress, zstd_decompress
from vqcodec.entropy.rans import EntropyError
from vqcodec.errors import ModelDataError

__all__ = ["PixelBasis", "ROUNDING", "MAX_BASIS_CHANNELS", "fit_basis", "quantise"]

# Dead-zone rounding of the coefficients: |c|/step + ROUNDING, truncated. Plain rounding (0.5) spends
# bits on coefficients barely past half a step; measured on the validation clips, 0.3 gives the same
# PSNR for 26-40% fewer enhancement bits (0.2: 2-4 points more; experiments/enhancement_probe/README.md).
ROUNDING = 0.3
MAX_BASIS_CHANNELS = 4096
_MAGIC = "vqv-pixel-basis"


def to_blocks(x: np.ndarray, block: tuple[int, int, int]) -> np.ndarray:
    """(T, H, W, 3) -> (T', H', W', 3·bt·bh·bw), each block's values in (t, y, x, rgb) order."""
    bt, bh, bw = block
    t, h, w, c = x.shape
    x = x.reshape(t // bt, bt, h // bh, bh, w // bw, bw, c)
    return x.transpose(0, 2, 4, 1, 3, 5, 6).reshape(t // bt, h // bh, w // bw, bt * bh * bw * c)


def from_blocks(b: np.ndarray, block: tuple[int, int, int]) -> np.ndarray:
    """Inverse of :func:`to_blocks`."""
    bt, bh, bw = block
    t_, h_, w_, d = b.shape
    c = d // (bt * bh * bw)
    x = b.reshape(t_, h_, w_, bt, bh, bw, c).transpose(0, 3, 1, 4, 2, 5, 6)
    return x.reshape(t_ * bt, h_ * bh, w_ * bw, c)


@dataclass(frozen=True)
class PixelBasis:
    """``block`` (bt, bh, bw); ``mean`` float32 (D,); ``basis`` float32 (D, K), orthonormal columns,
    D = 3·bt·bh·bw."""

    block: tuple[int, int, int]
    mean: np.ndarray
    basis: np.ndarray

    def __post_init__(self) -> None:
        blk = tuple(int(v) for v in self.block)
        if len(blk) != 3 or min(blk) < 1 or max(blk) > 64:
            raise ModelDataError(f"pixel basis: bad block {self.block!r}")
        d = 3 * blk[0] * blk[1] * blk[2]
        mean = np.ascontiguousarray(self.mean, np.float32)
        basis = np.ascontiguousarray(self.basis, np.float32)
        if mean.shape != (d,) or basis.ndim != 2 or basis.shape[0] != d \
                or not 1 <= basis.shape[1] <= min(d, MAX_BASIS_CHANNELS):
            raise ModelDataError(f"pixel basis: shapes {mean.shape} and {basis.shape} do not fit block {blk}")
        if not (np.isfinite(mean).all() and np.isfinite(basis).all()):
            raise ModelDataError("pixel basis: values are not finite")
        object.__setattr__(self, "block", blk)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "basis", basis)

    @property
    def channels(self) -> int:
        return int(self.basis.shape[1])

    def grid(self, t: int, h: int, w: int) -> tuple[int, int, int]:
        bt, bh, bw = self.block
        return t // bt, h // bh, w // bw

    # ------------------------------------------------------------------------------ encoder side
    def coefficients(self, frames: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        """The residual ``frames - base`` (T, H, W, 3; ``frames`` alone when ``base`` is None) in 8-bit
        units -> coefficients float64 (K, T', H', W'). One latent slice (bt frames) at a time, so a
        720p GOP needs a slice's worth of float64 blocks, not the whole GOP's."""
        bt = self.block[0]
        t_, h_, w_ = self.grid(*frames.shape[:3])
        out = np.empty((self.channels, t_, h_, w_), np.float64)
        mean, basis = self.mean.astype(np.float64), self.basis.astype(np.float64)
        for t in range(t_):
            r = np.asarray(frames[t * bt:(t + 1) * bt], np.float64)
            if base is not None:
                r = r - base[t * bt:(t + 1) * bt]
            rows = to_blocks(r, self.block)[0]
            out[:, t] = ((rows.reshape(-1, rows.shape[-1]) - mean) @ basis).T.reshape(-1, h_, w_)
        return out

    # ------------------------------------------------------------------------------ decoder side
    def apply(self, base: np.ndarray, symbols: np.ndarray, step: float) -> np.ndarray:
        """The base frames uint8 (T, H, W, 3) plus the coded residual of ``symbols`` (K, T', H', W')
        at ``step`` -> uint8 frames (one latent slice at a time: bounded memory at large sizes)."""
        k, t_, h_, w_ = symbols.shape
        if k != self.channels or (t_, h_, w_) != self.grid(*base.shape[:3]):
            raise EntropyError(f"enhancement symbols {symbols.shape} do not fit frames {base.shape}")
        bt = self.block[0]
        out = np.empty(base.shape, np.uint8)
        for t in range(t_):
            coef = np.asarray(symbols[:, t], np.float32).reshape(k, -1).T * np.float32(step)
            delta = (coef @ self.basis.T + self.mean).reshape(1, h_, w_, -1)
            y = base[t * bt:(t + 1) * bt].astype(np.float32) + from_blocks(delta, self.block)
            out[t * bt:(t + 1) * bt] = np.clip(np.rint(y), 0, 255)
        return out

    # ------------------------------------------------------------------------------ storage
    def to_bytes(self) -> bytes:
        body = {"magic": _MAGIC, "v": 1, "block": list(self.block), "channels": self.channels,
                "mean": self.mean.astype("<f4").tobytes(), "basis": self.basis.astype("<f4").tobytes()}
        return zstd_compress(msgpack.packb(body, use_bin_type=True))

    @classmethod
    def from_bytes(cls, data: bytes) -> "PixelBasis":
        what = "pixel basis"
        obj = unpack_msgpack(zstd_decompress(bytes(data), what, MAX_BLOB, ModelDataError), what, ModelDataError)
        if not isinstance(obj, dict) or obj.get("magic") != _MAGIC or obj.get("v") != 1:
            raise ModelDataError(f"{what}: unknown format")
        blk, k, mean, basis = obj.get("block"), obj.get("channels"), obj.get("mean"), obj.get("basis")
        if not (isinstance(blk, list) and len(blk) == 3 and all(isinstance(v, int) and 1 <= v <= 64 for v in blk)
                and isinstance(k, int) and 1 <= k <= MAX_BASIS_CHANNELS
                and isinstance(mean, bytes) and isinstance(basis, bytes)):
            raise ModelDataError(f"{what}: bad fields")
        d = 3 * blk[0] * blk[1] * blk[2]
        if len(mean) != 4 * d or len(basis) != 4 * d * k:
            raise ModelDataError(f"{what}: {len(mean)} + {len(basis)} bytes do not fit {d}x{k}")
        return cls(tuple(blk), np.frombuffer(mean, "<f4").copy(), np.frombuffer(basis, "<f4").reshape(d, k).copy())


def quantise(coefficients: np.ndarray, step_num: int, limit: int) -> np.ndarray:
    """Symbols (int32) of coefficients at step ``step_num / STEP_DEN``: dead-zone rounding
    (:data:`ROUNDING`), clipped to ±limit."""
    a = np.asarray(coefficients, np.float64) * (STEP_DEN / step_num)
    s = np.sign(a) * np.floor(np.abs(a) + ROUNDING)
    return np.clip(s, -limit, limit).astype(np.int32)


def fit_basis(residuals, block: tuple[int, int, int], channels: int) -> PixelBasis:
    """PCA of the pixel blocks of ``residuals`` (an iterable of (T, H, W, 3) arrays in 8-bit units):
    the mean block and the ``channels`` directions of largest variance."""
    n, total, outer = 0, None, None
    for r in residuals:
        rows = to_blocks(np.asarray(r, np.float64), block)
        rows = rows.reshape(-1, rows.shape[-1])
        if total is None:
            total, outer = np.zeros(rows.shape[1]), np.zeros((rows.shape[1], rows.shape[1]))
        n += rows.shape[0]
        total += rows.sum(0)
        outer += rows.T @ rows
    if n == 0:
        raise ValueError("no residuals to fit a basis on")
    mean = total / n
    cov = outer / n - np.outer(mean, mean)
    evals, vecs = np.linalg.eigh(cov)
    order = np.argsort(evals)[::-1][:channels]
    vecs = vecs[:, order]
    vecs *= np.where(vecs[np.abs(vecs).argmax(0), np.arange(vecs.shape[1])] < 0, -1.0, 1.0)  # a fixed sign
    return PixelBasis(tuple(block), mean.astype(np.float32), vecs.astype(np.float32))
