"""Encode speed with two and three coders priced (``--preset medium``'s Effort.coders), in-process, 2
threads, default quality, bfloat16 on this CPU; alternating rounds, best of REPEATS each. Command line:
``ROUNDS REPEATS CLIP:FRAMES...``."""
import json
import sys
import time

import numpy as np
import torch

from vqcodec import settings as S
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.motion_search import Effort
from vqcodec.weights import load_model

torch.set_num_threads(2)
m = load_model()
rounds, repeats = int(sys.argv[1]), int(sys.argv[2])
for rnd in range(rounds):
    for spec in sys.argv[3:]:
        path, n = spec.rsplit(":", 1)
        x = np.ascontiguousarray(np.load(path, mmap_mode="r")[:int(n)])
        for coders in (2, 3):
            S.PRESETS["medium"] = S.Preset(effort=Effort(coders=coders))
            te = []
            for _ in range(repeats):
                t = time.perf_counter(); d = encode_frames(x, 16, model=m); te.append(time.perf_counter() - t)
            print(json.dumps({"clip": f"{path.split('/')[-1]}:{len(x)}", "coders": coders, "round": rnd,
                              "bytes": len(d), "encode_fps": round(len(x) / min(te), 2)}), flush=True)
