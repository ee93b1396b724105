"""Probe (issue 24): a light synthesis in place of the shipped decoder's deep path.

The shipped decoder is the linear path's per-block read-back of the bottom latent plus a deep path of ~42k
multiply-adds per pixel; at Q2-Q12 the deep path adds only 0.00-0.16 dB (ladder_contrib.py). This trains a much
smaller deep path (everything else frozen: the codes keep their meaning) against the training crops, under the
network's own loss (MSE + 0.05 (1 - SSIM)), and compares network-only PSNR with the shipped decoder's.

  PHASE=cache N=4000 python experiments/light_synthesis/train_light.py      # latents of training crops
  PHASE=train CH=64,32,16 BLOCKS=1,1,1 STEPS=3000 LOSS=log python experiments/light_synthesis/train_light.py VAL.npy ...
"""
import json, os, random, sys, time
import numpy as np, torch, torch.nn as nn
from vqcodec import load_model
from vqcodec.metrics import psnr
from vqcodec.net.model import Up, _conv, _stage, bytes_to_unit, depth_to_space, uint8_to_input, unit_to_bytes
from vqcodec.train.data import ClipSpec, build_dataset
from vqcodec.train.loop import random_crop
from vqcodec.train.losses import SSIMLoss

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
OUT = os.environ.get("OUT", "/work/s38/light"); os.makedirs(OUT, exist_ok=True)
LOSS = os.environ.get("LOSS", "log")
m = load_model(); net = m.net.eval()
for p in net.parameters():
    p.requires_grad_(False)
SCALAR_STEPS = [1.5, 1.2002, 0.950195, 0.75, 0.580078]
EVAL_POINTS = [("Q1", (2, 0, None)), ("Q3", (4, 2, None)), ("Q4", (4, 3, None)), ("Q6", (4, 6, None)),
               ("Q9b", (4, 0, 0.950195)), ("Q12b", (4, 0, 0.580078))]


def latents(x, nt, nb, step):
    """x float (B, 3, T, H, W) in [-1, 1] -> (u_t, q_b) at that point (no gradients)."""
    with torch.no_grad():
        pixel_term = net._pixel_term(x)
        h_b = net.enc_bottom(x)
        q_t = net.top_quantizer(net.enc_top(h_b), nt).quantized
        u_t = net.dec_top(q_t)
        z_b = net._bottom_latent(pixel_term, [h_b, u_t])
        if step is not None:
            q_b = torch.round(z_b / step) * step
        elif nb == 0:
            q_b = torch.zeros_like(z_b)
        else:
            q_b = net.bottom_quantizer(z_b, nb).quantized
    return u_t, q_b


def sample_point(rng):
    r = rng.random()
    if r < 0.15:
        return rng.randint(1, 4), 0, None
    if r < 0.55:
        return 4, 0, rng.choice(SCALAR_STEPS)
    return 4, rng.choice([1, 2, 3, 4, 5, 6]), None


class LightSynthesis(nn.Module):
    """The deep path, small: a 1x1x1 conv to ch[0], then per up-sampling stage residual blocks and a sub-pixel
    up-sampling, as the shipped decoder is built (its blocks), with fewer channels and blocks."""

    def __init__(self, cin, ch, blocks, strides, conv="2+1d"):
        super().__init__()
        layers = [_conv(cin, ch[0], (1, 1, 1))]
        for i, (s, nb) in enumerate(zip(strides, blocks)):
            cout = ch[i + 1] if i + 1 < len(ch) else 3
            layers += [_stage(ch[i], nb, conv), nn.SiLU(), Up(ch[i], cout, s)]
        self.body = nn.Sequential(*layers)
        last = self.body[-1].conv
        nn.init.zeros_(last.weight); nn.init.zeros_(last.bias)

    def forward(self, z):
        return self.body(z)


def light_out(light, u_t, q_b):
    y = light(torch.cat([u_t, q_b], 1))
    return y + depth_to_space(net.lin_dec(q_b), net.cfg.bottom_factor)


