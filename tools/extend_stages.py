"""Add bottom residual stages to a trained model by k-means, no gradient steps (the top of the ladder).

    python tools/extend_stages.py runs/hq2/best.pt runs/hq4 --extra 4 \
        --data corpus:data/corpus --cache-dir data/cache --threads 1
    vqv ship runs/hq4/checkpoint.pt --out vqcodec/weights/vqv-cpu-hq.pt --data corpus:data/corpus ...

The decoder of a model trained with quantiser bypass already knows the unquantised bottom latent; more
residual stages bring the quantised latent closer to it. Each new stage is k-means on what the stages
before it leave of the encoder's bottom latents of training clips (centre crops plus random augmented
crops, the trainer's linear start data; `linear_init.add_bottom_stages`). Every trained weight is kept,
so the existing operating points are unchanged. Writes OUT/checkpoint.pt (a training checkpoint at the
source's step, `vqv ship` takes it; `--points` adds operating points) and OUT/lineage.json (the source's
lineage, if it has one), and prints validation PSNR and zeroth-order rate at every point before and after.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import torch

from vqcodec.train.data import ClipSpec, build_dataset
from vqcodec.net.linear_init import add_bottom_stages
from vqcodec.train.loop import evaluate
from vqcodec.weights import net_from_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--extra", type=int, default=4, help="bottom stages to add")
    ap.add_argument("--points", default=None, metavar="'T,B ...'",
                    help="operating points of the result (default: the source's plus one per two new stages)")
    ap.add_argument("--data", default="corpus:data/corpus")
    ap.add_argument("--cache-dir", default="data/cache")
    ap.add_argument("--centre-clips", type=int, default=256)
    ap.add_argument("--random-clips", type=int, default=512)
    ap.add_argument("--fit-rows", type=int, default=80_000)
    ap.add_argument("--iters", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.time()
    state = torch.load(a.checkpoint, map_location="cpu", weights_only=True)
    net = net_from_checkpoint(a.checkpoint)
    cfg = net.cfg
    clip = ClipSpec(cfg.clip_frames, cfg.clip_size, 16.0)
    cache = Path(a.cache_dir)
    train_ds = build_dataset(a.data, "train", clip, cache, train=False, progress=False)
    pick = torch.linspace(0, len(train_ds) - 1, min(len(train_ds), a.centre_clips)).long().tolist()
    frames = [train_ds[i] for i in pick]
    if a.random_clips:
        rnd = build_dataset(a.data, "train", clip, cache, train=True, samples_per_epoch=a.random_clips, seed=10_007,
                            progress=False)
        frames += [rnd[i] for i in range(len(rnd))]
    val_ds = build_dataset(a.data, "val", clip, cache, train=False, progress=False)
    val = [val_ds[i] for i in range(len(val_ds))]

    new, report = add_bottom_stages(net, torch.stack(frames), a.extra, kmeans_iters=a.iters, fit_rows=a.fit_rows)
    if a.points:
        points = tuple(tuple(int(v) for v in p.split(",")) for p in a.points.split())
    else:
        top = cfg.operating_points[-1][0]
        points = cfg.operating_points + tuple((top, cfg.bottom_stages + k) for k in range(2, a.extra + 1, 2))
    new.cfg = replace(new.cfg, operating_points=points)
    before, after = evaluate(net, val), evaluate(new, val)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"model": new.state_dict(), "step": int(state["step"]), "model_config": new.cfg.to_dict(),
                "train_seconds": float(state.get("train_seconds", 0.0)),
                "extended": {"from": a.checkpoint, **report, "args": vars(a)}}, out / "checkpoint.pt")
    lineage = Path(a.checkpoint).with_name("lineage.json")
    if lineage.is_file():
        shutil.copy(lineage, out / "lineage.json")
    rows = {"seconds": round(time.time() - t0), "report": report,
            "before": {q: [round(p["psnr"], 2), round(p["bpp_entropy"], 4)] for q, p in before.items()},
            "after": {q: [list(points[q - 1]), round(p["psnr"], 2), round(p["bpp_entropy"], 4)] for q, p in after.items()}}
    (out / "extend.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
