"""A conditional residual coder for vqv's predicted slices that starts from a working linear codec
(issue 20, session 20): does training on this CPU improve on it, and by how much?

probe.py's coders started from random weights and collapsed (every symbol rounded to zero). Here the
model at step 0 *is* a linear transform codec of the prediction's error R = X - P: an 8x8-block,
4-frame, 3-colour PCA basis of R measured on the training pairs (the enhancement layer's kind of
basis), a uniform step, a Laplace scale per coefficient fitted to the pairs. Training adds, each
through a zero-initialised last layer (so step 0 is exactly the linear codec):
- an analysis branch that sees X and P (not only their difference),
- a synthesis branch that sees the rounded coefficients and P at 1/2, 1/4 and 1/8 (DVC/DCVC's
  conditioning: where P has edges, the residual has its energy),
- the Laplace scales conditioned on P's features at 1/8 (a prior conditioned on the prediction).
Rate + lambda x MSE (255^2), noise for the rate, straight-through rounding for the synthesis, Adam;
batches of 16 random 32x32 crops of the pairs probe.py makes (``probe.py pairs``).

The measurement: each lambda's step-0 codec against its trained codec on the benchmark's 3 validation
clips, open loop (P from vqv's decoded frame before each slice, every block predicted, as probe.py
``open``), latent bits under the model's own prior (rounded symbols) and PSNR; and the same on 96
training slices.

    CC_WORK=/work/s20/cc PYTHONPATH=. python experiments/conditional_coder/probe.py pairs
    CC_WORK=/work/s20/cc LAMBDAS=0.01,0.003 SECONDS=3300 THREADS=1 PYTHONPATH=. \
        python experiments/conditional_coder/pca_start.py train
    CC_WORK=/work/s20/cc PYTHONPATH=. python experiments/conditional_coder/pca_start.py eval
    CC_WORK=/work/s20/cc PYTHONPATH=. python experiments/conditional_coder/pca_start.py pairs   # MORE -> pairs_more.npz
    (then train with PAIRS=pairs_more; RESUME=1 goes on from a checkpoint)
"""
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import probe  # noqa: E402
from probe import BT, WORK, _frames, _t  # noqa: E402

torch.set_num_threads(int(os.environ.get("THREADS", "1")))
#: The training pairs (``pairs``: session 17's 24 segments; ``pairs_more``: ``MORE``).
PAIRS = os.environ.get("PAIRS", "pairs") + ".npz"
STILLS = ["astronaut", "brick", "camera", "chelsea", "coffee", "coins", "grass", "gravel", "hubble_deep_field",
          "retina", "rocket", "text"]
#: More of the open corpus: the scikit-image stills' synthetic pans and zooms (both variants, frames 0-31
#: and 16-47), wannaworktogether between the segments probe.py takes, retroMars2018, movie.avi's second half.
MORE = (probe.TRAIN + [(f"stills/{n}_{k}.npy", s) for n in STILLS for k in (0, 1) for s in (0, 16)]
        + [("videos/openboard-common/wannaworktogether.mp4", s) for s in range(120, 2880, 240)]
        + [("videos/python3-mecavideo/retroMars2018.avi", 0), ("videos/kphotoalbum/movie.avi", 32)])
K = 64              # coefficients kept per 8x8 block of a 4-frame slice (768 numbers)
BATCH, CROP = 16, 32


