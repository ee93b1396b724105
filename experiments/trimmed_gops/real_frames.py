"""With trimmed GOPs the encoder prices a slice partly of padding on its own frames only (``real_only``): against the
same encoder pricing the padding too. Real files, decoded, BD-rate on PSNR.

    QS=3,5,7,9,11 PYTHONPATH=. python experiments/trimmed_gops/real_frames.py CLIP.npy[:FIRST:COUNT] ... > logs/real_frames.jsonl
"""
from __future__ import annotations

import json
import os
import sys

from benchmarks.bd import bd_rates
from experiments.trimmed_gops.rd import load
from vqcodec.coding import encoder
from vqcodec.coding.decoder import decode_bytes
from vqcodec.metrics import psnr, ssim
from vqcodec.weights import load_model

QS = [int(q) for q in os.environ.get("QS", "3,4,5,6,7,8,9,10,11,12").split(",")]
DECIDE = encoder.decide_gop


def main() -> None:
    import torch
    torch.set_num_threads(1)
    model = load_model()
    for spec in sys.argv[1:]:
        name, clip = load(spec)
        curves = {}
        for real_only in (False, True):
            encoder.decide_gop = lambda *a, **kw: DECIDE(*a, **{**kw, "real_only": kw["real_only"] and real_only})
            curves[real_only] = []
            for q in QS:
                data = encoder.encode_frames(clip, 16, model=model, quality=q)
                dec = decode_bytes(data, model=model)
                row = {"clip": name, "q": q, "real_only": real_only, "bytes": len(data),
                       "bpp": 8 * len(data) / clip[..., 0].size, "psnr": float(psnr(clip, dec)), "ssim": float(ssim(clip, dec))}
                curves[real_only].append(row)
                print(json.dumps(row), flush=True)
        encoder.decide_gop = DECIDE
        a, b = curves[False], curves[True]
        if all(x["bytes"] == y["bytes"] for x, y in zip(a, b)):
            print(json.dumps({"clip": name, "same_bytes": True}), flush=True)
            continue
        print(json.dumps({"clip": name, **bd_rates(a, b)}), flush=True)


if __name__ == "__main__":
    main()
