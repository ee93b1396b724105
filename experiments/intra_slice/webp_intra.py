"""Potential of an intra frame coded by an image coder (WebP, ~x264's I-frame) in place of vqv's intra slice.
Emulated: GOP 0 = frame 0 held 32 frames (its slice 0 intra, the rest copies); GOP 1 = frames 1..31 predicted
across GOPs from GOP 0's last frame (--refresh 0). Estimate = WebP bytes of frame 0 at about the held frame's
PSNR + GOP 1's bytes; PSNR over the 32 frames (frame 0 WebP's, frames 1-31 GOP 1's)."""
import io, sys, numpy as np
from PIL import Image
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.formats import VqvReader
from vqcodec.weights import load_model
from vqcodec.metrics import psnr
m = load_model()
def mse(a, b): return float(((a.astype(np.float64) - b) ** 2).mean())
def webp_at(f, target):
    best = None
    for q in range(0, 101, 2):
        b = io.BytesIO(); Image.fromarray(f).save(b, "WEBP", quality=q, method=6)
        y = np.asarray(Image.open(io.BytesIO(b.getvalue())).convert("RGB"))
        if best is None or abs(psnr(y, f) - target) < abs(best[2] - target):
            best = (len(b.getvalue()), y, psnr(y, f))
    return best
for path in sys.argv[1:]:
    x = np.load(path)[:32]
    for q in (4, 6, 9, 12):
        d = encode_frames(x, 16, model=m, quality=q); y = decode_bytes(d, model=m)
        clip = np.concatenate([np.repeat(x[:1], 32, 0), x[1:]])
        e = encode_frames(clip, 16, model=m, quality=q, refresh=0); ye = decode_bytes(e, model=m)
        r = VqvReader(io.BytesIO(e))
        sizes = [len(c.payload) for c in r]
        wb, wy, wp = webp_at(x[0], psnr(ye[31], x[0]))
        est_bytes = wb + sizes[1] + 90
        est = np.concatenate([wy[None], ye[32:]])
        print(f"{path.split('/')[-1][:24]} Q{q}: vqv {len(d)} B {psnr(y, x):.2f} dB | webp frame 0 {wb} B {wp:.2f} dB"
              f" (held frame {psnr(ye[31], x[0]):.2f} dB, GOP 0 {sizes[0]} B) + GOP 1 {sizes[1]} B: {est_bytes} B"
              f" {psnr(est, x):.2f} dB", flush=True)
