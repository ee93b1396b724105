"""Ceiling probe: bidirectional prediction whose backward reference is the *network's* reconstruction
(before the motion layer) of the next slice's first frame, which the decoder has before it applies the
motion layer. Per slice s >= 1 of each GOP (s < 7): best of forward (final frame before the slice) and
the average of forward and backward. Integer displacements free per frame +-R, 8x8 blocks.
Also: the share of blocks of slice s+1 the network codes (not predicted). usage: hypo3.py clip.npy Q R"""
import io, sys
import numpy as np
from vqcodec.weights import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.formats import VqvReader

x = np.load(sys.argv[1]); q = int(sys.argv[2]); R = int(sys.argv[3])
m = load_model()
data = encode_frames(x, 16, model=m, quality=q, prior="empirical-static")
d = decode_bytes(data, model=m).astype(np.int32)
net, flags = [], []
for g in read_gop_codes(VqvReader(io.BytesIO(data)), m):
    net.append(m.net.decode(g.codes)[:g.frames])
    flags.append(None if g.codes.motion is None else g.codes.motion.flags)
N = np.concatenate(net).astype(np.int32)
S = x.astype(np.int32)
T, H, W, _ = S.shape
B = 8
offs = [(dy, dx) for dy in range(-R, R + 1) for dx in range(-R, R + 1)]


def moved_all(ref):
    p = np.pad(ref, ((R, R), (R, R), (0, 0)), mode="edge")
    return np.stack([p[R + dy:R + dy + H, R + dx:R + dx + W] for dy, dx in offs])


def sse_blocks(a, tgt):
    return ((a - tgt) ** 2).reshape(len(a), H // B, B, W // B, B, 3).sum((2, 4, 5))


def best(mv, tgt):
    s = sse_blocks(mv, tgt)
    k = s.argmin(0)
    pick = np.take_along_axis(mv.reshape(len(mv), H // B, B, W // B, B, 3), k[None, :, None, :, None, None], 0)[0]
    return s.min(0), pick.reshape(H, W, 3)


fw = bi = bi_final = 0.0
n = 0
for g0 in range(0, T - 4, 32):
    for s in range(1, 7):
        t0 = g0 + 4 * s
        if t0 + 4 >= T:
            break
        mf, mb, mbf = moved_all(d[t0 - 1]), moved_all(N[t0 + 4]), moved_all(d[t0 + 4])
        for j in range(4):
            tgt = S[t0 + j]
            s1, p1 = best(mf, tgt)
            pb = best(mb, tgt)[1]
            avg = sse_blocks(((p1 + pb + 1) >> 1)[None], tgt)[0]
            pbf = best(mbf, tgt)[1]
            avgf = sse_blocks(((p1 + pbf + 1) >> 1)[None], tgt)[0]
            fw += s1.sum(); bi += np.minimum(s1, avg).sum(); bi_final += np.minimum(s1, avgf).sum()
            n += tgt.size
pct = [f"{1 - f.mean():.2f}" for f in flags if f is not None]
ps = lambda v: 10 * np.log10(255 ** 2 * n / v)
print(sys.argv[1].split("/")[-1][:20], f"Q{q} forward {ps(fw):.2f} bidir(network's next) {ps(bi):.2f} "
      f"bidir(final next, needs reordering) {ps(bi_final):.2f}  network-coded share per GOP {pct}")
