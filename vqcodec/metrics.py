"""Quality and rate metrics, defined once and used by the CLI, the tests and the benchmarks.

Definitions (all inputs are uint8 RGB, shape ``(T, H, W, 3)`` for a clip or ``(H, W, 3)`` for a
frame; ``ref`` and ``test`` must have the same shape):

* **PSNR** (dB) is computed from the MSE over the *whole clip* — every pixel of every frame and all
  three RGB channels pooled into one mean — with peak 255: ``10 * log10(255**2 / MSE)``. It is not
  an average of per-frame PSNRs. Identical inputs give ``inf``; pass ``cap=`` (e.g.
  :data:`PSNR_CAP`) to clamp it where a finite number is needed (means, plots).
* **SSIM** is computed per frame and per RGB channel with an 11x11 Gaussian window, sigma 1.5,
  ``K1=0.01, K2=0.03`` and ``data_range=255`` (``pytorch_msssim.ssim``, "valid" filtering, no
  padding), averaged over channels, then over frames. Frames smaller than 11 pixels on a side use
  the largest odd window that fits (noted in the docstring of :func:`ssim`).
* **bits per pixel** = ``8 * n_bytes / (frames * width * height)`` — pixels, not samples: the three
  colour channels of one pixel count once.
* **kbps** = ``8 * n_bytes / (frames / fps) / 1000`` (kilo = 1000).

The byte counts are real sizes: a whole ``.vqv`` file for vqv, the elementary stream for the peer
codecs (see ``benchmarks/README.md``).
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

__all__ = [
    "PSNR_CAP",
    "SSIM_WIN_SIZE",
    "SSIM_WIN_SIGMA",
    "mse",
    "psnr",
    "psnr_from_mse",
    "ssim",
    "ssim_per_frame",
    "bits_per_pixel",
    "kbps",
    "QualityAccumulator",
]

#: Finite stand-in for the PSNR of identical inputs where a mean or a plot needs a number.
PSNR_CAP = 100.0
SSIM_WIN_SIZE = 11
SSIM_WIN_SIGMA = 1.5
_CHUNK = 16  # frames per SSIM batch: bounds memory for long clips


def _as_clips(ref: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(ref)
    test = np.asarray(test)
    if ref.shape != test.shape:
        raise ValueError(f"shape mismatch: ref {ref.shape} vs test {test.shape}")
    if ref.ndim == 3:
        ref, test = ref[None], test[None]
    if ref.ndim != 4 or ref.shape[-1] != 3:
        raise ValueError(f"expected (T, H, W, 3) or (H, W, 3) RGB arrays, got {ref.shape}")
    if ref.size == 0:
        raise ValueError("empty input")
    return ref, test


def _sse(ref: np.ndarray, test: np.ndarray) -> float:
    """Sum of squared errors, frame by frame so a long clip never doubles in memory as floats."""
    total = 0.0
    for r, t in zip(ref, test):
        d = (r.astype(np.int64) - t.astype(np.int64)).ravel()     # int32 dot products overflow at 720p
        total += float(np.dot(d, d))
    return total


def psnr_from_mse(m: float, *, peak: float = 255.0, cap: float | None = None) -> float:
    """``10 * log10(peak**2 / m)`` dB; ``inf`` for ``m = 0`` unless ``cap``. Where the samples are
    not 8-bit pixels (training works on ``[-1, 1]``), scale ``m`` and ``peak`` to match."""
    if m <= 0.0:
        return math.inf if cap is None else float(cap)
    v = 10.0 * math.log10(peak**2 / m)
    return v if cap is None else min(v, float(cap))


def mse(ref: np.ndarray, test: np.ndarray) -> float:
    """Mean squared error over every sample of the clip (all frames, pixels and channels)."""
    ref, test = _as_clips(ref, test)
    return _sse(ref, test) / ref.size


def psnr(ref: np.ndarray, test: np.ndarray, *, cap: float | None = None) -> float:
    """PSNR in dB of the whole clip's RGB MSE, peak 255. ``inf`` for identical inputs unless ``cap``."""
    return psnr_from_mse(mse(ref, test), cap=cap)


