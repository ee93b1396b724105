"""Coarser motion vectors at low rates: vectors on a grid of UNIT quarter pixels (2 = half pixels,
4 = whole pixels), searched and coded in that unit (the differences divided by UNIT; encoder and
decoder patched alike in this process, so the files are real for the patched code). BD-rate of
--motion against motion off on the validation clips (variants.py's protocol).

    UNIT=2 QS=2,3,4,5,6,7,8,9 PYTHONPATH=. python experiments/motion_layer/vector_unit.py
"""
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import variants as V  # noqa: E402
import vqcodec.coding.motion as mo  # noqa: E402
import vqcodec.coding.motion_search as ms  # noqa: E402

UNIT = int(os.environ.get("UNIT", "2"))
orig_bits = ms.vector_bits


def block_sad(a, b, block):
    bh, bw = block
    h, w, c = a.shape
    return np.abs(a - b).reshape(h // bh, bh, w // bw, bw, c).sum(axis=(1, 3, 4))


def vector_bits(v, pred):
    d = np.abs(np.asarray(v, np.int64) - pred) // UNIT
    return (2 * np.log2(d + 1) + 1).sum(-1)


def search_vectors(targets, ref, block, search, pred=None, mu=0.0):
    """As shipped, but the sub-pixel refinement stops at UNIT."""
    bh, bw = block
    bt = targets.shape[0]
    h, w = ref.shape[:2]
    search = int(min(search, mo.MAX_VECTOR // mo.SUBPEL))
    tgt = targets.astype(np.int32)
    planes = ms.PhasePlanes(ref, bt * (search + 1))
    best = np.full((h // bh, w // bw), np.inf)
    vec = np.zeros((h // bh, w // bw, 2), np.int32)
    pred = np.zeros(vec.shape, np.int64) if pred is None else np.asarray(pred, np.int64)
    steps = sorted(((dy, dx) for dy in range(-search, search + 1) for dx in range(-search, search + 1)),
                   key=lambda v: (abs(v[0]) + abs(v[1]), v))
    for dy, dx in steps:
        sad = sum(block_sad(tgt[j], planes.frame((j + 1) * dy * 4, (j + 1) * dx * 4), block) for j in range(bt))
        sad = sad + mu * vector_bits(np.array([dy * 4, dx * 4]), pred)
        better = sad < best
        best[better] = sad[better]
        vec[better] = (dy * 4, dx * 4)
    tb = [mo.block_view(tgt[j], block) for j in range(bt)]
    for step in (2, 1):
        if step < UNIT:
            break
        centre = vec.copy()
        for oy in (-step, 0, step):
            for ox in (-step, 0, step):
                if oy == ox == 0:
                    continue
                cand = np.clip(centre + np.array([oy, ox], np.int32), -mo.MAX_VECTOR, mo.MAX_VECTOR)
                sad = sum(np.abs(planes.blocks(cand * (j + 1), block) - tb[j]).sum(axis=(2, 3, 4)) for j in range(bt))
                sad = sad + mu * vector_bits(cand, pred)
                better = sad < best
                best[better] = sad[better]
                vec[better] = cand[better]
    return vec


def _code_vectors(self, channel, flags, prev_flags, prev_vec, given):
    out = np.zeros((*flags.shape, 2), np.int32)
    base = np.where(prev_flags[..., None], prev_vec, 0).astype(np.int64)
    for p, mask in enumerate(mo.checkerboard(*flags.shape)):
        sel = mask & flags
        n = int(sel.sum())
        if not n:
            continue
        pred = base
        if p == 1:
            med, have = mo.median_of_neighbours(out, flags & ~mask)
            pred = np.where(have[..., None], med, base)
        for comp in range(2):
            want = None
            if given is not None:
                d = np.asarray(given[..., comp][sel], np.int64) - pred[..., comp][sel]
                assert (d % UNIT == 0).all()
                want = d // UNIT + mo.MAX_DIFF
            sym = np.asarray(channel.code(self.vectors.table(p, comp), n, want, mo.VECTOR_LABEL), np.int64)
            out[..., comp][sel] = (sym - mo.MAX_DIFF) * UNIT + pred[..., comp][sel]
            self.vectors.update(p, comp, sym)
    return out


ms.vector_bits = vector_bits
ms.search_vectors = search_vectors
mo.MotionCoder._code_vectors = _code_vectors
V.report(f"vector unit {UNIT}", V.curve(True))
