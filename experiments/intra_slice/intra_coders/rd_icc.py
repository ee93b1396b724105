"""9.0 as shipped against 9.0 with the first slice refined by intra-specialised coders (icc_patch).
    PYTHONPATH=. python experiments/intra_slice/intra_coders/rd_icc.py ICC.pt 3,...,9 CLIPS... > out.jsonl   (k 0 shipped, k 1 ICC)"""
import os, sys, json
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import icc_patch
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
from vqcodec.metrics import psnr
m = load_model()
for path in sys.argv[3:]:
    x = np.load(path)[:32]
    for q in [int(v) for v in sys.argv[2].split(",")]:
        for k, icc in enumerate([None, sys.argv[1]]):
            icc_patch.use(icc)
            d = encode_frames(x, 16, model=m, quality=q); y = decode_bytes(d, model=m)
            print(json.dumps({"clip": path.split('/')[-1][:30], "q": q, "k": k, "bytes": len(d), "psnr": psnr(y, x),
                              "s0_psnr": psnr(y[:4], x[:4])}), flush=True)
