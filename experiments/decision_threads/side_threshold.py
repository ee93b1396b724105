"""64x64 encodes: A shipped (side thread from 256 blocks, coders on the tile workers below it), B side thread from 64
(no tile workers at 64x64), C side thread from 64 and the coders on the tile workers too; sha + time, alternating."""
import sys, time, hashlib, numpy as np, torch
from vqcodec import load_model, encode_frames
from vqcodec.coding import motion_search as MS, encoder as E, propagation as P
torch.set_num_threads(2)
m = load_model(); x = np.load(sys.argv[1])
VARIANTS = {"A": (256, 256), "B": (64, 64), "C": (64, 256)}
def run(v):
    side, share = VARIANTS[v]
    MS.SIDE_THREAD_BLOCKS = P.SIDE_THREAD_BLOCKS = side; E.SIDE_THREAD_BLOCKS = share
    t = time.perf_counter(); d = encode_frames(x, 16, model=m); return time.perf_counter() - t, hashlib.sha256(d).hexdigest()[:10]
run("A")
res = {v: [] for v in VARIANTS}
for r in range(int(sys.argv[2])):
    for v in VARIANTS:
        w, h = run(v); res[v].append(round(w, 2)); print(v, round(w, 2), h, flush=True)
for v, ts in res.items(): print(v, "median", sorted(ts)[len(ts) // 2], sorted(ts))
