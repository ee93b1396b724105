"""Training loop for MS-VQ-VAE: single process on CPU, or DDP under torchrun (gloo on CPU, NCCL + AMP on CUDA)."""
from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import threading
import time
from dataclasses import asdict, replace
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
from vqcodec.metrics import PSNR_CAP, QualityAccumulator, psnr_from_mse
from vqcodec.net.model import MSVQVAE, ModelConfig, get_config, to_uint8, uint8_to_input
from vqcodec.train.config import TrainConfig
from vqcodec.train.losses import SSIMLoss, VGG16Perceptual, reconstruction_loss

CHECKPOINT = "checkpoint.pt"
# The best network so far by validation (see ``val_score``), beside the checkpoint: weights, config, step and
# train_seconds (no optimiser state), so `vqv ship runs/X/best.pt ...` ships it like a checkpoint.
BEST = "best.pt"


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
    # CPUs compute tens of times slower: measured 1.6x slower steps after the warm restart (docs/DESIGN.md). The
    # setting is process-wide, so it is undone when training ends (floats elsewhere need denormals).
    torch.set_flush_denormal(True)
    try:
        return _train(tc, log)
    finally:
        torch.set_flush_denormal(False)


def _train(tc: TrainConfig, log) -> dict:  # noqa: ARG001 - log: kept for callers
    from vqcodec.train.data import ClipSpec  # noqa: PLC0415 - keeps `vqv model-info` light

    tc = unpack_init(tc)
    rank, world, local_rank, device = _start_process(tc)
    state, cfg = _open_run(tc, rank)
    model, cfg = _build_model(tc, cfg, state, device)
    cache = Path(tc.cache_dir) if tc.cache_dir else Path(os.environ.get("VQV_CACHE", Path.home() / ".cache" / "vqv"))
    clip = ClipSpec(cfg.clip_frames, cfg.clip_size, 16.0)
    init_report = None
    if state is None and not tc.init and cfg.linear_path and rank == 0:
        init_report = _linear_start(tc, model, clip, cache)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, betas=(0.9, 0.99))
    step = 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step = int(state["step"])
    ddp_model = _distributed(model, world, local_rank, device)
    loader, sampler, val_clips = _data(tc, clip, cache, step, rank, world)
    perceptual = _perceptual_loss(tc, device)
    run = _Run(tc, rank, world, device, cfg, model, ddp_model, opt, step, state)
    with _stop_on_signals(run):
        if init_report is not None:
            run.log_json({"kind": "init", "linear_code": init_report})
        last = _loop(run, loader, sampler, val_clips, perceptual)
        run.save()
    if run.bar is not None:
        run.bar.close()
    result = {"step": run.step, **last, "best_step": run.best["step"],
              "best_score": run.best["score"] if run.best["step"] is not None else None}
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return result


# ------------------------------------------------------------------------------------- setting up


def unpack_init(tc: TrainConfig) -> TrainConfig:
    """``tc`` with a zstd-compressed ``init`` (work-in-progress weights may be kept as ``.zst``: the
    repository keeps files under 20 MB) unpacked into the run directory, and ``init`` naming that file."""
    if not str(tc.init or "").endswith(".zst"):
        return tc
    import zstandard  # noqa: PLC0415

    plain = Path(tc.out) / Path(tc.init).name[:-len(".zst")]
    with open(tc.init, "rb") as src, atomic_path(plain) as tmp, open(tmp, "wb") as dst:
        zstandard.ZstdDecompressor().copy_stream(src, dst)
    return replace(tc, init=str(plain))


def _start_process(tc: TrainConfig) -> tuple[int, int, int, torch.device]:
    """This process's rank, world size, local rank and device; joins the process group under DDP,
    sets the threads and seeds."""
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
    return rank, world, local_rank, device


