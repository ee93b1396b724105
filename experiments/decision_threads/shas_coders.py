"""sha256 of in-process encodes with the conditional coders on (64x64 default) and of the `faster` preset; run under
each tree's PYTHONPATH."""
import hashlib, numpy as np, torch
from vqcodec import load_model, encode_frames
torch.set_num_threads(2)
m = load_model()
cases = [(f"/work/s26/clips/{c}", q, None, "medium") for c in ("mov_bikes.npy", "mov_bbb.npy", "val_bikes.mp4_128.npy") for q in (3, 6, 9, 12)]
cases += [(f"/work/s26/clips/{c}", q, None, "faster") for c in ("mov_bikes.npy", "mov_bbb.npy") for q in (4, 10)]
cases += [(f"/work/s26/clips/{c}", q, None, "fast") for c in ("mov_bikes.npy",) for q in (4, 10)]
cases += [("/work/s32/bikes320.npy", 5, None, "faster")]
for path, q, cc, preset in cases:
    x = np.load(path)[:32]
    d = encode_frames(x, 16, model=m, quality=q, conditional_coder=cc, preset=preset)
    print(path.split('/')[-1], q, cc, preset, len(d), hashlib.sha256(d).hexdigest()[:12], flush=True)
