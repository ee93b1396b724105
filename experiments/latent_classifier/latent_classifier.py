"""Latent classifier (issue 21): are vqv's latents useful to a downstream model without decoding a pixel?

A labelled set in UCF101's layout (class = subfolder) is made here: textured pictures panning in four
directions (left, right, up, down) at 1-2 pixels a frame, a new random texture per clip, so that the
class is the motion and not the look. It is encoded with ``vqv encode-dataset`` (vqcodec.batch), read
back with ``vqcodec.dataset.VqvDataset`` as latents (the bottom latent, no pixel decoded) and as decoded
frames, and the same small 3D-conv classifier is trained on each, with the same split, seed, epochs and
optimiser. Reported: test accuracy, the time to read the inputs from the .vqv files, the training time.

    python experiments/latent_classifier/latent_classifier.py --out experiments/latent_classifier/result.json

(the shipped model by default; ``--model tests/golden/tiny.pt --per-class 3 --frames 16 --size 32
--epochs 2`` is the quick run tests/test_latent_classifier.py makes).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from vqcodec.batch import encode_dataset
from vqcodec.dataset import VqvDataset

CLASSES = {"left": (0, -1), "right": (0, 1), "up": (-1, 0), "down": (1, 0)}     # (dy, dx) per frame


def texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random smooth colour texture (sums of random sinusoids) with a little noise: uint8 (h, w, 3)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for _ in range(6):
        fy, fx = rng.uniform(0.05, 0.4, 2)
        img += rng.uniform(20, 45, 3) * np.sin(fy * yy + fx * xx + rng.uniform(0, 6.3))[..., None]
    return (img + 128 + rng.normal(0, 3, img.shape)).clip(0, 255).astype(np.uint8)


def pan(rng: np.random.Generator, direction: str, frames: int, size: int) -> np.ndarray:
    dy, dx = CLASSES[direction]
    speed = int(rng.integers(1, 3))
    big = texture(rng, size + 2 * speed * frames + 2, size + 2 * speed * frames + 2)
    o = speed * frames + 1
    return np.stack([big[o + dy * speed * t:o + dy * speed * t + size, o + dx * speed * t:o + dx * speed * t + size]
                     for t in range(frames)])


def make_set(root: Path, per_class: int, frames: int, size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name in CLASSES:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            np.save(root / name / f"{name}_{i:03d}.npy", pan(rng, name, frames, size))


class Classifier(nn.Module):
    """The same network for both inputs: two 3D convs, global average pooling, a linear layer."""

    def __init__(self, channels: int, classes: int, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv3d(channels, width, 3, padding=1), nn.ReLU(),
                                 nn.Conv3d(width, width, 3, stride=2, padding=1), nn.ReLU(),
                                 nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(width, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def load_inputs(dst: Path, kind: str, model_path) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(inputs (N, C, T, H, W) float, labels, seconds to read them from the .vqv files), one GOP per clip."""
    t0 = time.perf_counter()
    ds = VqvDataset(dst, kind=kind, labels="folder", model_path=model_path)
    items = [ds[i] for i in range(len(ds)) if ds.locate(i)[1] == 0]         # the first GOP of each file
    if kind == "latents":
        x = torch.stack([it["bottom"] for it in items])
    else:                                                                     # uint8 (T, H, W, 3) -> [0, 1]
        x = torch.stack([it["frames"].permute(3, 0, 1, 2).float() / 255.0 for it in items])
    y = torch.tensor([it["label"] for it in items])
    return x, y, time.perf_counter() - t0


def split(y: torch.Tensor, test_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified split: the same clips are test clips for both inputs."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in torch.unique(y).tolist():
        idx = rng.permutation(np.flatnonzero(y.numpy() == c))
        k = max(1, int(round(len(idx) * test_share)))
        test += idx[:k].tolist()
        train += idx[k:].tolist()
    return np.array(sorted(train)), np.array(sorted(test))


def train_eval(x: torch.Tensor, y: torch.Tensor, train: np.ndarray, test: np.ndarray, epochs: int,
               seed: int) -> dict:
    torch.manual_seed(seed)
    x = (x - x[train].mean()) / (x[train].std() + 1e-6)       # one scale per input kind, from the train set
    model = Classifier(x.shape[1], int(y.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for b in np.array_split(np.random.default_rng(seed).permutation(train), max(1, len(train) // 8)):
            loss = nn.functional.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        acc = float((model(x[test]).argmax(1) == y[test]).float().mean())
        train_acc = float((model(x[train]).argmax(1) == y[train]).float().mean())
    return {"test_accuracy": round(acc, 4), "train_accuracy": round(train_acc, 4), "train_seconds": round(seconds, 2),
            "input_shape": list(x.shape[1:])}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="weights (default: the shipped model)")
    ap.add_argument("--quality", type=int, default=None)
    ap.add_argument("--per-class", type=int, default=24)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=None, help="folder for the clips and .vqv files (default: a temporary)")
    ap.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        work = a.work or Path(tmp)
        make_set(work / "clips", a.per_class, a.frames, a.size, a.seed)
        enc = encode_dataset(work / "clips", work / "vqv", workers=a.workers, model_path=a.model, progress=False,
                             quality=a.quality)
        result = {"clips": 4 * a.per_class, "frames": a.frames, "size": a.size, "epochs": a.epochs,
                  "model": a.model or "shipped default", "encode": {k: enc[k] for k in ("encoded", "failed", "seconds")}}
        for kind in ("latents", "frames"):
            x, y, read_s = load_inputs(work / "vqv", kind, a.model)
            train, test = split(y, 0.25, a.seed)
            result["latents" if kind == "latents" else "pixels"] = {"read_seconds": round(read_s, 2), **train_eval(x, y, train, test, a.epochs, a.seed)}
        result["test_clips"] = int(len(test))
    print(json.dumps(result, indent=2))
    if a.out:
        a.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
