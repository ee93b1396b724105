"""Where the bytes go on a one-GOP clip, vqv against x264 veryslow: the first four frames and the rest.

vqv: the clip coded whole (`empirical-static`); its first, intra slice's bits estimated from the real file:
the bottom level's slice-0 positions (all coded) at the file's mean bits per coded code of each stage
stream, plus half of the top level's slice 0 (a top slice spans two bottom slices); at a scalar point the
slice's symbols priced exactly under the scalar layer's first-slice tables (and the enhancement layer's
likewise). The rest of the payload is the other 28 frames (the container's header and index apart).
x264: its first four packets in decode order against the rest, SEI banner stripped.
usage: intra_inter_split.py CLIP.npy "Q,Q" "CRF,CRF" """
import io
import sys
from fractions import Fraction

import numpy as np

from benchmarks.peers import PEERS, encode_packets, encode_peer, strip_sei
from vqcodec.coding.decoder import read_gop_codes
from vqcodec.formats import VqvReader
from vqcodec.pipeline import encode_file
from vqcodec.weights import load_model

x = np.load(sys.argv[1])
m = load_model()


def first_slice_bits(codes, streams: dict) -> float:
    bits = 0.0
    for lv in codes.levels:
        if not lv.stages:
            continue
        coded = ~lv.copy_map()                                       # (T, H, W)
        share = 0.5 if lv.name == "top" else 1.0
        for k in range(lv.stages):
            per_code = streams.get(f"{lv.name}.{k}", 0.0) / max(int(coded.sum()), 1)
            bits += share * coded[0].sum() * per_code
    ladder = m.ladder
    if codes.scalar is not None:
        bits += ladder.tables[codes.scalar.step_num].symbol_bits(None, codes.scalar.symbols[:, 0]).sum()
    if codes.enhancement is not None:
        bits += ladder.enh_tables[codes.enhancement.step_num].symbol_bits(None, codes.enhancement.symbols[:, 0]).sum()
    return bits


for q in (int(v) for v in sys.argv[2].split(",")):
    buf = io.BytesIO()
    r = encode_file(sys.argv[1], buf, quality=q, prior="empirical-static", measure_quality=True, progress=False,
                    model=m)
    g = next(iter(read_gop_codes(VqvReader(io.BytesIO(buf.getvalue())), m)))
    intra = first_slice_bits(g.codes, r["bits_per_stream"]) / 8
    payload = r["payload_bits"] / 8
    print(f"vqv Q{q}: {r['bytes']} B ({payload:.0f} B payload), {r['psnr']:.2f} dB; first slice ~{intra:.0f} B, "
          f"the other {len(x) - 4} frames ~{payload - intra:.0f} B")
for crf in (int(v) for v in sys.argv[3].split(",")):
    packets = [len(strip_sei(p, "h264")) for p in encode_packets(PEERS["x264"], x, Fraction(16), crf)]
    res = encode_peer(PEERS["x264"], x, Fraction(16), crf, decoder="h264")
    from vqcodec.metrics import psnr
    print(f"x264 crf {crf}: {sum(packets)} B, {psnr(x, res.decoded):.2f} dB; first 4 packets {sum(packets[:4])} B, "
          f"the rest {sum(packets[4:])} B")
