"""Start a wider preset (e.g. ``cpu-hq``) from a trained narrower model: every trained layer kept, the latent widened.

    python tools/widen_init.py vqcodec/weights/vqv-cpu.pt runs/hq --config cpu-hq \
        --data corpus:data/corpus --cache-dir data/cache --threads 1
    vqv train --resume --out runs/hq ...

A fresh ``cpu-hq`` run starts as a linear transform code (``vqcodec/net/linear_init.py``) whose top level and
deep paths are untrained: its top-only points (the ladder's low end) start at the mean block (12.6 dB)
and must be learnt again. This script instead keeps the trained network of a model of the same
architecture but a narrower latent (the shipped ``cpu`` model: ``latent_dim`` 32, 6 bottom stages), so at
step 0:

- the top level computes exactly what the source model's does (its 32 latent dims are copied, the new
  dims are zero in the top encoder's output, the top codebooks and the top decoder's input), so the
  top-only operating points are the source model's;
- the bottom latent's first ``d_src`` dims are the source model's (its trained ``lin_enc`` rows and
  ``pre_bottom`` outputs), and the new dims are the leading principal directions of the training pixel
  blocks *outside* the span of the source model's ``lin_dec`` (so they add only what the old read-back
  cannot give); ``lin_dec`` reads them back linearly; the deep decoder's weights on the new dims start
  at zero;
- every bottom residual stage's codebook is k-means on what the stages before it left, of the new
  latents of the training clips (centre crops plus ``--random-clips`` augmented crops, each stage fitted
  on a fresh random subset of ``--fit-rows`` rows: see ``experiments/width_sweep/README.md``).

Writes ``OUT/checkpoint.pt`` at step 0 with a fresh optimiser (``--resume`` then runs a normal warm-up) and
``OUT/lineage.json`` (source, its steps and training time, the init's validation numbers), which
``vqv ship`` reads to count the source model's training too. ``--compare-fresh`` also reports what the
fresh linear start (``init_linear_code``) of the same preset gives on the validation clips.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from vqcodec.train.data import ClipSpec, build_dataset
from vqcodec.net.linear_init import init_linear_code, pixel_blocks
from vqcodec.net.model import MSVQVAE, ModelConfig, get_config, uint8_to_input
from vqcodec.net.quantizer import kmeans
from vqcodec.train.loop import evaluate

# Config fields that may differ between source and destination; everything else must match.
FREE_FIELDS = {"name", "latent_dim", "bottom_stages", "operating_points", "default_quality"}
# Parameters/buffers whose shape grows with latent_dim (copied into their leading slice, the rest zero).
WIDENED = ("enc_top.", "dec_top.0.", "pre_bottom.", "decoder.0.", "top_quantizer.", "lin_enc.", "lin_dec.")


def load_source(path: str) -> tuple[ModelConfig, dict, int, float]:
    """(config, float state dict, training steps, training seconds) of a weights file or training checkpoint."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if "state_dict" in blob:             # a shipped weights file (vqcodec/weights.py)
        cfg = ModelConfig.from_dict(json.loads(blob["config"]))
        card = blob.get("card") or {}
        card = json.loads(card) if isinstance(card, str) else card
        sd = blob["state_dict"]
        steps, secs = int(card.get("training_steps", 0)), float(card.get("training_wall_hours", 0.0)) * 3600
    else:                                # a training checkpoint (vqcodec/train/loop.py)
        cfg = ModelConfig.from_dict(blob["model_config"])
        sd = blob["model"]
        steps, secs = int(blob["step"]), float(blob.get("train_seconds", 0.0))
    return cfg, {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}, steps, secs


def clips(data: str, split: str, cache: str, cfg: ModelConfig, random_clips: int = 0, seed: int = 0) -> torch.Tensor:
    spec = ClipSpec(cfg.clip_frames, cfg.clip_size, 16.0)
    ds = build_dataset(data, split, spec, cache, train=False, progress=False)
    out = [ds[i] for i in range(len(ds))]
    if random_clips:
        torch.manual_seed(seed)
        rnd = build_dataset(data, split, spec, cache, train=True, progress=False, samples_per_epoch=random_clips,
                            seed=seed, weighting="sqrt")
        out += [rnd[i] for i in range(random_clips)]
    return torch.stack(out)


