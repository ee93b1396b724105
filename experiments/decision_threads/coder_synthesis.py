"""The conditional coders' synthesis of one 64x64 slice in bfloat16, one thread: the module, the module channels-last, and
`dec_lin` as a product (docs/speed.md, "Session 36")."""
import time, copy, numpy as np, torch
from vqcodec.weights import WEIGHTS_DIR, load_conditional_coder
torch.set_num_threads(1)
cc = load_conditional_coder(WEIGHTS_DIR / 'vqv-conditional-coder-1ef33bab.pt')
net = cc.computing_in("bfloat16").nets[0]
print(net.compute_dtype, net.emulated)
rng = np.random.default_rng(0)
p = torch.rand(1, 12, 64, 64); y = torch.randint(-2, 3, (1, 64, 8, 8)).float()
def bench(f, *a, n=60):
    for _ in range(5): f(*a)
    t = time.perf_counter()
    for _ in range(n): f(*a)
    return (time.perf_counter() - t) / n * 1e3
with torch.no_grad():
    ref = net.synthesis(y, p)
    print("module ms", round(bench(net.synthesis, y, p), 2))
    cl = copy.deepcopy(net).to(memory_format=torch.channels_last)
    pl, yl = p.contiguous(memory_format=torch.channels_last), y.contiguous(memory_format=torch.channels_last)
    out = cl.synthesis(yl, pl)
    print("channels_last module ms", round(bench(cl.synthesis, yl, pl), 2), "max diff levels", float(((out - ref) * 255).abs().max()))
    # per layer timing in bf16 NCHW vs NHWC
    x = torch.rand(1, 44, 64, 64).bfloat16()
    c = net.out[0]
    print("out conv nchw", round(bench(c, x), 3), "nhwc", round(bench(cl.out[0], x.contiguous(memory_format=torch.channels_last)), 3))
    lin = net.dec_lin
    print("dec_lin", round(bench(lin, y), 3))
    W = lin.weight.reshape(64, -1)   # (k, 12*8*8)
    def mm(y):
        b, k, h, w = y.shape
        o = (y.permute(0, 2, 3, 1).reshape(-1, k) @ W).reshape(b, h, w, 12, 8, 8).permute(0, 3, 1, 4, 2, 5).reshape(b, 12, h * 8, w * 8)
        return o
    print("dec_lin as mm", round(bench(mm, y), 3), float((mm(y) - lin(y)).abs().max()))
