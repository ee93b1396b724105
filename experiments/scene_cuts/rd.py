"""Scene cuts (format 12.0) against the same encoder with ``--no-scenecut``: real files, decoded, Q3-Q12.

    PYTHONPATH=. python experiments/scene_cuts/rd.py CLIP.npy [CLIP.npy ...] > logs/rd.jsonl

Each clip (uint8 (T, H, W, 3) at its coded size) is encoded in-process at each quality with scene cuts on and off
(one thread: the bytes do not depend on it), decoded, and measured (bytes, PSNR and SSIM over all frames); one JSON
line per clip and quality, then one per clip with the BD-rate of on against off (PSNR and SSIM). A clip the detector
finds no cut inside a slice in codes to the same bytes both ways (checked)."""
from __future__ import annotations

import json
import os
import sys

import numpy as np

from benchmarks.bd import bd_rates
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.formats import VqvReader
from vqcodec.metrics import psnr, ssim
from vqcodec.weights import load_model

QS = [int(q) for q in os.environ.get("QS", "3,4,5,6,7,8,9,10,11,12").split(",")]


def main() -> None:
    import io
    import torch
    torch.set_num_threads(1)
    model = load_model()
    for path in sys.argv[1:]:
        clip = np.load(path)
        curves = {True: [], False: []}
        for q in QS:
            for on in (False, True):
                data = encode_frames(clip, 16, model=model, quality=q, scene_cuts=on)
                dec = decode_bytes(data, model=model)
                h = VqvReader(io.BytesIO(data)).header
                row = {"clip": os.path.basename(path), "q": q, "scene_cuts": on, "bytes": len(data),
                       "bpp": 8 * len(data) / clip[..., 0].size, "psnr": float(psnr(clip, dec)),
                       "ssim": float(ssim(clip, dec)), "short_gops": [list(p) for p in h.short_gops]}
                curves[on].append(row)
                print(json.dumps(row), flush=True)
        off, on = curves[False], curves[True]
        if all(a["bytes"] == b["bytes"] for a, b in zip(off, on)) and not on[0]["short_gops"]:
            print(json.dumps({"clip": os.path.basename(path), "same_bytes": True}), flush=True)
            continue
        print(json.dumps({"clip": os.path.basename(path), **bd_rates(off, on)}), flush=True)


if __name__ == "__main__":
    main()
