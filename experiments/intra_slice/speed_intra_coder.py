"""Encode and decode speed with and without the coders on the first slice (session 24): bikes 64x64 96 frames
and 320x240 32 frames (/work/s18 .npy clips), default quality, 2 threads, two alternating rounds."""
import time, numpy as np, torch
from fractions import Fraction
from vqcodec import load_model, encode_frames, decode_bytes
torch.set_num_threads(2)
m = load_model()
clips = (("64x64 96f", np.load("/work/s18/b64.npy")[:96]), ("320x240 32f", np.load("/work/s18/b320.npy")[:32]))
for rnd in range(2):
    for name, x in clips:
        for on in (False, True):
            te = []
            for rep in range(2):
                t = time.perf_counter(); d = encode_frames(x, Fraction(16), model=m, intra_coder=on); te.append(time.perf_counter() - t)
            td = []
            for rep in range(4):
                t = time.perf_counter(); y = decode_bytes(d, model=m); td.append(time.perf_counter() - t)
            print(f"round {rnd} {name} intra {'on ' if on else 'off'}: {len(d)} B; encode {len(x) / min(te):.1f} fps, decode {len(x) / min(td):.1f} fps best of 4", flush=True)
