"""Format 11.0 against the file of before on real clips: each clip's first FRAMES frames encoded at Q7, Q9 and
Q12 with and without ``scalar_context`` (default options, 2 threads), bytes of each. Command line:
``FRAMES REFRESH CLIPS...`` (.npy)."""
import sys

import numpy as np
import torch

from vqcodec.coding.encoder import encode_frames
from vqcodec.weights import load_model

torch.set_num_threads(2)
m = load_model()
total = [0, 0]
for p in sys.argv[3:]:
    x = np.load(p)[:int(sys.argv[1])]
    for q in (7, 9, 12):
        a = encode_frames(x, 16, model=m, quality=q, scalar_context=False, refresh=int(sys.argv[2]))
        b = encode_frames(x, 16, model=m, quality=q, refresh=int(sys.argv[2]))
        total[0] += len(a)
        total[1] += len(b)
        print(p.split("/")[-1][:20], q, len(a), len(b), f"{(len(b) - len(a)) / len(a) * 100:+.2f}%", flush=True)
print("total", total, f"{(total[1] - total[0]) / total[0] * 100:+.2f}%")
