"""Synthesise the quick-start sample clip (vqcodec/samples/sample.mp4): procedural, so freely redistributable.

A 4-second 128x96 16 fps scene: a textured sky gradient, rolling hills panning past, a bouncing ball
and a rotating bar. None of it is training data.

    python tools/make_sample.py
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from vqcodec.io.writer import VideoWriter

OUT = Path(__file__).resolve().parent.parent / "vqcodec" / "samples" / "sample.mp4"


def frame(k: int, w: int = 128, h: int = 96) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(1)
    sky = np.stack([60 + 80 * y / h, 110 + 70 * y / h, 200 - 30 * y / h], -1)
    clouds = 25 * np.sin((x + 1.5 * k) / 11.0) * np.cos(y / 7.0 + k / 20.0)
    img = sky + clouds[..., None]
    horizon = 62 + 8 * np.sin((x + 3 * k) / 17.0) + 4 * np.sin((x + 3 * k) / 5.0)
    hills = y > horizon
    grass = np.stack([40 + 30 * np.sin((x + 3 * k) / 3.0), 120 + 40 * np.cos(y / 2.5), 50 + 0 * x], -1)
    img = np.where(hills[..., None], grass, img)
    bx, by = 20 + (k * 2.3) % 88, 30 + 22 * abs(np.sin(k / 6.0))
    ball = (x - bx) ** 2 + (y - by) ** 2 < 64
    img[ball] = [230, 60, 40]
    c, s = np.cos(k / 8.0), np.sin(k / 8.0)
    u, v = (x - 96) * c + (y - 30) * s, -(x - 96) * s + (y - 30) * c
    bar = (np.abs(u) < 14) & (np.abs(v) < 3)
    img[bar] = [250, 220, 60]
    img += rng.normal(0, 2.0, img.shape)
    return img.clip(0, 255).astype(np.uint8)


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(OUT, 128, 96, Fraction(16), pix_fmt="yuv444p") as w:   # as the sample was made
        for k in range(64):
            w.write(frame(k))
    print(f"{OUT}: {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
