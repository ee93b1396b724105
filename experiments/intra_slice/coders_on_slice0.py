"""Emulation: slice 0 of the (refresh) GOP refined by the conditional coders with P = the network's
reconstruction, chosen per block by D + (lam / K) R (lam: the encoder's motion lambda at that point), the
refined slice then the reference the motion layer predicts slice 1 from (encoder and decoder both see
it: net.decode is wrapped). Bits: the coders' symbols + OPTION_BITS per refined block + 1 bit per block.
Prints size and PSNR per (clip, Q, K); K=0 is the plain encoder (8.0: the emulation ran before 9.0 existed).
    PYTHONPATH=. python experiments/intra_slice/coders_on_slice0.py 3,4,...,12 1,2,4 CLIPS... > out.jsonl
(ROUNDS=2 ... coders_on_slice0.py 3,...,9 1 CLIPS: two rounds at K = 1, logs/two_rounds_on_slice0.jsonl, where
k 1 is one round and k 2 two: that log was made by a copy of this script that took the rounds as K.)"""
import os, sys, json, numpy as np
import vqcodec.coding.encoder as E
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.conditional_coder import apply_conditional
from vqcodec.coding.motion_search import block_sse
from vqcodec.coding.motion_residual import OPTION_BITS
from vqcodec.weights import load_model, default_conditional_coder
from vqcodec.metrics import psnr
m = load_model(); cc = default_conditional_coder()
orig_decode = m.net.decode
state = {}
ROUNDS = int(os.environ.get("ROUNDS", "1"))   # ROUNDS=2: the refined slice refined again, with itself as P


def refined(codes):
    f = orig_decode(codes)
    state["bits"] = 0.0
    for _ in range(ROUNDS if state.get("k", 0) > 0 else 0):
        f = refine_once(f)
    return f


def refine_once(f):
    X, P = state["x"][:4], f[:4]
    lam = state["lam"] / state["k"]
    d_p = block_sse(P, X, (8, 8)).astype(float)
    cost = d_p + lam * 1.0; opt = np.zeros(d_p.shape, np.int32); bits = np.ones(d_p.shape)
    syms = np.zeros((*d_p.shape, cc.tables.channels), np.int32)
    for j in range(cc.coders):
        y = cc.symbols(j, X, P); made = cc.reconstruct(j, y, P)
        c = block_sse(made, X, (8, 8)).astype(float) + lam * (cc.block_bits(j, y) + OPTION_BITS + 1)
        take = c < cost
        cost = np.where(take, c, cost); opt = np.where(take, 1 + j, opt)
        syms = np.where(take[..., None], y, syms); bits = np.where(take, cc.block_bits(j, y) + OPTION_BITS + 1, bits)
    out = f.copy(); out[:4] = apply_conditional(cc, P, opt, syms, 1)
    state["bits"] += float(bits.sum()); state["taken"] = int((opt > 0).sum())
    return out


m.net.decode = refined
orig_decide = E.decide_gop
def rec_decide(*a, **kw):
    state.setdefault("lams", []).append(a[4]); return orig_decide(*a, **kw)
E.decide_gop = rec_decide
KS = [float(v) for v in sys.argv[2].split(",")]
for path in sys.argv[3:]:
    x = np.load(path)[:32]
    state["x"] = x
    for q in [int(v) for v in sys.argv[1].split(",")]:
        state["k"] = 0; state["lams"] = []
        d = encode_frames(x, 16, model=m, quality=q, intra_coder=False); y = decode_bytes(d, model=m)
        lam = state["lams"][0]
        row = {"clip": path.split('/')[-1][:30], "q": q, "k": 0, "bytes": len(d), "psnr": psnr(y, x), "lam": lam}
        print(json.dumps(row), flush=True)
        for k in KS:
            state.update(k=k, lam=lam)
            d = encode_frames(x, 16, model=m, quality=q, intra_coder=False); y = decode_bytes(d, model=m)
            print(json.dumps({"clip": row["clip"], "q": q, "k": k, "bytes": len(d) + state["bits"] / 8,
                              "psnr": psnr(y, x), "taken": state["taken"], "s0_psnr": psnr(y[:4], x[:4])}), flush=True)
