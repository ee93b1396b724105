"""The copy decisions priced with the rank prior instead of the learned one (what `auto` and `rank`
decide with): per clip and Q, bytes and PSNR of `--prior rank` files made each way, on the validation
clips (32 frames, 64x64), Q3-Q6.

    PYTHONPATH=. python experiments/temporal_prior/rank_decisions.py

It ran with this change to vqcodec/coding/rdo.py (not kept: the result was neutral), in ``decide_level``:
the slice context gets the level's lower stages, ``SliceContext(..., everything, tuple(exts[:s]))``, and a
rank prior's code cost is ``tab.freqs[tab.ranks_of(sym)]`` where ``tab`` is a ``RankedTables``.
"""
import os
from pathlib import Path

import vqcodec.coding.encoder as encmod
from benchmarks.clips import load_clips
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.prior_choice import decision_prior, rank_prior
from vqcodec.metrics import psnr
from vqcodec.weights import load_model

m = load_model()
clips = load_clips("corpus:" + os.environ.get("CORPUS", "/work/data/corpus"), None,
                   Path(os.environ.get("CACHE", "/work/data/cache")), lambda *a: None, frames=32)
QS = [int(q) for q in os.environ.get("QS", "3,4,5,6").split(",")]
tot = {}
for how in ("learned", "rank"):
    encmod.decision_prior = decision_prior if how == "learned" else (lambda model, kind: rank_prior(model))
    for q in QS:
        b = p = 0.0
        for c in clips:
            d = encode_frames(c.frames, 16, model=m, quality=q, prior="rank")
            b += len(d) * 8 / c.frames[..., 0].size
            p += psnr(decode_bytes(d, model=m), c.frames)
        tot[(how, q)] = (b / len(clips), p / len(clips))
        print(f"decisions by {how:7s} Q{q}: {tot[(how, q)][0]:.4f} bpp {tot[(how, q)][1]:.2f} dB", flush=True)
