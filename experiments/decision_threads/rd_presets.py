"""(session 37) experiments/rdoq/rd.py's protocol without rdoq.py's patch (stale since the slices' `real` frames): encode every
.npy clip of the folders at the qualities (prior empirical-static, one torch thread), decode, and write
[quality, bpp, PSNR, encode seconds] per clip to OUT.json. ENC_KW (json): more encode_frames options.
usage: rd.py OUT.json Q,Q,... DIR [DIR ...]"""
import json, os, sys, time
from pathlib import Path
import numpy as np, torch
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.metrics import psnr
from vqcodec.weights import load_model
torch.set_num_threads(1)
m = load_model()
qs = [int(q) for q in sys.argv[2].split(",")]
kw = {"prior": "empirical-static", **json.loads(os.environ.get("ENC_KW", "{}"))}
out = {}
for d in sys.argv[3:]:
    for p in sorted(Path(d).glob("*.npy")):
        x = np.load(p)
        res = []
        for q in qs:
            t = time.time(); b = encode_frames(x, 16, model=m, quality=q, **kw); te = time.time() - t
            res.append([q, len(b) * 8 / x[..., 0].size, psnr(x, decode_bytes(b, model=m)), te])
        out[p.stem] = res
        print(p.stem, " ".join(f"Q{a[0]}:{a[1]:.4f}/{a[2]:.2f}" for a in res), flush=True)
json.dump(out, open(sys.argv[1], "w"), indent=1)
