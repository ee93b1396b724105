"""ALPHA and STRENGTH of the lambda per block again, on top of session 26's dead zones: k 0 = shipped
(0.5, 0.5), then each "ALPHA:STRENGTH" of SETTINGS. Real files, decoded (as ../coder_rdoq/deadzone.py).

    SETTINGS="0.5:0.75,0.7:0.5" PYTHONPATH=. python experiments/propagation/strength_sweep.py 3,...,12 CLIPS... > out.jsonl
"""
import json, os, sys
import numpy as np
import torch
from vqcodec.coding import propagation
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
from vqcodec.metrics import psnr

if __name__ == "__main__":
    torch.set_num_threads(2)
    m = load_model()
    settings = [(propagation.ALPHA, propagation.STRENGTH)] + \
        [tuple(float(v) for v in s.split(":")) for s in os.environ["SETTINGS"].split(",")]
    for path in sys.argv[2:]:
        x = np.load(path)[:32]
        for q in [int(v) for v in sys.argv[1].split(",")]:
            for k, (a, s) in enumerate(settings):
                propagation.ALPHA, propagation.STRENGTH = a, s
                d = encode_frames(x, 16, model=m, quality=q)
                y = decode_bytes(d, model=m)
                print(json.dumps({"clip": path.split('/')[-1][:30], "q": q, "k": k, "bytes": len(d),
                                  "psnr": psnr(y, x)}), flush=True)
