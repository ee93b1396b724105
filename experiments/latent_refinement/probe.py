"""Probe: encoder-side refinement of the bottom latent by gradient descent through the (fixed) decoder.

For a scalar point (top VQ codes as the encoder picks them, bottom latent scalar-quantised at a step), the
analysis network's latent z is replaced by one optimised for the decoded pixels: Adam on
||decode(u_t, q(z)) - x||^2 (+ lam_rate x a rate proxy), q = rounding to the step with a straight-through
gradient. Prints, per clip and step, PSNR and the scalar tables' estimated bits before and after."""
import json, os, sys, time
import numpy as np, torch
from vqcodec import load_model
from vqcodec.metrics import psnr
from vqcodec.net.model import bytes_to_unit, unit_to_bytes

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
m = load_model(); net = m.net.eval(); L = m.ladder
iters = int(os.environ.get("ITERS", "30")); lr = float(os.environ.get("LR", "0.05"))
steps = [float(s) for s in os.environ.get("STEPS", "0.950195,0.580078").split(",")]
lam_rate = float(os.environ.get("LAM_RATE", "0"))
hard_train = os.environ.get("HARD", "1") == "1"


def bits(tables, sym):            # sym (C, T, H, W) int: the scalar tables' estimate, slice by slice, no copies
    total, prev = 0.0, None
    for t in range(sym.shape[1]):
        total += float(tables.symbol_bits(prev, sym[:, t]).sum()); prev = sym[:, t]
    return total


for path in sys.argv[1:]:
    fr = np.load(path)[:32]
    x = bytes_to_unit(torch.from_numpy(fr).permute(3, 0, 1, 2)[None])
    with torch.no_grad():
        pixel_term, h_b, z_t = net.analyse(fr[None])
        top = net.top_quantizer(z_t, 4)
        u_t = net.dec_top(top.quantized)
        z0 = net._bottom_latent(pixel_term, [h_b, u_t])
    for step in steps:
        num = round(step * 1024); tables = L.tables[num]
        def dec(z, hard=True):
            q = z + (torch.round(z / step) * step - z).detach() if hard else z
            return net._decode_latent_tile(torch.cat([u_t, q], 1))
        with torch.no_grad():
            y0 = dec(z0)
        s0 = torch.round(z0 / step)[0].numpy().astype(np.int64)
        p0 = float(psnr(fr, unit_to_bytes(y0)[0].permute(1, 2, 3, 0).numpy())); b0 = bits(tables, s0)
        z = z0.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr * step)
        t0 = time.time(); hist = []
        for i in range(iters):
            opt.zero_grad()
            y = dec(z, hard_train)
            loss = torch.mean((y - x) ** 2)
            if lam_rate:
                loss = loss + lam_rate * torch.mean(torch.abs(z / step))     # a Laplace rate proxy
            loss.backward(); opt.step()
            if i % 10 == 9 or i == iters - 1:
                with torch.no_grad():
                    s = torch.round(z / step)[0].numpy().astype(np.int64)
                    yy = dec(z)
                    yc = dec(z, False)
                hist.append((i + 1, round(float(psnr(fr, unit_to_bytes(yc)[0].permute(1, 2, 3, 0).numpy())), 3), round(float(psnr(fr, unit_to_bytes(yy)[0].permute(1, 2, 3, 0).numpy())), 3),
                             round(bits(tables, np.clip(s, -tables.limit, tables.limit)) / 8)))
        with torch.no_grad():
            cont0 = float(psnr(fr, unit_to_bytes(dec(z0, False))[0].permute(1, 2, 3, 0).numpy()))
        print(json.dumps({"clip": os.path.basename(path), "step": step, "before": [round(p0, 3), round(b0 / 8)],
                          "continuous_before": round(cont0, 3), "after": hist, "s": round(time.time() - t0, 1)}), flush=True)
