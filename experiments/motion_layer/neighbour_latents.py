"""What a predicted block's latent does to its neighbours: the network decodes every position, and a
predicted block's bottom codes are copies of the slice before (stale where things move), which its
neighbours' reconstruction reads through the decoder's reach. Compared, on the validation clips
(--motion, one GOP each), the network's PSNR over the blocks it reconstructs (not predicted) with:
  sent      the codes as coded (copies at predicted blocks)
  natural   the codes the encoder chose before the motion layer (not free: an upper bound)
  displaced the slice before's codes at the position the vector points to (free to a decoder)

    QS=4,6 PYTHONPATH=. python experiments/motion_layer/neighbour_latents.py
"""
import os
from pathlib import Path

import numpy as np

import vqcodec.coding.encoder as encmod
from benchmarks.clips import load_clips
from vqcodec.codes import CodeLevel, Codes
from vqcodec.coding.encoder import GopEncoder
from vqcodec.coding.motion import apply_motion
from vqcodec.settings import EncodeSettings
from vqcodec.weights import load_model

m = load_model()
stash = []
orig_force = encmod.force_level_copies


def spy(level, flags, before):
    stash.append(level)
    return orig_force(level, flags, before)


encmod.force_level_copies = spy


def displaced(idx: np.ndarray, copied: np.ndarray, flags: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    out = np.array(idx, copy=True)
    s, t_, h, w = out.shape
    for t in range(1, t_):
        for y, x in zip(*np.nonzero(copied[t])):
            if flags[t, y, x]:
                vy, vx = vectors[t, y, x]
                # content at the block came from ~4 frames (one slice) of the vector earlier; 8 px a position
                yy = int(np.clip(y + np.round(vy / 8.0), 0, h - 1))
                xx = int(np.clip(x + np.round(vx / 8.0), 0, w - 1))
                out[:, t, y, x] = out[:, t - 1, yy, xx]
            else:
                out[:, t, y, x] = out[:, t - 1, y, x]
    return out


def psnr_mask(a, b, mask):
    d = (a.astype(np.float64) - b) ** 2
    return 10 * np.log10(255 ** 2 / d[mask].mean())


clips = load_clips("corpus:" + os.environ.get("CORPUS", "/work/data/corpus"), None,
                   Path(os.environ.get("CACHE", "/work/data/cache")), lambda *a: None, frames=32)
for q in [int(v) for v in os.environ.get("QS", "4,6").split(",")]:
    for c in clips:
        stash.clear()
        st = EncodeSettings.build(m, quality=q, prior="auto", rdo_strength=1.0, refresh=8, motion=True, motion_search=6)
        enc = GopEncoder(m, st, c.frames.shape[2], c.frames.shape[1])
        for f in c.frames:
            enc.add_frame(f)
        g = enc.finish()[0]
        codes, field = g.codes, g.codes.motion
        bot = codes.level("bottom")
        if field is None or not stash:
            print(q, c.name, "no motion"); continue
        nat = stash[0]
        notpred = np.repeat(np.repeat(np.repeat(~field.flags, 4, 0), 8, 1), 8, 2)[..., None].repeat(3, -1)
        res = {}
        for name, idx in (("sent", bot.indices), ("natural", nat.indices),
                          ("displaced", displaced(bot.indices, bot.copy_map(), field.flags, field.vectors))):
            lv = tuple(CodeLevel(l.name, l.codebook_size, idx, None) if l.name == "bottom" else l for l in codes.levels)
            y = m.net.decode(Codes(lv, codes.scalar))
            full = apply_motion(y, field, None, (4, 8, 8))
            res[name] = (psnr_mask(y, c.frames, notpred), psnr_mask(full, c.frames, np.ones_like(notpred)))
        print(q, c.name, f"pred {field.flags.mean():.2f}",
              " ".join(f"{k}: {a:.2f}/{b:.2f}" for k, (a, b) in res.items()), flush=True)
