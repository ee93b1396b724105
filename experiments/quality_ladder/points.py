"""The shipped ladder's points and the VQ points it leaves out (4+8 .. 4+18), per clip: bpp and PSNR with the
shipped encoder's defaults (motion on, prior auto). The moving training clips (64 frames, short side 64) and
the benchmark's 3 validation clips; docs/MODEL_CARD.md, "Where the scalar points lose".

    QS=1,2,3,4,5,6,7,8,9,10,11,12 EXTRA=8,10,12,14,18 PYTHONPATH=. python experiments/quality_ladder/points.py
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "motion_layer"))
os.environ.setdefault("CORPUS", "/work/data/corpus")
os.environ.setdefault("CACHE", "/work/data/cache")
import variants as V  # noqa: E402
from vector_contexts import long_clips  # noqa: E402

from vqcodec.coding.decoder import decode_bytes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.coding.ladder import Ladder, LadderPoint  # noqa: E402
from vqcodec.metrics import psnr  # noqa: E402
from vqcodec.weights import LADDER_KIND  # noqa: E402

shipped = V.m.ladder
extra = [LadderPoint(4, int(b)) for b in os.environ.get("EXTRA", "8,10,12,14,18").split(",")]
ladder = Ladder(shipped.points + tuple(extra), shipped.tables, shipped.basis, shipped.enh_tables)
model = V.m.with_priors({**V.m.priors, LADDER_KIND: ladder.to_bytes()})
qs = [int(q) for q in os.environ.get("QS", "4,5,6,7,8,9").split(",")]
qs += list(range(len(shipped.points) + 1, len(ladder.points) + 1))
for name, frames in [(n, f[:64]) for n, f in long_clips()] + [(c.name, c.frames) for c in V.clips]:
    print(name, frames.shape, flush=True)
    for q in qs:
        data = encode_frames(frames, 16, model=model, quality=q)
        label = f"Q{q}" if q <= len(shipped.points) else "extra"
        print(f"  {label:5s} {ladder.points[q - 1].describe():24s} bpp {len(data) * 8 / frames[..., 0].size:.4f}"
              f" psnr {psnr(decode_bytes(data, model=model), frames):.2f}", flush=True)