@torch.no_grad()
def transplant(net: MSVQVAE, src_cfg: ModelConfig, src: dict) -> list[str]:
    """Copy ``src`` into ``net``; tensors that grew get the source in their leading slice and zeros elsewhere."""
    dst = net.state_dict()
    widened = []
    for k, v in dst.items():
        if k.startswith("bottom_quantizer."):
            continue                      # refitted by k-means
        if k not in src:
            if k.endswith((".ema_sum", ".ema_count", ".idle", ".initialised")) or k.startswith(("lin_enc", "lin_dec")):
                continue                  # training statistics (reset below) / linear path of a source without one
            raise KeyError(f"{k} not in the source model")
        s = src[k]
        if s.shape == v.shape:
            v.copy_(s)
            continue
        if not k.startswith(WIDENED) or s.ndim != v.ndim or any(a > b for a, b in zip(s.shape, v.shape)):
            raise ValueError(f"cannot widen {k}: {tuple(s.shape)} -> {tuple(v.shape)}")
        v.zero_()
        v[tuple(slice(0, n) for n in s.shape)].copy_(s)
        widened.append(k)
    for vq in net.top_quantizer.layers:  # shipped weights carry no EMA statistics: restart them from the codes
        vq.set_codebook(vq.codebook.clone())
    return widened


@torch.no_grad()
def extra_directions(net: MSVQVAE, rows: torch.Tensor, d_src: int) -> dict:
    """Fill ``lin_enc``/``lin_dec`` dims ``d_src:`` with the leading principal directions of the pixel blocks
    outside the span of the source read-back (``lin_dec`` columns ``:d_src``)."""
    d = net.cfg.latent_dim
    L = net.lin_dec.weight[:, :d_src, 0, 0, 0].double()             # (D, d_src)
    b = net.lin_dec.bias.double()                                   # (D,)
    if d_src and float(L.abs().sum()) > 0:
        q, _ = torch.linalg.qr(L)
        r = rows.double() - b
        r = r - (r @ q) @ q.T                                       # outside the span of the old read-back
    else:                                                           # no linear path in the source: a plain PCA
        r = rows.double() - b
    r = r - r.mean(0)
    cov = r.T @ r
    vals, vecs = torch.linalg.eigh(cov)
    V = vecs.flip(1)[:, :d - d_src].T                               # (d - d_src, D), orthonormal rows
    net.lin_enc.weight[d_src:, :, 0, 0, 0] = V.float()
    net.lin_enc.bias[d_src:] = (-(V @ b)).float()
    net.lin_dec.weight[:, d_src:, 0, 0, 0] = V.T.float()
    if not (d_src and float(L.abs().sum()) > 0):
        net.lin_dec.bias.copy_(rows.double().mean(0).float())
    share = float(vals.flip(0)[:d - d_src].sum() / vals.sum().clamp_min(1e-12))
    return {"new_dims": d - d_src, "share_of_outside_variance": round(share, 4)}