def _window(h: int, w: int) -> int:
    win = SSIM_WIN_SIZE
    side = min(h, w)
    if side < win:
        win = side if side % 2 == 1 else side - 1
        if win < 1:
            raise ValueError(f"frame too small for SSIM: {h}x{w}")
    return win


def ssim_per_frame(ref: np.ndarray, test: np.ndarray) -> np.ndarray:
    """SSIM of each frame (mean of the three RGB channels), as a float64 array of length T."""
    import torch
    from pytorch_msssim import ssim as _ssim

    ref, test = _as_clips(ref, test)
    _, h, w, _ = ref.shape
    win = _window(h, w)
    out = []
    with torch.no_grad():
        for s in range(0, ref.shape[0], _CHUNK):
            x = torch.from_numpy(np.ascontiguousarray(ref[s:s + _CHUNK])).permute(0, 3, 1, 2).float()
            y = torch.from_numpy(np.ascontiguousarray(test[s:s + _CHUNK])).permute(0, 3, 1, 2).float()
            v = _ssim(x, y, data_range=255, size_average=False, win_size=win, win_sigma=SSIM_WIN_SIGMA)
            out.append(v.double().numpy())
    return np.concatenate(out)


def ssim(ref: np.ndarray, test: np.ndarray) -> float:
    """Mean SSIM over frames and RGB channels (11x11 Gaussian window, sigma 1.5, data_range 255).

    Frames with a side shorter than 11 use the largest odd window that fits.
    """
    return float(ssim_per_frame(ref, test).mean())


def bits_per_pixel(n_bytes: int, frames: int, width: int, height: int) -> float:
    """``8 * n_bytes / (frames * width * height)``."""
    if frames <= 0 or width <= 0 or height <= 0:
        raise ValueError("frames, width and height must be positive")
    return 8.0 * n_bytes / (frames * width * height)


def kbps(n_bytes: int, frames: int, fps: float | Fraction) -> float:
    """Kilobits (1000 bits) per second of video: ``8 * n_bytes / (frames / fps) / 1000``."""
    if frames <= 0 or fps <= 0:
        raise ValueError("frames and fps must be positive")
    return 8.0 * n_bytes * float(fps) / frames / 1000.0


class QualityAccumulator:
    """Streaming PSNR/SSIM for videos that do not fit in memory.

    Feed matching chunks (``(H, W, 3)`` frames or ``(T, H, W, 3)`` clips) with :meth:`update`;
    :attr:`psnr` pools the squared error over everything seen (same definition as :func:`psnr`),
    :attr:`ssim` is the mean of the per-frame SSIMs (same as :func:`ssim`).
    """

    def __init__(self, *, with_ssim: bool = True) -> None:
        self.with_ssim = with_ssim
        self.frames = 0
        self._sse = 0.0
        self._samples = 0
        self._ssim_sum = 0.0

    def update(self, ref: np.ndarray, test: np.ndarray) -> None:
        ref, test = _as_clips(ref, test)
        self.frames += ref.shape[0]
        self._samples += ref.size
        self._sse += _sse(ref, test)
        if self.with_ssim:
            self._ssim_sum += float(ssim_per_frame(ref, test).sum())

    @property
    def mse(self) -> float:
        return self._sse / self._samples if self._samples else float("nan")

    def psnr_value(self, cap: float | None = None) -> float:
        if not self._samples:
            return float("nan")
        return psnr_from_mse(self.mse, cap=cap)

    @property
    def psnr(self) -> float:
        return self.psnr_value()

    @property
    def ssim(self) -> float:
        if not self.with_ssim or not self.frames:
            return float("nan")
        return self._ssim_sum / self.frames
