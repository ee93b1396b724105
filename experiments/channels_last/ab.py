"""encode + decode clips in-process with whatever vqcodec PYTHONPATH gives; write files, pixels, timings"""
import sys, time, json, hashlib, numpy as np, torch
from vqcodec import load_model, encode_frames, decode_bytes
from vqcodec.metrics import psnr
torch.set_num_threads(2)
tag, clips = sys.argv[1], sys.argv[2:]
m = load_model()
for path in clips:
    name = path.split("/")[-1].split(".")[0]
    fr = np.load(path)
    t0 = time.perf_counter(); data = encode_frames(fr, 16, model=m); te = time.perf_counter() - t0
    t0 = time.perf_counter(); out = decode_bytes(data, model=m); td = time.perf_counter() - t0
    open(f"out/{name}.{tag}.vqv", "wb").write(data); np.save(f"out/{name}.{tag}.dec.npy", out)
    print(json.dumps(dict(tag=tag, clip=name, bytes=len(data), enc_s=round(te, 2), dec_s=round(td, 2),
                          psnr=round(float(psnr(fr, out)), 3), sha=hashlib.sha256(data).hexdigest()[:10])), flush=True)
