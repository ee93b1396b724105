"""The coders' syntheses priced (session 29). Command line: ``BITS QS CLIPS...``: every clip's first 32 frames at
each quality, encoded with the conditional coders' ``synthesis_bits`` forced to BITS (a coder a slice takes must
save that many bits, else its blocks take their next best) and decoded in-process on 2 threads. One JSON row per
(clip, quality): bytes, PSNR of the real decode, the decoder's coder syntheses and the blocks they serve."""
import json
import sys

import numpy as np
import torch

import vqcodec.coding.conditional_coder as cc
import vqcodec.coding.motion as motion
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.metrics import psnr
from vqcodec.weights import load_model

torch.set_num_threads(2)
bits = float(sys.argv[1])
_cheaper = cc._cheaper_coders
cc._cheaper_coders = lambda *a, **k: _cheaper(*a[:7], synthesis_bits=bits)
syntheses: list[int] = []
_apply = cc.apply_conditional


def counted(coder, frames, option, symbols, first):
    syntheses.extend(int((option == first + j).sum()) for j in range(coder.coders) if (option == first + j).any())
    return _apply(coder, frames, option, symbols, first)


motion.apply_conditional = counted
m = load_model()
for path in sys.argv[3:]:
    x = np.load(path)[:32]
    for q in [int(v) for v in sys.argv[2].split(",")]:
        d = encode_frames(x, 16, model=m, quality=q)
        syntheses.clear()
        y = decode_bytes(d, model=m)
        print(json.dumps({"bits": bits, "clip": path.split('/')[-1][:30], "q": q, "bytes": len(d), "psnr": psnr(y, x),
                          "syntheses": len(syntheses), "blocks": sum(syntheses)}), flush=True)
