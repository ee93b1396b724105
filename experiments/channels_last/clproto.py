import time, torch, torch.nn as nn, torch.nn.functional as F
from vqcodec import load_model
from vqcodec.net.model import ResBlock3d, Up, TemporalConv3d, depth_to_space
torch.set_num_threads(1)
CL = torch.channels_last_3d

def conv_cl(m, x):
    if isinstance(m, TemporalConv3d):
        b, c, t, h, w = x.shape
        x4 = x.reshape(b, c, t, h * w)          # a view: channels-last 4D
        y = F.conv2d(x4, m.weight.squeeze(-1), m.bias, padding=(m.padding[0], 0))
        return y.view(b, -1, y.shape[2], h, w)
    return m(x)

def d2s_cl(x, s):
    b, c, t, h, w = x.shape
    st, sh, sw = s; co = c // (st * sh * sw)
    p = x.permute(0, 2, 3, 4, 1)                 # (b,t,h,w,c) contiguous view
    p = p.reshape(b, t, h, w, co, st, sh, sw).permute(0, 1, 5, 2, 6, 3, 7, 4).reshape(b, t * st, h * sh, w * sw, co)
    return p.permute(0, 4, 1, 2, 3)

times = {}
def timed(key, f, *a):
    t0 = time.perf_counter(); y = f(*a); times[key] = times.get(key, 0) + time.perf_counter() - t0; return y

def run_cl(seq, x):
    for i, m in enumerate(seq):
        if isinstance(m, nn.Sequential):
            for j, rb in enumerate(m):
                a = timed(f"{i}.{j}.c1", conv_cl, rb.c1, F.silu(x))
                x = x + timed(f"{i}.{j}.c2", conv_cl, rb.c2, F.silu(a))
        elif isinstance(m, Up):
            x = timed(f"{i}.d2s", d2s_cl, timed(f"{i}.conv", conv_cl, m.conv, x), m.s)
        elif isinstance(m, nn.SiLU):
            x = F.silu(x)
        else:
            x = timed(f"{i}", conv_cl, m, x)
    return x

m = load_model().computing_in("bfloat16"); net = m.net
g = torch.Generator().manual_seed(0)
h, w = 51, 44
x0 = torch.randn(1, 256, 8, h, w, generator=g).to(torch.bfloat16)
x1 = x0.contiguous(memory_format=CL)
with torch.no_grad():
    for r in range(3):
        t0 = time.perf_counter(); ya = net.decoder(x0); ta = time.perf_counter() - t0
        times.clear()
        t0 = time.perf_counter(); yb = run_cl(net.decoder, x1); tb = time.perf_counter() - t0
        print(f"ncdhw {ta:.3f} cl {tb:.3f}", yb.is_contiguous(memory_format=CL), (ya.float() - yb.float()).abs().max().item(), flush=True)
for k, v in sorted(times.items(), key=lambda kv: -kv[1]): print(f"{v:.3f} {k}")
