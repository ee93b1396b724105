"""The autoencoder's ceiling: PSNR with the continuous latents (bypass) and with the top quantised / bottom
continuous, per clip; against vqv's Q12 decoded PSNR."""
import os, sys, numpy as np, torch
from vqcodec import load_model
from vqcodec.metrics import psnr
m = load_model(); net = m.net.eval()
for p in sys.argv[1:]:
    fr = np.load(p)[:32]
    x = torch.from_numpy(fr).permute(3, 0, 1, 2)[None].float() / 127.5 - 1
    with torch.no_grad():
        out = net(x, bypass=True).recon if hasattr(net(x, bypass=True), "recon") else net(x, bypass=True)[0]
    rec = ((out[0].permute(1, 2, 3, 0).clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
    print(os.path.basename(p), f"continuous latents: {float(psnr(fr, rec)):.2f} dB", flush=True)
