import time, torch, torch.nn as nn, torch.nn.functional as F
exec(open('clproto.py').read().split("m = load_model()")[0])
def conv_cl(m, x):
    return F.conv3d(x, m.weight, m.bias, padding=m.padding)
m = load_model().computing_in("bfloat16"); net = m.net
g = torch.Generator().manual_seed(0)
h, w = 51, 44
x0 = torch.randn(1, 256, 8, h, w, generator=g).to(torch.bfloat16)
x1 = x0.contiguous(memory_format=CL)
A, B = [], []
with torch.no_grad():
    for r in range(4):
        t0 = time.perf_counter(); ya = net.decoder(x0); ta = time.perf_counter() - t0
        times.clear()
        t0 = time.perf_counter(); yb = run_cl(net.decoder, x1); tb = time.perf_counter() - t0
        A.append(ta); B.append(tb)
        d = (ya.float() - yb.float()).abs()
        print(f"ncdhw {ta:.3f} cl {tb:.3f}", yb.is_contiguous(memory_format=CL), d.max().item(), (d > 0).float().mean().item(), flush=True)
print("best", min(A), min(B))
for k, v in sorted(times.items(), key=lambda kv: -kv[1]): print(f"{v:.3f} {k}")
