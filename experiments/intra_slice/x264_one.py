"""The first 4 frames (vqv's intra slice) coded alone: x264 veryslow (crf 21..39) against vqv (Q3..Q12, less ~90 B
of header and framing); BD-rate of vqv against x264 on those frames."""
import sys, numpy as np
from fractions import Fraction
from benchmarks.peers import PEERS, encode_packets, decode_packets, strip_sei
from vqcodec.metrics import psnr
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
sys.path.insert(0, __file__.rsplit("/", 1)[0])
from curves import bd_rate  # noqa: E402
m = load_model()
for path in sys.argv[1:]:
    x = np.load(path)[:32]
    xs, vs = [], []
    for crf in (21, 24, 27, 30, 33, 36, 39):
        pk = [strip_sei(p, "h264") for p in encode_packets(PEERS["x264"], x[:4], Fraction(16), crf)]
        y = np.stack(decode_packets("h264", [p for p in pk if p]))
        xs.append((sum(map(len, pk)), psnr(y, x[:4])))
    for q in range(3, 13):
        d = encode_frames(x[:4], 16, model=m, quality=q); y = decode_bytes(d, model=m)
        vs.append((len(d) - 90, psnr(y, x[:4])))     # less the file's ~90 B of header and framing
    r = bd_rate(xs, vs)
    print(f"{path.split('/')[-1][:28]} frames 0-3: x264 {' '.join(f'{b:.0f}/{p:.1f}' for b, p in xs)}")
    print(f"    vqv {' '.join(f'{b:.0f}/{p:.1f}' for b, p in vs)}; vqv vs x264 BD-rate {r:+.0f}%", flush=True)
