"""RD of `--motion` (or a monkeypatched variant of it) against motion off, on the benchmark's 3
validation clips, Q2-Q12: BD-rate per clip and of the mean curve (pchip over each curve's RD front).
Used by lambda_sweep.py; run from the repository root. CORPUS / CACHE: where the open corpus and
the frame cache are (default data/corpus, data/cache); the motion-off curve is cached in
off_curve.json beside this file (delete it after a change to the encoder without motion)."""
import sys, io, json, os
from pathlib import Path
import numpy as np
from benchmarks.clips import load_clips
from vqcodec.weights import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.metrics import psnr
import bjontegaard as bd
m = load_model()
clips = load_clips("corpus:" + os.environ.get("CORPUS", "data/corpus"), None, Path(os.environ.get("CACHE", "data/cache")),
                   lambda *a: None, frames=32)
QS = [int(q) for q in os.environ.get("QS", "2,3,4,5,6,7,8,9,10,11,12").split(",")]
def curve(motion, **kw):
    out = []
    for c in clips:
        pts = []
        for q in QS:
            d = encode_frames(c.frames, 16, model=m, quality=q, motion=motion, **kw)
            y = decode_bytes(d, model=m)
            pts.append((len(d) * 8 / c.frames[..., 0].size, psnr(y, c.frames)))
        out.append(pts)
    return out
cache = Path(__file__).with_name("off_curve.json")
if cache.exists():
    off = json.loads(cache.read_text())
else:
    off = curve(False); cache.write_text(json.dumps(off))
def front(p):
    p = sorted(map(tuple, p))
    out = []
    for b, q in p:
        if not out or q > out[-1][1]:
            out.append((b, q))
    return np.array(out)
def bdr(o, n):
    o, n = front(o), front(n)
    return bd.bd_rate(o[:, 0], o[:, 1], n[:, 0], n[:, 1], method="pchip", require_matching_points=False)
def report(name, on):
    rates = []
    for o, n in zip(off, on):
        rates.append(bdr(o, n))
    mo = np.mean(np.array(off), 0); mn = np.mean(np.array(on), 0)
    g = bdr(mo, mn)
    print(f"{name:30s} BD per clip {' '.join(f'{r:+.1f}%' for r in rates)} mean-curve {g:+.1f}%  pts " +
          " ".join(f"{b:.3f}/{p:.2f}" for b, p in mn), flush=True)
    return on
