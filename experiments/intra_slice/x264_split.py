"""Where x264 spends its bits on the benchmark's clips: per-frame packet sizes and per-slice PSNR (4 frames)."""
import sys, numpy as np
from fractions import Fraction
from benchmarks.peers import PEERS, encode_packets, decode_packets, strip_sei
from vqcodec.metrics import psnr
for path in sys.argv[1:]:
    x = np.load(path)[:32]
    for crf in (27, 30, 33, 36):
        pk = [strip_sei(p, "h264") for p in encode_packets(PEERS["x264"], x, Fraction(16), crf)]
        y = np.stack(decode_packets("h264", [p for p in pk if p]))
        sizes = [len(p) for p in pk]
        print(f"{path.split('/')[-1][:24]} crf {crf}: {sum(sizes)} B {psnr(y, x):.2f} dB; frames 0-3 {sum(sizes[:4])} B"
              f" ({100*sum(sizes[:4])/sum(sizes):.0f}%) first frame {sizes[0]} B; slice PSNR "
              + " ".join(f"{psnr(y[s*4:s*4+4], x[s*4:s*4+4]):.1f}" for s in range(8)), flush=True)
