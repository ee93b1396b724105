"""Real files with and without the conditional coders (issue 20): each clip encoded at each quality with
``conditional_coder`` on and off (everything else the default: medium preset), decoded, bits of the
whole file and PSNR of the decoded frames; BD-rate per clip and of the mean curve.

    CLIPS=/work/s19/val QS=3,4,5,6,7,8,9 PYTHONPATH=. python experiments/conditional_coder/rd.py
(CLIPS: a folder of (T, 64, 64, 3) uint8 .npy clips.)
"""
import io
import os
import time
from pathlib import Path

import bjontegaard as bd
import numpy as np

from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.encoder import encode_frames
from vqcodec.formats import VqvReader
from vqcodec.metrics import psnr
from vqcodec.weights import load_model



def front(points) -> np.ndarray:
    """The points on the curve's upper front (rate ascending, PSNR rising), as variants.py takes them."""
    out = []
    for b, q in sorted(map(tuple, points)):
        if not out or q > out[-1][1]:
            out.append((b, q))
    return np.array(out)


def bd_rate(old, new) -> float:
    o, n = front(old), front(new)
    return bd.bd_rate(o[:, 0], o[:, 1], n[:, 0], n[:, 1], method="pchip", require_matching_points=False)


def coder_share(data: bytes, model) -> float:
    """The share of a file's predicted blocks that a conditional coder made."""
    reader = VqvReader(io.BytesIO(data))
    first = len(reader.motion_residual) + 1
    flagged = taken = 0
    for g in read_gop_codes(reader, model):
        m = g.codes.motion
        flagged += int(m.flags.sum())
        taken += int((m.residual >= first).sum()) if m.residual is not None else 0
    return taken / max(flagged, 1)


def main() -> None:
    m = load_model()
    qs = [int(q) for q in os.environ.get("QS", "3,4,5,6,7,8,9").split(",")]
    clips = sorted(Path(os.environ.get("CLIPS", "/work/s19/val")).glob("*.npy"))
    curves = {False: [], True: []}
    for path in clips:
        x = np.load(path)[:32]
        n = x[..., 0].size
        for on in (False, True):
            pts, te, td, share = [], 0.0, 0.0, []      # share: of the predicted blocks, those a coder made
            for q in qs:
                t = time.perf_counter()
                data = encode_frames(x, 16, model=m, quality=q, conditional_coder=on)
                te += time.perf_counter() - t
                t = time.perf_counter()
                y = decode_bytes(data, model=m)
                td += time.perf_counter() - t
                pts.append((len(data) * 8 / n, psnr(y, x)))
                if on:
                    share.append(coder_share(data, m))
            curves[on].append(pts)
            print(f"{path.stem[:40]:40s} coder {'on ' if on else 'off'} enc {te:.1f}s dec {td:.1f}s "
                  + " ".join(f"Q{q} {b:.4f}/{p:.2f}" for q, (b, p) in zip(qs, pts))
                  + ("; coder blocks " + " ".join(f"{100 * v:.0f}%" for v in share) if on else ""), flush=True)
        print(f"    BD-rate {bd_rate(curves[False][-1], curves[True][-1]):+.2f}%", flush=True)
    mean = {k: np.mean(np.array(v), 0) for k, v in curves.items()}
    print(f"mean curve BD-rate {bd_rate(mean[False], mean[True]):+.2f}%; per Q (off -> on): "
          + "; ".join(f"Q{q} {a[0]:.4f}/{a[1]:.2f} -> {b[0]:.4f}/{b[1]:.2f}" for q, a, b in zip(qs, mean[False], mean[True])))


if __name__ == "__main__":
    main()
