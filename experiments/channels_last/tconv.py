import time, torch, torch.nn.functional as F
torch.set_num_threads(1)
CL = torch.channels_last_3d
def bench(name, f, x, n=3):
    f(x); best = 1e9
    for _ in range(n):
        t0 = time.perf_counter(); y = f(x); best = min(best, time.perf_counter() - t0)
    print(f"{name:12s} {best:.3f}", flush=True); return y
for c, t, h, w in [(48, 32, 204, 176), (128, 16, 102, 88), (256, 8, 51, 44)]:
    print("shape", c, t, h, w)
    W = (torch.randn(c, c, 3, 1, 1) * 0.05).bfloat16(); b = torch.randn(c).bfloat16()
    x = torch.randn(1, c, t, h, w).bfloat16(); xc = x.contiguous(memory_format=CL)
    y0 = bench("nc conv2d", lambda x: F.conv2d(x.reshape(1, c, t, h * w), W.squeeze(-1), b, padding=(1, 0)), x)
    y1 = bench("cl conv3d", lambda x: F.conv3d(x, W, b, padding=(1, 0, 0)), xc)
    def gemm(x):
        p = x.permute(0, 2, 3, 4, 1)
        pad = F.pad(p, (0, 0, 0, 0, 0, 0, 1, 1))
        cols = torch.cat([pad[:, i:i + t] for i in range(3)], dim=-1).reshape(-1, 3 * c)
        wt = W.reshape(c, c, 3).permute(0, 2, 1).reshape(c, 3 * c)
        return torch.addmm(b, cols, wt.t())
    y2 = bench("cl gemm", gemm, xc)
    # conv2d over (t, h*w) with width-1 ... treat as conv1d over T with batch = h*w? layout (hw, c, t) needs a transpose
    def conv1d_hw(x):
        p = x.permute(0, 2, 3, 4, 1).reshape(t, h * w, c)    # (t, hw, c)
        q = p.permute(1, 2, 0)                                   # (hw, c, t) strided
        return F.conv1d(q, W.reshape(c, c, 3), b, padding=1)
    y3 = bench("conv1d hw", conv1d_hw, xc)
    print("diff", (y0.float().reshape(-1).sort()[0] - y0.float().reshape(-1).sort()[0]).abs().max().item())
