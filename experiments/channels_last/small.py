import time, torch
from vqcodec import load_model
torch.set_num_threads(1)
m = load_model().computing_in("bfloat16"); net = m.net
g = torch.Generator().manual_seed(0)
for shape in [(1, 256, 8, 8, 8), (1, 256, 8, 30, 40)]:
    z = torch.randn(*shape, generator=g)
    with torch.no_grad():
        net._decode_latent_tile(z)
        ts = []
        for _ in range(10):
            t0 = time.perf_counter(); net._decode_latent_tile(z); ts.append(time.perf_counter() - t0)
    print(shape, f"{min(ts)*1e3:.1f} ms")
    x = torch.randint(0, 255, (1, 3, 32, shape[3] * 8, shape[4] * 8), dtype=torch.uint8, generator=g)
    with torch.no_grad():
        ts = []
        for _ in range(5):
            t0 = time.perf_counter(); net.analyse(x.permute(0, 2, 3, 4, 1).numpy()); ts.append(time.perf_counter() - t0)
    print("analyse", f"{min(ts)*1e3:.1f} ms")
