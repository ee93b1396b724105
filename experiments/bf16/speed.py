"""Encode and decode speed, float32 against bfloat16 networks, in-process (2 threads, the model loaded once),
alternating rounds, best of each round's repeats. Command line: ``ROUNDS REPEATS CLIP:FRAMES...`` with CLIP
a .npy of uint8 (T, H, W, 3) frames already at the coded size. One JSON row per clip, float and round."""
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
rounds, repeats = int(sys.argv[1]), int(sys.argv[2])
for rnd in range(rounds):
    for spec in sys.argv[3:]:
        path, n = spec.rsplit(":", 1)
        x = np.load(path, mmap_mode="r")[:int(n)]
        x = np.ascontiguousarray(x)
        for nf in ("float32", "bfloat16"):
            te, td = [], []
            for _ in range(repeats):
                t = time.perf_counter(); d = encode_frames(x, 16, model=m, network_float=nf); te.append(time.perf_counter() - t)
                t = time.perf_counter(); y = decode_bytes(d, model=m); td.append(time.perf_counter() - t)
            print(json.dumps({"clip": f"{path.split('/')[-1]}:{len(x)}", "size": f"{x.shape[2]}x{x.shape[1]}", "float": nf,
                              "round": rnd, "bytes": len(d), "psnr": round(psnr(y, x), 3),
                              "encode_fps": round(len(x) / min(te), 2), "decode_fps": round(len(x) / min(td), 2),
                              "encode_s": round(min(te), 2), "decode_s": round(min(td), 2)}), flush=True)
