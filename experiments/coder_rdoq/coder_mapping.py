"""Which two coders the encoder prices, with session 26's dead zones: a coder trained at lambda is taken to
weigh error against bits as D + (RATE_LAMBDA_PER_CODER_LAMBDA / lambda) R; a dead zone trades error for bits
as a higher lambda would, so the coders trained nearest may have moved. k 0 = shipped (3.0), then each
value of SETTINGS. Real files, decoded (as deadzone.py).

    SETTINGS="2.0,4.5" PYTHONPATH=. python experiments/coder_rdoq/coder_mapping.py 3,...,12 CLIPS... > out.jsonl
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
    settings = [cc.RATE_LAMBDA_PER_CODER_LAMBDA] + [float(v) for v in os.environ["SETTINGS"].split(",")]
    for path in sys.argv[2:]:
        x = np.load(path)[:32]
        for q in [int(v) for v in sys.argv[1].split(",")]:
            for k, r in enumerate(settings):
                cc.RATE_LAMBDA_PER_CODER_LAMBDA = r
                d = encode_frames(x, 16, model=m, quality=q)
                y = decode_bytes(d, model=m)
                print(json.dumps({"clip": path.split('/')[-1][:30], "q": q, "k": k, "bytes": len(d),
                                  "psnr": psnr(y, x)}), flush=True)
