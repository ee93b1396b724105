"""Restart a run from a transform-coding solution: bottom latent = PCA of pixel blocks, residual VQ by k-means.

    python tools/pca_init.py runs/cpu1/checkpoint.pt runs/cpu2 --data corpus:data/corpus --cache-dir data/cache
    vqv train --resume --out runs/cpu2 ...

The new checkpoint keeps every trained layer of the old one, gains the linear path, and starts as
the linear transform code of the training clips (see ``vqcodec/net/linear_init.py`` for what and why); the
optimiser and the step counter start afresh, so ``--resume`` then runs a normal warm-up. The shipped
model was made this way from step 3,527 of the first run; ``lineage.json`` in the new run records it.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from vqcodec.train.data import ClipSpec, build_dataset
from vqcodec.net.linear_init import init_linear_code
from vqcodec.net.model import MSVQVAE, ModelConfig, uint8_to_input


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("out", help="run directory to create (checkpoint.pt goes there)")
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache-dir", required=True)
    ap.add_argument("--kmeans-iters", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    if (out / "checkpoint.pt").exists():
        raise SystemExit(f"{out / 'checkpoint.pt'} exists")
    state = torch.load(a.checkpoint, map_location="cpu", weights_only=True)
    cfg_d = dict(state["model_config"], linear_path=True)
    cfg = ModelConfig.from_dict(cfg_d)
    net = MSVQVAE(cfg)
    missing, unexpected = net.load_state_dict(state["model"], strict=False)
    assert not unexpected and all(k.startswith("lin_") for k in missing), (missing, unexpected)

    ds = build_dataset(a.data, "train", ClipSpec(cfg.clip_frames, cfg.clip_size, 16.0), a.cache_dir,
                       train=False, progress=False)
    x = uint8_to_input(torch.stack([ds[i] for i in range(len(ds))]))
    rep = init_linear_code(net, x, kmeans_iters=a.kmeans_iters)
    with torch.no_grad():   # what the network computes now, on the training clips, at every bottom stage count
        net.eval()
        psnr = {}
        for s in range(net.bottom_quantizer.stages + 1):
            se, n = 0.0, 0
            for i in range(0, len(x), 16):
                xb = x[i:i + 16]
                rec = net(xb, cfg.top_stages, s).recon.clamp(-1, 1)
                se += float(((rec - xb) * 127.5).pow(2).sum())
                n += xb.numel()
            psnr[s] = round(10 * math.log10(255.0 ** 2 / (se / n)), 2)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "step": 0, "model_config": cfg.to_dict(),
                "train_config": {}, "train_seconds": 0.0}, out / "checkpoint.pt")
    report = {"from": str(a.checkpoint), "from_step": int(state["step"]),
              "from_train_seconds": float(state.get("train_seconds", 0.0)), **rep, "train_psnr_by_bottom_stages": psnr}
    (out / "lineage.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
