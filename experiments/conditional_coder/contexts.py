"""How many of the conditional coders' symbol bits an activity context saves (issue 20, session 22).

The symbols of the blocks that took a coder in real files (the shipped encoder at Q4-Q9 on the 3
validation clips and the 4 moving training clips, 32 frames 64x64) are priced under Laplace tables fitted
on the coders' symbols of 400 training pairs (ship.py's fit): one per channel (session 21's tables) against
one per channel and context, the context of channel c being how many EDGES the sum of |s| over the block's
channels 0..c-1 reaches (known to the decoder: it decodes a coder's symbols channel by channel).

    PYTHONPATH=. python experiments/conditional_coder/contexts.py collect     # -> $CC_WORK/ctx_data.npz
    EDGES=1,2,3,5,8,12,18,27,40 PYTHONPATH=. python experiments/conditional_coder/contexts.py price
(CC_WORK: a folder with pairs.npz; MODELS: the checkpoints, in the shipped file's coder order.)
"""
import io
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pca_start as S  # noqa: E402
from ship import GRID_BITS, LIMIT  # noqa: E402

HERE = Path(__file__).resolve().parent
CLIPS = [Path("/work/s19/val"), Path("/work/s19/mov")]
DATA = S.WORK / "ctx_data.npz"


def collect() -> None:
    from vqcodec.coding.decoder import read_gop_codes
    from vqcodec.coding.encoder import encode_frames
    from vqcodec.formats import VqvReader
    from vqcodec.weights import load_model
    m = load_model()
    rows, syms, names = [], [], []
    for ci, path in enumerate(p for d in CLIPS for p in sorted(d.glob("*.npy"))):
        names.append(path.stem)
        x = np.load(path)[:32]
        for q in (4, 5, 6, 7, 8, 9):
            reader = VqvReader(io.BytesIO(encode_frames(x, 16, model=m, quality=q)))
            first = len(reader.motion_residual) + 1
            for g in read_gop_codes(reader, m):
                opt, s = g.codes.motion.residual, g.codes.motion.coder_symbols
                for t, y, xx in zip(*np.nonzero(opt >= first)):
                    rows.append((ci, q, g.index, t, y, xx, opt[t, y, xx] - first))
                    syms.append(s[t, y, xx])
    np.savez(DATA, rows=np.array(rows), syms=np.array(syms), clips=names)


def contexts(s: np.ndarray, edges) -> np.ndarray:
    mag = np.abs(s)
    return np.searchsorted(np.asarray(edges, np.int64), np.cumsum(mag, 1) - mag, side="right")


def best(v: np.ndarray) -> int:
    return int(np.argmin(GRID_BITS @ np.bincount(np.clip(v, -LIMIT, LIMIT) + LIMIT, minlength=2 * LIMIT + 1)))


@torch.no_grad()
def price() -> None:
    edges = [int(v) for v in os.environ.get("EDGES", "1,2,3,5,8,12,18,27,40").split(",")]
    z = np.load(DATA)
    rows, got = z["rows"], z["syms"].astype(np.int64)
    pairs = np.load(S.WORK / "pairs.npz")
    fit = np.random.default_rng(4).choice(len(pairs["x"]), 400, replace=False)
    for j, name in enumerate(os.environ.get("MODELS", "pca_0.001_trained,pca_0.003_trained").split(",")):
        cc, _ = S.load(HERE / "checkpoints" / f"{name}.pt")
        cc.record = []
        cc(S._t(pairs["x"][fit]), S._t(pairs["p"][fit]), noise=False)
        y = cc.record[0].permute(0, 2, 3, 1).reshape(-1, S.K).numpy().astype(np.int64)
        k_fit = contexts(y, edges)
        whole = [best(y[:, c]) for c in range(S.K)]
        per = [[best(y[k_fit[:, c] == k, c]) if (k_fit[:, c] == k).sum() >= 50 else whole[c]
                for k in range(len(edges) + 1)] for c in range(S.K)]
        for part, sel in (("validation", rows[:, 0] < 3), ("moving training", rows[:, 0] >= 3)):
            s = got[sel & (rows[:, 6] == j)]
            k = contexts(s, edges)
            b0 = sum(GRID_BITS[whole[c]][s[:, c] + LIMIT].sum() for c in range(S.K))
            b1 = sum(GRID_BITS[per[c][k[i, c]]][s[i, c] + LIMIT] for i in range(len(s)) for c in range(S.K))
            print(f"{name} {part}: {len(s)} blocks, one table a channel {b0:.0f} bits, per context {b1:.0f} "
                  f"({100 * (b1 / b0 - 1):+.1f}%)")


if __name__ == "__main__":
    {"collect": collect, "price": price}[sys.argv[1]]()
