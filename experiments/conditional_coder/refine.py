"""Encoder-side refinement of the conditional coders' latents (issue 20): before rounding, a few gradient
steps on the slice's own objective, sum of block SSE + lam x bits (lam: the slice's motion lambda; bits: a
Laplace proxy of the coder's static tables), through the synthesis, rounding straight through. The decoder
is unchanged (it reads symbols); only the encoder's choice of symbols moves.

    CLIPS=/work/s19/val QS=5,6,8 STEPS=10 LR=0.3 [OPT=sgd] [NOISE=1] PYTHONPATH=. \
        python experiments/conditional_coder/refine.py
(rd.py's two sides: "coder off" is the shipped encoder, "coder on" refines.) Measured in session 22 with
session 21's coders' file (README): worse in every setting tried; not taken.
"""
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rd  # noqa: E402

import vqcodec.coding.conditional_coder as CC  # noqa: E402
import vqcodec.coding.motion_search as MS  # noqa: E402

STEPS = int(os.environ.get("STEPS", "10"))
LR = float(os.environ.get("LR", "0.3"))
OPT = os.environ.get("OPT", "adam")
NOISE = bool(int(os.environ.get("NOISE", "0")))
state = {"on": False, "lam": 0.0}


def table_scales(coder, j: int) -> torch.Tensor:
    """Each channel's Laplace scale, read back from its integer counts (p(k+1)/p(k) = exp(-1/b), k >= 1)."""
    bits = coder.tables.bits[j][:, 0]            # (measured with session 21's file: one context a channel)
    L = coder.tables.limit
    r = bits[:, L + 2] - bits[:, L + 1]            # log2 p(1) / p(2) = 1 / (b ln 2)
    return torch.from_numpy(1.0 / np.maximum(r * np.log(2), 1e-3)).float()


def laplace_bits(y: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    b = b.view(1, -1, 1, 1)

    def cdf(t):
        return 0.5 + 0.5 * torch.sign(t) * (1 - torch.exp(-t.abs() / b))
    return -torch.log2((cdf(y + 0.5) - cdf(y - 0.5)).clamp_min(1e-9))


def refined_symbols(self, j, source, pred):
    y0 = ORIG(self, j, source, pred)
    if not state["on"]:
        return y0
    lim = self.tables.limit
    net = self.nets[j]
    with CC.one_thread(), torch.enable_grad():
        x, p = CC._tensor(source), CC._tensor(pred)
        with torch.no_grad():
            y_init = net.analysis(x, p)
            f1 = net.p1(p)
            f2 = net.p2(f1)
            f3 = net.p3(f2)
        b = table_scales(self, j)
        y = y_init.clone().requires_grad_(True)
        opt = torch.optim.Adam([y], LR) if OPT == "adam" else torch.optim.SGD([y], LR)
        lam = state["lam"]
        for _ in range(STEPS):
            yq = y + (torch.rand_like(y) - 0.5) if NOISE else y + (torch.round(y) - y).detach()
            h = net.s3(torch.cat([yq, f3], 1))
            h = net.s2(torch.cat([h, f2], 1))
            h = net.s1(torch.cat([h, f1], 1))
            xh = p + net.dec_lin(yq) + net.out(torch.cat([h, p], 1))
            sse = ((xh - x) * 255).pow(2).sum()
            loss = sse + lam * laplace_bits(y, b).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        out = torch.round(y.detach())[0].clamp_(-lim, lim).permute(1, 2, 0).numpy().astype(np.int32)
    return out


ORIG = CC.ConditionalCoder.symbols
CC.ConditionalCoder.symbols = refined_symbols
CHOOSE = MS.choose_conditional


def choose(coder, source, trial, first, option, out, sse, bits, lam):
    state["lam"] = lam
    return CHOOSE(coder, source, trial, first, option, out, sse, bits, lam)


MS.choose_conditional = choose

if __name__ == "__main__":
    # rd.py's two sides: "before" the encoder as shipped, "after" with refinement
    real_encode = rd.encode_frames

    def encode(x, fps, *, model, quality, conditional_coder):
        state["on"] = bool(conditional_coder)
        return real_encode(x, fps, model=model, quality=quality, conditional_coder=True)
    rd.encode_frames = encode
    rd.main()
