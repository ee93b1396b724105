"""Quick RD check: vqv with and without the motion layer on corpus clips (64x64, 16 fps)."""
import sys, time, io, json
import numpy as np
from vqcodec.weights import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.gop_coding import label_level
from vqcodec.io.reader import open_video, resize_frames
from fractions import Fraction

from vqcodec.metrics import psnr

def clip(path, start, n):
    info, frames = open_video(path, fps=Fraction(16))
    out = []
    for i, f in enumerate(frames):
        if i < start: continue
        if len(out) == n: break
        out.append(f)
    x = np.stack(out)
    h, w = x.shape[1:3]; s = 64 / min(h, w)
    cw, ch = max(8, round(w * s / 8) * 8), max(8, round(h * s / 8) * 8)
    return resize_frames(x, cw, ch)


def segments(root, spec, n):
    """(path, start, frames) for each (path, start) of ``spec`` under ``root`` that has ``n`` frames from there."""
    for path, start in spec:
        try:
            x = clip(f"{root}/{path}", start, n)
        except ValueError:
            continue
        if len(x) >= n:
            yield path, start, x[:n]

if __name__ == "__main__":
    m = load_model()
    clips = json.loads(sys.argv[1])
    qs = [int(q) for q in sys.argv[2].split(",")]
    kw = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    for path, start, n in clips:
        x = clip(path, start, n)
        for q in qs:
            row = []
            for motion in (False, True):
                t = time.time()
                d = encode_frames(x, 16, model=m, quality=q, motion=motion, **(kw if motion else {}))
                te = time.time() - t
                y = decode_bytes(d, model=m)
                row.append((len(d) * 8 / x[..., 0].size, psnr(y, x), te))
            (b0, p0, t0), (b1, p1, t1) = row
            print(f"{path.split('/')[-1]:28s} Q{q:2d}  off {b0:.4f} bpp {p0:.2f} dB ({t0:.1f}s)  on {b1:.4f} bpp {p1:.2f} dB ({t1:.1f}s)  "
                  f"bits {100*(b1/b0-1):+.1f}%  dPSNR {p1-p0:+.2f}", flush=True)
