"""Each clip's first 32 frames at each quality, coded and decoded in-process (the default settings, so
bfloat16 here), one JSON row each; run under each tree's PYTHONPATH. Command line: TAG QS CLIPS..."""
import json, sys, time, numpy as np, torch
from vqcodec import load_model, encode_frames, decode_bytes
from vqcodec.metrics import psnr
torch.set_num_threads(2)
m = load_model()
tag, qs = sys.argv[1], [int(v) for v in sys.argv[2].split(",")]
for path in sys.argv[3:]:
    x = np.load(path)[:32]
    for q in qs:
        t = time.perf_counter(); d = encode_frames(x, 16, model=m, quality=q); te = time.perf_counter() - t
        t = time.perf_counter(); y = decode_bytes(d, model=m); td = time.perf_counter() - t
        print(json.dumps({"tag": tag, "clip": path.split('/')[-1][:30], "q": q, "bytes": len(d), "psnr": psnr(x, y),
                          "enc_s": round(te, 3), "dec_s": round(td, 3)}), flush=True)
