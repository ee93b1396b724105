"""Encoder-only roundings of the conditional coders' symbols (session 26): besides the analysis's nearest
integers, each priced coder also tries dead-zone roundings ``sign(y) floor(|y| + 0.5 - z)`` for each z of a
setting; each rounding costs one synthesis of the slice, and each block keeps its cheapest (coder,
rounding) in D + lambda R (``conditional_coder.DEAD_ZONES``, patched here). The decoder is unchanged (it
reads symbols). Real files, decoded: bytes and PSNR per clip and quality, k 0 = nearest only (session 25's
encoder), k 1.. = each setting of THETAS (the nearest always included).

    THETAS="0.15;0.15,0.3" PYTHONPATH=. python experiments/coder_rdoq/deadzone.py 3,4,...,12 CLIPS... > out.jsonl
    PYTHONPATH=. python experiments/intra_slice/bd_jsonl.py out.jsonl

(Sessions 26's first two logs ran an earlier form of this script, which patched the encoder's pricing with
the same roundings computed in numpy.)
"""
import json, os, sys
import numpy as np
import torch
import vqcodec.coding.conditional_coder as cc
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
from vqcodec.metrics import psnr

if __name__ == "__main__":
    torch.set_num_threads(2)
    m = load_model()
    settings = [(0.0, *(float(t) for t in s.split(","))) for s in os.environ.get("THETAS", "0.2").split(";")]
    for path in sys.argv[2:]:
        x = np.load(path)[:32]
        for q in [int(v) for v in sys.argv[1].split(",")]:
            for k, zones in enumerate([(0.0,), *settings]):
                cc.DEAD_ZONES = zones
                d = encode_frames(x, 16, model=m, quality=q)
                y = decode_bytes(d, model=m)
                print(json.dumps({"clip": path.split('/')[-1][:30], "q": q, "k": k, "bytes": len(d),
                                  "psnr": psnr(y, x)}), flush=True)
