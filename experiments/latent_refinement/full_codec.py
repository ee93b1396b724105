"""The refinement through the whole codec: one-GOP clips (32 frames) encoded at the scalar points with the bottom
latent as the analysis gives it (as shipped) and refined by STEPS Adam steps through the decoder the file will
use (bfloat16 here; lr LR x the quantiser's step) before the scalar layer's decisions; bytes and decoded PSNR.
Patches GopEncoder._decide_scalar (one GOP per clip: the top codes are the last decided)."""
import json, os, sys, time
import numpy as np, torch
import vqcodec.coding.encoder as E
from vqcodec import load_model, encode_frames, decode_bytes
from vqcodec.metrics import psnr

torch.set_num_threads(2)
STEPS, LR = int(os.environ.get("STEPS", "10")), float(os.environ.get("LR", "0.06"))
m = load_model()
orig = E.GopEncoder._decide_scalar


def refined(self, z_bottom, refresh):
    if self.scalar is None or not STEPS:
        return orig(self, z_bottom, refresh)
    net = self.model.net
    top = torch.from_numpy(self._ref_levels["top"].indices[None].astype(np.int64))
    with torch.no_grad():
        u_t = net._run(net.dec_top, net.top_quantizer.decode(top))
    x = torch.from_numpy(self._pending[0][0][None]).permute(0, 4, 1, 2, 3).float().div(127.5).sub(1.0)
    z = z_bottom[0].detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=LR * self.scalar.step)
    with torch.enable_grad():
        for _ in range(STEPS):
            (g,) = torch.autograd.grad(torch.mean((net._decode_latents(u_t, z) - x) ** 2), [z])
            z.grad = g
            opt.step()
    return orig(self, [z.detach()], refresh)


for path in sys.argv[1:]:
    fr = np.load(path)[:32]
    for q in range(7, 13):
        for variant in ("shipped", "refined"):
            E.GopEncoder._decide_scalar = refined if variant == "refined" else orig
            t0 = time.perf_counter()
            data = encode_frames(fr, 16, model=m, quality=q)
            t = time.perf_counter() - t0
            out = decode_bytes(data, model=m)[:32]
            print(json.dumps({"clip": os.path.basename(path), "q": q, "variant": variant, "bytes": len(data),
                              "psnr": round(float(psnr(fr, out)), 3), "encode_s": round(t, 2)}), flush=True)
