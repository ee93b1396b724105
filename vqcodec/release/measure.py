"""A model's operating points measured through the real codec, as the model card records them."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.metrics import PSNR_CAP, psnr, ssim
from vqcodec.weights import CodecModel


def measure_points(model: CodecModel, clips: list[np.ndarray], priors=("uniform", "empirical-static",
                                                                        "empirical-adaptive", "learned", "auto")) -> dict:
    """Mean bpp (real .vqv bytes, each clip its own file), PSNR, SSIM of every quality and prior."""
    out = {}
    for q in model.qualities:
        rec = {}
        by_prior = {}
        for p in priors:
            nbytes, ps, ss = [], [], []
            for clip in clips:
                data = encode_frames(clip, Fraction(16), model=model, quality=q, prior=p)
                nbytes.append(len(data))
                if p == "auto":
                    back = decode_bytes(data, model=model)
                    ps.append(psnr(clip, back, cap=PSNR_CAP))
                    ss.append(ssim(clip, back))
            t, h, w, _ = clips[0].shape
            by_prior[p] = float(np.mean(nbytes)) * 8 / (t * h * w)
            if p == "auto":
                rec = {"bpp": by_prior[p], "psnr": float(np.mean(ps)), "ssim": float(np.mean(ss))}
        rec["bpp_by_prior"] = by_prior
        out[str(q)] = rec
    return out
