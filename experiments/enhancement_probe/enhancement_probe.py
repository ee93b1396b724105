"""Would a linear enhancement layer on the decoded pixels carry the top of the ladder past the network's ceiling?

    python -m experiments.enhancement_probe.enhancement_probe vqcodec/weights/vqv-cpu-hq.pt --data corpus:data/corpus \\
        --cache-dir data/cache --base-steps 0.42,0.58,0.75,0.95 --enh-steps 56,64,80,96,128 \\
        --rounding 0.5,0.3,0.2 --channels 128 --out experiments/enhancement_probe/result.json

(From the repository root, as a module: it shares :func:`~experiments.sq_refinement_probe.sq_refinement_probe.load_probe`.)

The shipped network's unquantised ceiling is ~30.1 dB on the validation clips, so no bottom latent it
decodes reaches 30 dB at a sane rate. This probe codes what the network leaves behind: the residual
``x - decode(base)`` of a scalar point's reconstruction, cut into pixel blocks, projected on a PCA basis
fitted on the *training* clips' residuals (an orthonormal transform, so coefficient error = pixel error),
the first ``--channels`` coefficients quantised with one uniform step and dead-zone rounding (``--rounding``:
0.5 = nearest). ``enh_bpp`` codes them for real with ``vqcodec.entropy.scalar_prior``'s tables (per coefficient,
context = the symbol of the slice before) fitted on the training clips; ``enh_bpp_static`` is the ideal code
length under static per-coefficient histograms. The base is coded for real too, but as one GOP with no copy
decisions (the codec's copies and RDO make its real rate lower than here).
PSNR on the validation clips, 8-bit, after rounding and clipping.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from vqcodec.net.model import depth_to_space, space_to_depth, to_uint8
from vqcodec.entropy.scalar_prior import STEP_DEN, ScalarTables, encode_symbols, quantise

from experiments.sq_refinement_probe.sq_refinement_probe import code_length, load_probe


def blocks(x: torch.Tensor, b: tuple[int, int, int]) -> torch.Tensor:
    """(N, 3, T, H, W) -> rows (M, 3*bt*bh*bw)."""
    s = space_to_depth(x, b)
    return s.permute(0, 2, 3, 4, 1).reshape(-1, s.shape[1])


def unblocks(rows: torch.Tensor, shape, b) -> torch.Tensor:
    n, _, t, h, w = shape
    s = rows.reshape(n, t // b[0], h // b[1], w // b[2], -1).permute(0, 4, 1, 2, 3)
    return depth_to_space(s.contiguous(), b)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache-dir", required=True)
    ap.add_argument("--train-clips", type=int, default=138)
    ap.add_argument("--top-stages", type=int, default=4)
    ap.add_argument("--base-steps", default="0.42,0.58,0.75,0.95", help="scalar steps of the base points")
    ap.add_argument("--enh-steps", default="56,64,80,96,128", help="enhancement steps (8-bit pixel units)")
    ap.add_argument("--blocks", default="4x8x8")
    ap.add_argument("--channels", type=int, default=128, help="PCA coefficients kept per block")
    ap.add_argument("--rounding", default="0.5,0.3,0.2", help="dead-zone rounding offsets to try (0.5 = nearest)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    return ap.parse_args()


def as_u8(x: torch.Tensor) -> torch.Tensor:
    """Clips in [-1, 1] (N, 3, T, H, W) -> their 8-bit values, as floats in the same layout."""
    return torch.from_numpy(to_uint8(x)).permute(0, 4, 1, 2, 3).float()


@torch.no_grad()
def recon(net, u: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """The 8-bit frames (as floats, (N, 3, T, H, W)) decoded from top features ``u`` and bottom latent ``z``."""
    out = []
    for i in range(0, z.shape[0], 8):
        y = net._decode_latent_tile(torch.cat([u[i:i + 8], z[i:i + 8]], 1))
        out.append(as_u8(y))
    return torch.cat(out)


def psnr(y: torch.Tensor, ref: torch.Tensor) -> float:
    return float(10 * np.log10(255.0 ** 2 / float(((y - ref) ** 2).mean())))


def base_point(p, d: float) -> tuple[float, torch.Tensor, torch.Tensor]:
    """The scalar point of step ``d``, coded for real: its bits (top codes included) and its validation
    and training reconstructions."""
    step_num = round(d * STEP_DEN)
    st = torch.from_numpy(np.stack([quantise(z.numpy(), step_num, 10 ** 6) for z in p.zt]))
    limit = max(int(st.abs().max()), 1)
    tabs = ScalarTables.fit([g.numpy() for g in st], step_num, limit)
    sym = np.stack([quantise(z.numpy(), step_num, limit) for z in p.zv])
    base_bits = p.top_bits + 8 * sum(len(encode_symbols(tabs, g)) for g in sym)
    rv = recon(p.net, p.uv, torch.from_numpy(sym).float() * (step_num / STEP_DEN))
    rt = recon(p.net, p.ut, st.float() * (step_num / STEP_DEN))
    return base_bits, rv, rt


def residual_basis(et: torch.Tensor, ev: torch.Tensor, channels: int):
    """PCA of the training residual blocks ``et``: the first ``channels`` coefficients of ``et`` and
    ``ev``, the basis (columns) and the mean."""
    mean = et.mean(0)
    cov = ((et - mean).T @ (et - mean)) / et.shape[0]
    evals, vecs = torch.linalg.eigh(cov)
    vecs = vecs[:, torch.argsort(evals, descending=True)]
    ct, cv = (et - mean) @ vecs, (ev - mean) @ vecs
    k_ = min(channels, ct.shape[1])
    return ct[:, :k_], cv[:, :k_], vecs[:, :k_], mean


def enhanced_points(a, p, d: float, bs: str, base_bits: float, rv: torch.Tensor, rt: torch.Tensor,
                    u8v: torch.Tensor, u8t: torch.Tensor) -> list[dict]:
    """Every enhancement step and rounding on top of the base point ``d``, in blocks ``bs``."""
    xv, xt, pixels = p.xv, p.xt, p.pixels
    b = tuple(int(v) for v in bs.split("x"))
    et, ev = blocks(u8t - rt, b).double(), blocks(u8v - rv, b).double()
    ct, cv, vk, mean = residual_basis(et, ev, a.channels)
    k_ = ct.shape[1]
    grid_v = (xv.shape[0], xv.shape[2] // b[0], xv.shape[3] // b[1], xv.shape[4] // b[2])
    grid_t = (xt.shape[0], *grid_v[1:])

    def as_latent(q, grid):     # rows (M, K) -> (N, K, T', H', W')
        return q.reshape(*grid, -1).permute(0, 4, 1, 2, 3).contiguous().numpy().astype(np.int32)
    rows = []
    for s in (float(v) for v in a.enh_steps.split(",")):
        for f in (float(v) for v in a.rounding.split(",")):
            def quant(c):
                return (torch.sign(c) * torch.floor(c.abs() / s + f)).long()
            qt, qv = quant(ct), quant(cv)
            limit = max(int(qt.abs().max()), int(qv.abs().max()), 1)
            bits0 = sum(code_length(qt[:, k].numpy(), qv[:, k].numpy()) for k in range(k_))
            tabs = ScalarTables.fit(list(as_latent(qt, grid_t)), round(s * STEP_DEN), limit)
            bits = 8 * sum(len(encode_symbols(tabs, g)) for g in as_latent(qv, grid_v))
            y = (rv + unblocks((qv.double() * s) @ vk.T + mean, rv.shape, b).float()).round().clamp(0, 255)
            rows.append({"base_step": d, "block": bs, "enh_step": s, "rounding": f,
                         "bpp": round((base_bits + bits) / pixels, 4),
                         "enh_bpp": round(bits / pixels, 4),
                         "enh_bpp_static": round(bits0 / pixels, 4), "psnr": round(psnr(y, u8v), 3),
                         "nonzero": round(float((qv != 0).float().mean()), 4),
                         # the last coefficient any training block uses
                         "last_used": int(torch.nonzero((qt != 0).any(0)).max())
                         if (qt != 0).any() else -1})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    a = parse_args()
    torch.set_num_threads(a.threads)
    p = load_probe(a.model, a.data, a.cache_dir, a.train_clips, a.top_stages)
    u8v, u8t = as_u8(p.xv), as_u8(p.xt)
    report = {"model": a.model, "val_clips": int(p.xv.shape[0]), "train_clips": int(p.xt.shape[0]),
              "base": [], "enhanced": []}
    for d in (float(s) for s in a.base_steps.split(",")):
        base_bits, rv, rt = base_point(p, d)
        report["base"].append({"step": d, "bpp": round(base_bits / p.pixels, 4), "psnr": round(psnr(rv, u8v), 3)})
        print(json.dumps(report["base"][-1]), flush=True)
        for bs in a.blocks.split(","):
            report["enhanced"] += enhanced_points(a, p, d, bs, base_bits, rv, rt, u8v, u8t)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
