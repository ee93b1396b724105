"""Real files with and without the conditional coders (issue 20): each clip encoded at each quality with
``conditional_coder`` on and off (everything else the default: medium preset), decoded, bits of the
whole file and PSNR of the decoded frames; BD-rate per clip and of the mean curve.

    CLIPS=/work/s19/val QS=3,4,5,6,7,8,9 PYTHONPATH=. python experiments/conditional_coder/rd.py
(CLIPS: a folder of (T, 64, 64, 3) uint8 .npy clips.) Two coders' files against each other instead:
    BEFORE=vqcodec/weights/vqv-conditional-coder-c718175f.pt AFTER=/path/new.pt [PRICED=2] ... rd.py
(each file the encoder's and decoder's coders for its side, in place of the shipped default; PRICED: the
encoder's ``PRICED_CODERS`` on the AFTER side; AFTER_SET=module.NAME=number sets an encoder constant on
the AFTER side, e.g. vqcodec.coding.encoder.MOTION_LAMBDA_SCALE_RESIDUAL=0.25.)
"""
import importlib
import io
import os
import time
from pathlib import Path

import bjontegaard as bd
import numpy as np

import vqcodec.coding.conditional_coder as CC
import vqcodec.weights as W
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


def use_coders(path: str | None, priced: int) -> None:
    """Make ``path`` the coders' file every encode and decode here uses (None: the shipped default)."""
    W.default_conditional_coder.cache_clear()
    coder = W.load_conditional_coder(path) if path else W.default_conditional_coder()
    W.default_conditional_coder = lambda: coder
    CC.PRICED_CODERS = priced


def after_setting():
    """(module, name, the AFTER side's value, the default) from AFTER_SET, or None."""
    spec = os.environ.get("AFTER_SET")
    if not spec:
        return None
    target, value = spec.split("=")
    mod, name = target.rsplit(".", 1)
    module = importlib.import_module(mod)
    return module, name, float(value), getattr(module, name)


def main() -> None:
    m = load_model()
    setting = after_setting()
    files = {False: os.environ.get("BEFORE"), True: os.environ.get("AFTER")}
    two_files = files[False] is not None or files[True] is not None
    shipped, default_priced = W.default_conditional_coder, CC.PRICED_CODERS
    qs = [int(q) for q in os.environ.get("QS", "3,4,5,6,7,8,9").split(",")]
    clips = sorted(Path(os.environ.get("CLIPS", "/work/s19/val")).glob("*.npy"))
    curves = {False: [], True: []}
    for path in clips:
        x = np.load(path)[:32]
        n = x[..., 0].size
        for on in (False, True):
            pts, te, td, share = [], 0.0, 0.0, []      # share: of the predicted blocks, those a coder made
            if two_files:
                W.default_conditional_coder = shipped
                use_coders(files[on], int(os.environ.get("PRICED", default_priced)) if on else default_priced)
            if setting is not None:
                setattr(setting[0], setting[1], setting[2] if on else setting[3])
            for q in qs:
                t = time.perf_counter()
                data = encode_frames(x, 16, model=m, quality=q, conditional_coder=on or two_files)
                te += time.perf_counter() - t
                t = time.perf_counter()
                y = decode_bytes(data, model=m)
                td += time.perf_counter() - t
                pts.append((len(data) * 8 / n, psnr(y, x)))
                if on or two_files:
                    share.append(coder_share(data, m))
            curves[on].append(pts)
            print(f"{path.stem[:40]:40s} {('after ' if on else 'before') if two_files else ('coder on ' if on else 'coder off')} enc {te:.1f}s dec {td:.1f}s "
                  + " ".join(f"Q{q} {b:.4f}/{p:.2f}" for q, (b, p) in zip(qs, pts))
                  + ("; coder blocks " + " ".join(f"{100 * v:.0f}%" for v in share) if share else ""), flush=True)
        print(f"    BD-rate {bd_rate(curves[False][-1], curves[True][-1]):+.2f}%", flush=True)
    mean = {k: np.mean(np.array(v), 0) for k, v in curves.items()}
    print(f"mean curve BD-rate {bd_rate(mean[False], mean[True]):+.2f}%; per Q (off -> on): "
          + "; ".join(f"Q{q} {a[0]:.4f}/{a[1]:.2f} -> {b[0]:.4f}/{b[1]:.2f}" for q, a, b in zip(qs, mean[False], mean[True])))


if __name__ == "__main__":
    main()
