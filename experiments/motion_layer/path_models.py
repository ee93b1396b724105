"""How well a slice's frames are predicted from the frame before the slice (source frames, 8x8 blocks,
whole-pixel vectors): frame by frame from the frame before each, one constant velocity over the slice
((j + 1) x v, the motion layer until format 7.0), and a free displacement per frame (what bent paths
approach). ``python experiments/motion_layer/path_models.py CLIP.npy`` ((T, H, W, 3) uint8)."""
import numpy as np, sys
x = np.load(sys.argv[1]).astype(np.float32)
T, H, W, _ = x.shape
R = 8
def shifted(ref, dy, dx):
    p = np.pad(ref, ((R*4, R*4), (R*4, R*4), (0, 0)), mode='edge')
    return p[R*4+dy:R*4+dy+H, R*4+dx:R*4+dx+W]
def blocks(e): return e.reshape(H//8, 8, W//8, 8, 3).sum((1, 3, 4))
def best(ref, tgt_list, scales, rng):
    # one vector per block; frame k target predicted as ref shifted by scales[k]*v
    best = np.full((H//8, W//8), np.inf)
    for dy in range(-rng, rng+1):
        for dx in range(-rng, rng+1):
            e = sum(blocks((shifted(ref, s*dy, s*dx) - t)**2) for t, s in zip(tgt_list, scales))
            best = np.minimum(best, e)
    return best
def psnr(sse, n): return 10*np.log10(255**2/(sse/n))
# 1: per-frame from previous source frame
s = 0; n = 0
for t in range(1, T):
    s += best(x[t-1], [x[t]], [1], 8).sum(); n += H*W*3
print('per-frame from previous frame: %.2f dB' % psnr(s, n))
s = 0; n = 0; s0 = 0
for t0 in range(4, T, 4):
    ref = x[t0-1]
    s += best(ref, [x[t0+j] for j in range(4)], [1,2,3,4], 6).sum(); n += 4*H*W*3
    s0 += sum(((x[t0+j]-ref)**2).sum() for j in range(4))
print('slice, constant velocity from frame before slice (integer, +-6): %.2f dB   zero vector %.2f' % (psnr(s, n), psnr(s0, n)))
# per-frame free vectors from frame before slice
s = 0; n = 0
for t0 in range(4, T, 4):
    ref = x[t0-1]
    for j in range(4):
        s += best(ref, [x[t0+j]], [1], 8*(j+1) if j < 1 else 24).sum(); n += H*W*3
print('slice, free vector per frame from frame before slice: %.2f dB' % psnr(s, n))
