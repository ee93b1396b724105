"""Probe: the motion layer at Q2 (one bottom stage) and Q1 (top only), against today's (no motion layer there).
Encodes each clip at the given qualities with and without the layer forced on, decodes, prints bytes / PSNR."""
import json, sys, os
import numpy as np, torch
from vqcodec import load_model, encode_frames, decode_bytes
from vqcodec.settings import EncodeSettings
from vqcodec.metrics import psnr
torch.set_num_threads(2)
m = load_model()
orig = EncodeSettings.motion_layer
def forced(self):
    return self.motion and self.copy_mode
qs = [int(q) for q in os.environ.get("QS", "1,2").split(",")]
for path in sys.argv[1:]:
    fr = np.load(path)
    for q in qs:
        row = {"clip": os.path.basename(path), "q": q}
        for label, prop in (("off", orig), ("on", property(forced))):
            EncodeSettings.motion_layer = prop
            data = encode_frames(fr, 16, model=m, quality=q, prior="auto")
            out = decode_bytes(data, model=m)[:len(fr)]
            row[label] = (len(data), round(float(psnr(fr, out)), 3))
        EncodeSettings.motion_layer = orig
        print(json.dumps(row), flush=True)
