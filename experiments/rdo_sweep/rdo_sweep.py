"""How the copy decisions' rate-distortion strength trades bits for quality, on TRAINING clips.

    python experiments/rdo_sweep/rdo_sweep.py --model vqcodec/weights/vqv-cpu.pt --data corpus:data/corpus \
        --cache-dir data/cache --clips 8 --run 4 --strengths 0 0.5 1 2 4 [--top-scales 1 16 64 256]

Codes ``--clips`` single training clips (one GOP each) and runs of ``--run`` consecutive clips (one
video of several GOPs) at every quality with each strength (and each scale of the top level's
lambda, ``rdo.TOP_SCALE_WITH_BOTTOM``), and prints bpp / PSNR per quality and the BD-rate of each
curve against the first one. Used to choose the default ``--rdo-strength`` and the top scale;
validation clips are not used (they are for the benchmark).
"""
from __future__ import annotations

import argparse
from fractions import Fraction

import numpy as np
import torch

from vqcodec.coding import rdo
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.metrics import QualityAccumulator
from vqcodec.release.clips import training_clips
from vqcodec.release.prior_fitting import runs_of
from vqcodec.weights import load_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache-dir", default="data/cache")
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--run", type=int, default=4)
    ap.add_argument("--strengths", type=float, nargs="+", default=[0, 0.5, 1, 2, 4])
    ap.add_argument("--top-scales", type=float, nargs="+", default=None,
                    help="values of rdo.TOP_SCALE_WITH_BOTTOM to try (default: the shipped one)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = load_model(a.model)
    clips, keys = training_clips(a.data, a.cache_dir, model.cfg, None)
    rng = np.random.default_rng(0)
    singles = [clips[i] for i in rng.choice(len(clips), a.clips, replace=False)]
    long_runs = [r for r in runs_of(keys, [len(c) for c in clips]) if len(r) >= a.run]
    videos = {"one-GOP": singles,
              f"{a.run}-GOP": [np.concatenate([clips[i] for i in r[:a.run]]) for r in long_runs[:: max(1, len(long_runs) // 3)][:3]]}
    from bjontegaard import bd_rate  # noqa: PLC0415
    for name, vids in videos.items():
        print(f"\n{name} ({len(vids)} videos)")
        curves = {}
        configs = [(s, ts) for ts in (a.top_scales or [rdo.TOP_SCALE_WITH_BOTTOM]) for s in a.strengths]
        for s, ts in configs:
            rdo.TOP_SCALE_WITH_BOTTOM = ts
            pts = []
            for q in model.qualities:
                bits, px, quality = 0, 0, QualityAccumulator(with_ssim=False)
                for v in vids:
                    data = encode_frames(v, Fraction(16), model=model, quality=q, rdo_strength=s)
                    bits += 8 * len(data)
                    px += v[..., 0].size
                    quality.update(v, decode_bytes(data, model=model))
                pts.append((bits / px, quality.psnr))
            curves[(s, ts)] = pts
            print(f"  strength {s:>4}, top scale {ts:>5}: "
                  + "  ".join(f"Q{q} {b:.4f}/{p:.2f}" for q, (b, p) in zip(model.qualities, pts)), flush=True)
        base = curves[configs[0]]
        for s in configs[1:]:
            try:
                bd = bd_rate([p[0] for p in base], [p[1] for p in base], [p[0] for p in curves[s]],
                             [p[1] for p in curves[s]], method="akima")
            except Exception:  # noqa: BLE001 - too little overlap: report NaN
                bd = float("nan")
            print(f"  BD-rate of (strength, top scale) {s} vs {configs[0]}: {bd:+.1f}%")


if __name__ == "__main__":
    main()
