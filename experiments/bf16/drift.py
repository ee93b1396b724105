"""Drift along a prediction chain between two CPUs' bfloat16 arithmetic: a 256-frame synthetic pan coded in
bfloat16 with ``--refresh 0`` (8 GOPs, one refresh point), decoded with oneDNN's bfloat16 kernels and with the
emulation a CPU without bfloat16 instructions runs (vqcodec/net/bfloat16.py); per GOP, how far apart."""
import io
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from conftest import pan_video  # noqa: E402

from vqcodec.coding import decoder  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.formats import VqvReader  # noqa: E402
from vqcodec.net import bfloat16  # noqa: E402
from vqcodec.weights import load_conditional_coder, load_model, shipped_conditional_coder  # noqa: E402

q = int(sys.argv[1]) if len(sys.argv) > 1 else 6
m = load_model()
frames = pan_video(256, 64, 64, dx=2, dy=0)
data = encode_frames(frames, 16, model=m, quality=q, refresh=0, network_float="bfloat16")
native = list(decoder.decode_gops(VqvReader(io.BytesIO(data)), m))
bfloat16.bfloat16_is_native = lambda: False              # what a CPU without the instructions does
emulating, coder = load_model(), load_conditional_coder(shipped_conditional_coder())
decoder.conditional_coder_for_file = lambda digest: coder
emulated = list(decoder.decode_gops(VqvReader(io.BytesIO(data)), emulating))
print(f"Q{q}, {len(data)} bytes, version {VqvReader(io.BytesIO(data)).version}, 8 GOPs, refresh only at GOP 0")
for i, (a, b) in enumerate(zip(native, emulated)):
    d = np.abs(a.astype(int) - b)
    print(f"GOP {i}: max |diff| {d.max()}, pixels differing {100 * (d > 0).mean():.2f}%, mean {d.mean():.4f}")
