"""The phases of an encode (wall and CPU seconds, all threads): block lambdas, the motion decisions, the
search planes; prints the whole encode's wall time, size and sha256. Command line: CLIP.npy"""
import sys, time, numpy as np, torch, functools
from vqcodec import load_model, encode_frames
from vqcodec.coding import encoder as E, motion_search as MS, propagation as P
torch.set_num_threads(2)
rec = []
def timed(name, f):
    @functools.wraps(f)
    def g(*a, **k):
        w, c = time.perf_counter(), time.process_time()
        r = f(*a, **k)
        rec.append((name, time.perf_counter() - w, time.process_time() - c)); return r
    return g
E.decide_gop = timed("decide_gop", E.decide_gop)
MS.decide_slice = timed("decide_slice", MS.decide_slice)
MS.search_planes = timed("search_planes", MS.search_planes)
P.block_lambdas = timed("block_lambdas", P.block_lambdas)
G = E.GopEncoder
for n in ["_decide_motion", "_enhancement_estimate"]:
    setattr(G, n, timed(n, getattr(G, n)))
fr = np.load(sys.argv[1]); m = load_model()
import hashlib; w0 = time.perf_counter(); data = encode_frames(fr, 16, model=m); print("wall", round(time.perf_counter() - w0, 1), len(data), hashlib.sha256(data).hexdigest()[:10])
agg = {}
for n, w, c in rec:
    a = agg.setdefault(n, [0, 0, 0]); a[0] += 1; a[1] += w; a[2] += c
for n, (k, w, c) in agg.items(): print(f"{n:22s} n {k:3d} wall {w:6.1f} cpu {c:6.1f} cores {c / max(w, 1e-9):.2f}")
