import time, torch, numpy as np
from fractions import Fraction
from vqcodec import load_model
from vqcodec.net.model import unit_to_bytes
torch.set_num_threads(1)
m = load_model().computing_in("bfloat16"); net = m.net
C = net.cfg.latent_dim + (net.top_quantizer.dim if hasattr(net.top_quantizer,'dim') else 0)
# find decoder input channels
cin = net.decoder[0].in_channels
print("cin", cin, net.compute_dtype)
g = torch.Generator().manual_seed(0)
with torch.no_grad():
    for h, w in [(24, 24), (51, 44), (51, 66), (90, 44), (16, 160), (24,160)]:
        z = torch.randn(1, cin, 8, h, w, generator=g)
        net._decode_latent_tile(z)
        best = 1e9
        for _ in range(2):
            t0 = time.perf_counter(); unit_to_bytes(net._decode_latent_tile(z)); best = min(best, time.perf_counter() - t0)
        print(h, w, f"{best:.3f} s", f"{best / (h * w) * 1e3:.3f} ms/pos", flush=True)