def fit(light, steps, lr0, warmup, seed, batch_loss, evaluate, ev, save):
    """AdamW over ``steps`` (``warmup`` linear, then cosine), ``batch_loss(gen)`` a batch's loss; evaluates every ``ev``
    steps and at the end, then ``save(step)``."""
    opt = torch.optim.AdamW(light.parameters(), lr=lr0, betas=(0.9, 0.99), weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    evaluate(0); t0 = time.time(); losses = []
    for step in range(1, steps + 1):
        for g in opt.param_groups:
            g["lr"] = lr0 * min(1.0, step / warmup) * 0.5 * (1 + np.cos(np.pi * step / steps))
        loss = batch_loss(gen)
        opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(light.parameters(), 1.0); opt.step()
        losses.append(float(loss.detach()))
        if step % 100 == 0:
            print(json.dumps({"step": step, "loss": round(float(np.mean(losses[-100:])), 5), "s": round(time.time() - t0)}), flush=True)
        if step % ev == 0 or step == steps:
            evaluate(step)
            save(step)


def cache_phase():
    n = int(os.environ.get("N", "4000"))
    spec = ClipSpec(frames=32, size=64)
    ds = build_dataset("corpus:/work/data/corpus", "train", spec, "/work/data/cache", train=True,
                       samples_per_epoch=100000, seed=7, progress=False)
    loader = torch.utils.data.DataLoader(ds, batch_size=8, shuffle=True, drop_last=True)
    gen = torch.Generator().manual_seed(0); rng = random.Random(0)
    xs, us, qs = [], [], []
    t0 = time.time()
    for batch in loader:
        x = random_crop(uint8_to_input(batch), 16, 64, gen)
        nt, nb, s = sample_point(rng)
        u, q = latents(x, nt, nb, s)
        xs.append(unit_to_bytes(x)); us.append(u.half()); qs.append(q.half())
        if len(xs) * 8 >= n:
            break
        if len(xs) % 50 == 0:
            print(len(xs) * 8, round(time.time() - t0), flush=True)
    torch.save({"x": torch.cat(xs), "u": torch.cat(us), "q": torch.cat(qs)}, f"{OUT}/cache.pt")
    print("cached", sum(len(a) for a in xs), round(time.time() - t0), "s")


def train_phase():
    ch = [int(c) for c in os.environ.get("CH", "64,32,16").split(",")]
    blocks = [int(c) for c in os.environ.get("BLOCKS", "1,1,1").split(",")]
    steps, ev, lr0 = int(os.environ.get("STEPS", "3000")), int(os.environ.get("EVAL", "500")), float(os.environ.get("LR", "2e-3"))
    bs = int(os.environ.get("BATCH", "16"))
    tag = os.environ.get("TAG", "c" + "-".join(map(str, ch)) + "_b" + "-".join(map(str, blocks)))
    strides = list(reversed(net.cfg.bottom_strides))
    light = LightSynthesis(net.decoder[0].in_channels, ch, blocks, strides)
    print(tag, "parameters", sum(p.numel() for p in light.parameters()), flush=True)
    data = torch.load(f"{OUT}/cache.pt")
    X, U, Q = data["x"], data["u"], data["q"]
    clips = {os.path.basename(p).split(".")[0][:20]: np.load(p)[:32] for p in sys.argv[1:]}
    evals = {}
    for name, fr in clips.items():
        x = bytes_to_unit(torch.from_numpy(fr).permute(3, 0, 1, 2)[None])
        for label, (nt, nb, s) in EVAL_POINTS:
            u, q = latents(x, nt, nb, s)
            with torch.no_grad():
                full = unit_to_bytes(net._decode_latents(u, q))[0].permute(1, 2, 3, 0).numpy()
                lin = unit_to_bytes(depth_to_space(net.lin_dec(q), net.cfg.bottom_factor))[0].permute(1, 2, 3, 0).numpy()
            evals[(name, label)] = (fr, u, q, psnr(fr, full), psnr(fr, lin))

    def evaluate(step):
        light.eval(); rec = {}
        with torch.no_grad():
            for (name, label), (fr, u, q, pf, pl) in evals.items():
                y = unit_to_bytes(light_out(light, u, q))[0].permute(1, 2, 3, 0).numpy()
                rec.setdefault(label, []).append((psnr(fr, y) - pf, pl - pf))
        light.train()
        out = {k: [round(float(np.mean([a for a, _ in v])), 3), round(float(np.mean([b for _, b in v])), 3)] for k, v in rec.items()}
        print(json.dumps({"step": step, "light_vs_full_dB|linear_vs_full_dB": out}), flush=True)
        return out

    ssim_loss = SSIMLoss()

    def batch_loss(gen):
        idx = torch.randint(0, len(X), (bs,), generator=gen)
        x = bytes_to_unit(X[idx]); y = light_out(light, U[idx].float(), Q[idx].float())
        if LOSS == "log":     # each crop's log MSE: a dB at a high point weighs what a dB at a low point does
            return torch.log((y - x).pow(2).mean(dim=(1, 2, 3, 4)) + 1e-6).mean()
        return torch.mean((y - x) ** 2) + 0.05 * ssim_loss(y, x)   # the network's own loss: the low points rule it

    fit(light, steps, lr0, 100, 1, batch_loss, evaluate, ev,
        lambda step: torch.save({"ch": ch, "blocks": blocks, "steps": step, "loss": LOSS, "state": light.state_dict()},
                                f"{OUT}/{tag}.pt"))


def _codec_set(paths):
    """codec_latents.py's files -> uint8 clips, the stacked latents' parts (u_t, q_b) and the network's pixels mask
    (False where a block is predicted: its pixels are the prediction's)."""
    parts = [torch.load(p, weights_only=True) for p in paths]
    x = torch.cat([d["x"] for d in parts]); top = torch.cat([d["top"] for d in parts]).float()
    q = torch.cat([d["bottom"] for d in parts]).float(); flags = torch.cat([d["flags"] for d in parts])
    with torch.no_grad():
        u = torch.cat([net.dec_top(top[i:i + 64]) for i in range(0, len(top), 64)])
    bf = net.cfg.bottom_factor
    mask = ~flags.repeat_interleave(bf[0], 1).repeat_interleave(bf[1], 2).repeat_interleave(bf[2], 3)
    return x.permute(0, 4, 1, 2, 3).contiguous(), u, q, mask[:, None]


def train_codec_phase():
    """Fine-tune a light synthesis (INIT) on codec latents (DATA: codec_latents.py files), each clip's loss the log
    MSE over the pixels the network shows; evaluated on EVAL_DATA (codec_latents.py files of validation clips) against
    the decoder, masked the same way."""
    init = torch.load(os.environ["INIT"], weights_only=True)
    strides = list(reversed(net.cfg.bottom_strides))
    light = LightSynthesis(net.decoder[0].in_channels, init["ch"], init["blocks"], strides)
    light.load_state_dict(init["state"])
    steps, ev, lr0, bs = int(os.environ.get("STEPS", "1500")), int(os.environ.get("EVAL", "250")), \
        float(os.environ.get("LR", "1e-3")), int(os.environ.get("BATCH", "8"))
    X, U, Q, M = _codec_set(os.environ["DATA"].split(","))
    EX, EU, EQ, EM = _codec_set(os.environ["EVAL_DATA"].split(","))
    with torch.no_grad():
        full = torch.cat([unit_to_bytes(net._decode_latents(EU[i:i + 8], EQ[i:i + 8])) for i in range(0, len(EU), 8)])

    def masked_psnr(y, x, m):
        m = m.expand_as(x)
        return float(10 * torch.log10(255.0 ** 2 / ((y.float() - x.float()) ** 2)[m].mean()))

    def evaluate(step):
        light.eval()
        with torch.no_grad():
            y = torch.cat([unit_to_bytes(light_out(light, EU[i:i + 8], EQ[i:i + 8])) for i in range(0, len(EU), 8)])
        light.train()
        print(json.dumps({"step": step, "light_dB": round(masked_psnr(y, EX, EM), 3),
                          "decoder_dB": round(masked_psnr(full, EX, EM), 3)}), flush=True)

    tag = os.environ.get("TAG", "codec")

    def batch_loss(gen):
        idx = torch.randint(0, len(X), (bs,), generator=gen)
        x, m = bytes_to_unit(X[idx]), M[idx].float()
        y = light_out(light, U[idx], Q[idx])
        se = ((y - x) ** 2 * m).sum(dim=(1, 2, 3, 4)) / (3 * m.sum(dim=(1, 2, 3, 4)) + 1)
        return torch.log(se + 1e-6).mean()

    fit(light, steps, lr0, 50, 2, batch_loss, evaluate, ev,
        lambda step: torch.save({"ch": init["ch"], "blocks": init["blocks"], "steps": init.get("steps", 0) + step,
                                 "loss": "log", "data": "codec latents", "state": light.state_dict()}, f"{OUT}/{tag}.pt"))


if __name__ == "__main__":
    {"cache": cache_phase, "train_codec": train_codec_phase}.get(os.environ.get("PHASE"), train_phase)()
