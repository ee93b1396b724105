"""What the session-26 sweeps share: code each clip (first 32 frames) at each quality under each variant,
decode it, print one JSON row (clip, q, k, bytes, psnr, and whatever ``extra`` adds). Command line:
``QS CLIPS...``. ``SYNTHESISED=1`` (the default) prices the coders' dead zones with a synthesis each, as the
encoder did when the logs were made (it now estimates them: ``conditional_coder._roundings``)."""
import json
import os
import sys

import numpy as np
import torch

import vqcodec.coding.conditional_coder as cc
from vqcodec import settings as S
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.motion_search import Effort
from vqcodec.metrics import psnr
from vqcodec.weights import load_model

BUILT_ROUNDINGS = cc._roundings
SHIPPED_MEDIUM = S.PRESETS["medium"]


def synthesised(coder, j, source, pred, dead_zones):
    """Each rounding of the coder's symbols with its own synthesis (the first build of the dead zones)."""
    y = coder.analysis(j, source, pred)
    zones = (0.0, *(z for z in dead_zones if z))
    return [(s, coder.reconstruct(j, s, pred)) for s in (coder.symbols(y, z) for z in zones)]


def medium_dead_zones(zones):
    """``--preset medium`` with these dead zones (None: as shipped)."""
    S.PRESETS["medium"] = SHIPPED_MEDIUM if zones is None else S.Preset(effort=Effort(dead_zones=zones))


def run(variants, apply, extra=lambda: {}):
    """For each clip and quality of the command line, each variant ``k``: ``apply(variant)``, code, decode, print."""
    if os.environ.get("SYNTHESISED", "1") == "1":
        cc._roundings = synthesised
    torch.set_num_threads(2)
    m = load_model()
    for path in sys.argv[2:]:
        x = np.load(path)[:32]
        for q in [int(v) for v in sys.argv[1].split(",")]:
            for k, variant in enumerate(variants):
                apply(variant)
                d = encode_frames(x, 16, model=m, quality=q)
                y = decode_bytes(d, model=m)
                row = {"clip": path.split('/')[-1][:30], "q": q, "k": k, "bytes": len(d), "psnr": psnr(y, x)}
                row.update(extra())
                row["bytes"] += row.get("extra_bytes", 0)      # an emulation's bits the file does not carry
                print(json.dumps(row), flush=True)
