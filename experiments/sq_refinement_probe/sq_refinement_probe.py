"""Would a scalar-quantised refinement of the bottom latent beat more residual VQ stages at high rate?

    python -m experiments.sq_refinement_probe.sq_refinement_probe vqcodec/weights/vqv-cpu-hq.pt --data corpus:data/corpus \\
        --cache-dir data/cache --train-clips 1000 --stages 0,4,8 --steps 0.1,0.2,0.3,0.5,0.7,1.0,1.5,2.0,2.5 \\
        --out experiments/sq_refinement_probe/result.json

(From the repository root, as a module: it imports ``experiments.rvq_diagnostics``.)

After k bottom RVQ stages, the residual of the bottom latent is quantised by a uniform scalar quantiser of
step ``delta`` (what a hyperprior codec does to its whole latent) and the decoder is fed the result.
Rates are ideal code lengths under *static* histograms fitted on training clips (per stage for the VQ
indices, per channel for the scalar symbols), the same kind of prior for both, so the two ladders compare
fairly with each other; the shipped codec's learned prior and RDO do better than these static numbers on
both. No context model: the scalar symbols are coded as if independent, which is what a plain factorised
prior would give. ``coded_bpp`` / ``coded_psnr`` add one step of context (each symbol given the one at
the same place in the slice before) and code for real: ``vqcodec.entropy.scalar_prior``'s integer tables (fitted
on the training symbols) and its rANS payloads, one per clip, with symbols past the training range
clipped (so the PSNR may differ slightly). PSNR is on the validation clips (centre 32x64x64 crops),
frames as one long clip.
"""
from __future__ import annotations

import argparse
import json
from types import SimpleNamespace

import numpy as np
import torch

from vqcodec import metrics
from vqcodec.train.data import ClipSpec, build_dataset
from vqcodec.net.model import MSVQVAE, to_uint8, uint8_to_input
from vqcodec.entropy.scalar_prior import STEP_DEN, ScalarTables, encode_symbols, quantise


def load_clips(data: str, split: str, net: MSVQVAE, cache: str, n: int | None) -> torch.Tensor:
    ds = build_dataset(data, split, ClipSpec(net.cfg.clip_frames, net.cfg.clip_size, 16.0), cache,
                       train=False, progress=False)
    idx = range(len(ds)) if n is None or n >= len(ds) else np.linspace(0, len(ds) - 1, n).astype(int)
    return uint8_to_input(torch.stack([ds[int(i)] for i in idx]))


@torch.no_grad()
def latents(net: MSVQVAE, x: torch.Tensor, top_stages: int):
    """(top indices, bottom latent z_b given those codes, the top level's decoded features)."""
    pt, h_b = net._pixel_term(x), net.enc_bottom(x)
    ti = net.top_quantizer(net.enc_top(h_b), top_stages).indices
    return ti, net.bottom_latent(pt, h_b, ti), net.dec_top(net.top_quantizer.decode(ti))


def load_probe(model: str, data: str, cache_dir: str, train_clips: int, top_stages: int) -> SimpleNamespace:
    """What both probes start from: the network, validation and training clips (float, [-1, 1]),
    their top codes, bottom latents and decoded top features (``ti_v, zv, uv`` / ``ti_t, zt, ut``),
    the validation pixel count and the top codes' bits under static histograms of the training codes."""
    from experiments.rvq_diagnostics.rvq_diagnostics import load_net  # noqa: PLC0415
    net = load_net(model)
    xv = load_clips(data, "val", net, cache_dir, None)
    xt = load_clips(data, "train", net, cache_dir, train_clips)
    ti_v, zv, uv = latents(net, xv, top_stages)
    ti_t, zt, ut = latents(net, xt, top_stages)
    top_bits = sum(code_length(ti_t[:, s].flatten().numpy(), ti_v[:, s].flatten().numpy())
                   for s in range(ti_v.shape[1]))
    return SimpleNamespace(net=net, xv=xv, xt=xt, ti_v=ti_v, zv=zv, uv=uv, ti_t=ti_t, zt=zt, ut=ut,
                           pixels=xv.shape[0] * xv.shape[2] * xv.shape[3] * xv.shape[4], top_bits=top_bits)


