"""Would overlapped block motion compensation (H.263's OBMC) predict better? A ceiling, no re-decisions.

For every predicted block of real files (default encoder, validation clips), its prediction from the
decoded frame before its slice, plain (as shipped) and with H.263's OBMC windows (each pixel a weighted
sum, /8, of its block's prediction and the predictions with its nearest vertical and horizontal
neighbours' vectors, a neighbour that is not predicted counting as the block's own vector); the
squared error of each against the source, summed over predicted blocks (the residual is left out).

    QS=3,4,6 PYTHONPATH=. python experiments/motion_layer/obmc_probe.py
"""
import io
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "temporal_prior"))
from common import CLIPS, MODEL, qualities  # noqa: E402

from formats.container import VqvReader  # noqa: E402
from vqcodec.coding.decoder import decode_bytes, read_gop_codes  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.coding.motion import predict_blocks  # noqa: E402

H0 = np.array([[4, 5, 5, 5, 5, 5, 5, 4], [5, 5, 5, 5, 5, 5, 5, 5], [5, 5, 6, 6, 6, 6, 5, 5], [5, 5, 6, 6, 6, 6, 5, 5],
               [5, 5, 6, 6, 6, 6, 5, 5], [5, 5, 6, 6, 6, 6, 5, 5], [5, 5, 5, 5, 5, 5, 5, 5], [4, 5, 5, 5, 5, 5, 5, 4]])
H1 = np.array([[2] * 8, [1, 1, 2, 2, 2, 2, 1, 1], [1] * 8, [1] * 8, [1] * 8, [1] * 8, [1, 1, 2, 2, 2, 2, 1, 1], [2] * 8])
H2 = np.array([[2, 1, 1, 1, 1, 1, 1, 2]] + [[2, 2, 1, 1, 1, 1, 2, 2]] * 6 + [[2, 1, 1, 1, 1, 1, 1, 2]])
assert ((H0 + H1 + H2) == 8).all()
TOP = np.arange(8)[:, None] < 4         # the upper half reads the upper neighbour's vector
LEFT = np.arange(8)[None, :] < 4


def obmc(ref, vectors, mask, block):
    h, w = mask.shape
    own = predict_blocks(ref, vectors, mask, block).astype(np.int64)          # (n, 8, 8, 3)
    by, bx = np.nonzero(mask)

    def with_neighbour(dy, dx):
        ny, nx = np.clip(by + dy, 0, h - 1), np.clip(bx + dx, 0, w - 1)
        use = mask[ny, nx] & (by + dy >= 0) & (by + dy < h) & (bx + dx >= 0) & (bx + dx < w)
        v = np.where(use[:, None], vectors[ny, nx], vectors[by, bx])
        vf = np.zeros_like(vectors)
        vf[by, bx] = v
        return predict_blocks(ref, vf, mask, block).astype(np.int64)
    up, down, left, right = with_neighbour(-1, 0), with_neighbour(1, 0), with_neighbour(0, -1), with_neighbour(0, 1)
    vert = np.where(TOP[None, :, :, None], up, down)
    horiz = np.where(LEFT[None, :, :, None], left, right)
    acc = own * H0[None, :, :, None] + vert * H1[None, :, :, None] + horiz * H2[None, :, :, None]
    return ((acc + 4) >> 3).astype(np.uint8)


def main():
    for q in qualities("3,4,6"):
        sse = np.zeros(2)
        n = 0
        for c in CLIPS:
            data = encode_frames(c.frames, 16, model=MODEL, quality=q)
            dec = decode_bytes(data, model=MODEL)
            m = next(iter(read_gop_codes(VqvReader(io.BytesIO(data)), MODEL))).codes.motion
            for t in range(1, m.flags.shape[0]):
                mask = m.flags[t]
                if not mask.any():
                    continue
                ref = dec[4 * t - 1]
                by, bx = np.nonzero(mask)
                for j in range(4):
                    src = c.frames[4 * t + j].astype(np.int64)
                    tgt = np.stack([src[y * 8:y * 8 + 8, x * 8:x * 8 + 8] for y, x in zip(by, bx)])
                    v = m.vectors[t] * (j + 1)
                    for k, pred in enumerate((predict_blocks(ref, v, mask, (8, 8)), obmc(ref, v, mask, (8, 8)))):
                        sse[k] += ((pred.astype(np.int64) - tgt) ** 2).sum()
                n += int(mask.sum()) * 4 * 64 * 3
        p = 10 * np.log10(255 ** 2 / (sse / n))
        print(f"Q{q}: predicted blocks' prediction PSNR plain {p[0]:.2f} dB, OBMC {p[1]:.2f} dB ({p[1] - p[0]:+.2f})",
              flush=True)


if __name__ == "__main__":
    main()
