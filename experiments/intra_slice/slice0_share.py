"""vqv's intra slice (frames 0-3, coded alone: the file's bytes less ~90 B of header and framing) against the
whole 32-frame file, and the PSNR of slice 0 and of slices 1-7, per quality."""
import sys, numpy as np
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
from vqcodec.metrics import psnr
m = load_model()
for path in sys.argv[1:]:
    x = np.load(path)[:32]
    row = []
    for q in (4, 6, 9, 12):
        d = encode_frames(x, 16, model=m, quality=q); y = decode_bytes(d, model=m)
        s0 = len(encode_frames(x[:4], 16, model=m, quality=q)) - 90
        row.append(f"Q{q} {len(d)} B, slice 0 {s0} B ({100 * s0 / len(d):.0f}%) {psnr(y[:4], x[:4]):.1f} dB,"
                   f" slices 1-7 {psnr(y[4:], x[4:]):.1f} dB")
    print(f"{path.split('/')[-1][:28]:28s} " + "; ".join(row), flush=True)
