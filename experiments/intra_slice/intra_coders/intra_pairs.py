"""Intra pairs: X = a 4-frame slice of the training corpus, P = the network's reconstruction of it coded
alone (a one-slice file, no refinement) at Q in QS; left and right 64x64 crops. -> CC_WORK/intra_pairs_<SHARD>.npz
with x, p, q."""
import os, sys, time
import numpy as np
import torch
torch.set_num_threads(1)
sys.path.insert(0, "experiments/conditional_coder")
import pca_start as S
import probe
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
m = load_model()
QS = [int(v) for v in os.environ.get("QS", "3,4,6,8").split(",")]
SHARD, SHARDS = int(os.environ.get("SHARD", "0")), int(os.environ.get("SHARDS", "1"))
xs, ps, qs = [], [], []
t0 = time.time()
for i, (path, start, x) in enumerate(probe.segments(probe.ROOT, S.MORE, 32)):
    if i % SHARDS != SHARD:
        continue
    for s in range(0, len(x) // 4, 2):
        c = x[s * 4:(s + 1) * 4]
        for q in QS:
            y = decode_bytes(encode_frames(c, 16, model=m, quality=q, intra_coder=False), model=m)
            for left in sorted({0, x.shape[2] - 64}):
                xs.append(c[:, :64, left:left + 64]); ps.append(y[:, :64, left:left + 64]); qs.append(q)
    print("pairs", path, start, len(xs), f"{time.time() - t0:.0f}s", flush=True)
np.savez(S.WORK / f"intra_pairs_{SHARD}.npz", x=np.stack(xs), p=np.stack(ps), q=np.array(qs, np.int8))
