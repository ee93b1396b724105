"""The phases of an encode (wall and CPU seconds, all threads, summed over calls): block lambdas, the motion decisions,
the search planes; prints the whole encode's wall time, size and sha256. Command line: CLIP.npy [PRESET]"""
import collections, functools, hashlib, sys, time
import numpy as np, torch
from vqcodec import load_model, encode_frames
from vqcodec.coding import encoder as E, motion_search as MS, propagation as P

torch.set_num_threads(2)
totals = collections.defaultdict(lambda: np.zeros(3))       # calls, wall, CPU


def wrap(owner, name: str, label: str | None = None) -> None:
    """``owner.name`` replaced by the same function that adds its times to ``totals``."""
    inner = getattr(owner, name)

    @functools.wraps(inner)
    def outer(*a, **k):
        start = np.array([time.perf_counter(), time.process_time()])
        try:
            return inner(*a, **k)
        finally:
            totals[label or name] += np.concatenate([[1], np.array([time.perf_counter(), time.process_time()]) - start])
    setattr(owner, name, outer)


for owner, name in [(E, "decide_gop"), (MS, "decide_slice"), (MS, "search_planes"), (P, "block_lambdas"),
                    (E.GopEncoder, "_decide_motion"), (E.GopEncoder, "_enhancement_estimate")]:
    wrap(owner, name)
frames, model = np.load(sys.argv[1]), load_model()
t0 = time.perf_counter()
data = encode_frames(frames, 16, model=model, preset=sys.argv[2] if len(sys.argv) > 2 else "medium")
print("wall", round(time.perf_counter() - t0, 1), len(data), hashlib.sha256(data).hexdigest()[:10])
for name, (n, w, c) in totals.items():
    print(f"{name:22s} n {int(n):3d} wall {w:6.1f} cpu {c:6.1f} cores {c / max(w, 1e-9):.2f}")
