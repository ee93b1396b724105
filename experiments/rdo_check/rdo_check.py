"""Is latent distance a good proxy of pixel error for the copy decisions? Measured, one copy at a time.

    python experiments/rdo_check/rdo_check.py --model vqcodec/weights/vqv-cpu.pt --data corpus:data/corpus \
        --cache-dir data/cache --clips 6 --quality 4 --per-clip 24

For training clips at one quality: take the encoder's own codes (no copies), then, one position at a
time, replace a position's whole code stack by the previous slice's (what a copy does) and decode.
For each such copy it records the latent cost the encoder sees, ``|z - q_prev|^2 - |z - q|^2``, and
the pixel cost, the change of the clip's squared error (pixels in [-1, 1], summed over the clip).
For the top level the bottom codes are re-chosen from the new top (as the encoder does). Prints,
per level, the correlation of the two and the median ratio pixel / latent.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from vqcodec.codes import CodeLevel, Codes
from vqcodec.release.clips import training_clips
from vqcodec.weights import load_model


def _sse(net, codes: Codes, x: np.ndarray) -> float:
    y = net.decode(codes).astype(np.float64) / 127.5 - 1.0
    return float(((y - x) ** 2).sum())


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache-dir", default="data/cache")
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--quality", type=int, default=4)
    ap.add_argument("--per-clip", type=int, default=24)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = load_model(a.model)
    net = model.net
    point = model.point(a.quality)          # the file's quality, as the codec reads it (the model's ladder)
    if point.scalar:
        raise SystemExit(f"quality {a.quality} is a scalar point ({point.describe()}): this check is for VQ levels")
    ts, bs = point.top, point.bottom
    clips, _ = training_clips(a.data, a.cache_dir, model.cfg, None)
    rng = np.random.default_rng(0)
    pairs: dict[str, list[tuple[float, float]]] = {"top": [], "bottom": []}
    for ci in rng.choice(len(clips), a.clips, replace=False):
        clip = clips[ci]
        xin = clip.astype(np.float64) / 127.5 - 1.0
        x, h_b, z_t = net.analyse(clip[None])
        top = net.top_quantizer(z_t, ts)
        z_b = net.bottom_latent(x, h_b, top.indices)
        bot = net.bottom_quantizer(z_b, bs)

        def codes_of(t_idx, b_idx):
            return Codes((CodeLevel("top", model.cfg.top_codebook, t_idx[0].numpy().astype(np.int32)),
                          CodeLevel("bottom", model.cfg.bottom_codebook, b_idx[0].numpy().astype(np.int32))))

        base = _sse(net, codes_of(top.indices, bot.indices), xin)
        for level, quant, z, idx in (("top", net.top_quantizer, z_t, top.indices),
                                     ("bottom", net.bottom_quantizer, z_b, bot.indices)):
            _, s_n, t_n, h_n, w_n = idx.shape
            if s_n == 0:
                continue
            q = quant.decode(idx)
            for _ in range(a.per_clip):
                t, y, xx = int(rng.integers(1, t_n)), int(rng.integers(h_n)), int(rng.integers(w_n))
                new = idx.clone()
                new[0, :, t, y, xx] = idx[0, :, t - 1, y, xx]
                zz = z[0, :, t, y, xx]
                d_lat = float(((zz - q[0, :, t - 1, y, xx]) ** 2).sum() - ((zz - q[0, :, t, y, xx]) ** 2).sum())
                if level == "top":
                    b_new = net.bottom_quantizer(net.bottom_latent(x, h_b, new), bs).indices
                    d_pix = _sse(net, codes_of(new, b_new), xin) - base
                else:
                    d_pix = _sse(net, codes_of(top.indices, new), xin) - base
                pairs[level].append((d_lat, d_pix))
    for level, pr in pairs.items():
        if not pr:
            continue
        a_, b_ = np.array(pr).T
        keep = np.abs(a_) > 1e-9
        ratio = np.median(b_[keep] / a_[keep]) if keep.any() else float("nan")
        print(f"{level}: {len(pr)} single copies; corr(latent, pixel) = {np.corrcoef(a_, b_)[0, 1]:.3f}; "
              f"median pixel/latent = {ratio:.3f}; mean latent {a_.mean():.4f}, mean pixel {b_.mean():.4f}")


if __name__ == "__main__":
    main()
