"""Q2 with the motion layer forced on at multiples of its motion lambda: each point's dB above the line between the
shipped Q2 and Q3 points (log rate), real files decoded, each clip's first 32 frames. Command line: MULTS CLIPS.npy..."""
import json, sys, numpy as np, torch
import vqcodec.settings as S
from vqcodec.coding import lambdas as L
from vqcodec import load_model, encode_frames, decode_bytes
from vqcodec.metrics import psnr
torch.set_num_threads(2)
m = load_model()
orig_prop, orig_lam = S.EncodeSettings.motion_layer, L.motion_lambda
mult = [1.0]
def run(x, q, patched):
    S.EncodeSettings.motion_layer = property(lambda s: s.motion and s.copy_mode and s.point.bottom >= 1 or (s.motion and s.point.scalar)) if patched else orig_prop
    d = encode_frames(x, 16, model=m, quality=q); y = decode_bytes(d, model=m)
    return len(d) * 8 / x[..., 0].size, psnr(x, y)
L.motion_lambda = lambda *a: orig_lam(*a) * mult[0]
for path in sys.argv[2:]:
    x = np.load(path)[:32]
    mult[0] = 1.0
    (r2, p2), (r3, p3) = run(x, 2, False), run(x, 3, False)
    for k in [float(v) for v in sys.argv[1].split(",")]:
        mult[0] = k
        r, p = run(x, 2, True)
        line = p2 + (p3 - p2) * np.log(r / r2) / np.log(r3 / r2)
        print(json.dumps({"clip": path.split('/')[-1][:20], "mult": k, "bpp": round(r, 4), "psnr": round(p, 3),
                          "above_line_db": round(p - line, 3), "q2": [round(r2, 4), round(p2, 2)], "q3": [round(r3, 4), round(p3, 2)]}), flush=True)