@torch.no_grad()
def bottom_latents(net: MSVQVAE, x_u8: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """Rows (N, latent_dim) of the bottom latent the encoder gives the clips, the top level at all its stages."""
    net.eval()
    out = []
    for i in range(0, len(x_u8), batch):
        x, h_b, z_t = net.analyse(x_u8[i:i + batch])
        z = net.bottom_latent(x, h_b, None if z_t is None else net.top_quantizer(z_t).indices)
        out.append(z.permute(0, 2, 3, 4, 1).reshape(-1, z.shape[1]))
    return torch.cat(out)


@torch.no_grad()
def fit_bottom_stages(net: MSVQVAE, z: torch.Tensor, iters: int, fit_rows: int, seed: int) -> list[float]:
    g = torch.Generator().manual_seed(seed)
    total = float(((z - z.mean(0)) ** 2).sum(1).mean().clamp_min(1e-12))
    r, left = z.clone(), []
    for vq in net.bottom_quantizer.layers:
        fit = r if not fit_rows or fit_rows >= len(r) else r[torch.randperm(len(r), generator=g)[:fit_rows]]
        cb = kmeans(fit, vq.codebook_size, iters=iters, generator=g)
        vq.set_codebook(cb)
        r = r - cb[vq.nearest(r)]
        left.append(round(float((r ** 2).sum(1).mean()) / total, 4))
    return left


def brief(points: dict) -> dict:
    return {str(q): {"stages": r["stages"], "psnr": round(r["psnr"], 2), "ssim": round(r["ssim"], 3),
                     "bpp_entropy": round(r["bpp_entropy"], 4)} for q, r in points.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="a weights file (e.g. vqcodec/weights/vqv-cpu.pt) or a training checkpoint")
    ap.add_argument("out", help="run directory to create (checkpoint.pt goes there)")
    ap.add_argument("--config", default="cpu-hq", help="the wider preset")
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache-dir", required=True)
    ap.add_argument("--random-clips", type=int, default=512, help="augmented training crops beside the centre crops")
    ap.add_argument("--fit-rows", type=int, default=80_000, help="rows per stage's k-means (fresh subset each stage)")
    ap.add_argument("--kmeans-iters", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mode", choices=["transplant", "relinear"], default="transplant",
                    help="transplant: the source's latent kept, new dims added (top-only points kept); relinear: "
                         "every trained layer kept but the bottom latent re-made as a fresh linear code "
                         "(init_linear_code: pre_bottom and the decoder's last layer zeroed, so the top-only "
                         "points must be learnt again)")
    ap.add_argument("--compare-fresh", action="store_true", help="also evaluate the fresh linear start of --config")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    t0 = time.time()
    out = Path(a.out)
    if (out / "checkpoint.pt").exists():
        raise SystemExit(f"{out / 'checkpoint.pt'} exists")
    src_cfg, src_sd, src_steps, src_secs = load_source(a.source)
    cfg = get_config(a.config)
    diff = {f for f in ModelConfig.__dataclass_fields__ if getattr(cfg, f) != getattr(src_cfg, f)} - FREE_FIELDS
    if diff:
        raise SystemExit(f"{a.config} differs from the source in {sorted(diff)}: only {sorted(FREE_FIELDS)} may")
    if not cfg.linear_path or cfg.latent_dim < src_cfg.latent_dim:
        raise SystemExit("the destination needs linear_path and a latent at least as wide as the source's")
    torch.manual_seed(a.seed)
    net = MSVQVAE(cfg)
    widened = transplant(net, src_cfg, src_sd)
    xtr = clips(a.data, "train", a.cache_dir, cfg, a.random_clips, a.seed)
    xva = clips(a.data, "val", a.cache_dir, cfg)
    val = [xva[i] for i in range(len(xva))]
    print(f"[{time.time() - t0:.0f}s] {len(xtr)} training clips, {len(val)} validation clips; widened {widened}",
          flush=True)
    if a.mode == "transplant":
        rows = pixel_blocks(uint8_to_input(xtr), cfg.bottom_factor)
        d_src = src_cfg.latent_dim if src_cfg.linear_path else 0
        lin = extra_directions(net, rows, d_src)
        del rows
        z = bottom_latents(net, xtr)
        left = fit_bottom_stages(net, z, a.kmeans_iters, a.fit_rows, a.seed)
        del z
    else:   # relinear: the trained layers stay, the bottom latent and read-back become a fresh linear code
        rep = init_linear_code(net, uint8_to_input(xtr), kmeans_iters=a.kmeans_iters, fit_rows=a.fit_rows, seed=a.seed)
        lin, left = {"pca_rows": rep["pca_rows"]}, rep["residual_left_after_stage"]
    print(f"[{time.time() - t0:.0f}s] bottom stages fitted; variance left {left}", flush=True)
    v = brief(evaluate(net, val))
    print(f"[{time.time() - t0:.0f}s] step-0 validation: "
          + "  ".join(f"q{q} {r['stages'][0]}+{r['stages'][1]}: {r['psnr']:.2f}dB@{r['bpp_entropy']:.3f}" for q, r in v.items()),
          flush=True)
    report = {"from": str(a.source), "mode": a.mode, "from_config": src_cfg.name, "from_step": src_steps,
              "from_train_seconds": src_secs, "config": cfg.name, "widened": widened, "linear": lin,
              "random_clips": a.random_clips, "fit_rows": a.fit_rows, "kmeans_iters": a.kmeans_iters,
              "residual_left_after_stage": left, "val_step0": v}
    if a.compare_fresh:
        torch.manual_seed(a.seed)
        fresh = MSVQVAE(cfg)
        # what `vqv train` does for a fresh run (centre crops plus random crops, fresh k-means subsets)
        rep = init_linear_code(fresh, uint8_to_input(xtr), kmeans_iters=10, fit_rows=a.fit_rows, seed=a.seed)
        report["fresh_linear_start"] = {"residual_left_after_stage": rep["residual_left_after_stage"],
                                        "val_step0": brief(evaluate(fresh, val))}
        print(f"[{time.time() - t0:.0f}s] fresh linear start: " + "  ".join(
            f"q{q}: {r['psnr']:.2f}dB" for q, r in report["fresh_linear_start"]["val_step0"].items()), flush=True)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "step": 0, "model_config": cfg.to_dict(),
                "train_config": {}, "train_seconds": 0.0}, out / "checkpoint.pt")
    report["seconds"] = round(time.time() - t0, 1)
    (out / "lineage.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: report[k] for k in ("from", "from_step", "linear", "residual_left_after_stage", "seconds")}))


if __name__ == "__main__":
    main()
