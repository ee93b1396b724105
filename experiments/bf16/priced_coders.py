"""With the coders 3x cheaper in bfloat16: price 2 (as built), 3 or all 4 coders per slice (k = 0, 1, 2).
Each clip's first 32 frames at each quality, default options (bfloat16 on this CPU), coded and decoded
in-process, one JSON row each with the encode seconds. Command line: ``QS CLIPS...``."""
import json
import sys
import time

import numpy as np
import torch

import vqcodec.coding.conditional_coder as cc
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.metrics import psnr
from vqcodec.weights import load_model

torch.set_num_threads(2)
m = load_model()
for path in sys.argv[2:]:
    x = np.load(path)[:32]
    for q in [int(v) for v in sys.argv[1].split(",")]:
        for k, n in enumerate((2, 3, 4)):
            cc.PRICED_CODERS = n
            t = time.perf_counter(); d = encode_frames(x, 16, model=m, quality=q); te = time.perf_counter() - t
            y = decode_bytes(d, model=m)
            print(json.dumps({"clip": path.split('/')[-1][:30], "q": q, "k": k, "bytes": len(d), "psnr": psnr(y, x),
                              "encode_s": round(te, 3)}), flush=True)
