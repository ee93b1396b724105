"""Could the motion residual's codes (10 bits each under a uniform table) cost less? Each code's rank
in its stage's codewords ordered by norm (a residual is small: short codewords should come more often),
and the plug-in entropy of those ranks by log2 bucket (as the rank prior codes its ranks), measured on
the residual codes of real files (default encoder).

    QS=3,4,6,9 PYTHONPATH=. python experiments/motion_layer/residual_code_ranks.py   # MOVING=1: training clips
"""
import io
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "temporal_prior"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CLIPS, MODEL, bucket_bits, qualities  # noqa: E402

from formats.container import VqvReader  # noqa: E402
from vqcodec.coding.decoder import read_gop_codes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.coding.motion_residual import RESIDUAL_LABEL  # noqa: E402


def main():
    clips = [c.frames for c in CLIPS]
    if os.environ.get("MOVING", "0") == "1":
        from vector_contexts import long_clips
        clips = [f[:64] for _, f in long_clips()]
    basis = MODEL.motion_residual_basis
    norm_rank = []
    for cb in basis.codebooks:
        n2 = (cb * cb).sum(1)
        order = np.lexsort((np.arange(len(n2)), n2))
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        norm_rank.append(rank)
    for q in qualities("3,4,6,9"):
        ranks, codes_n, res_bits, total = [], 0, 0.0, 0
        for frames in clips:
            data = encode_frames(frames, 16, model=MODEL, quality=q)
            reader = VqvReader(io.BytesIO(data))
            total += 8 * len(data)
            options = reader.motion_residual
            for g in read_gop_codes(reader, MODEL):
                m = g.codes.motion
                res_bits += g.bits.get(RESIDUAL_LABEL, 0.0)
                if m is None or m.residual is None:
                    continue
                for k, (first, count) in enumerate(options, start=1):
                    sel = m.residual == k
                    for i in range(count):
                        c = m.residual_codes[..., i][sel]
                        ranks.extend(norm_rank[first + i][c].tolist())
                        codes_n += len(c)
        if not codes_n:
            print(f"Q{q}: no residual codes")
            continue
        b = bucket_bits(ranks)
        code_bits = codes_n * np.log2(basis.codebook_size)
        print(f"Q{q}: {codes_n} residual codes, {code_bits:.0f} bits of codes ({100 * code_bits / total:.1f}% of the "
              f"files; residual in all {100 * res_bits / total:.1f}%); by norm rank {b:.2f} bits a code "
              f"-> saves {100 * codes_n * (np.log2(basis.codebook_size) - b) / total:.2f}% of the files; "
              f"median rank {int(np.median(ranks))}", flush=True)


if __name__ == "__main__":
    main()
