"""Decode the bfloat16 golden with oneDNN's kernels and with torch's reference kernels (mkldnn off): how far
another CPU's bfloat16 arithmetic could move the pixels."""
import numpy as np, torch, time
from pathlib import Path
from vqcodec.weights import load_model
from vqcodec.coding.decoder import decode_bytes
torch.set_num_threads(1)
m = load_model()
for name in ("golden_bfloat16", "golden_intra"):
    data = Path(f"tests/golden/{name}.vqv").read_bytes()
    t = time.perf_counter(); a = decode_bytes(data, model=m); ta = time.perf_counter() - t
    with torch.backends.mkldnn.flags(enabled=False):
        t = time.perf_counter(); b = decode_bytes(data, model=m); tb = time.perf_counter() - t
    d = np.abs(a.astype(int) - b)
    print(name, f"oneDNN {ta:.2f}s reference {tb:.2f}s; max {d.max()}, share differing {(d > 0).mean():.4f}, per frame max", d.reshape(len(d), -1).max(1).tolist())
