"""Measured at ef66774 (session 36's end; decide_gop called decide_slice twice per slice): how much of a slice's second
decision repeats the first: blocks whose vector prediction and searched vector are both unchanged (their straight and
bent prices are then the same numbers), and the times of the first and second calls. Command line: CLIP.npy"""
import sys, time, hashlib, numpy as np, torch
from vqcodec import load_model, encode_frames
from vqcodec.coding import motion_search as MS
torch.set_num_threads(2)
inner = MS.decide_slice
state = {}
rows = []
def outer(*a, **k):
    t0 = time.perf_counter()
    pred = a[7] if len(a) > 7 else k.get('pred')
    got = inner(*a, **k)
    dt = time.perf_counter() - t0
    if k.get('start') is None:
        state['first'] = (pred, got, dt)
    else:
        p1, g1, dt1 = state['first']
        same_pred = (np.asarray(pred) == np.asarray(p1)).all(-1)
        same_vec = (got.searched == g1.searched).all(-1)
        keep = same_pred & same_vec
        # do the kept blocks decide as before?
        same_dec = (got.flags == g1.flags) & (got.vectors == g1.vectors).all(-1)
        if got.bends is not None:
            same_dec &= (got.bends == g1.bends).all(axis=(-2, -1))
        rows.append((keep.size, keep.mean(), same_pred.mean(), same_vec.mean(), (same_dec[keep]).mean() if keep.any() else 1, dt1, dt))
    return got
MS.decide_slice = outer
fr = np.load(sys.argv[1]); m = load_model()
t0 = time.perf_counter()
d = encode_frames(fr, 16, model=m)
print('wall', round(time.perf_counter() - t0, 1), len(d), hashlib.sha256(d).hexdigest()[:10])
r = np.array(rows)
np.set_printoptions(precision=3, suppress=True, linewidth=150)
print('blocks keep same_pred same_vec dec_same_on_kept t1 t2'); print(r)
print('sum t1', r[:, 5].sum(), 't2', r[:, 6].sum(), 'mean keep', r[:, 1].mean())
