"""Ceiling probe of a hierarchical slice order: per GOP of 8 slices, anchors 2, 4, 6 predicted from the
last frame of slice s-2, slices 1, 3, 5 bidirectionally (the last frame of s-1 and the first of s+1,
each block the best of forward, backward, their average), slice 7 from slice 6 -- against every slice
from the frame before it (vqv today). Decoded frames as references, integer displacements free per
frame within +-R px, 8x8 blocks. usage: hypo2.py clip.npy Q R"""
import sys
import numpy as np
from vqcodec.weights import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes

x = np.load(sys.argv[1]); q = int(sys.argv[2]); R = int(sys.argv[3])
m = load_model()
d = decode_bytes(encode_frames(x, 16, model=m, quality=q, prior="empirical-static"), model=m).astype(np.int32)
S = x.astype(np.int32)
T, H, W, _ = S.shape
B = 8
offs = [(dy, dx) for dy in range(-R, R + 1) for dx in range(-R, R + 1)]
cache = {}


def moved_all(i):
    if i not in cache:
        p = np.pad(d[i], ((R, R), (R, R), (0, 0)), mode="edge")
        cache.clear()
        cache[i] = np.stack([p[R + dy:R + dy + H, R + dx:R + dx + W] for dy, dx in offs])
    return cache[i]


def sse_blocks(a, tgt):
    return ((a - tgt) ** 2).reshape(len(a), H // B, B, W // B, B, 3).sum((2, 4, 5))


def best(i, tgt):
    mv = moved_all(i)
    s = sse_blocks(mv, tgt)
    k = s.argmin(0)
    pick = np.take_along_axis(mv.reshape(len(mv), H // B, B, W // B, B, 3), k[None, :, None, :, None, None], 0)[0]
    return s.min(0), pick.reshape(H, W, 3)


def psnr(sse, n):
    return 10 * np.log10(255 ** 2 * n / sse)


today, hier = {}, {}
for g0 in range(0, T, 32):
    for s in range(1, 8):
        t0 = g0 + 4 * s
        if t0 + 4 > T:
            break
        for j in range(4):
            tgt = S[t0 + j]
            s1, p1 = best(t0 - 1, tgt)
            today[s] = today.get(s, 0) + s1.sum()
            if s in (2, 4, 6):
                h = best(t0 - 5, tgt)[0]
            elif s == 7 or t0 + 4 >= T:
                h = s1
            else:
                sb, pb = best(t0 + 4, tgt)
                avg = sse_blocks(((p1 + pb + 1) >> 1)[None], tgt)[0]
                h = np.minimum(np.minimum(s1, sb), avg)
            hier[s] = hier.get(s, 0) + h.sum()
n1 = H * W * 3 * 4 * (T // 32)
print(sys.argv[1].split("/")[-1], f"Q{q}", "today", " ".join(f"{psnr(today[s], n1):.2f}" for s in sorted(today)),
      f"all {psnr(sum(today.values()), n1 * len(today)):.2f}")
print(" " * len(sys.argv[1].split("/")[-1]), f"Q{q}", "hier ", " ".join(f"{psnr(hier[s], n1):.2f}" for s in sorted(hier)),
      f"all {psnr(sum(hier.values()), n1 * len(hier)):.2f}")
