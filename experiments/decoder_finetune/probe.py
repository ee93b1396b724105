"""Probe: train the shipped network's decoder alone (encoder, codebooks, top decoder and linear path fixed, so
every code keeps its meaning and every file its bytes) and watch the decoded PSNR at fixed codes.

Each step: a batch of training crops, encoded without gradients at a random operating point (VQ stages as the
trainer samples them, or a scalar point's step), then the decoder's output against the crop (MSE + 0.05 (1 - SSIM),
as the network was trained). Every EVAL steps, the network-only PSNR (no motion layer, no copies) of the benchmark's
validation clips and training clips at Q1, Q4, Q6 and the scalar bases of Q9 and Q12."""
import json, os, random, sys, time
import numpy as np, torch
from vqcodec import load_model
from vqcodec.metrics import psnr
from vqcodec.net.model import bytes_to_unit, unit_to_bytes, uint8_to_input
from vqcodec.train.data import ClipSpec, build_dataset
from vqcodec.train.loop import random_crop, sample_stages
from vqcodec.train.losses import SSIMLoss

torch.set_num_threads(int(os.environ.get("THREADS", "1")))
STEPS = int(os.environ.get("STEPS", "300")); EVAL = int(os.environ.get("EVAL", "100"))
LR = float(os.environ.get("LR", "5e-5")); OUT = os.environ.get("OUT", "/work/s34/dec_ft")
os.makedirs(OUT, exist_ok=True)
m = load_model(); net = m.net
for p in net.parameters():
    p.requires_grad_(False)
for p in net.decoder.parameters():
    p.requires_grad_(True)
SCALAR_STEPS = [1.5, 1.2002, 0.950195, 0.75, 0.580078]
EVAL_POINTS = [("Q1", (2, 0, None)), ("Q4", (4, 3, None)), ("Q6", (4, 6, None)),
               ("Q9b", (4, 0, 0.950195)), ("Q12b", (4, 0, 0.580078))]


def decoded(x, nt, nb, step):
    """x float (B, 3, T, H, W) in [-1, 1] -> the decoder's output at that point (grad through the decoder only)."""
    with torch.no_grad():
        pixel_term = net._pixel_term(x)
        h_b = net.enc_bottom(x)
        z_t = net.enc_top(h_b)
        q_t = net.top_quantizer(z_t, nt).quantized
        u_t = net.dec_top(q_t)
        z_b = net._bottom_latent(pixel_term, [h_b, u_t])
        if step is not None:
            q_b = torch.round(z_b / step) * step
        elif nb == 0:
            q_b = torch.zeros_like(z_b)
        else:
            q_b = net.bottom_quantizer(z_b, nb).quantized
    return net._decode_latents(u_t, q_b)


clips = {os.path.basename(p).split(".")[0]: np.load(p)[:32] for p in sys.argv[1:]}


def evaluate(step):
    net.eval()
    rec = {"step": step}
    with torch.no_grad():
        for name, fr in clips.items():
            x = bytes_to_unit(torch.from_numpy(fr).permute(3, 0, 1, 2)[None])
            rec[name] = [round(float(psnr(fr, unit_to_bytes(decoded(x, nt, nb, s))[0].permute(1, 2, 3, 0).numpy())), 3)
                         for _, (nt, nb, s) in EVAL_POINTS]
    print(json.dumps(rec), flush=True)
    return rec


spec = ClipSpec(frames=32, size=64)
ds = build_dataset("corpus:/work/data/corpus", "train", spec, "/work/data/cache", train=True, samples_per_epoch=100000,
                   seed=1, progress=False)
loader = torch.utils.data.DataLoader(ds, batch_size=8, shuffle=True, drop_last=True)
opt = torch.optim.AdamW(net.decoder.parameters(), lr=LR, betas=(0.9, 0.99), weight_decay=0.0)
gen = torch.Generator().manual_seed(0)
ssim_loss = SSIMLoss()
net.eval()                          # throughout: the quantisers must not update their codebooks (EMA)
evaluate(0)
t0 = time.time(); step = 0; losses = []
while step < STEPS:
    for batch in loader:
        x = random_crop(uint8_to_input(batch), 16, 64, gen)
        rng = random.Random(1000 + step)
        if rng.random() < 0.4:
            nt, nb, s = 4, 0, rng.choice(SCALAR_STEPS)
        else:
            (nt, nb), s = sample_stages(m.cfg, rng), None
        lr = LR * min(1.0, (step + 1) / 20)
        for g in opt.param_groups:
            g["lr"] = lr
        y = decoded(x, nt, nb, s)
        loss = torch.mean((y - x) ** 2) + 0.05 * ssim_loss(y, x)
        opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(net.decoder.parameters(), 1.0); opt.step()
        losses.append(float(loss.detach())); step += 1
        if step % 20 == 0:
            print(json.dumps({"step": step, "loss": round(float(np.mean(losses[-20:])), 5), "s": round(time.time() - t0)}), flush=True)
        if step % EVAL == 0:
            evaluate(step)
            torch.save({k: v for k, v in net.decoder.state_dict().items()}, f"{OUT}/decoder.pt")
        if step >= STEPS:
            break
