"""The dead zones priced without their syntheses (session 26): a rounding's slice estimated as the nearest
rounding's synthesis plus the linear path's image of the symbols' change (``dec_lin``, one 8x8 block per
latent position, no overlap), so each coder costs one synthesis again. k 0 = the shipped encoder (a
synthesis per rounding), k 1 = the estimate. The final synthesis of the chosen symbols stays exact (the
decoder's). Real files, decoded (as deadzone.py).

    PYTHONPATH=. python experiments/coder_rdoq/linear_estimate.py 3,...,12 CLIPS... > out.jsonl
"""
import json, sys
import numpy as np
import torch
import vqcodec.coding.conditional_coder as cc
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.motion_residual import OPTION_BITS
from vqcodec.net.conditional_coder import BLOCK
from vqcodec.net.tiling import run_alone_each
from vqcodec.weights import load_model
from vqcodec.metrics import psnr

SHIPPED = cc._cheaper_coders


@torch.no_grad()
def _moved(coder, j, made, delta):
    """``made`` uint8 (bt, H, W, 3) plus dec_lin(delta) (H', W', channels) in pixel units, rounded, clipped."""
    d = coder.nets[j].dec_lin(torch.from_numpy(np.ascontiguousarray(delta.transpose(2, 0, 1), np.float32))[None])
    _, tc, h, w = d.shape
    d = (d * 255).reshape(tc // 3, 3, h, w).permute(0, 2, 3, 1).numpy()
    return np.clip(np.round(made.astype(np.float32) + d), 0, 255).astype(np.uint8)


def estimated(coder, source, pred, lam, cost, dead_zones=(0.0,)):
    from vqcodec.coding.motion_search import block_sse
    won = np.full(cost.shape, -1, np.int32)
    symbols = np.zeros((*cost.shape, coder.tables.channels), np.int32)
    bits = np.zeros(cost.shape)

    def coded(j):
        y = coder.analysis(j, source, pred)
        s0 = coder.symbols(y, 0.0)
        made0 = coder.reconstruct(j, s0, pred)
        out = [(s0, made0)]
        for z in dead_zones:
            if z:
                s = coder.symbols(y, z)
                with cc.one_thread():
                    out.append((s, _moved(coder, j, made0, (s - s0).astype(np.float32))))
        return out

    priced = coder.priced(lam)
    for j, roundings in zip(priced, run_alone_each([lambda j=j: coded(j) for j in priced])):
        for y, made in roundings:
            c_sse = block_sse(made, source, (BLOCK, BLOCK)).astype(np.float64)
            c_bits = coder.block_bits(j, y) + OPTION_BITS
            take = c_sse + lam * c_bits < cost
            cost = np.where(take, c_sse + lam * c_bits, cost)
            won = np.where(take, j, won)
            symbols = np.where(take[..., None], y, symbols)
            bits = np.where(take, c_bits, bits)
    return won, symbols, bits, cost


if __name__ == "__main__":
    torch.set_num_threads(2)
    m = load_model()
    for path in sys.argv[2:]:
        x = np.load(path)[:32]
        for q in [int(v) for v in sys.argv[1].split(",")]:
            for k, f in enumerate((SHIPPED, estimated)):
                cc._cheaper_coders = f
                d = encode_frames(x, 16, model=m, quality=q)
                y = decode_bytes(d, model=m)
                print(json.dumps({"clip": path.split('/')[-1][:30], "q": q, "k": k, "bytes": len(d),
                                  "psnr": psnr(y, x)}), flush=True)
