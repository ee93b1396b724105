"""Intra slice as frame 0 held for 4 frames, the rest predicted: potential (emulated by prepending 3 copies)."""
import sys, numpy as np
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
from vqcodec.metrics import psnr
m = load_model()
for path in sys.argv[1:]:
    x = np.load(path)[:32]
    for q in (4, 6, 9, 12):
        d = encode_frames(x, 16, model=m, quality=q); y = decode_bytes(d, model=m)
        s0 = encode_frames(x[:4], 16, model=m, quality=q)
        st = encode_frames(x[[0, 0, 0, 0]], 16, model=m, quality=q); yst = decode_bytes(st, model=m)
        xh = np.concatenate([x[[0, 0, 0]], x])          # 35 frames
        dh = encode_frames(xh, 16, model=m, quality=q); yh = decode_bytes(dh, model=m)[3:]
        print(f"{path.split('/')[-1][:24]} Q{q}: normal {len(d)} B {psnr(y, x):.2f} dB (slice 0 alone {len(s0)} B);"
              f" held frame 0 alone {len(st)} B {psnr(yst[:1], x[:1]):.2f} dB; held+rest {len(dh)} B {psnr(yh, x):.2f} dB", flush=True)
