"""Why are blocks of moving footage not predicted? Each motion decision's prediction alone (straight
path) against the network's reconstruction, per block position: ``python
experiments/motion_layer/why_not_predicted.py CLIP.npy [Q]`` (session 15: bikes Q4, blocks left to the
network are predicted at 17.7 dB against the network's 23.4 dB)."""
import sys, numpy as np
import vqcodec.coding.motion_search as ms
from vqcodec.coding.motion import MotionField, predict_slice
rec = []
orig = ms.decide_slice
def wrapped(source, recon, before, rate, lam, search, block, pred=None, residual=None, coded=None, start=None, planes=None,
            **kw):
    got = orig(source, recon, before, rate, lam, search, block, pred, residual, coded, start, planes, **kw)
    bt, bh, bw = block
    trial = np.array(recon, copy=True)
    predict_slice(trial, MotionField(np.ones((1, *rate.shape), bool), got.searched[None]), 0, before, block)
    d_pred = ms.block_sse(trial, source, (bh, bw)).astype(float)
    d_net = ms.block_sse(recon, source, (bh, bw)).astype(float)
    d_fin = ms.block_sse(got.frames, source, (bh, bw)).astype(float)
    # prediction from the *source* frame before (ideal reference)
    rec.append(dict(flags=got.flags.copy(), d_pred=d_pred, d_net=d_net, d_fin=d_fin, rate=rate.copy(), lam=lam, vec=got.searched.copy()))
    return got
ms.decide_slice = wrapped
import vqcodec
q = int(sys.argv[2]) if len(sys.argv) > 2 else 4
frames = np.load(sys.argv[1])
model = vqcodec.load_model()
data = vqcodec.encode_frames(frames, 16, model=model, quality=q); print("bytes", len(data))
# keep second-pass records only: group by identity is hard; take all and report
npx = 4*8*8*3
def ps(d): return 10*np.log10(255**2/ (d/npx + 1e-9))
fl = np.concatenate([r['flags'].ravel() for r in rec]); dp=np.concatenate([r['d_pred'].ravel() for r in rec]); dn=np.concatenate([r['d_net'].ravel() for r in rec]); rt=np.concatenate([r['rate'].ravel() for r in rec])
print('decisions', len(rec), 'lam', rec[0]['lam'])
print('predicted share', fl.mean())
for name, m in [('predicted', fl), ('not', ~fl)]:
    print(name, 'mean psnr pred-only %.2f net %.2f  mean rate %.1f' % (ps(dp[m].mean()), ps(dn[m].mean()), rt[m].mean()))
v = np.concatenate([r['vec'].reshape(-1,2) for r in rec]); print('vector |q-pel| mean', np.abs(v).mean(0), 'max', np.abs(v).max(0))
F = np.stack([r['flags'] for r in rec]); print('predicted share by position\n', np.round(F.mean(0),1))
DP = np.stack([r['d_pred'] for r in rec]); DN = np.stack([r['d_net'] for r in rec])
print('pred-only psnr by position\n', np.round(ps(DP.mean(0)),1))
print('net psnr by position\n', np.round(ps(DN.mean(0)),1))
print('vectors mean by pos y\n', np.round(np.stack([r['vec'] for r in rec]).mean(0)[...,0]/4,1))
print('vectors mean by pos x\n', np.round(np.stack([r['vec'] for r in rec]).mean(0)[...,1]/4,1))
