"""The conditional coders priced once per slice (session 29): ``DEFER 0/1`` ``QS CLIPS...``: with defer_coders.patch
applied, 1 prices the coders once, on the slice as each block's cheaper path (straight or bent) predicts it, instead of
on the straight and the bent slice each; one JSON row per (clip, quality): bytes, PSNR, encode seconds."""
import json, sys, time
import numpy as np, torch
import vqcodec.coding.motion_search as ms
ms.DEFER_CODERS = sys.argv[1] == "1"
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.metrics import psnr
from vqcodec.weights import load_model
torch.set_num_threads(2)
m = load_model()
for path in sys.argv[3:]:
    x = np.load(path)[:32]
    for q in [int(v) for v in sys.argv[2].split(",")]:
        t = time.perf_counter(); d = encode_frames(x, 16, model=m, quality=q); te = time.perf_counter() - t
        y = decode_bytes(d, model=m)
        print(json.dumps({"label": "defer" if ms.DEFER_CODERS else "base", "clip": path.split('/')[-1][:30], "q": q,
                          "bytes": len(d), "psnr": psnr(y, x), "encode_s": round(te, 3)}), flush=True)
