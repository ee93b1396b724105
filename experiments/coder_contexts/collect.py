"""Collect the conditional coders' symbols of real files (session 29): CLIPS' first 64 frames (two GOPs, the second
predicted) at Q3-Q12, default encoder; per block that took a coder: (clip, q, slice, y, x, coder, the 64 symbols,
the same position's coder and symbols in the slice before, if it took one). Writes an .npz per run."""
import sys

import numpy as np
import torch

from vqcodec.coding.decoder import read_gop_codes
from vqcodec.coding.encoder import encode_frames
from vqcodec.formats import VqvReader
from vqcodec.weights import load_model
import io

torch.set_num_threads(2)
m = load_model()
rows = []
for ci, path in enumerate(sys.argv[2:]):
    x = np.load(path)[:64]
    for q in range(3, 13):
        data = encode_frames(x, 16, model=m, quality=q)
        reader = VqvReader(io.BytesIO(data))
        first = len(reader.motion_residual) + 1
        prev_opt = prev_sym = None
        for g in read_gop_codes(reader, m):
            mf = g.codes.motion
            opt, sym = mf.residual, mf.coder_symbols
            for t in range(opt.shape[0]):
                po = prev_opt if t == 0 else opt[t - 1]
                ps = prev_sym if t == 0 else sym[t - 1]
                ys, xs = np.nonzero(opt[t] >= first)
                for y, xx in zip(ys, xs):
                    pj = -1 if po is None or po[y, xx] < first else int(po[y, xx] - first)
                    pa = np.zeros(64, np.int32) if pj < 0 else ps[y, xx]
                    rows.append((ci, q, g.index * 8 + t, y, xx, int(opt[t, y, xx] - first), pj,
                                 int(mf.flags[t, y, xx]), sym[t, y, xx], pa))
            prev_opt, prev_sym = opt[-1], sym[-1]
        print(path, q, len(rows), flush=True)
np.savez_compressed(sys.argv[1], meta=np.array([r[:8] for r in rows], np.int32),
                    sym=np.stack([r[8] for r in rows]).astype(np.int8), prev=np.stack([r[9] for r in rows]).astype(np.int8))
