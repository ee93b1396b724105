import time, torch, torch.nn.functional as F
from vqcodec.net import channels_last as cl
torch.set_num_threads(1)
CL = torch.channels_last_3d
def bench(f, *a):
    f(*a); ts = []
    for _ in range(5):
        t0 = time.perf_counter(); f(*a); ts.append(time.perf_counter() - t0)
    return min(ts) * 1e3
def s2d_fast(x, s):   # channel order (st, sh, sw, c)
    b, c, t, h, w = x.shape; st, sh, sw = s
    p = x.permute(0, 2, 3, 4, 1).reshape(b, t // st, st, h // sh, sh, w // sw, sw, c)
    p = p.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(b, t // st, h // sh, w // sw, st * sh * sw * c)
    return p.permute(0, 4, 1, 2, 3)
def d2s_fast(x, s):   # channel order (st, sh, sw, co)
    b, c, t, h, w = x.shape; st, sh, sw = s; co = c // (st * sh * sw)
    p = x.permute(0, 2, 3, 4, 1).reshape(b, t, h, w, st, sh, sw, co)
    p = p.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, t * st, h * sh, w * sw, co)
    return p.permute(0, 4, 1, 2, 3)
for c, s, t, h, w in [(32, (2, 2, 2), 32, 120, 160), (96, (2, 2, 2), 16, 60, 80), (3, (1, 2, 2), 32, 240, 320)]:
    x = torch.randn(1, c, t, h, w).bfloat16().contiguous(memory_format=CL)
    print("s2d", c, s, f"now {bench(cl.space_to_depth, x, s):.1f} ms  fast {bench(s2d_fast, x, s):.1f} ms")
for co, s, t, h, w in [(128, (2, 2, 2), 8, 51, 44), (48, (2, 2, 2), 16, 102, 88), (3, (1, 2, 2), 32, 204, 176)]:
    x = torch.randn(1, co * 8 if s[0] == 2 else co * 4, t, h, w).bfloat16().contiguous(memory_format=CL)
    print("d2s", co, s, f"now {bench(cl.depth_to_space, x, s):.1f} ms  fast {bench(d2s_fast, x, s):.1f} ms")
