"""The main network in float32 (k=0) and in bfloat16 (k=1, MSVQVAE.in_bfloat16: encoder and decoder alike),
in-process: each clip's first 32 frames at each quality, coded, decoded, one JSON row each with the encode
and decode seconds. Command line: ``QS CLIPS...``."""
import json
import sys
import time

import numpy as np
import torch

from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.metrics import psnr
from vqcodec.weights import load_model

torch.set_num_threads(2)
m = load_model()
nets = [m.net, m.net.in_bfloat16()]
for path in sys.argv[2:]:
    x = np.load(path)[:32]
    for q in [int(v) for v in sys.argv[1].split(",")]:
        for k, net in enumerate(nets):
            m.net = net
            t = time.perf_counter(); d = encode_frames(x, 16, model=m, quality=q); te = time.perf_counter() - t
            t = time.perf_counter(); y = decode_bytes(d, model=m); td = time.perf_counter() - t
            print(json.dumps({"clip": path.split('/')[-1][:30], "q": q, "k": k, "bytes": len(d), "psnr": psnr(y, x),
                              "encode_s": round(te, 3), "decode_s": round(td, 3)}), flush=True)
