"""Longer clips with and without the coders on the first slice (session 24): the first 128 frames of each
.npy (bikes 64x64 128 frames: 4 GOPs, one refresh; carphone 64 frames), Q from argv; k 0 = 8.0, k 1 = 9.0."""
import sys, json, numpy as np
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
from vqcodec.metrics import psnr
m = load_model()
for path in sys.argv[2:]:
    x = np.load(path)[:128]
    for q in [int(v) for v in sys.argv[1].split(",")]:
        for k, on in ((0, False), (1, True)):
            d = encode_frames(x, 16, model=m, quality=q, intra_coder=on); y = decode_bytes(d, model=m)
            print(json.dumps({"clip": path.split('/')[-1] + f"[{len(x)}]", "q": q, "k": k, "bytes": len(d), "psnr": psnr(y, x)}), flush=True)