def blocks_of(r: torch.Tensor) -> torch.Tensor:
    """(N, 12, H, W) -> (N * H/8 * W/8, 768) in Conv2d weight order (channel, row, column)."""
    n, c, h, w = r.shape
    return r.reshape(n, c, h // 8, 8, w // 8, 8).permute(0, 2, 4, 1, 3, 5).reshape(-1, c * 64)


def residual_basis(x_all: np.ndarray, p_all: np.ndarray, samples: int = 1500) -> torch.Tensor:
    """The top K eigenvectors of the residual blocks' second moment (no centring: R is about zero-mean
    and the codec has no bias), (K, 768)."""
    idx = np.random.default_rng(2).choice(len(x_all), min(samples, len(x_all)), replace=False)
    b = blocks_of(_t(x_all[idx]) - _t(p_all[idx])).double()
    vals, vecs = torch.linalg.eigh(b.T @ b / len(b))
    order = torch.argsort(vals, descending=True)[:K]
    print(f"residual PCA: top {K} of 768 components keep {float(vals[order].sum() / vals.sum()) * 100:.1f}% of the energy",
          flush=True)
    return vecs[:, order].T.float().contiguous()


class PcaStartCoder(nn.Module):
    def __init__(self, basis: torch.Tensor, step: float, log_scale: torch.Tensor) -> None:
        super().__init__()
        act = nn.SiLU
        self.enc_lin = nn.Conv2d(12, K, 8, 8, bias=False)
        self.dec_lin = nn.ConvTranspose2d(K, 12, 8, 8, bias=False)
        with torch.no_grad():
            self.enc_lin.weight.copy_(basis.view(K, 12, 8, 8) / step)
            self.dec_lin.weight.copy_(basis.view(K, 12, 8, 8) * step)
        self.enc_nl = nn.Sequential(nn.Conv2d(24, 64, 5, 2, 2), act(), nn.Conv2d(64, 64, 5, 2, 2), act(),
                                    nn.Conv2d(64, K, 5, 2, 2))
        self.p1 = nn.Sequential(nn.Conv2d(12, 32, 3, 2, 1), act())
        self.p2 = nn.Sequential(nn.Conv2d(32, 32, 3, 2, 1), act())
        self.p3 = nn.Sequential(nn.Conv2d(32, 32, 3, 2, 1), act())
        self.s3 = nn.Sequential(nn.Conv2d(K + 32, 64, 3, 1, 1), act(), nn.ConvTranspose2d(64, 64, 4, 2, 1), act())
        self.s2 = nn.Sequential(nn.Conv2d(64 + 32, 64, 3, 1, 1), act(), nn.ConvTranspose2d(64, 64, 4, 2, 1), act())
        self.s1 = nn.Sequential(nn.Conv2d(64 + 32, 64, 3, 1, 1), act(), nn.ConvTranspose2d(64, 32, 4, 2, 1), act())
        self.out = nn.Sequential(nn.Conv2d(32 + 12, 32, 3, 1, 1), act(), nn.Conv2d(32, 12, 3, 1, 1))
        self.scale_nl = nn.Sequential(nn.Conv2d(32, 64, 3, 1, 1), act(), nn.Conv2d(64, K, 3, 1, 1))
        self.log_scale = nn.Parameter(log_scale.clone())
        self.record: list | None = None          # evaluation: the rounded symbols of each call
        for last in (self.enc_nl[-1], self.out[-1], self.scale_nl[-1]):
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor, p: torch.Tensor, noise: bool):
        y = self.enc_lin(x - p) + self.enc_nl(torch.cat([x, p], 1))
        f1 = self.p1(p)
        f2 = self.p2(f1)
        f3 = self.p3(f2)
        b = torch.exp(self.log_scale[None, :, None, None] + self.scale_nl(f3)).clamp_min(0.05)
        if noise:
            rate = laplace_bits(y + torch.empty_like(y).uniform_(-0.5, 0.5), b)
            yq = y + (torch.round(y) - y).detach()
        else:
            yq = torch.round(y)
            rate = laplace_bits(yq, b)
            if self.record is not None:
                self.record.append(yq)
        return self.synthesis(yq, p, (f1, f2, f3)), rate

    def synthesis(self, yq: torch.Tensor, p: torch.Tensor, feats=None) -> torch.Tensor:
        """The reconstruction from rounded symbols ``yq`` and the prediction ``p`` (what a decoder runs)."""
        if feats is None:
            f1 = self.p1(p)
            f2 = self.p2(f1)
            feats = f1, f2, self.p3(f2)
        f1, f2, f3 = feats
        h = self.s3(torch.cat([yq, f3], 1))
        h = self.s2(torch.cat([h, f2], 1))
        h = self.s1(torch.cat([h, f1], 1))
        return p + self.dec_lin(yq) + self.out(torch.cat([h, p], 1))


def symbol_bits(v: torch.Tensor, b) -> torch.Tensor:
    """Bits of each symbol ``v`` under a zero-mean Laplace of scale ``b`` with integer bins."""
    def cdf(t):
        return 0.5 + 0.5 * torch.sign(t) * (1 - torch.exp(-t.abs() / b))
    return -torch.log2((cdf(v + 0.5) - cdf(v - 0.5)).clamp_min(1e-9))


