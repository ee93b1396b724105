"""Wall and CPU time (all threads) of each phase of a GOP round's encode: where a core idles."""
import sys, time, numpy as np, torch, functools
from vqcodec import load_model, encode_frames
from vqcodec.coding import encoder as E
torch.set_num_threads(2)
rec = []
def timed(name, f):
    @functools.wraps(f)
    def g(*a, **k):
        w, c = time.perf_counter(), time.process_time()
        r = f(*a, **k)
        rec.append((name, time.perf_counter() - w, time.process_time() - c)); return r
    return g
G = E.GopEncoder
for n in ["_decide_levels", "_decide_scalar", "_decide_motion", "_decide_enhancement", "_final_frames"]:
    setattr(G, n, timed(n, getattr(G, n)))
E.write_container = timed("write_container", E.write_container)
import vqcodec.net.model as M
M.MSVQVAE.analyse = timed("analyse(per GOP, in pool)", M.MSVQVAE.analyse)
fr = np.load(sys.argv[1]); m = load_model()
w0, c0 = time.perf_counter(), time.process_time()
data = encode_frames(fr, 16, model=m)
import hashlib; print("total wall", round(time.perf_counter() - w0, 1), "cpu", round(time.process_time() - c0, 1), len(data), hashlib.sha256(data).hexdigest()[:10])
for n, w, c in rec: print(f"{n:28s} wall {w:6.1f}  cpu {c:6.1f}  cores {c / max(w, 1e-9):.2f}")
