"""Emulation: a per-block motion lambda from how much of the GOP is predicted from each block (x264's
mb-tree in the form of a second pass): pass 1 is the shipped encoder; from its motion field, for t = T-1
.. 1, every predicted block of slice t hands ALPHA x (1 + its own propagation) to the blocks of slice t-1
its vector reads (by overlap area); pass 2 encodes again with each block's motion lambda x (1 + p)^-S,
normalised to the GOP's geometric mean 1 (so the lambda is redistributed, not lowered). The network's
own copy decisions keep their lambda.
    PYTHONPATH=. python experiments/propagation/mbtree.py QS ALPHA:S,ALPHA:S CLIPS... > out.jsonl
(k 0 = the shipped encoder, k i = the i-th setting)."""
import inspect
import json
import sys

import numpy as np

import vqcodec.coding.conditional_coder as CC
import vqcodec.coding.encoder as E
import vqcodec.coding.motion_residual as MR
import vqcodec.coding.motion_search as MS
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.metrics import psnr
from vqcodec.weights import load_model

STATE = {"mode": "plain", "fields": [], "i": 0, "alpha": 0.8, "s": 0.5}
SUBPEL = MS.SUBPEL


def propagation(flags: np.ndarray, vectors: np.ndarray, alpha: float, block: int = 8) -> np.ndarray:
    t_, hb, wb = flags.shape
    p = np.zeros((t_, hb, wb))
    for t in range(t_ - 1, 0, -1):
        for i, j in zip(*np.nonzero(flags[t])):
            vy, vx = vectors[t, i, j] / SUBPEL
            y0, x0 = i * block + vy, j * block + vx          # the reference area's top left, in pixels
            amount = alpha * (1.0 + p[t, i, j])
            by, bx = int(np.floor(y0 / block)), int(np.floor(x0 / block))
            fy, fx = y0 / block - by, x0 / block - bx
            for di, wy in ((0, 1 - fy), (1, fy)):
                for dj, wx in ((0, 1 - fx), (1, fx)):
                    ii, jj = min(max(by + di, 0), hb - 1), min(max(bx + dj, 0), wb - 1)
                    p[t - 1, ii, jj] += amount * wy * wx
    return p


def lambda_map(field) -> np.ndarray:
    p = propagation(np.asarray(field.flags), np.asarray(field.vectors, np.float64), STATE["alpha"])
    m = (1.0 + p) ** -STATE["s"]
    return m / np.exp(np.log(m).mean())


# decide_gop with lam x the map of slice t (patched from its source)
src = inspect.getsource(MS.decide_gop)
src = src.replace("first_coder, lam)", "first_coder, lam * LAMMAP[0])")
src = src.replace("args = source[sl], final[sl], prev, rates[t], lam, search, block",
                  "args = source[sl], final[sl], prev, rates[t], lam * LAMMAP[t], search, block")
assert src.count("LAMMAP") == 2
ns = dict(vars(MS))
exec(src, ns)
mapped_decide = ns["decide_gop"]
plain_decide = MS.decide_gop


def lookahead_field(source, recon, rates, lam, search, block):
    """The field a cheap lookahead would give: the vector the search finds on the source frames (slice t
    against the source frame before it); with ESTIMATE_FLAGS, a block counted as predicted where that
    prediction's SSE + lam x (1 + its vector's bits) is below the network reconstruction's + lam x its
    codes' bits (the decision without residuals, coders or paths), else every block of slices 1.."""
    bt, bh, bw = block
    t_ = source.shape[0] // bt
    hb, wb = source.shape[1] // bh, source.shape[2] // bw
    flags = np.ones((t_, hb, wb), bool)
    flags[0] = False
    vectors = np.zeros((t_, hb, wb, 2), np.int64)
    mu = MS.VECTOR_COST_SCALE * np.sqrt(lam)
    for t in range(1, t_):
        ref, sl = source[t * bt - 1], slice(t * bt, (t + 1) * bt)
        planes = MS.search_planes(ref, bt, search)
        vectors[t] = MS.search_vectors(source[sl], ref, (bh, bw), search, None, mu, None, planes)
        if ESTIMATE_FLAGS:
            trial = MS._predicted(recon[sl], ref, vectors[t], None, block, planes)
            d_mc = MS.block_sse(trial, source[sl], (bh, bw)).astype(np.float64)
            d_net = MS.block_sse(recon[sl], source[sl], (bh, bw)).astype(np.float64)
            flags[t] = d_mc + lam * (1 + MS.vector_bits(vectors[t], 0)) < d_net + lam * rates[t]
    return type("F", (), {"flags": flags, "vectors": vectors})


