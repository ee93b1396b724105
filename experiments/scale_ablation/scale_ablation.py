"""The paper's ablation: multi-scale (two latent levels) against single-scale (one), at matched rate.

    python -m experiments.scale_ablation.scale_ablation runs/abl-cpu/best.pt runs/abl-single-scale/best.pt \
        --data corpus:data/corpus --cache-dir data/cache --out experiments/scale_ablation/scale_ablation_600steps.json

(From the repository root, as a module: it imports ``benchmarks.bd``.)

Both checkpoints are measured the same way, through the real codec: every operating point of each
network codes each validation clip (centre 32x64x64 crops at 16 fps, one GOP each) to a whole .vqv
file (`auto` prior among the ones that need no fitting, copy mode at the default strength), decodes
it, and reports bpp (file bytes), PSNR and SSIM. BD-rate and BD-PSNR of multi-scale against
single-scale are over the range the two curves share (benchmarks/bd.py, akima).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from benchmarks.bd import bd_numbers, interp_at
from vqcodec.release.clips import validation_clips
from vqcodec.release.measure import measure_points
from vqcodec.weights import CodecModel, net_from_checkpoint, round_to


def curve(checkpoint: str, data: str, cache_dir: str) -> dict:
    net = round_to(net_from_checkpoint(checkpoint), "half")
    clips = validation_clips(data, cache_dir, net.cfg)
    step = int(torch.load(checkpoint, map_location="cpu", weights_only=True)["step"])
    points = measure_points(CodecModel.unsaved(net), clips, priors=("auto",))
    return {"checkpoint": checkpoint, "config": net.cfg.name, "step": step, "clips": len(clips),
            "points": [{"quality": int(q), "stages": list(net.cfg.operating_points[int(q) - 1]),
                        **{k: p[k] for k in ("bpp", "psnr", "ssim")}} for q, p in points.items()]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("multi", help="multi-scale training checkpoint (e.g. the cpu preset)")
    ap.add_argument("single", help="single-scale training checkpoint, same data and budget")
    ap.add_argument("--data", default="corpus:data/corpus")
    ap.add_argument("--cache-dir", default="data/cache")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="write the numbers as JSON here")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    res = {"multi": curve(a.multi, a.data, a.cache_dir), "single": curve(a.single, a.data, a.cache_dir)}
    rates = {k: ([p["bpp"] for p in v["points"]], [p["psnr"] for p in v["points"]]) for k, v in res.items()}
    ssims = {k: ([p["bpp"] for p in v["points"]], [p["ssim"] for p in v["points"]]) for k, v in res.items()}
    res["multi_vs_single"] = {"psnr": bd_numbers(rates["single"], rates["multi"], "psnr"),
                              "ssim": bd_numbers(ssims["single"], ssims["multi"], "ssim")}
    # PSNR of each curve at the other's points' rates, where both reach
    res["at_matched_rate"] = [
        {"bpp": round(r, 4), "multi": interp_at(*rates["multi"], r)[0], "single": interp_at(*rates["single"], r)[0]}
        for r in sorted(set(rates["multi"][0]) | set(rates["single"][0]))]
    for k in ("multi", "single"):
        v = res[k]
        print(f"{k}: {v['config']} step {v['step']}")
        for p in v["points"]:
            print(f"  Q{p['quality']} {p['stages'][0]}+{p['stages'][1]}: {p['bpp']:.4f} bpp  {p['psnr']:.2f} dB  "
                  f"SSIM {p['ssim']:.3f}")
    print("multi vs single:", json.dumps(res["multi_vs_single"]))
    for m in res["at_matched_rate"]:
        if m["multi"] is not None and m["single"] is not None:
            print(f"  at {m['bpp']:.4f} bpp: multi {m['multi']:.2f} dB, single {m['single']:.2f} dB, "
                  f"{m['multi'] - m['single']:+.2f} dB")
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
