"""Training loop for MS-VQ-VAE: single process on CPU, or DDP under torchrun (gloo on CPU, NCCL + AMP on CUDA)."""
from __future__ import annotations

import json
import math
import os
import random
import signal
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler

from vqcodec.codes import stream_name
from vqcodec.errors import VqvError
from vqcodec.io.files import atomic_path
from vqcodec.net.linear_init import init_linear_code
from vqcodec.train.losses import SSIMLoss, VGG16Perceptual, reconstruction_loss
from vqcodec.metrics import PSNR_CAP, QualityAccumulator, psnr_from_mse
from vqcodec.net.model import MSVQVAE, ModelConfig, get_config, to_uint8, uint8_to_input

CHECKPOINT = "checkpoint.pt"
# The best network so far by validation (see ``val_score``), beside the checkpoint: weights, config, step and
# train_seconds (no optimiser state), so `vqv ship runs/X/best.pt ...` ships it like a checkpoint.
BEST = "best.pt"


@dataclass
class TrainConfig:
    config: str = "cpu"
    data: str = "corpus:data/corpus"
    out: str = "runs/cpu"
    steps: int = 20000                 # length of the LR schedule; --max-minutes may stop earlier
    max_minutes: float | None = None
    batch_size: int = 8
    crop_frames: int = 16              # random sub-crop of each 32x64x64 clip; the model is fully convolutional
    crop_size: int = 48
    lr: float = 1e-3
    warmup: int = 300
    weight_decay: float = 0.01
    recon: str = "mse"
    perceptual: str = "ssim"           # "ssim" (weight-free), "vgg" (needs vgg_weights), "none"
    perceptual_weight: float = 0.05
    vgg_weights: str | None = None
    commit_weight: float = 0.05
    bypass_prob: float = 0.2           # steps whose decoder sees the unquantised latents (see MSVQVAE.forward)
    seed: int = 0
    threads: int | None = None
    workers: int = 0
    val_every: int = 500
    ckpt_every: int = 250
    cache_dir: str | None = None
    samples_per_epoch: int = 100000
    ucf_split: int = 1
    weighting: str = "sqrt"            # sample sources by sqrt(length): one long animation must not dominate
    resume: bool = False
    init: str | None = None            # warm start from a weights file (e.g. the shipped model)
    init_clips: int = 256              # centre-cropped training clips for the PCA + k-means start of a linear_path model
    init_random_clips: int = 512       # ... plus this many random augmented training crops (the trainer's sampling)
    init_fit_rows: int | None = 80_000  # each bottom stage's k-means on a fresh subset of this many blocks (None: one
                                        # subset of 80k for all; see linear_init.init_linear_code)
    progress: bool = True
    best_metric: str = "mean_psnr"     # what best.pt keeps: "mean_psnr" over all operating points, or "top_psnr"


def val_score(points: dict, metric: str = "mean_psnr") -> float:
    """One number per validation, higher is better, that picks ``best.pt``.

    ``mean_psnr`` (the default): the mean PSNR over every operating point, so a run that buys quality at
    the top of the ladder by losing it at the bottom is not taken as better. ``top_psnr``: the PSNR of
    the highest operating point only.
    """
    if metric == "mean_psnr":
        return float(np.mean([float(r["psnr"]) for r in points.values()]))
    if metric == "top_psnr":
        return float(points[max(points, key=int)]["psnr"])
    raise ValueError(f"unknown best_metric {metric!r} (mean_psnr or top_psnr)")


def _dist_info() -> tuple[int, int, int]:
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    return 0, 1, 0


