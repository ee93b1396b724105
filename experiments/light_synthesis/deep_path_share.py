"""Per quality: PSNR/SSIM of the network's decode (motion off, no enhancement added) and of the linear path alone."""
import sys, numpy as np, torch
from vqcodec.weights import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.latents import read_latents
from vqcodec.net.model import unit_to_bytes, depth_to_space
from vqcodec.metrics import ssim as ssim_fn
torch.set_num_threads(2)
model = load_model(); net = model.net.eval()
def psnr(a, b): return 10 * np.log10(255 ** 2 / np.mean((a.astype(np.float64) - b) ** 2))
def decode_both(lat):
    top = torch.from_numpy(lat["top"]); bot = torch.from_numpy(lat["bottom"])
    with torch.no_grad():
        z = torch.cat([net.dec_top(top), bot], 1)
        full = unit_to_bytes(net._decode_latent_tile(z)).permute(0, 2, 3, 4, 1).numpy()
        lin = unit_to_bytes(depth_to_space(net.lin_dec(bot), net.cfg.bottom_factor)).permute(0, 2, 3, 4, 1).numpy()
    return full, lin
clips = sys.argv[1:]
rows = {}
for f in clips:
    v = np.load(f)[:32]
    for q in range(1, 13):
        data = encode_frames(v, 16, model=model, quality=q, motion=False, prior="empirical-static")
        p = f"/tmp/lc_{q}.vqv"; open(p, "wb").write(data)
        lat = read_latents(p, model)
        full, lin = decode_both({l.name: l.latent for l in lat.levels})
        full, lin = full[0, :32], lin[0, :32]
        r = rows.setdefault(q, [])
        r.append((psnr(full, v), psnr(lin, v), ssim_fn(v, full), ssim_fn(v, lin)))
for q, r in rows.items():
    a = np.mean(r, 0)
    print(f"Q{q}: full {a[0]:.3f} dB / {a[2]:.4f}; linear only {a[1]:.3f} dB / {a[3]:.4f}; diff {a[1]-a[0]:+.3f} dB")
