"""How wide the bottom latent must be, and how many residual stages, for a given quality: no gradient steps.

    OMP_NUM_THREADS=1 python experiments/width_sweep/width_sweep.py --data corpus:data/corpus --cache-dir data/cache \
        --widths 32 48 64 96 128 --stages 16 --out experiments/width_sweep/README.md

The measurement is the linear transform code a ``linear_path`` model starts from (``vqcodec/net/linear_init.py``):

- a PCA of the bottom grid's 4x8x8 RGB pixel blocks, fitted on the TRAINING clips (centre 32x64x64 crops
  at 16 fps, every non-overlapping clip of the train split, as the linear start uses), keeping ``width``
  coefficients per block;
- residual k-means stages (codebook ``--codebook``, default 1024) fitted on the training coefficients,
  each on what the stages before it left;
- evaluated on the VALIDATION clips (centre 32x64x64 crops, as the trainer validates): PSNR (8-bit,
  rounded, over all clips) after each number of stages, and the unquantised PCA PSNR of each width.

Bits: a bottom stage on the 8x8x8 grid of a 32x64x64 clip is 512 codes x log2(codebook) bits (0.039 bpp raw
for 1024 codes). ``bpp_static`` is the cross-entropy of the validation codes under each stage's code
frequencies on the training set (Laplace-smoothed): what a static per-stage prior would spend, a
pessimistic stand-in for the codec's entropy coders. A top-level reference (``--top``) does the same for
the top grid's 8x16x16 blocks, 64 codes x 10 bits = 0.0049 bpp per stage: a linear stand-in for the
top-only points at the low end of the ladder (the real model's top path is nonlinear).
"""
from __future__ import annotations

import argparse
import json
import math
import time

import torch

from vqcodec.train.data import ClipSpec, build_dataset
from vqcodec.net.linear_init import pixel_blocks
from vqcodec.metrics import psnr_from_mse
from vqcodec.net.model import uint8_to_input
from vqcodec.net.quantizer import kmeans


def load_clips(data: str, split: str, cache: str, frames: int = 32, size: int = 64, random_clips: int = 0,
               seed: int = 0) -> torch.Tensor:
    """Every centre-cropped clip of ``split``, plus ``random_clips`` random training crops (the trainer's
    augmentation: random-scale square crops, flips) when asked."""
    ds = build_dataset(data, split, ClipSpec(frames, size, 16.0), cache, train=False, progress=False)
    clips = [ds[i] for i in range(len(ds))]
    if random_clips:
        torch.manual_seed(seed)
        rnd = build_dataset(data, split, ClipSpec(frames, size, 16.0), cache, train=True, progress=False,
                            samples_per_epoch=random_clips, seed=seed, weighting="sqrt")
        clips += [rnd[i] for i in range(random_clips)]
    return uint8_to_input(torch.stack(clips))


def psnr_rows(rec: torch.Tensor, ref: torch.Tensor) -> float:
    """PSNR of pixel-block rows in [-1, 1], both taken to rounded 8-bit values (as the trainer's evaluate)."""
    a = ((rec.clamp(-1, 1) + 1) * 127.5).round()
    b = ((ref + 1) * 127.5).round()
    return psnr_from_mse(float(((a - b) ** 2).mean()))


def nearest(x: torch.Tensor, cb: torch.Tensor) -> torch.Tensor:
    d = (cb * cb).sum(1)[None, :] - 2.0 * (x @ cb.T)
    return d.argmin(1)