def laplace_bits(v: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Bits of each slice's symbols (N, K, h, w) -> (N,)."""
    return symbol_bits(v, b).sum((1, 2, 3))


def linear_start(lam: float, x_all, p_all, basis: torch.Tensor) -> PcaStartCoder:
    """The step-0 codec: the step of least rate + lambda x MSE on 256 training slices (a grid), each
    coefficient's Laplace scale the mean of its absolute value at that step (the MLE)."""
    idx = np.random.default_rng(3).choice(len(x_all), 256, replace=False)
    x, p = _t(x_all[idx]), _t(p_all[idx])
    coef = F.conv2d(x - p, basis.view(K, 12, 8, 8), stride=8)
    best = None
    for step in np.geomspace(0.01, 4.0, 36):
        ls = torch.log((coef / step).abs().mean((0, 2, 3)).clamp_min(0.06))
        m = PcaStartCoder(basis, float(step), ls)
        with torch.no_grad():
            xh, bits = m(x, p, noise=False)
        bpp = float(bits.mean()) / (BT * 64 * 64)
        mse = float(F.mse_loss(xh, x)) * 255 ** 2
        if best is None or bpp + lam * mse < best[0]:
            best = (bpp + lam * mse, m, step, bpp, mse)
    _, m, step, bpp, mse = best
    print(f"lam {lam}: linear start step {step:.4f}: {bpp:.4f} bpp, {10 * np.log10(255 ** 2 / mse):.2f} dB", flush=True)
    return m


def train(lam: float, seconds: float) -> None:
    z = np.load(WORK / PAIRS)
    x_all, p_all = z["x"], z["p"]
    torch.manual_seed(0)
    trained = WORK / f"pca_{lam:g}_trained.pt"
    if os.environ.get("RESUME") and trained.exists():      # a later run goes on from the last checkpoint
        model, step0 = load(trained)
        model.train()
        print(f"lam {lam}: resumed at step {step0}", flush=True)
    else:
        model, step0 = linear_start(lam, x_all, p_all, residual_basis(x_all, p_all)), 0
        torch.save({"state": model.state_dict(), "steps": 0, "lam": lam}, WORK / f"pca_{lam:g}_start.pt")
    rng = np.random.default_rng(step0)
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    t0, step, run = time.time(), step0, []
    while time.time() - t0 < seconds:
        idx = rng.integers(0, len(x_all), BATCH)
        y0, x0 = rng.integers(0, (64 - CROP) // 8 + 1, 2) * 8
        x = _t(x_all[idx, :, y0:y0 + CROP, x0:x0 + CROP])
        p = _t(p_all[idx, :, y0:y0 + CROP, x0:x0 + CROP])
        if rng.random() < 0.5:
            x, p = x.flip(-1), p.flip(-1)
        xh, bits = model(x, p, noise=True)
        mse = F.mse_loss(xh, x) * 255 ** 2
        bpp = bits.mean() / (BT * CROP * CROP)
        loss = bpp + lam * mse
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        run.append((float(bpp.detach()), float(mse.detach())))
        if step % 500 == 0:
            b, m = np.mean(run, 0)
            run = []
            print(f"lam {lam} step {step} {time.time() - t0:.0f}s bpp {b:.4f} psnr {10 * np.log10(255 ** 2 / m):.2f}"
                  f" loss {b + lam * m:.4f}", flush=True)
        if step % 5000 == 0 or time.time() - t0 >= seconds:
            torch.save({"state": model.state_dict(), "steps": step, "lam": lam}, trained)
        if time.time() - t0 > 0.8 * seconds and opt.param_groups[0]["lr"] > 3e-5:
            opt.param_groups[0]["lr"] = 3e-5
    torch.save({"state": model.state_dict(), "steps": step, "lam": lam}, trained)
    print(f"saved lam {lam} after {step} steps", flush=True)


def static_scales(symbols: torch.Tensor) -> torch.Tensor:
    """Per channel, the Laplace scale of least bits for ``symbols`` (N, K, h, w) (a grid): the prior a
    decoder could use without P (P's pixels may differ by a level between machines, a prior read from
    them would desynchronise the entropy decoder)."""
    grid = torch.exp(torch.linspace(np.log(0.05), np.log(50.0), 120))
    v = symbols.transpose(0, 1).reshape(K, -1)
    bits = torch.stack([symbol_bits(v, g).sum(1) for g in grid])
    return grid[bits.argmin(0)]


@torch.no_grad()
def static_prior(cc: PcaStartCoder, pairs) -> torch.Tensor:
    """``cc``'s static scales (1, K, 1, 1), fitted on 400 of the training ``pairs`` (an npz's x and p)."""
    fit = np.random.default_rng(4).choice(len(pairs["x"]), 400, replace=False)
    cc.record = []
    cc(_t(pairs["x"][fit]), _t(pairs["p"][fit]), noise=False)
    scales = static_scales(cc.record[0])[None, :, None, None]
    cc.record = None
    return scales


def load(path: Path) -> tuple[PcaStartCoder, int]:
    """A checkpoint's coder (in eval mode) and its training steps."""
    ck = torch.load(path, weights_only=True)
    m = PcaStartCoder(torch.zeros(K, 768), 1.0, torch.zeros(K))
    m.load_state_dict(ck["state"])
    return m.eval(), ck["steps"]


@torch.no_grad()
def evaluate() -> None:
    """Every checkpoint on 96 training slices and, open loop, on the validation clips at Q4 and Q6."""
    from vqcodec.coding.decoder import decode_bytes
    from vqcodec.coding.encoder import encode_frames
    from vqcodec.metrics import psnr
    from vqcodec.weights import load_model
    z = np.load(WORK / "pairs.npz")
    idx = np.random.default_rng(1).choice(len(z["x"]), 96, replace=False)
    xt, pt = _t(z["x"][idx]), _t(z["p"][idx])
    m = load_model()
    clips, files = [], {}
    for name, x in probe.validation_clips():
        for q in (4, 6):
            files[name, q] = encode_frames(x, 16, model=m, quality=q), encode_frames(x[:BT], 16, model=m, quality=q)
            clips.append((name, x, q, decode_bytes(files[name, q][0], model=m)))
    for name, x, q, y in clips:
        pred, _, vb = probe.coded_slices(None, x, y, open_loop=True)
        n = x[BT:][..., 0].size
        full, head = files[name, q]
        print(f"{name} Q{q}: vqv slices 1-7 {(len(full) - len(head)) * 8 / n:.4f} bpp {psnr(y[BT:], x[BT:]):.2f} dB;"
              f" P alone {psnr(pred[BT:], x[BT:]):.2f} dB (vectors for every block {vb / n:.4f} bpp)", flush=True)
    for path in sorted(WORK.glob("pca_*.pt")):
        cc, steps = load(path)
        b_static = static_prior(cc, z)
        xh, bits = cc(xt, pt, noise=False)
        flat = [_frames(a).reshape(-1, 64, 64, 3) for a in (pt, xh, xt)]
        line = [f"{path.stem} ({steps} steps): training slices"
                f" {float(bits.mean()) / (BT * 64 * 64):.4f} bpp {psnr(flat[1], flat[2]):.2f} dB"
                f" (P {psnr(flat[0], flat[2]):.2f})"]
        tot_bits = tot_static = tot_px = 0
        for name, x, q, y in clips:
            cc.record = []
            coded, lb, _ = probe.coded_slices(cc, x, y, open_loop=True)
            static = sum(float(laplace_bits(yq, b_static).sum()) for yq in cc.record)
            cc.record = None
            n = x[BT:][..., 0].size
            tot_bits, tot_static, tot_px = tot_bits + lb, tot_static + static, tot_px + n
            line.append(f"{name} Q{q} +{lb / n:.4f} bpp (static prior {static / n:.4f}) {psnr(coded[BT:], x[BT:]):.2f} dB")
        print("; ".join(line) + f"; validation latent mean {tot_bits / tot_px:.4f} bpp"
              f" (static prior {tot_static / tot_px:.4f})", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "pairs":
        probe.make_pairs(MORE, "pairs_more.npz")
    elif sys.argv[1] == "train":
        for lam in [float(v) for v in os.environ.get("LAMBDAS", "0.01").split(",")]:
            train(lam, float(os.environ.get("SECONDS", "600")))
    else:
        evaluate()
