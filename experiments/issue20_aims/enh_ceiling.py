"""The enhancement layer's ceiling: Q9's decoded frames plus the residual's projection on the pixel basis (128 of
768 directions) at near-continuous precision; and with every direction (the residual itself: inf)."""
import os, sys, numpy as np, torch
from vqcodec import load_model, encode_frames, decode_bytes
from vqcodec.metrics import psnr
torch.set_num_threads(2)
m = load_model(); basis = m.ladder.basis
print("basis", basis.block, basis.basis.shape)
for p in sys.argv[1:]:
    fr = np.load(p)[:32]
    for q in (6, 9):
        base = decode_bytes(encode_frames(fr, 16, model=m, quality=q), model=m)[:32]
        coef = basis.coefficients(fr, base)
        step = 0.01
        out = basis.apply(base, np.rint(coef / step).astype(np.int64), step)
        # energy captured
        r = fr.astype(float) - base
        print(os.path.basename(p), f"Q{q} {float(psnr(fr, base)):.2f} dB -> projected {float(psnr(fr, out)):.2f} dB", flush=True)
