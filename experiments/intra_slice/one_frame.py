"""One frame (frame 0) coded alone: x264 (I-frame), JPEG and WebP (Pillow), vqv (the frame held 4 frames, less ~90 B of header)."""
import io, sys, numpy as np
from fractions import Fraction
from PIL import Image
from benchmarks.peers import PEERS, encode_packets, decode_packets, strip_sei
from vqcodec.metrics import psnr
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
sys.path.insert(0, __file__.rsplit("/", 1)[0])
from curves import bd_rate as bdr  # noqa: E402
m = load_model()
for path in sys.argv[1:]:
    f = np.load(path)[0]
    x264 = []
    for crf in (18, 21, 24, 27, 30, 33, 36, 39, 42):
        pk = [strip_sei(p, "h264") for p in encode_packets(PEERS["x264"], f[None], Fraction(16), crf)]
        y = decode_packets("h264", [p for p in pk if p])[0]
        x264.append((sum(map(len, pk)), psnr(y, f)))
    out = {"x264": x264}
    for fmt, qs in (("JPEG", (20, 35, 50, 65, 80, 90)), ("WEBP", (10, 25, 40, 55, 70, 85, 95))):
        pts = []
        for q in qs:
            b = io.BytesIO(); Image.fromarray(f).save(b, fmt, quality=q)
            y = np.asarray(Image.open(io.BytesIO(b.getvalue())).convert("RGB"))
            pts.append((len(b.getvalue()) - (0 if fmt != "JPEG" else 0), psnr(y, f)))
        out[fmt] = pts
    vq = []
    for q in range(3, 13):
        d = encode_frames(np.stack([f] * 4), 16, model=m, quality=q)
        vq.append((len(d) - 90, psnr(decode_bytes(d, model=m)[0], f)))
    out["vqv held"] = vq
    print(path.split("/")[-1][:30])
    for k, v in out.items():
        print(f"   {k:9s} " + " ".join(f"{b}/{p:.1f}" for b, p in v) + (f"   BD vs x264 {bdr(x264, v):+.0f}%" if k != "x264" else ""))
