"""Training data for the light synthesis as the codec makes it: training crops (32 frames, 64x64) coded through the
real encoder (copy decisions, scalar symbols after RDO, the motion layer on most; conditional coders off) at a random
quality Q2-Q12, read back as latents, with each block's motion flag (a predicted block's pixels are the prediction's,
not the network's). The network's output on such latents is what the decoder shows; plain encodes (train_light.py's
cache) have no copies, and a light synthesis trained on them alone lost 0.2-0.9 dB on real files.

  N=800 SEED=1 python experiments/light_synthesis/codec_latents.py OUT.pt
  CLIPS=val_a.npy,val_b.npy python experiments/light_synthesis/codec_latents.py EVAL.pt
"""
import os, random, sys, tempfile, time
from fractions import Fraction
import numpy as np, torch
from vqcodec import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.latents import read_latents
from vqcodec.train.data import ClipSpec, build_dataset

torch.set_num_threads(1)
MODEL = os.environ.get("MODEL") or None
m = load_model(MODEL)
n, seed = int(os.environ.get("N", "800")), int(os.environ.get("SEED", "1"))
ds = build_dataset("corpus:/work/data/corpus", "train", ClipSpec(frames=32, size=64), "/work/data/cache", train=True,
                   samples_per_epoch=100000, seed=seed, progress=False)
rng = random.Random(seed)
xs, tops, bots, flags, qs = [], [], [], [], []
t0 = time.time()
# CLIPS: .npy clips (comma-separated) each coded at Q3, Q4, Q6, Q9 and Q12 with the motion layer (an evaluation set)
fixed = [(np.load(c)[:32], q, True) for c in os.environ["CLIPS"].split(",") for q in (3, 4, 6, 9, 12)] \
    if os.environ.get("CLIPS") else None
with tempfile.TemporaryDirectory() as d:
    for i in range(len(fixed) if fixed else n):
        if fixed:
            clip, q, mot = fixed[i]
        else:
            clip = ds[rng.randrange(len(ds))]
            clip = clip.numpy() if hasattr(clip, "numpy") else np.asarray(clip)
            if clip.shape[0] == 3:                        # (3, T, H, W) float in [-1, 1] -> uint8 (T, H, W, 3)
                clip = np.clip(np.round((clip.transpose(1, 2, 3, 0) + 1) * 127.5), 0, 255).astype(np.uint8)
            q = rng.randint(2, 12)
            mot = rng.random() < 0.75
        data = encode_frames(clip, Fraction(16), model=m, quality=q, prior="empirical-static", motion=mot,
                             conditional_coder=False, intra_coder=False)
        p = os.path.join(d, "c.vqv")
        open(p, "wb").write(data)
        lat = read_latents(p, m)
        lv = {l.name: l.latent for l in lat.levels}
        xs.append(torch.from_numpy(clip)); tops.append(torch.from_numpy(lv["top"][0]).half())
        bots.append(torch.from_numpy(lv["bottom"][0]).half())
        f = lat.motion_flags[0] if lat.motion_flags is not None else np.zeros(lv["bottom"].shape[2:], bool)
        flags.append(torch.from_numpy(np.ascontiguousarray(f))); qs.append(q)
        if i % 50 == 0:
            print(i, round(time.time() - t0), flush=True)
torch.save({"x": torch.stack(xs), "top": torch.stack(tops), "bottom": torch.stack(bots), "flags": torch.stack(flags),
            "q": torch.tensor(qs)}, sys.argv[1])
print("done", len(xs), round(time.time() - t0), "s")
