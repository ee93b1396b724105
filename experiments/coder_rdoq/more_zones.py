"""More roundings of the coders' symbols, on the first slice only or everywhere (session 26): k 0 = the
shipped encoder (medium: nearest, 0.15, 0.3), then each setting of SETTINGS, "INTRA|ALL" zone lists
(INTRA: the refresh GOP's first slice, choose_intra; ALL: every other slice; empty = as shipped).
Real files, decoded, as deadzone.py.

    SETTINGS="0.1,0.2,0.3,0.4|;0.1,0.2,0.3,0.4|0.1,0.2,0.3,0.4" PYTHONPATH=. python experiments/coder_rdoq/more_zones.py 3,...,12 CLIPS... > out.jsonl
"""
import json, os, sys
import numpy as np
import torch
import vqcodec.coding.motion_search as ms
from vqcodec import settings as S
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
from vqcodec.metrics import psnr

SHIPPED_INTRA = ms.choose_intra
SHIPPED_EFFORT = S.PRESETS["medium"]


def zones(text):
    return (0.0, *(float(t) for t in text.split(","))) if text else None


if __name__ == "__main__":
    torch.set_num_threads(2)
    m = load_model()
    settings = [tuple(zones(p) for p in s.split("|")) for s in os.environ["SETTINGS"].split(";")]
    for path in sys.argv[2:]:
        x = np.load(path)[:32]
        for q in [int(v) for v in sys.argv[1].split(",")]:
            for k, (intra, rest) in enumerate([(None, None), *settings]):
                ms.choose_intra = SHIPPED_INTRA if intra is None else \
                    (lambda *a, z=intra: SHIPPED_INTRA(*a[:5], z))
                S.PRESETS["medium"] = SHIPPED_EFFORT if rest is None else \
                    S.Preset(effort=ms.Effort(dead_zones=rest))
                d = encode_frames(x, 16, model=m, quality=q)
                y = decode_bytes(d, model=m)
                print(json.dumps({"clip": path.split('/')[-1][:30], "q": q, "k": k, "bytes": len(d),
                                  "psnr": psnr(y, x)}), flush=True)
