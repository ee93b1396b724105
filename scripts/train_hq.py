"""The `cpu-hq` training run, with every setting in one place (including those `vqv train` has no flag for).

    # start: from the shipped model, widened (scripts/widen_init.py writes runs/hq/checkpoint.pt at step 0)
    python scripts/widen_init.py vqcodec/weights/vqv-cpu.pt runs/hq --config cpu-hq \
        --data corpus:data/corpus --cache-dir data/cache --threads 1
    OMP_NUM_THREADS=1 nohup python scripts/train_hq.py --resume > runs/hq.log 2>&1 &
    # or a fresh run (PCA + k-means start, untrained deep paths): leave out widen_init.py and --resume
    # continue in a later session: the same command (with --resume)
    # what shipped (vqcodec/weights/vqv-cpu-hq.pt): that start, 750 steps, then from the best of those
    # a new run with --set lr=0.0001 --set warmup=50; train on from the shipped file with
    # --out runs/hq3 --set init=vqcodec/weights/vqv-cpu-hq.pt --set lr=0.0001 --set warmup=50
    # the multi- vs single-scale ablation (scripts/scale_ablation.py measures the two); commitment 0.25,
    # because with 0 the latent's scale drifts and longer runs diverge (README, the ablation section):
    # --out runs/commit-cpu --steps 5000 --set config=cpu --set lr=0.0001 --set commit_weight=0.25
    # (and --out runs/commit-single ... --set config=single-scale); continue: the same command plus --resume
    # (the --set options are not read back from the checkpoint: repeat them)

Settings, from README's "Schedule actually run" lessons: AdamW lr 4e-4, 100 warm-up steps, cosine decay
to 10% at --steps; commitment 0 (EMA codebooks, and the linear path keeps the latent's scale); quantiser
bypass on 30% of steps; MSE + 0.05 (1 - SSIM); batch 8 of 16x64x64 crops; one thread. Validation every
250 steps at every operating point (metrics.jsonl), checkpoint every 100 steps, and best.pt (the best mean
validation PSNR over the operating points). Any TrainConfig field can be overridden with --set KEY=VALUE.
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, fields
from pathlib import Path

import torch

from vqcodec.train.loop import TrainConfig, train

HQ = dict(config="cpu-hq", data="corpus:data/corpus", cache_dir="data/cache", out="runs/hq", steps=4000,
          lr=4e-4, warmup=100, commit_weight=0.0, bypass_prob=0.3, batch_size=8, crop_frames=16, crop_size=64,
          threads=1, val_every=250, ckpt_every=100, progress=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--out", default=HQ["out"])
    ap.add_argument("--steps", type=int, default=HQ["steps"], help="length of the LR schedule")
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any TrainConfig field")
    a = ap.parse_args()
    kw = dict(HQ, out=a.out, steps=a.steps, max_minutes=a.max_minutes, resume=a.resume)
    types = {f.name for f in fields(TrainConfig)}
    for item in a.set:
        k, v = item.split("=", 1)
        if k not in types:
            raise SystemExit(f"unknown TrainConfig field {k!r}")
        try:
            kw[k] = json.loads(v)
        except json.JSONDecodeError:
            kw[k] = v
    if str(kw.get("init") or "").endswith(".zst"):
        # work-in-progress weights may be kept zstd-compressed (the repository keeps files under 20 MB)
        import zstandard  # noqa: PLC0415

        plain = Path(kw["out"]) / Path(kw["init"]).name[:-len(".zst")]
        plain.parent.mkdir(parents=True, exist_ok=True)
        with open(kw["init"], "rb") as src, open(plain, "wb") as dst:
            zstandard.ZstdDecompressor().copy_stream(src, dst)
        kw["init"] = str(plain)
    tc = TrainConfig(**kw)
    torch.set_num_threads(tc.threads or 1)
    print(json.dumps({"train_config": asdict(tc), "pid": os.getpid()}), flush=True)
    print(json.dumps(train(tc, log=lambda *x: print(*x, flush=True))), flush=True)


if __name__ == "__main__":
    main()