def rvq_sweep(tr_rows: torch.Tensor, va_rows: torch.Tensor, mu: torch.Tensor, vh: torch.Tensor, width: int,
              stages: int, codebook: int, iters: int, seed: int, positions_per_clip: int,
              pixels_per_clip: int, fit_rows: int = 0) -> dict:
    """PCA of ``width`` coefficients + ``stages`` k-means residual stages; PSNR on validation after each stage.

    ``fit_rows`` > 0: each stage's k-means sees a fresh random subset of that many training rows (its
    residuals through the earlier stages are then out-of-sample, as validation rows are).
    """
    basis = vh[:width]
    ctr = ((tr_rows - mu) @ basis.T).float()
    cva = ((va_rows - mu) @ basis.T).float()
    tr_rows, va_rows = tr_rows.float(), va_rows.float()
    fb = basis.float()
    fmu = mu.float()
    out = {"width": width, "pca_psnr": psnr_rows(cva @ fb + fmu, va_rows.float()),
           "pca_psnr_train": psnr_rows(ctr @ fb + fmu, tr_rows.float()),
           "psnr": [psnr_rows(fmu.expand_as(va_rows), va_rows.float())],   # 0 stages: the mean block
           "psnr_train": [], "bits_static": [], "raw_bits": []}
    g = torch.Generator().manual_seed(seed)
    rtr, qva = ctr.clone(), torch.zeros_like(cva)
    rva = cva.clone()
    bits_code = math.log2(codebook)
    for s in range(stages):
        fit = rtr if not fit_rows or fit_rows >= rtr.shape[0] else \
            rtr[torch.randperm(rtr.shape[0], generator=g)[:fit_rows]]
        cb = kmeans(fit, codebook, iters=iters, generator=g)
        itr, iva = nearest(rtr, cb), nearest(rva, cb)
        rtr = rtr - cb[itr]
        rva = rva - cb[iva]
        qva = qva + cb[iva]
        counts = torch.bincount(itr, minlength=codebook).double() + 1.0
        p = counts / counts.sum()
        xent = float(-torch.log2(p[iva]).mean())               # bits per code under the training frequencies
        out["psnr"].append(psnr_rows(qva @ fb + fmu, va_rows.float()))
        out["psnr_train"].append(psnr_rows((ctr - rtr) @ fb + fmu, tr_rows.float()))
        out["bits_static"].append(xent * positions_per_clip / pixels_per_clip)
        out["raw_bits"].append(bits_code * positions_per_clip / pixels_per_clip)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="corpus:data/corpus")
    ap.add_argument("--cache-dir", default="data/cache")
    ap.add_argument("--widths", type=int, nargs="+", default=[32, 48, 64, 96, 128])
    ap.add_argument("--stages", type=int, default=16)
    ap.add_argument("--codebook", type=int, default=1024)
    ap.add_argument("--iters", type=int, default=15, help="k-means iterations per stage")
    ap.add_argument("--top", action="store_true", help="also the top-grid (8x16x16 block) linear reference")
    ap.add_argument("--top-widths", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--top-stages", type=int, default=6)
    ap.add_argument("--random-clips", type=int, default=0,
                    help="add this many random (augmented) training crops to the centre crops")
    ap.add_argument("--fit-rows", type=int, default=0,
                    help="each stage's k-means on a fresh random subset of this many training rows (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, help="also write the raw numbers here")
    ap.add_argument("--out", default=None, help="write the markdown table here")
    ap.add_argument("--append", action="store_true", help="append to --out instead of replacing it")
    ap.add_argument("--title", default="Width sweep: PCA + residual k-means on the bottom grid's 4x8x8 RGB blocks")
    ap.add_argument("--level", type=int, default=1, help="markdown heading level of the title")
    import sys
    a = ap.parse_args()
    a.argv = sys.argv[1:]
    torch.set_num_threads(a.threads)
    t0 = time.time()
    xtr = load_clips(a.data, "train", a.cache_dir, random_clips=a.random_clips, seed=a.seed)
    xva = load_clips(a.data, "val", a.cache_dir)
    n_clip_px = xva.shape[2] * xva.shape[3] * xva.shape[4]
    results = {"train_clips": int(xtr.shape[0]), "random_clips": a.random_clips, "fit_rows": a.fit_rows, "val_clips": int(xva.shape[0]), "bottom": [], "top": []}
    levels = [("bottom", (4, 8, 8), a.widths, a.stages)]
    if a.top:
        levels.append(("top", (8, 16, 16), a.top_widths, a.top_stages))
    for name, factor, widths, stages in levels:
        tr = pixel_blocks(xtr, factor)
        va = pixel_blocks(xva, factor)
        mu = tr.double().mean(0)
        if tr.shape[1] <= 1024:   # PCA from the covariance, accumulated in double over chunks of rows
            cov = torch.zeros(tr.shape[1], tr.shape[1], dtype=torch.float64)
            for i in range(0, tr.shape[0], 65536):
                c = tr[i:i + 65536].double() - mu
                cov += c.T @ c
            vh = torch.linalg.eigh(cov).eigenvectors.flip(1).T.contiguous()
        else:   # the top grid's 6144-dim blocks: a randomised PCA of the leading directions is enough
            torch.manual_seed(a.seed)
            vh = torch.pca_lowrank(tr.double() - mu, q=max(widths) + 16, center=False, niter=6)[2].T
        mu, vh = mu.float(), vh.float()
        per_clip = n_clip_px // math.prod(factor)
        for w in widths:
            r = rvq_sweep(tr, va, mu, vh, w, stages, a.codebook, a.iters, a.seed, per_clip, n_clip_px, a.fit_rows)
            r["train_rows"] = int(tr.shape[0])
            results[name].append(r)
            print(f"[{time.time() - t0:.0f}s] {name} width {w}: PCA {r['pca_psnr']:.2f} dB; "
                  + " ".join(f"{p:.2f}" for p in r["psnr"][1:]), flush=True)
    results["seconds"] = round(time.time() - t0, 1)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    md = to_markdown(results, a)
    print(md)
    if a.out:
        with open(a.out, "a" if a.append else "w") as f:
            f.write(("\n" if a.append else "") + md)


def to_markdown(res: dict, a) -> str:
    rows = res["bottom"][0]["train_rows"] if res["bottom"] else 0
    crops = (f"{res['train_clips'] - a.random_clips} centre 32x64x64 crops at 16 fps plus {a.random_clips} random "
             "augmented crops (the trainer's sampling)") if a.random_clips else "centre 32x64x64 crops at 16 fps"
    fit = (f"; each stage's k-means on a fresh random {a.fit_rows} of them" if a.fit_rows else
           "; every stage's k-means on all of them")
    L = [f"{'#' * a.level} {a.title}", "",
         f"Command: `python experiments/width_sweep/width_sweep.py {' '.join(a.argv)}` (no gradient steps; {res['seconds']:.0f} s on "
         f"one thread). PCA and k-means (codebook {a.codebook}, {a.iters} Lloyd iterations per stage) fitted on "
         f"training clips of the open corpus ({crops}: {rows} blocks{fit}); "
         f"PSNR on the {res['val_clips']} validation clips (the trainer's validation set), 8-bit, over all clips.", "",
         "Rate per clip of 32x64x64: each bottom stage is 512 codes x 10 bits = **0.0391 bpp raw**. "
         "`static` = cross-entropy of the validation codes under each stage's code frequencies on the "
         "training set (what a static per-stage prior would spend).", "",
         f"{'#' * (a.level + 1)} Unquantised PCA (validation PSNR, dB)", "",
         "| width | " + " | ".join(str(r["width"]) for r in res["bottom"]) + " |",
         "| --- |" + " --- |" * len(res["bottom"]),
         "| val | " + " | ".join(f"{r['pca_psnr']:.2f}" for r in res["bottom"]) + " |",
         "| train | " + " | ".join(f"{r['pca_psnr_train']:.2f}" for r in res["bottom"]) + " |", "",
         f"{'#' * (a.level + 1)} Validation PSNR (dB) after n residual stages (bottom only, no top level)", "",
         "| stages | raw bpp | " + " | ".join(f"w={r['width']}" for r in res["bottom"]) + " | "
         + " | ".join(f"static bpp w={r['width']}" for r in res["bottom"]) + " |",
         "| --- | --- |" + " --- |" * (2 * len(res["bottom"]))]
    if res["bottom"]:
        n = len(res["bottom"][0]["psnr"]) - 1
        for s in range(n + 1):
            raw = sum(res["bottom"][0]["raw_bits"][:s])
            cells = [f"{r['psnr'][s]:.2f}" for r in res["bottom"]]
            st = [f"{sum(r['bits_static'][:s]):.3f}" for r in res["bottom"]]
            L.append(f"| {s} | {raw:.3f} | " + " | ".join(cells) + " | " + " | ".join(st) + " |")
        L += ["", "Training-set PSNR after n stages (the k-means' own fit; the gap to validation is over-fitting "
              "of later stages):", "",
              "| stages | " + " | ".join(f"w={r['width']}" for r in res["bottom"]) + " |",
              "| --- |" + " --- |" * len(res["bottom"])]
        for s in range(1, n + 1):
            L.append(f"| {s} | " + " | ".join(f"{r['psnr_train'][s - 1]:.2f}" for r in res["bottom"]) + " |")
    if res["top"]:
        L += ["", f"{'#' * (a.level + 1)} Top-grid linear reference (8x16x16 blocks, 64 codes x 10 bits = 0.0049 bpp raw per stage)", "",
              "| stages | raw bpp | " + " | ".join(f"w={r['width']}" for r in res["top"]) + " |",
              "| --- | --- |" + " --- |" * len(res["top"])]
        L.append("| PCA | - | " + " | ".join(f"{r['pca_psnr']:.2f}" for r in res["top"]) + " |")
        for s in range(len(res["top"][0]["psnr"])):
            raw = sum(res["top"][0]["raw_bits"][:s])
            L.append(f"| {s} | {raw:.4f} | " + " | ".join(f"{r['psnr'][s]:.2f}" for r in res["top"]) + " |")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
