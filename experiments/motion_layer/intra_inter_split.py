"""Where the bytes go on a clip, vqv against x264 veryslow: the first four frames (vqv: its first, intra
slice, measured by coding those frames alone; x264: its first four packets in decode order, SEI banner
stripped) and the rest. usage: intra_inter_split.py CLIP.npy "Q,Q" "CRF,CRF" """
import sys
from fractions import Fraction

import numpy as np

from benchmarks.peers import PEERS, encode_packets, encode_peer, strip_sei
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.metrics import psnr
from vqcodec.weights import load_model

x = np.load(sys.argv[1])
m = load_model()
for q in (int(v) for v in sys.argv[2].split(",")):
    whole = encode_frames(x, 16, model=m, quality=q, prior="empirical-static")
    first = encode_frames(x[:4], 16, model=m, quality=q, prior="empirical-static")
    print(f"vqv Q{q}: {len(whole)} B, {psnr(x, decode_bytes(whole, model=m)):.2f} dB; first slice alone {len(first)} B, "
          f"the other {len(x) - 4} frames ~{len(whole) - len(first)} B")
for crf in (int(v) for v in sys.argv[3].split(",")):
    packets = [len(strip_sei(p, "h264")) for p in encode_packets(PEERS["x264"], x, Fraction(16), crf)]
    r = encode_peer(PEERS["x264"], x, Fraction(16), crf, decoder="h264")
    print(f"x264 crf {crf}: {sum(packets)} B, {psnr(x, r.decoded):.2f} dB; first 4 packets {sum(packets[:4])} B, "
          f"the rest {sum(packets[4:])} B")