def lr_at(step: int, tc: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10% at ``tc.steps``."""
    if step < tc.warmup:
        return tc.lr * (step + 1) / tc.warmup
    p = min(1.0, (step - tc.warmup) / max(1, tc.steps - tc.warmup))
    return tc.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


TOP_ONLY_SHARE = 1 / 7


def sample_stages(cfg: ModelConfig, rng: random.Random) -> tuple[int, int]:
    """Quantiser dropout: how many (top, bottom) residual stages this step keeps.

    The same ``rng`` seed on every rank keeps DDP ranks in step. Bottom stages are uniform in
    0..S_b; with no bottom code the top level alone must carry the clip, at any of its stage counts.
    With more than 6 bottom stages the no-bottom case keeps the 1/7 share of steps it has with 6 (the
    other counts uniform in 1..S_b), so the top-only points (the ladder's low end) are not starved.
    """
    if cfg.single_level:
        return 0, rng.randint(1, cfg.bottom_stages)
    if cfg.bottom_stages <= 6:
        nb = rng.randint(0, cfg.bottom_stages)
    else:
        nb = 0 if rng.random() < TOP_ONLY_SHARE else rng.randint(1, cfg.bottom_stages)
    nt = cfg.top_stages if nb > 0 else rng.randint(1, cfg.top_stages)
    return nt, nb


def random_crop(x: torch.Tensor, frames: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """Random (frames, size, size) sub-crop of a (B, 3, T, H, W) batch."""
    _, _, t, h, w = x.shape
    frames, size_h, size_w = min(frames, t), min(size, h), min(size, w)
    t0 = int(torch.randint(0, t - frames + 1, (1,), generator=gen))
    y0 = int(torch.randint(0, h - size_h + 1, (1,), generator=gen))
    x0 = int(torch.randint(0, w - size_w + 1, (1,), generator=gen))
    return x[:, :, t0:t0 + frames, y0:y0 + size_h, x0:x0 + size_w]


@torch.no_grad()
def evaluate(model: MSVQVAE, clips: list[torch.Tensor], batch: int = 4) -> dict:
    """PSNR/SSIM (:mod:`vqcodec.metrics`, the clips pooled) and zeroth-order code entropy (bits per
    pixel) at every operating point on uint8 clips."""
    model.eval()
    out = {}
    x_all = torch.stack(clips)  # (N, T, H, W, 3)
    n, t, h, w, _ = x_all.shape
    pixels = n * t * h * w
    for q, (ts, bs) in enumerate(model.cfg.operating_points, 1):
        quality = QualityAccumulator()
        hist: dict[str, np.ndarray] = {}
        for i in range(0, n, batch):
            xb = x_all[i:i + batch]
            o = model(uint8_to_input(xb).to(model.device), ts, bs)
            quality.update(xb.reshape(-1, h, w, 3).numpy(), to_uint8(o.recon).reshape(-1, h, w, 3))
            for name, qo, k in (("top", o.top, model.cfg.top_codebook), ("bottom", o.bottom, model.cfg.bottom_codebook)):
                if qo is None:
                    continue
                for s in range(qo.indices.shape[1]):
                    key = stream_name(name, s)
                    c = np.bincount(qo.indices[:, s].flatten().cpu().numpy(), minlength=k)
                    hist[key] = hist.get(key, 0) + c
        bits = 0.0
        usage = {}
        for key, c in hist.items():
            p = c[c > 0] / c.sum()
            ent = float(-(p * np.log2(p)).sum())
            bits += ent * c.sum()
            usage[key] = {"perplexity": round(2.0 ** ent, 1), "used": round(float((c > 0).mean()), 4)}
        out[q] = {"psnr": quality.psnr_value(cap=PSNR_CAP), "ssim": quality.ssim,
                  "bpp_entropy": bits / pixels, "stages": [ts, bs], "codebook": usage}
    model.train()
    return out


def _atomic_save(obj: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def train(tc: TrainConfig, log=print) -> dict:
    """Train (or resume) the run ``tc`` describes; returns the last step's figures and the best step."""
    # Zero-initialised layers (and small gradients through them) produce denormal floats, which x86
    # CPUs compute tens of times slower: measured 1.6x slower steps after scripts/pca_init.py. The
    # setting is process-wide, so it is undone when training ends (floats elsewhere need denormals).
    torch.set_flush_denormal(True)
    try:
        return _train(tc, log)
    finally:
        torch.set_flush_denormal(False)


def _train(tc: TrainConfig, log) -> dict:
    from vqcodec.train.data import ClipSpec, build_dataset  # noqa: PLC0415 - keeps `vqv model-info` light

    rank, world, local_rank = _dist_info()
    use_cuda = torch.cuda.is_available()
    if world > 1:
        dist.init_process_group("nccl" if use_cuda else "gloo")
    device = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed + rank)
    np.random.seed(tc.seed + rank)

    val_score({"1": {"psnr": 0.0}}, tc.best_metric)   # a bad metric name fails now, not at the first validation
    out = Path(tc.out)
    ckpt_path = out / CHECKPOINT
    best_path = out / BEST
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    state = None
    if tc.resume:
        if not ckpt_path.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {ckpt_path}")
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        cfg = ModelConfig.from_dict(state["model_config"])
    else:
        if ckpt_path.exists():
            raise FileExistsError(f"{ckpt_path} exists: pass --resume to continue that run, or choose another --out")
        cfg = get_config(tc.config)

    if state is None and tc.init:
        from vqcodec.weights import load_model  # noqa: PLC0415
        warm = load_model(tc.init).net
        cfg = warm.cfg
    model = MSVQVAE(cfg).to(device)
    if state is None and tc.init:
        # Shipped weights carry no EMA statistics: restart them from the codebooks themselves.
        model.load_state_dict(warm.state_dict())
        for rvq in (getattr(model, "top_quantizer", None), model.bottom_quantizer):
            for vq in (rvq.layers if rvq is not None else []):
                vq.set_codebook(vq.codebook.clone())
    cache = Path(tc.cache_dir) if tc.cache_dir else Path(os.environ.get("VQV_CACHE", Path.home() / ".cache" / "vqv"))
    clip = ClipSpec(cfg.clip_frames, cfg.clip_size, 16.0)
    init_report = None
    if state is None and not tc.init and cfg.linear_path and rank == 0:
        # A fresh model with a linear path starts as a PCA + k-means code of the training clips
        # (linear_init.py); other ranks receive these weights when DDP broadcasts rank 0's state.
        init_ds = build_dataset(tc.data, "train", clip, cache, train=False, progress=False, ucf_split=tc.ucf_split)
        pick = np.linspace(0, len(init_ds) - 1, min(len(init_ds), tc.init_clips)).astype(int)
        init_x = [init_ds[int(i)] for i in pick]
        if tc.init_random_clips:
            rnd = build_dataset(tc.data, "train", clip, cache, train=True, samples_per_epoch=tc.init_random_clips,
                                seed=tc.seed + 10_007, weighting=tc.weighting, ucf_split=tc.ucf_split, progress=False)
            init_x += [rnd[i] for i in range(len(rnd))]
        init_report = init_linear_code(model, uint8_to_input(torch.stack(init_x)), fit_rows=tc.init_fit_rows)
        init_report["clips"] = {"centre": len(pick), "random": tc.init_random_clips}
        del init_x
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, betas=(0.9, 0.99))
    step = 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step = int(state["step"])
    ddp_model = model
    if world > 1:
        # Quantiser buffers are kept in sync by the quantiser itself (all-reduced EMA statistics);
        # quantiser dropout leaves some parameters unused on some steps.
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[local_rank] if use_cuda else None, broadcast_buffers=False,
            find_unused_parameters=True)

    train_ds = build_dataset(tc.data, "train", clip, cache, train=True, samples_per_epoch=tc.samples_per_epoch,
                             seed=tc.seed + step, weighting=tc.weighting, ucf_split=tc.ucf_split, progress=rank == 0 and tc.progress)
    val_ds = build_dataset(tc.data, "val", clip, cache, train=False, progress=False, ucf_split=tc.ucf_split)
    val_clips = [val_ds[i] for i in range(len(val_ds))]
    sampler = DistributedSampler(train_ds, world, rank, seed=tc.seed + step) if world > 1 else None
    loader = DataLoader(train_ds, batch_size=tc.batch_size, shuffle=sampler is None, sampler=sampler,
                        num_workers=tc.workers, drop_last=True, persistent_workers=tc.workers > 0)

    perceptual = None
    if tc.perceptual == "ssim":
        perceptual = SSIMLoss()
    elif tc.perceptual == "vgg":
        if not tc.vgg_weights:
            raise VqvError("--perceptual vgg needs --vgg-weights PATH (a torchvision VGG16 .pth file)")
        perceptual = VGG16Perceptual(tc.vgg_weights).to(device)
    elif tc.perceptual != "none":
        raise ValueError(f"unknown perceptual loss {tc.perceptual!r}")

    amp = use_cuda
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    metrics_path = out / "metrics.jsonl"
    t_start = time.time()
    prior_seconds = float(state.get("train_seconds", 0.0)) if state else 0.0
    crop_gen = torch.Generator().manual_seed(tc.seed * 7919 + step)
    bar = None
    if rank == 0 and tc.progress:
        from tqdm import tqdm
        bar = tqdm(total=tc.steps, initial=step, dynamic_ncols=True, desc="train")

    def save(last_val: dict | None = None) -> None:
        if rank != 0:
            return
        _atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                      "model_config": cfg.to_dict(), "train_config": asdict(tc),
                      "train_seconds": prior_seconds + time.time() - t_start}, ckpt_path)

    # The best validation so far: best.pt itself is the record (it may be newer than checkpoint.pt).
    best = {"score": -math.inf, "step": None}
    if state is not None and best_path.is_file():
        b = torch.load(best_path, map_location="cpu", weights_only=True).get("best", {})
        if b.get("metric") == tc.best_metric:
            best = {"score": float(b["score"]), "step": int(b["step"])}

    def save_best(points: dict) -> None:
        score = val_score(points, tc.best_metric)
        if rank != 0 or not score > best["score"]:
            return
        best.update(score=score, step=step)
        rec = {"metric": tc.best_metric, "score": score, "step": step,
               "points": {str(q): {k: float(r[k]) for k in ("psnr", "ssim", "bpp_entropy")}
                          for q, r in points.items()}}
        _atomic_save({"model": model.state_dict(), "step": step, "model_config": cfg.to_dict(),
                      "train_config": asdict(tc), "train_seconds": prior_seconds + time.time() - t_start,
                      "best": rec}, best_path)

    def log_json(rec: dict) -> None:
        if rank == 0:
            with open(metrics_path, "a") as f:
                f.write(json.dumps(rec) + "\n")

    # SIGTERM/SIGINT (a session ending, Ctrl-C) stop at the next step boundary with a checkpoint.
    stop = {"flag": False}

    def _request_stop(signum, frame):  # noqa: ARG001
        stop["flag"] = True

    old_handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            old_handlers[sig] = signal.signal(sig, _request_stop)

    if init_report is not None:
        log_json({"kind": "init", "linear_code": init_report})
    try:
        last = {}
        done = False
        epoch = 0
        while not done:
            if sampler is not None:
                sampler.set_epoch(epoch)
            for batch in loader:
                want_stop = step >= tc.steps or stop["flag"] or bool(
                    tc.max_minutes and (time.time() - t_start) > tc.max_minutes * 60)
                if world > 1:  # ranks must stop at the same step, or the others hang in all-reduce
                    flag = torch.tensor([float(want_stop)], device=device)
                    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                    want_stop = bool(flag.item() > 0)
                if want_stop:
                    done = True
                    break
                for g in opt.param_groups:
                    g["lr"] = lr_at(step, tc)
                x = random_crop(uint8_to_input(batch), tc.crop_frames, tc.crop_size, crop_gen).to(device)
                rng = random.Random(tc.seed * 1_000_003 + step)
                nt, nb = sample_stages(cfg, rng)
                bypass = rng.random() < tc.bypass_prob
                if bypass:
                    nt, nb = cfg.top_stages, cfg.bottom_stages
                with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                    o = ddp_model(x, nt, nb, bypass)
                    rec = reconstruction_loss(o.recon.float(), x, tc.recon)
                    loss = rec + tc.commit_weight * o.commit
                    if perceptual is not None:
                        loss = loss + tc.perceptual_weight * perceptual(o.recon.float(), x)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.step(opt)
                scaler.update()
                step += 1
                mse = float(F.mse_loss(o.recon.detach().float().clamp(-1, 1), x))   # on [-1, 1]: 4x that on [0, 1]
                # codebook usage of this batch, per level: perplexity of stage 0 and the mean over stages
                ppl = {name: [round(v, 1) for v in qo.perplexity] for name, qo in (("top", o.top), ("bottom", o.bottom))
                       if qo is not None and qo.perplexity}
                last = {"step": step, "loss": float(loss.detach()), "psnr": psnr_from_mse(mse / 4, peak=1.0), "stages": [nt, nb],
                        "ppl": ppl, "lr": lr_at(step - 1, tc)}
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{last['loss']:.4f}", psnr=f"{last['psnr']:.2f}", st="bypass" if bypass else f"{nt}/{nb}",
                                    ppl="/".join(f"{k[0]}{v[0]:.0f}" for k, v in ppl.items()))
                if step % 50 == 0:
                    log_json({"kind": "train", **last, "time": prior_seconds + time.time() - t_start})
                if step % tc.ckpt_every == 0:
                    save()
                if step % tc.val_every == 0 and rank == 0:
                    v = evaluate(model, val_clips)
                    save_best(v)
                    log_json({"kind": "val", "step": step, "time": prior_seconds + time.time() - t_start, "points": v,
                              tc.best_metric: val_score(v, tc.best_metric), "best_step": best["step"]})
                    if bar is not None:
                        bar.write(f"step {step} val " + "  ".join(
                            f"q{q}: {r['psnr']:.2f}dB/{r['ssim']:.3f}@{r['bpp_entropy']:.3f}bpp" for q, r in v.items()))
            epoch += 1
        save()
    finally:  # a crash must not leave this process ignoring Ctrl-C
        for sig, h in old_handlers.items():
            signal.signal(sig, h)
    if bar is not None:
        bar.close()
    result = {"step": step, **last, "best_step": best["step"],
              "best_score": best["score"] if best["step"] is not None else None}
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return result
