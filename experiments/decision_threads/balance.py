"""In decide_slice at 720p: the main thread's wait for the bent paths (side thread), and each side task's duration."""
import sys, time, numpy as np, torch, collections
from vqcodec import load_model, encode_frames
from vqcodec.coding import motion_search as MS
torch.set_num_threads(2)
acc = collections.Counter()
real_pool = MS.side_pool
class Fut:
    def __init__(self, f): self.f = f
    def result(self):
        t = time.perf_counter(); r = self.f.result(); acc["main waits"] += time.perf_counter() - t; return r
class Pool:
    def submit(self, fn, *a):
        def timed():
            t = time.perf_counter(); r = fn(*a); acc["side task"] += time.perf_counter() - t; return r
        return Fut(real_pool().submit(timed))
MS.side_pool = lambda: Pool()
orig = MS.decide_slice
def ds(*a, **k):
    t = time.perf_counter(); r = orig(*a, **k); acc["decide_slice"] += time.perf_counter() - t; return r
MS.decide_slice = ds
import vqcodec.coding.encoder as E
E.decide_gop.__globals__["decide_slice"] = ds
m = load_model(); fr = np.load(sys.argv[1])
encode_frames(fr, 16, model=m)
print({k: round(v, 1) for k, v in acc.items()})
