import time, sys, torch, numpy as np
from vqcodec.weights import default_conditional_coder
torch.set_num_threads(1)
cc = default_conditional_coder().computing_in("bfloat16")
net = cc.nets[0]
g = torch.Generator().manual_seed(0)
for H, W in [(64, 64), (240, 320)]:
    y = torch.randn(1, net.channels, H // 8, W // 8, generator=g).round(); p = torch.rand(1, 12, H, W, generator=g)
    x = (p + 0.05 * torch.randn(1, 12, H, W, generator=g)).clamp(0, 1)
    with torch.no_grad():
        out = net.synthesis(y, p); an = net.analysis(x, p)
        np.save(f"out/coder_{H}.{sys.argv[1]}.npy", out.numpy()); np.save(f"out/coder_an_{H}.{sys.argv[1]}.npy", an.numpy())
        n = 30 if H == 64 else 6
        ts = []; ta = []
        for _ in range(n):
            t0 = time.perf_counter(); net.synthesis(y, p); ts.append(time.perf_counter() - t0)
            t0 = time.perf_counter(); net.analysis(x, p); ta.append(time.perf_counter() - t0)
    print(sys.argv[1], H, W, f"synthesis best {min(ts)*1e3:.2f} median {np.median(ts)*1e3:.2f} ms; analysis best {min(ta)*1e3:.2f} median {np.median(ta)*1e3:.2f}", flush=True)
