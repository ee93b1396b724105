"""The decoder's entropy decoding alone (read_gop_codes, best of 5) and the part of it in the conditional coders' symbols."""
import time, io, torch, numpy as np
import vqcodec.coding.motion_residual as MR
from vqcodec import load_model, decode_bytes
from vqcodec.coding.decoder import read_gop_codes
from vqcodec.formats import VqvReader
torch.set_num_threads(2)
m = load_model()
acc = [0.0]
orig = MR.ResidualCoder._code_symbols
def timed(self, *a, **k):
    t0 = time.perf_counter()
    try: return orig(self, *a, **k)
    finally: acc[0] += time.perf_counter() - t0
MR.ResidualCoder._code_symbols = timed
for f in ("/work/s34/decab/b64_q4.vqv", "/work/s34/decab/b64_q9.vqv", "/work/s34/decab/b320_q4.vqv"):
    data = open(f, "rb").read()
    best = None
    for _ in range(5):
        acc[0] = 0.0; t0 = time.perf_counter(); list(read_gop_codes(VqvReader(io.BytesIO(data)), m)); t = time.perf_counter() - t0
        if best is None or t < best:
            best, cs = t, acc[0]
    print(f, f"entropy {best:.3f} s, coder symbols {cs:.3f} s")
