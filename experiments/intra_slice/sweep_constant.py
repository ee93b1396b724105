"""Sweep an encoder constant (module.NAME=v1,v2,...) on real files; k = the value index + 1, k 0 = as shipped.
    PYTHONPATH=. python experiments/intra_slice/sweep_constant.py 3,4,...,12 \
        vqcodec.coding.encoder.MOTION_LAMBDA_SCALE_RESIDUAL=0.28,0.45 CLIPS... > out.jsonl"""
import sys, json, importlib, numpy as np
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
from vqcodec.metrics import psnr
m = load_model()
target, values = sys.argv[2].split("=")
mod, name = target.rsplit(".", 1)
mod = importlib.import_module(mod)
shipped = getattr(mod, name)
values = [shipped] + [float(v) for v in values.split(",")]
for path in sys.argv[3:]:
    x = np.load(path)[:32]
    for q in [int(v) for v in sys.argv[1].split(",")]:
        for k, v in enumerate(values):
            setattr(mod, name, v)
            d = encode_frames(x, 16, model=m, quality=q); y = decode_bytes(d, model=m)
            print(json.dumps({"clip": path.split('/')[-1][:30], "q": q, "k": k, "v": v, "bytes": len(d), "psnr": psnr(y, x)}), flush=True)
        setattr(mod, name, shipped)
