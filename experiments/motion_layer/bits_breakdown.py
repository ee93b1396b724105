"""Where a --motion file's bits go: the encoder's per-stream bits over the 3 validation clips at Q4, Q6, Q9.

    PYTHONPATH=. python experiments/motion_layer/bits_breakdown.py
"""
import sys, os
from pathlib import Path
import numpy as np
from benchmarks.clips import load_clips
from vqcodec.weights import load_model
import io
from fractions import Fraction
from vqcodec.coding.encoder import GopEncoder, write_container
from vqcodec.settings import EncodeSettings
def encode_stats(frames, q):
    st = EncodeSettings.build(m, quality=q, prior="auto", rdo_strength=1.0, refresh=8, motion=True, motion_search=6)
    enc = GopEncoder(m, st, frames.shape[2], frames.shape[1])
    for f in frames: enc.add_frame(f)
    buf = io.BytesIO()
    stats = write_container(buf, m, st, enc.finish(), source_size=(64,64), coded_size=(64,64), fps=Fraction(16))
    return buf.getvalue(), stats
m = load_model()
clips = load_clips("corpus:" + os.environ.get("CORPUS", "data/corpus") + "", None, Path(os.environ.get("CACHE", "data/cache")), lambda *a: None, frames=32)
for q in (4, 6, 9):
    tot = {}
    for c in clips:
        d, st = encode_stats(c.frames, q)
        for k, v in st.bits_per_stream.items():
            tot[k] = tot.get(k, 0) + v
        tot["_total"] = tot.get("_total", 0) + len(d) * 8
        tot["_pred"] = tot.get("_pred", 0) + st.motion.get("predicted", 0) / len(clips)
        for k in ("flag_bits", "vector_bits"):
            tot["m." + k] = tot.get("m." + k, 0) + st.motion.get(k, 0)
    print(q, {k: round(v, 2) for k, v in sorted(tot.items())}, flush=True)
