"""The share of blocks whose bent path differs from the straight one (what the bent pricing must price)."""
import sys, numpy as np, torch, collections
from vqcodec import load_model, encode_frames
from vqcodec.coding import motion_search as MS
torch.set_num_threads(2)
acc = collections.Counter()
orig = MS.search_bends
def sb(targets, planes, vec, pred, mu, block):
    bv, path = orig(targets, planes, vec, pred, mu, block)
    moved = (bv != vec).any(-1) | path.any(axis=(-2, -1))
    acc["blocks"] += moved.size; acc["moved"] += int(moved.sum()); return bv, path
MS.search_bends = sb
m = load_model(); fr = np.load(sys.argv[1])[:int(sys.argv[2])]
encode_frames(fr, 16, model=m, conditional_coder=False)
print(dict(acc), round(acc["moved"] / acc["blocks"], 3))
