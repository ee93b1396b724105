"""Drift of the motion layer's prediction chain when the network's pixels differ by one level (as on
another CPU): decode a file twice, once with +-1 noise on 1% of every GOP's network output."""
import sys, io, numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "tests"))
from conftest import pan_video
from vqcodec.weights import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding import decoder, gops
from vqcodec.formats import VqvReader
m = load_model()
frames = pan_video(256, 64, 64, dx=1, dy=0)
q = int(sys.argv[1]) if len(sys.argv) > 1 else 8
data = encode_frames(frames, 16, model=m, quality=q, motion=True, refresh=0)
ref = list(decoder.decode_gops(VqvReader(io.BytesIO(data)), m))
rng = np.random.default_rng(0)
orig = gops.synthesise
def noisy(model, codes, enhance=True):
    f = orig(model, codes, enhance).astype(np.int16)
    mask = rng.random(f.shape) < 0.01
    f[mask] += rng.choice([-1, 1], int(mask.sum()))
    return f.clip(0, 255).astype(np.uint8)
decoder.synthesise = noisy
got = list(decoder.decode_gops(VqvReader(io.BytesIO(data)), m))
print(f"Q{q}, {len(data)} bytes, 8 GOPs, refresh only at GOP 0; +-1 on 1% of the network's pixels of every GOP")
for i, (a, b) in enumerate(zip(ref, got)):
    d = np.abs(a.astype(int) - b)
    print(f"GOP {i}: max |diff| {d.max()}, pixels differing {100 * (d > 0).mean():.2f}%, mean {d.mean():.4f}")
