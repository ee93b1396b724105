"""Which part of bfloat16 costs bits: k=0 float32; k=1 bfloat16 as built (analysis and synthesis, the coders'
too); k=2 bfloat16 synthesis only (the encoder's analyses, of the model and of the coders, in float32: what a
decoder computes is the same as k=1's). Each clip's first 32 frames at each quality, coded and decoded
in-process, one JSON row each. Command line: ``QS CLIPS...``."""
import json
import sys
import time
import types

import numpy as np
import torch

from vqcodec.coding.conditional_coder import ConditionalCoder
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.metrics import psnr
from vqcodec.net import bfloat16
from vqcodec.net.model import MSVQVAE
from vqcodec.weights import default_conditional_coder, load_model

torch.set_num_threads(2)
m = load_model()
full = m.computing_in("bfloat16")
coder = default_conditional_coder()
full_coder = coder.computing_in("bfloat16")
# synthesis-only copies: the decoder's parts in bfloat16, the analyses float32
syn_net = bfloat16.copy_in_bfloat16(m.net, ("dec_top", "decoder"))
syn_net._run = types.MethodType(lambda self, mod, x: MSVQVAE._run(self, mod, x) if mod in (self.dec_top, self.decoder)
                                else mod(x), syn_net)
syn_coder = ConditionalCoder(tuple(bfloat16.copy_in_bfloat16(n, [c for c, _ in n.named_children()
                                                                  if c not in ("enc_lin", "dec_lin", "enc_nl")])
                                   for n in coder.nets), coder.tables, coder.digest, coder.lambdas)
for n in syn_coder.nets:            # the analysis in float32
    n.analysis = types.MethodType(lambda self, x, p: self.enc_lin(x - p) + self.enc_nl(torch.cat([x, p], 1)), n)
variants = [(None, None), (full.net, full_coder), (syn_net, syn_coder)]
for path in sys.argv[2:]:
    x = np.load(path)[:32]
    for q in [int(v) for v in sys.argv[1].split(",")]:
        for k, (net, cc) in enumerate(variants):
            if net is not None:
                full.net = net
                object.__setattr__(coder, "_bfloat16", cc)
            t = time.perf_counter()
            d = encode_frames(x, 16, model=m, quality=q, network_float="float32" if k == 0 else "bfloat16")
            te = time.perf_counter() - t
            y = decode_bytes(d, model=m)
            print(json.dumps({"clip": path.split('/')[-1][:30], "q": q, "k": k, "bytes": len(d), "psnr": psnr(y, x),
                              "encode_s": round(te, 3)}), flush=True)
