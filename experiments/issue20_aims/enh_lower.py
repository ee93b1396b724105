"""Probe: the enhancement layer at lower ladder points (bases Q6-Q9 + enh at E 80 / 96 / 112, the E=80 tables),
appended to the ladder as extra qualities; bytes / PSNR of each, and of the current Q5-Q12, per clip."""
import dataclasses, json, os, sys
import numpy as np, torch
from vqcodec import load_model, encode_frames, decode_bytes
from vqcodec.coding.ladder import LadderPoint
from vqcodec.metrics import psnr
torch.set_num_threads(2)
m = load_model()
L = m.ladder
pts = list(L.points)
extra = []
for base_q in (6, 7, 8, 9):
    b = pts[base_q - 1]
    for e in (80, 112, 144):
        extra.append((f"Q{base_q}+E{e}", LadderPoint(b.top, b.bottom, b.step_num, e * 1024)))
tabs = dict(L.enh_tables)
for _, p in extra:
    tabs.setdefault(p.enh_num, L.enh_tables[81920])
new = dataclasses.replace(L, points=tuple(pts) + tuple(p for _, p in extra), enh_tables=tabs)
m._ladder = new
names = [(f"Q{q}", q) for q in range(5, 13)] + [(n, 13 + i) for i, (n, _) in enumerate(extra)]
for path in sys.argv[1:]:
    fr = np.load(path)
    for name, q in names:
        data = encode_frames(fr, 16, model=m, quality=q, prior="auto")
        out = decode_bytes(data, model=m)[:len(fr)]
        print(json.dumps({"clip": os.path.basename(path), "point": name, "bytes": len(data),
                          "psnr": round(float(psnr(fr, out)), 3)}), flush=True)
