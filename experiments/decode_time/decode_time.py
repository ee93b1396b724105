"""Network decode (and encode) time of presets or trained models, on a batch of 32x64x64 clips.

    OMP_NUM_THREADS=1 python experiments/decode_time/decode_time.py cpu cpu-hq --threads 1
    OMP_NUM_THREADS=1 python experiments/decode_time/decode_time.py cpu=vqcodec/weights/vqv-cpu.pt cpu-hq=runs/hq/checkpoint.pt

Each argument is a preset name (random initial weights) or NAME=PATH (a weights file or training
checkpoint). Times ``MSVQVAE.decode`` (codes -> uint8 frames; no entropy coding) at every operating point
asked for, after one warm-up; the models' runs are interleaved (one run of each in turn, ``--repeats``
rounds) so load from other processes hits them alike, and both the median and the minimum are reported.
Denormals are flushed as in training. The frames are a synthetic moving pattern: the network's cost does not depend on them.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from vqcodec.net.model import MSVQVAE, get_config


def load(spec: str) -> tuple[str, MSVQVAE]:
    if "=" not in spec:
        torch.manual_seed(0)
        return spec, MSVQVAE(get_config(spec)).eval()
    name, path = spec.split("=", 1)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if "optimizer" in state or "model" in state:
        from vqcodec.weights import net_from_checkpoint
        return name, net_from_checkpoint(path)
    from vqcodec.weights import load_model
    return name, load_model(path).net.float().eval()


def frames(n: int, t: int = 32, s: int = 64) -> np.ndarray:
    tt, yy, xx = np.meshgrid(np.arange(t), np.arange(s), np.arange(s), indexing="ij")
    clips = []
    for k in range(n):
        ch = [np.sin(xx / (4 + c + k) + tt / 5) * np.cos(yy / (6 + c) - tt / 9) for c in range(3)]
        clips.append((np.stack(ch, -1) * 90 + 128).clip(0, 255).astype(np.uint8))
    return np.stack(clips)


def once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--points", default="default,top", help="comma list: default, top, all")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    x = frames(a.batch)
    tasks = []
    for spec in a.models:
        name, net = load(spec)
        cfg = net.cfg
        want = set(a.points.split(","))
        qs = range(1, len(cfg.operating_points) + 1) if "all" in want else sorted(
            {q for q, on in ((cfg.default_quality, "default" in want), (len(cfg.operating_points), "top" in want)) if on})
        for q in qs:
            st = cfg.operating_points[q - 1]
            codes = net.encode(x, stages=st)
            dec = (lambda n=net, c=codes: n.decode(c))
            enc = (lambda n=net, st=st: n.encode(x, stages=st))
            dec(), enc()                                   # warm-up
            tasks.append((name, q, st, dec, enc, [], []))
    for _ in range(a.repeats):
        for name, q, st, dec, enc, td, te in tasks:
            td.append(once(dec))
            te.append(once(enc))
    res: dict = {}
    frames_n = a.batch * x.shape[1]
    for name, q, (ts, bs), dec, enc, td, te in tasks:
        d_med, d_min, e_med = statistics.median(td), min(td), statistics.median(te)
        res.setdefault(name, {})[q] = {"stages": [ts, bs], "decode_s_median": round(d_med, 4),
                                       "decode_s_min": round(d_min, 4), "encode_s_median": round(e_med, 4),
                                       "decode_fps_median": round(frames_n / d_med, 1)}
        print(f"{name} Q{q} ({ts}+{bs}): decode median {d_med:.3f} s (min {d_min:.3f}), encode median {e_med:.3f} s "
              f"for {a.batch} clips of 32x64x64 ({frames_n / d_med:.0f} frames/s decode), {a.threads} thread(s)",
              flush=True)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
