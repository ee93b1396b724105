"""Decode files written before (head) with this tree's decoder; compare with head's decode, per GOP of 32 frames."""
import sys, numpy as np, torch
from vqcodec import load_model, decode_bytes
torch.set_num_threads(2)
m = load_model()
for stem in sys.argv[1:]:
    old = np.load(f"out/{stem}.head.dec.npy")
    new = decode_bytes(open(f"out/{stem}.head.vqv", "rb").read(), model=m)
    d = np.abs(old.astype(int) - new.astype(int))
    per = [f"{d[i:i+32].max()}/{(d[i:i+32] > 0).mean()*100:.2f}%" for i in range(0, len(d), 32)]
    print(stem, "max", d.max(), f"differing {(d > 0).mean()*100:.3f}%", "per GOP (max/share):", " ".join(per), flush=True)
