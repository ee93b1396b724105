"""Experiment: the first slice's coders priced with all four coders (the shipped encoder prices the two
trained nearest the lambda); k 0 = shipped 9.0, k 1 = all four.
    PYTHONPATH=. python experiments/intra_slice/all_coders_on_slice0.py 3,4,5,6,7,8,9 CLIPS... > out.jsonl"""
import sys, json, numpy as np
import vqcodec.coding.motion_search as MS
import vqcodec.coding.conditional_coder as CC
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
from vqcodec.metrics import psnr
m = load_model()
flag = {"all": False, "in": False}
orig_priced = CC.ConditionalCoder.priced
def priced(self, lam):
    return list(range(self.coders)) if flag["all"] and flag["in"] else orig_priced(self, lam)
CC.ConditionalCoder.priced = priced
orig_choose = MS.choose_intra
def choose(*a, **kw):
    flag["in"] = True
    try:
        return orig_choose(*a, **kw)
    finally:
        flag["in"] = False
MS.choose_intra = choose
for path in sys.argv[2:]:
    x = np.load(path)[:32]
    for q in [int(v) for v in sys.argv[1].split(",")]:
        for k in (0, 1):
            flag["all"] = bool(k)
            d = encode_frames(x, 16, model=m, quality=q); y = decode_bytes(d, model=m)
            print(json.dumps({"clip": path.split('/')[-1][:30], "q": q, "k": k, "bytes": len(d), "psnr": psnr(y, x)}), flush=True)
