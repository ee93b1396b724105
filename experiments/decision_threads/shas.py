"""sha256 of in-process encodes: (clip, frames, quality, conditional coders) cases; run under each tree's PYTHONPATH."""
import hashlib, numpy as np, torch
from vqcodec import load_model, encode_frames
torch.set_num_threads(2)
m = load_model()
cases = [("/work/s32/bikes320.npy", 32, q, False) for q in (4, 11)]
cases += [(f"/work/s26/clips/{c}", 32, q, False) for c in ("mov_bikes.npy", "mov_bbb.npy", "val_bikes.mp4_128.npy") for q in (3, 6, 9, 12)]
cases += [("/work/s26/clips/mov_balle.npy", 32, 5, None), ("/work/s32/bikes320.npy", 32, 7, None)]
for path, n, q, cc in cases:
    x = np.load(path)[:n]
    d = encode_frames(x, 16, model=m, quality=q, conditional_coder=cc)
    print(path.split('/')[-1], n, q, cc, len(d), hashlib.sha256(d).hexdigest()[:12], flush=True)