def decide(*a, **k):
    if STATE["mode"] == "lookahead":
        ns["LAMMAP"] = lambda_map(lookahead_field(a[0], a[1], a[3], a[4], a[5], a[6]))
        return mapped_decide(*a, **k)
    if STATE["mode"] == "plain":
        field, final = plain_decide(*a, **k)
        STATE["fields"].append(field)
        return field, final
    field = STATE["fields"][STATE["i"]]
    STATE["i"] += 1
    ns["LAMMAP"] = lambda_map(field)
    return mapped_decide(*a, **k)


E.decide_gop = decide

_priced = CC.ConditionalCoder.priced
CC.ConditionalCoder.priced = lambda self, lam: _priced(self, float(np.exp(np.mean(np.log(lam)))))


def slice_residuals(coded, source, trial, d_mc, lam):      # motion_residual's, lambda per block
    basis = coded.basis
    hb, wb = d_mc.shape
    lf = np.broadcast_to(np.asarray(lam, np.float64), d_mc.shape).reshape(-1)
    option, codes, blocks, sse, bits = MR.choose_residuals(basis, coded.options, MR._blocks(source, basis.block),
                                                           MR._blocks(trial, basis.block), lf, MR.OPTION_BITS)
    use = (sse + lf * bits < d_mc.reshape(-1) + lf * MR.NONE_BITS)
    h, w = source.shape[1:3]
    pred = MR._blocks(trial, basis.block)
    out = MR._unblocks(np.where(use[:, None, None, None, None], blocks, pred), h, w)
    return (np.where(use, option, 0).reshape(hb, wb), np.where(use[:, None], codes, 0).reshape(hb, wb, -1), out,
            np.where(use, sse, d_mc.reshape(-1)).reshape(hb, wb), np.where(use, bits, MR.NONE_BITS).reshape(hb, wb))


MS.slice_residuals = slice_residuals
ns["slice_residuals"] = slice_residuals

LOOKAHEAD = bool(int(__import__("os").environ.get("LOOKAHEAD", "0")))   # 1: maps from lookahead_field, one pass
ESTIMATE_FLAGS = bool(int(__import__("os").environ.get("ESTIMATE_FLAGS", "0")))

if __name__ == "__main__":
    m = load_model()
    settings = [tuple(float(v) for v in p.split(":")) for p in sys.argv[2].split(",")]
    for path in sys.argv[3:]:
        x = np.load(path)[:32]
        for q in [int(v) for v in sys.argv[1].split(",")]:
            STATE.update(mode="plain", fields=[])
            d = encode_frames(x, 16, model=m, quality=q)
            y = decode_bytes(d, model=m)
            print(json.dumps({"clip": path.split("/")[-1][:30], "q": q, "k": 0, "bytes": len(d), "psnr": psnr(y, x)}), flush=True)
            for k, (alpha, s) in enumerate(settings, 1):
                STATE.update(mode="lookahead" if LOOKAHEAD else "mapped", i=0, alpha=alpha, s=s)
                d = encode_frames(x, 16, model=m, quality=q)
                y = decode_bytes(d, model=m)
                print(json.dumps({"clip": path.split("/")[-1][:30], "q": q, "k": k, "alpha": alpha, "s": s,
                                  "bytes": len(d), "psnr": psnr(y, x)}), flush=True)
