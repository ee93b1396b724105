"""Network decode and analysis, fp32 vs bf16 autocast, at 64x64 / 320x240 / 720p (one thread)."""
import time, numpy as np, torch
from vqcodec import load_model
torch.set_num_threads(1)
net = load_model().net
def psnr(a, b):
    return 10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2))
clips = {"64": np.load("/work/s26/b64.npy")[:32], "320": np.load("/work/s26/b320.npy")[:32], "720": np.load("/work/s26/bbb720.npy")[:8]}
for name, x in clips.items():
    codes = net.encode(x, stages=(2, 4))
    r = {}
    for prec in ("fp32", "bf16", "fp32", "bf16"):
        ctx = torch.autocast("cpu", dtype=torch.bfloat16, enabled=prec == "bf16")
        with ctx:
            t = time.perf_counter(); a = net.analyse(x); ta = time.perf_counter() - t
            t = time.perf_counter(); y = net.decode(codes); td = time.perf_counter() - t
        r.setdefault(prec, []).append((ta, td, y))
    y32, y16 = r["fp32"][0][2], r["bf16"][0][2]
    print(f"{name}: analyse fp32 {min(v[0] for v in r['fp32']):.3f}s bf16 {min(v[0] for v in r['bf16']):.3f}s | decode fp32 {min(v[1] for v in r['fp32']):.3f}s bf16 {min(v[1] for v in r['bf16']):.3f}s | {psnr(x,y32):.3f} / {psnr(x,y16):.3f} dB, diff {psnr(y32,y16):.1f} dB", flush=True)
