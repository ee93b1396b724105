"""The rank prior's bucket counts (vqcodec/entropy/rank_prior.py, BUCKET_COUNTS): on training clips
of the open corpus (32 frames, 64x64, every STRIDE-th clip of the training split), each encoded
without motion at the VQ points QS, the log2 bucket of every coded bottom code's rank under the rank
prior's prediction, per stage; printed as counts per stage scaled to sum 4096 (+1 each).

    STRIDE=6 QS=3,4,5,6,7,8 PYTHONPATH=. python experiments/temporal_prior/fit_buckets.py
"""
import io
import os
from pathlib import Path

import numpy as np

from benchmarks.clips import PROTOCOL_FPS, PROTOCOL_SIZE
from formats.container import VqvReader
from vqcodec.coding.decoder import read_gop_codes
from vqcodec.coding.encoder import encode_frames
from vqcodec.entropy.rank_prior import RankPrior
from vqcodec.train.data import ClipSpec, build_dataset
from vqcodec.weights import load_model

m = load_model()
ds = build_dataset("corpus:" + os.environ.get("CORPUS", "/work/data/corpus"), "train",
                   ClipSpec(32, PROTOCOL_SIZE, float(PROTOCOL_FPS)), Path(os.environ.get("CACHE", "/work/data/cache")),
                   train=False)
STRIDE = int(os.environ.get("STRIDE", "6"))
QS = [int(q) for q in os.environ.get("QS", "3,4,5,6,7,8").split(",")]
prior = RankPrior.from_network(m.net)
NB = 11
hist = np.zeros((len(prior.codebooks), NB), np.int64)
picked = list(range(0, len(ds.clips), STRIDE))
print(f"{len(ds.clips)} training clips, using {len(picked)}", flush=True)
for i in picked:
    frames = ds[i].numpy()
    for q in QS:
        data = encode_frames(frames, 16, model=m, quality=q, motion=False, prior="uniform")
        g = next(iter(read_gop_codes(VqvReader(io.BytesIO(data)), m)))
        lv = g.codes.level("bottom")
        idx, copied = lv.indices.astype(np.int64), lv.copy_map()
        for s in range(idx.shape[0]):
            for t in range(1, idx.shape[1]):
                sel = ~copied[t]
                if not sel.any():
                    continue
                r = prior.codebooks[s][idx[s, t - 1][sel]]
                for j in range(s):
                    r = r + prior.codebooks[j][idx[j, t - 1][sel]] - prior.codebooks[j][idx[j, t][sel]]
                keys = prior._keys(s, r)
                order = np.argsort(keys, axis=1, kind="stable")
                rank = np.argmax(order == idx[s, t][sel][:, None], axis=1)
                hist[s] += np.bincount(np.floor(np.log2(rank + 1)).astype(int), minlength=NB)[:NB]
for s, h in enumerate(hist):
    if h.sum():
        print(f"stage {s:2d} n={h.sum():6d}: [" + ", ".join(str(int(v)) for v in 1 + h * 4096 // h.sum()) + "],")