def residual_vq(net: MSVQVAE, z: torch.Tensor, k: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The first k bottom stages' reconstruction of z (N, C, T, H, W) and their indices."""
    flat = z.permute(0, 2, 3, 4, 1).reshape(-1, z.shape[1])
    r, q, idx = flat.clone(), torch.zeros_like(flat), []
    for layer in net.bottom_quantizer.layers[:k]:
        i = layer.nearest(r)
        c = layer.lookup(i)
        q, r, idx = q + c, r - c, idx + [i]
    return q.reshape(z.shape[0], *z.shape[2:], z.shape[1]).permute(0, 4, 1, 2, 3), idx


def code_length(fit: np.ndarray, coded: np.ndarray) -> float:
    """Bits to code ``coded`` with a static histogram of ``fit`` (add-half smoothing over the joint range)."""
    lo, hi = min(fit.min(), coded.min()), max(fit.max(), coded.max())
    p = np.bincount(fit - lo, minlength=hi - lo + 1).astype(np.float64) + 0.5
    return float(-np.log2(p / p.sum())[coded - lo].sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="a shipped weights file or a training checkpoint")
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache-dir", required=True)
    ap.add_argument("--train-clips", type=int, default=48, help="training clips the histograms are fitted on")
    ap.add_argument("--top-stages", type=int, default=4)
    ap.add_argument("--stages", default="0,4,8,12", help="bottom RVQ stages before the scalar refinement")
    ap.add_argument("--steps", default="0.3,0.5,0.7,1.0,1.5,2.5", help="scalar quantiser steps (latent units)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="also write the report as JSON")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    p = load_probe(a.model, a.data, a.cache_dir, a.train_clips, a.top_stages)
    net, xv, xt, zv, uv, zt, pixels, top_bits = p.net, p.xv, p.xt, p.zv, p.uv, p.zt, p.pixels, p.top_bits

    @torch.no_grad()
    def psnr(z_b: torch.Tensor) -> float:
        y = net._decode_latent_tile(torch.cat([uv, z_b], 1))
        return metrics.psnr(to_uint8(xv).reshape(-1, *xv.shape[-2:], 3), to_uint8(y).reshape(-1, *xv.shape[-2:], 3))

    report = {"model": a.model, "top_stages": a.top_stages, "val_clips": int(xv.shape[0]),
              "train_clips": int(xt.shape[0]), "ceiling_psnr": round(psnr(zv), 3), "rvq": [], "refined": []}
    n_stages = len(net.bottom_quantizer.layers)
    ks = sorted({int(k) for k in a.stages.split(",")})
    rvq_bits, (_, iv), (_, it) = 0.0, residual_vq(net, zv, n_stages), residual_vq(net, zt, n_stages)
    for k in range(n_stages + 1):          # the plain ladder under the same static prior
        if k:
            rvq_bits += code_length(it[k - 1].numpy(), iv[k - 1].numpy())
        if k in ks or k == n_stages or k % 2 == 0:
            qk, _ = residual_vq(net, zv, k)
            report["rvq"].append({"bottom_stages": k, "bpp": round((top_bits + rvq_bits) / pixels, 4),
                                  "psnr": round(psnr(qk), 3)})
            print(json.dumps(report["rvq"][-1]), flush=True)
    for k in ks:
        qk_v, _ = residual_vq(net, zv, k)
        qk_t, _ = residual_vq(net, zt, k)
        base = next(r["bpp"] for r in report["rvq"] if r["bottom_stages"] == k) * pixels
        for d in (float(s) for s in a.steps.split(",")):
            sv, st = torch.round((zv - qk_v) / d).long(), torch.round((zt - qk_t) / d).long()
            sq_bits = sum(code_length(st[:, c].flatten().numpy(), sv[:, c].flatten().numpy())
                          for c in range(zv.shape[1]))
            # the real thing: vqcodec.entropy.scalar_prior's integer tables and rANS payloads, one per clip (GOP);
            # symbols past the training range are clipped, as the encoder would
            step_num = round(d * STEP_DEN)
            limit = max(int(st.abs().max()), 1)
            tabs = ScalarTables.fit([g.numpy() for g in st], step_num, limit)
            sym = [quantise((zv - qk_v)[i].numpy(), step_num, limit) for i in range(zv.shape[0])]
            payload_bits = 8 * sum(len(encode_symbols(tabs, g)) for g in sym)
            coded_psnr = psnr(qk_v + torch.from_numpy(np.stack(sym)).float() * (step_num / STEP_DEN))
            report["refined"].append({"bottom_stages": k, "step": d, "bpp": round((base + sq_bits) / pixels, 4),
                                      "scalar_bpp": round(sq_bits / pixels, 4),
                                      "coded_bpp": round((base + payload_bits) / pixels, 4),
                                      "coded_psnr": round(coded_psnr, 3), "limit": limit,
                                      "tables_bytes": len(tabs.to_bytes()),
                                      "psnr": round(psnr(qk_v + sv.float() * d), 3)})
            print(json.dumps(report["refined"][-1]), flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
