"""Per bottom-latent channel: pixel squared error per unit squared latent error (finite differences through
the network decoder: one GOP of a Q9 file without motion, +-1 symbol on every position of the channel).
usage: sensitivity.py CLIP.npy [OUT.npy]"""
import dataclasses, io, sys
import numpy as np
import torch
torch.set_num_threads(2)
from vqcodec.weights import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import read_gop_codes
from vqcodec.formats import VqvReader
from vqcodec.codes import ScalarCodes
m = load_model()
x = np.load(sys.argv[1])
data = encode_frames(x, 16, model=m, quality=9, prior="empirical-static", motion=False)
g = next(iter(read_gop_codes(VqvReader(io.BytesIO(data)), m, [0])))
base = m.net.decode(g.codes).astype(np.float64)
sc = g.codes.scalar
C = sc.symbols.shape[0]
rng = np.random.default_rng(0)
w = []
for c in range(C):
    s = sc.symbols.copy()
    delta = rng.choice([-1, 1], size=s[c].shape)
    s[c] += delta
    codes = dataclasses.replace(g.codes, scalar=ScalarCodes(s, sc.step_num, sc.copied))
    y = m.net.decode(codes).astype(np.float64)
    w.append(((y - base) ** 2).sum() / (delta.size * sc.step ** 2))
w = np.array(w)
print("step", sc.step, "per-channel pixel SSE per unit latent SE: min %.1f median %.1f max %.1f" % (w.min(), np.median(w), w.max()))
print(np.round(np.sort(w)[::-1], 1))
np.save(sys.argv[2] if len(sys.argv) > 2 else "sensitivity.npy", w)
