"""Definitions of vqcodec.metrics on known inputs."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from vqcodec import metrics as M


def clip(t=4, h=32, w=32, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 7) % 256, (yy * 5) % 256, ((xx + yy) * 3) % 256], -1)
    return np.stack([np.clip(base + rng.integers(-20, 20, base.shape), 0, 255) for _ in range(t)]).astype(np.uint8)


def test_identical():
    a = clip()
    assert M.psnr(a, a) == math.inf
    assert M.psnr(a, a, cap=M.PSNR_CAP) == M.PSNR_CAP
    assert M.ssim(a, a) == pytest.approx(1.0, abs=1e-6)
    assert M.mse(a, a) == 0.0


def test_psnr_constant_offset():
    a = np.full((3, 8, 8, 3), 100, np.uint8)
    b = a + 5
    assert M.psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 25))
    c = a.copy()
    c[..., 1] += 6  # one channel of three: MSE = 36 / 3 = 12
    assert M.psnr(a, c) == pytest.approx(10 * math.log10(255**2 / 12))
    assert M.psnr(a, b) == M.psnr(b, a)


def test_psnr_pools_the_whole_clip():
    a = np.full((2, 8, 8, 3), 100, np.uint8)
    b = a.copy()
    b[0] += 10  # frame 0: MSE 100, frame 1: MSE 0  -> clip MSE 50 (not a mean of per-frame PSNRs)
    assert M.psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 50))
    assert M.psnr(a[0], b[0]) == pytest.approx(10 * math.log10(255**2 / 100))  # a single frame


def test_ssim_decreases_with_noise():
    a = clip(t=3, h=48, w=48)
    rng = np.random.default_rng(1)
    vals = []
    for sigma in (2, 8, 25):
        noisy = np.clip(a + rng.normal(0, sigma, a.shape), 0, 255).astype(np.uint8)
        vals.append(M.ssim(a, noisy))
    assert 1.0 > vals[0] > vals[1] > vals[2] > 0
    per = M.ssim_per_frame(a, a)
    assert per.shape == (3,) and np.allclose(per, 1.0)


def test_ssim_matches_pytorch_msssim():
    import torch
    from pytorch_msssim import ssim as ref_ssim

    a = clip(t=2, h=40, w=40, seed=3)
    b = clip(t=2, h=40, w=40, seed=4)
    x = torch.from_numpy(a).permute(0, 3, 1, 2).float()
    y = torch.from_numpy(b).permute(0, 3, 1, 2).float()
    want = float(ref_ssim(x, y, data_range=255, win_size=11, win_sigma=1.5))
    assert M.ssim(a, b) == pytest.approx(want, rel=1e-5)


def test_ssim_small_frames():
    a = clip(t=1, h=7, w=9)
    assert M.ssim(a, a) == pytest.approx(1.0, abs=1e-6)


def test_psnr_from_mse():
    assert M.psnr_from_mse(25.0) == 10 * math.log10(255**2 / 25)
    assert M.psnr_from_mse(0.0) == math.inf and M.psnr_from_mse(0.0, cap=M.PSNR_CAP) == M.PSNR_CAP
    assert M.psnr_from_mse(1e-20, cap=50.0) == 50.0
    # samples in [-1, 1] (the trainer's): peak 1 on the MSE of [0, 1] samples, as 8-bit PSNR
    assert M.psnr_from_mse(0.04 / 4, peak=1.0) == pytest.approx(M.psnr_from_mse(0.04 * 127.5**2))


def test_rates():
    assert M.bits_per_pixel(1024, 32, 64, 64) == pytest.approx(8 * 1024 / (32 * 64 * 64))
    assert M.kbps(2000, 32, Fraction(16)) == pytest.approx(8.0)  # 16000 bits over 2 s
    assert M.kbps(2000, 32, 16.0) == pytest.approx(8.0)
    with pytest.raises(ValueError):
        M.bits_per_pixel(1, 0, 8, 8)


def test_shape_mismatch():
    with pytest.raises(ValueError):
        M.psnr(clip(h=8, w=8), clip(h=8, w=9))
    with pytest.raises(ValueError):
        M.ssim(np.zeros((2, 8, 8), np.uint8), np.zeros((2, 8, 8), np.uint8))


def test_accumulator_matches_batch():
    a, b = clip(t=5, seed=1), clip(t=5, seed=2)
    acc = M.QualityAccumulator()
    for fa, fb in zip(a, b):
        acc.update(fa, fb)
    assert acc.frames == 5
    assert acc.psnr == pytest.approx(M.psnr(a, b))
    assert acc.ssim == pytest.approx(M.ssim(a, b), rel=1e-6)