def _open_run(tc: TrainConfig, rank: int) -> tuple[dict | None, ModelConfig]:
    """The run directory made (rank 0); the checkpoint's state and network config when resuming, else
    no state and the config ``tc`` names. A run that exists is never started over."""
    val_score({"1": {"psnr": 0.0}}, tc.best_metric)   # a bad metric name fails now, not at the first validation
    out = Path(tc.out)
    ckpt_path = out / CHECKPOINT
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    if tc.resume:
        if not ckpt_path.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {ckpt_path}")
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        return state, ModelConfig.from_dict(state["model_config"])
    if ckpt_path.exists():
        raise FileExistsError(f"{ckpt_path} exists: pass --resume to continue that run, or choose another --out")
    return None, get_config(tc.config)


def _build_model(tc: TrainConfig, cfg: ModelConfig, state: dict | None,
                 device: torch.device) -> tuple[MSVQVAE, ModelConfig]:
    """The network on ``device``: fresh, or (a new run with ``tc.init``) the weights file's, whose config wins."""
    warm = None
    if state is None and tc.init:
        from vqcodec.weights import load_model  # noqa: PLC0415
        warm = load_model(tc.init).net
        cfg = warm.cfg
    model = MSVQVAE(cfg).to(device)
    if warm is not None:
        # Shipped weights carry no EMA statistics: restart them from the codebooks themselves.
        model.load_state_dict(warm.state_dict())
        for rvq in (getattr(model, "top_quantizer", None), model.bottom_quantizer):
            for vq in (rvq.layers if rvq is not None else []):
                vq.set_codebook(vq.codebook.clone())
    return model, cfg


def _linear_start(tc: TrainConfig, model: MSVQVAE, clip, cache: Path) -> dict:
    """A fresh model with a linear path starts as a PCA + k-means code of the training clips
    (linear_init.py); other ranks receive these weights when DDP broadcasts rank 0's state."""
    from vqcodec.train.data import build_dataset  # noqa: PLC0415

    init_ds = build_dataset(tc.data, "train", clip, cache, train=False, progress=False, ucf_split=tc.ucf_split)
    pick = np.linspace(0, len(init_ds) - 1, min(len(init_ds), tc.init_clips)).astype(int)
    init_x = [init_ds[int(i)] for i in pick]
    if tc.init_random_clips:
        rnd = build_dataset(tc.data, "train", clip, cache, train=True, samples_per_epoch=tc.init_random_clips,
                            seed=tc.seed + 10_007, weighting=tc.weighting, ucf_split=tc.ucf_split, progress=False)
        init_x += [rnd[i] for i in range(len(rnd))]
    report = init_linear_code(model, uint8_to_input(torch.stack(init_x)), fit_rows=tc.init_fit_rows)
    report["clips"] = {"centre": len(pick), "random": tc.init_random_clips}
    return report


def _distributed(model: MSVQVAE, world: int, local_rank: int, device: torch.device) -> torch.nn.Module:
    """The module the steps run: ``model`` itself, or under DDP its DistributedDataParallel wrapper."""
    if world == 1:
        return model
    # Quantiser buffers are kept in sync by the quantiser itself (all-reduced EMA statistics);
    # quantiser dropout leaves some parameters unused on some steps.
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[local_rank] if device.type == "cuda" else None, broadcast_buffers=False,
        find_unused_parameters=True)


def _data(tc: TrainConfig, clip, cache: Path, step: int, rank: int, world: int):
    """The training loader (random clips, the sampling seeded by the step it starts at), its
    DistributedSampler (None in one process) and the validation clips."""
    from vqcodec.train.data import build_dataset  # noqa: PLC0415

    train_ds = build_dataset(tc.data, "train", clip, cache, train=True, samples_per_epoch=tc.samples_per_epoch,
                             seed=tc.seed + step, weighting=tc.weighting, ucf_split=tc.ucf_split,
                             progress=rank == 0 and tc.progress)
    val_ds = build_dataset(tc.data, "val", clip, cache, train=False, progress=False, ucf_split=tc.ucf_split)
    val_clips = [val_ds[i] for i in range(len(val_ds))]
    sampler = DistributedSampler(train_ds, world, rank, seed=tc.seed + step) if world > 1 else None
    loader = DataLoader(train_ds, batch_size=tc.batch_size, shuffle=sampler is None, sampler=sampler,
                        num_workers=tc.workers, drop_last=True, persistent_workers=tc.workers > 0)
    return loader, sampler, val_clips


