"""Trimmed GOPs (format 13.0) against the same encoder with ``--no-trim-gops``: real files, decoded.

    QS=3,5,7,9,11 PYTHONPATH=. python experiments/trimmed_gops/rd.py CLIP.npy [CLIP.npy ...] > logs/rd.jsonl

Each clip (uint8 (T, H, W, 3) at its coded size; ``PATH:FIRST:COUNT`` takes frames FIRST..FIRST+COUNT-1) is encoded
in-process at each quality with trimming on and off (one thread: the bytes do not depend on it), decoded, and measured
(bytes, PSNR and SSIM over all frames, encode and decode seconds); one JSON line per clip and quality, then one per
clip with the BD-rate of on against off (PSNR and SSIM). A clip with no GOP of 24 frames or fewer codes to the same
bytes both ways (checked)."""
from __future__ import annotations

import io
import json
import os
import sys
import time

import numpy as np

from benchmarks.bd import bd_rates
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.formats import VqvReader
from vqcodec.metrics import psnr, ssim
from vqcodec.weights import load_model

QS = [int(q) for q in os.environ.get("QS", "3,4,5,6,7,8,9,10,11,12").split(",")]


def load(spec: str) -> tuple[str, np.ndarray]:
    path, *cut = spec.split(":")
    clip = np.load(path)
    if cut:
        first, count = int(cut[0]), int(cut[1])
        clip = clip[first:first + count]
    return os.path.basename(spec), clip


def main() -> None:
    import torch
    torch.set_num_threads(1)
    model = load_model()
    for spec in sys.argv[1:]:
        name, clip = load(spec)
        curves = {True: [], False: []}
        for q in QS:
            for on in (False, True):
                t0 = time.perf_counter()
                data = encode_frames(clip, 16, model=model, quality=q, trim_gops=on)
                t1 = time.perf_counter()
                dec = decode_bytes(data, model=model)
                t2 = time.perf_counter()
                r = VqvReader(io.BytesIO(data))
                row = {"clip": name, "q": q, "trim": on, "version": list(r.version), "bytes": len(data),
                       "bpp": 8 * len(data) / clip[..., 0].size, "psnr": float(psnr(clip, dec)),
                       "ssim": float(ssim(clip, dec)), "gops": r.header.gop_count,
                       "coded_frames": [r.header.gop_coded_frames(i) for i in range(r.header.gop_count)],
                       "encode_s": round(t1 - t0, 3), "decode_s": round(t2 - t1, 3)}
                curves[on].append(row)
                print(json.dumps(row), flush=True)
        off, on = curves[False], curves[True]
        if all(a["bytes"] == b["bytes"] for a, b in zip(off, on)):
            print(json.dumps({"clip": name, "same_bytes": True}), flush=True)
            continue
        print(json.dumps({"clip": name, **bd_rates(off, on)}), flush=True)


if __name__ == "__main__":
    main()
