"""Encode and decode speed of two variants, in-process (2 threads, the model loaded once, default quality),
alternating rounds, best of each round's repeats. Command line: ``VARY ROUNDS REPEATS CLIP:FRAMES...``, CLIP a
.npy of uint8 (T, H, W, 3) frames at the coded size; VARY ``float`` (float32 against bfloat16 networks:
speed_small.log, speed_720.log) or ``coders`` (two against three coders priced at ``--preset medium``, in
bfloat16 on this CPU: speed_coders.log, encode only). One JSON row per clip, variant and round."""
import json
import sys
import time

import numpy as np
import torch

from vqcodec import settings as S
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.motion_search import Effort
from vqcodec.metrics import psnr
from vqcodec.weights import load_model

torch.set_num_threads(2)
m = load_model()
vary, rounds, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
variants = ("float32", "bfloat16") if vary == "float" else (2, 3)
for rnd in range(rounds):
    for spec in sys.argv[4:]:
        path, n = spec.rsplit(":", 1)
        x = np.ascontiguousarray(np.load(path, mmap_mode="r")[:int(n)])
        for v in variants:
            if vary == "coders":
                S.PRESETS["medium"] = S.Preset(effort=Effort(coders=v))
            nf = v if vary == "float" else None
            te, td = [], []
            for _ in range(repeats):
                t = time.perf_counter(); d = encode_frames(x, 16, model=m, network_float=nf); te.append(time.perf_counter() - t)
                if vary == "float":
                    t = time.perf_counter(); y = decode_bytes(d, model=m); td.append(time.perf_counter() - t)
            row = {"clip": f"{path.split('/')[-1]}:{len(x)}", "size": f"{x.shape[2]}x{x.shape[1]}",
                   "float" if vary == "float" else "coders": v, "round": rnd, "bytes": len(d),
                   "encode_fps": round(len(x) / min(te), 2), "encode_s": round(min(te), 2)}
            if td:
                row.update(psnr=round(psnr(y, x), 3), decode_fps=round(len(x) / min(td), 2), decode_s=round(min(td), 2))
            print(json.dumps(row), flush=True)