def _perceptual_loss(tc: TrainConfig, device: torch.device) -> torch.nn.Module | None:
    if tc.perceptual == "ssim":
        return SSIMLoss()
    if tc.perceptual == "vgg":
        if not tc.vgg_weights:
            raise VqvError("--perceptual vgg needs --vgg-weights PATH (a torchvision VGG16 .pth file)")
        return VGG16Perceptual(tc.vgg_weights).to(device)
    if tc.perceptual != "none":
        raise ValueError(f"unknown perceptual loss {tc.perceptual!r}")
    return None


# ------------------------------------------------------------------------------------- the run


class _Run:
    """What one process holds while it trains: the network and optimiser, the step, the clock, the
    best validation so far, and what it writes (checkpoint.pt, best.pt, metrics.jsonl: rank 0 only)."""

    def __init__(self, tc: TrainConfig, rank: int, world: int, device: torch.device, cfg: ModelConfig,
                 model: MSVQVAE, ddp_model: torch.nn.Module, opt: torch.optim.Optimizer, step: int,
                 state: dict | None) -> None:
        self.tc, self.rank, self.world, self.device = tc, rank, world, device
        self.cfg, self.model, self.ddp_model, self.opt, self.step = cfg, model, ddp_model, opt, step
        self.out = Path(tc.out)
        self.amp = device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.t_start = time.time()
        self.prior_seconds = float(state.get("train_seconds", 0.0)) if state else 0.0
        self.crop_gen = torch.Generator().manual_seed(tc.seed * 7919 + step)
        self.bar = None
        if rank == 0 and tc.progress:
            from tqdm import tqdm  # noqa: PLC0415
            self.bar = tqdm(total=tc.steps, initial=step, dynamic_ncols=True, desc="train")
        self.stop_requested = False
        # The best validation so far: best.pt itself is the record (it may be newer than checkpoint.pt).
        self.best = {"score": -math.inf, "step": None}
        if state is not None and (self.out / BEST).is_file():
            b = torch.load(self.out / BEST, map_location="cpu", weights_only=True).get("best", {})
            if b.get("metric") == tc.best_metric:
                self.best = {"score": float(b["score"]), "step": int(b["step"])}

    def seconds(self) -> float:
        """Training time of the run so far, earlier sessions included."""
        return self.prior_seconds + time.time() - self.t_start

    def should_stop(self) -> bool:
        """At ``tc.steps``, after ``tc.max_minutes`` or on a signal; under DDP when any rank would stop."""
        tc = self.tc
        want_stop = self.step >= tc.steps or self.stop_requested or bool(
            tc.max_minutes and (time.time() - self.t_start) > tc.max_minutes * 60)
        if self.world > 1:  # ranks must stop at the same step, or the others hang in all-reduce
            flag = torch.tensor([float(want_stop)], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            want_stop = bool(flag.item() > 0)
        return want_stop

    def save(self) -> None:
        if self.rank != 0:
            return
        _atomic_save({"model": self.model.state_dict(), "optimizer": self.opt.state_dict(), "step": self.step,
                      "model_config": self.cfg.to_dict(), "train_config": asdict(self.tc),
                      "train_seconds": self.seconds()}, self.out / CHECKPOINT)

    def save_best(self, points: dict) -> None:
        score = val_score(points, self.tc.best_metric)
        if self.rank != 0 or not score > self.best["score"]:
            return
        self.best.update(score=score, step=self.step)
        rec = {"metric": self.tc.best_metric, "score": score, "step": self.step,
               "points": {str(q): {k: float(r[k]) for k in ("psnr", "ssim", "bpp_entropy")}
                          for q, r in points.items()}}
        _atomic_save({"model": self.model.state_dict(), "step": self.step, "model_config": self.cfg.to_dict(),
                      "train_config": asdict(self.tc), "train_seconds": self.seconds(), "best": rec},
                     self.out / BEST)

    def log_json(self, rec: dict) -> None:
        if self.rank == 0:
            with open(self.out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(rec) + "\n")


@contextlib.contextmanager
def _stop_on_signals(run: _Run):
    """SIGTERM/SIGINT (a session ending, Ctrl-C) stop the run at the next step boundary with a
    checkpoint; the handlers are handed back however the run ends (a crash must not leave this
    process ignoring Ctrl-C)."""
    def request_stop(signum, frame):  # noqa: ARG001
        run.stop_requested = True

    old_handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            old_handlers[sig] = signal.signal(sig, request_stop)
    try:
        yield
    finally:
        for sig, h in old_handlers.items():
            signal.signal(sig, h)


def _loop(run: _Run, loader: DataLoader, sampler, val_clips: list, perceptual) -> dict:
    """Steps until the run should stop, logging every 50 steps, checkpointing and validating on
    schedule; returns the last step's figures."""
    tc = run.tc
    last: dict = {}
    epoch = 0
    while True:
        if sampler is not None:
            sampler.set_epoch(epoch)
        for batch in loader:
            if run.should_stop():
                return last
            last = _step(run, batch, perceptual)
            if run.step % 50 == 0:
                run.log_json({"kind": "train", **last, "time": run.seconds()})
            if run.step % tc.ckpt_every == 0:
                run.save()
            if run.step % tc.val_every == 0 and run.rank == 0:
                _validate(run, val_clips)
        epoch += 1


def _step(run: _Run, batch: torch.Tensor, perceptual) -> dict:
    """One optimiser step on a batch of clips (a random sub-crop, a random number of quantiser stages
    or the bypass); returns its figures."""
    tc, cfg, step = run.tc, run.cfg, run.step
    for g in run.opt.param_groups:
        g["lr"] = lr_at(step, tc)
    x = random_crop(uint8_to_input(batch), tc.crop_frames, tc.crop_size, run.crop_gen).to(run.device)
    rng = random.Random(tc.seed * 1_000_003 + step)
    nt, nb = sample_stages(cfg, rng)
    bypass = rng.random() < tc.bypass_prob
    if bypass:
        nt, nb = cfg.top_stages, cfg.bottom_stages
    with torch.autocast("cuda", dtype=torch.float16, enabled=run.amp):
        o = run.ddp_model(x, nt, nb, bypass)
        rec = reconstruction_loss(o.recon.float(), x, tc.recon)
        loss = rec + tc.commit_weight * o.commit
        if perceptual is not None:
            loss = loss + tc.perceptual_weight * perceptual(o.recon.float(), x)
    run.opt.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.unscale_(run.opt)
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), 1.0)
    run.scaler.step(run.opt)
    run.scaler.update()
    run.step = step = step + 1
    mse = float(F.mse_loss(o.recon.detach().float().clamp(-1, 1), x))   # on [-1, 1]: 4x that on [0, 1]
    # codebook usage of this batch, per level: perplexity of stage 0 and the mean over stages
    ppl = {name: [round(v, 1) for v in qo.perplexity] for name, qo in (("top", o.top), ("bottom", o.bottom))
           if qo is not None and qo.perplexity}
    last = {"step": step, "loss": float(loss.detach()), "psnr": psnr_from_mse(mse / 4, peak=1.0), "stages": [nt, nb],
            "ppl": ppl, "lr": lr_at(step - 1, tc)}
    if run.bar is not None:
        run.bar.update(1)
        run.bar.set_postfix(loss=f"{last['loss']:.4f}", psnr=f"{last['psnr']:.2f}", st="bypass" if bypass else f"{nt}/{nb}",
                            ppl="/".join(f"{k[0]}{v[0]:.0f}" for k, v in ppl.items()))
    return last


def _validate(run: _Run, val_clips: list) -> None:
    """Every operating point on the validation clips: best.pt if better, a metrics.jsonl record."""
    tc = run.tc
    v = evaluate(run.model, val_clips)
    run.save_best(v)
    run.log_json({"kind": "val", "step": run.step, "time": run.seconds(), "points": v,
                  tc.best_metric: val_score(v, tc.best_metric), "best_step": run.best["step"]})
    if run.bar is not None:
        run.bar.write(f"step {run.step} val " + "  ".join(
            f"q{q}: {r['psnr']:.2f}dB/{r['ssim']:.3f}@{r['bpp_entropy']:.3f}bpp" for q, r in v.items()))
