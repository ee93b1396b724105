"""The ceiling of a GOP split at a scene cut: a clip coded whole against the same clip coded as two files split at
the cut (the second file's container overhead subtracted), decoded, BD-rate on PSNR over the qualities.

    for q in 3 4 ... 12: vqv encode -Q $q CLIP.npy w_$q.vqv; vqv encode -Q $q A.npy a_$q.vqv; vqv encode -Q $q B.npy b_$q.vqv
    (A = the frames before the cut, B = the rest; each decoded to X_$q.npy)
    QS=3,4,6,9,12 PYTHONPATH=. python experiments/scene_cuts/ceiling.py CLIP.npy CUT
"""
import numpy as np, os, sys, subprocess
from benchmarks.bd import bd_numbers
src = np.load(sys.argv[1]).astype(float); cut = int(sys.argv[2]); pre = sys.argv[3] if len(sys.argv) > 3 else ''
def psnr(a, b): return 10*np.log10(255**2/((a-b)**2).mean())
def overhead(f):
    out = subprocess.run(['vqv', 'info', f],capture_output=True,text=True).stdout
    for l in out.splitlines():
        if l.strip().startswith('overhead'): return int(l.split()[1])
W, S = [], []
QS = [int(x) for x in os.environ.get("QS", "3,4,5,6,7,8,9,10,11,12").split(",")]
for q in QS:
    w = np.load(f'{pre}w_{q}.npy').astype(float); a = np.load(f'{pre}a_{q}.npy').astype(float); b = np.load(f'{pre}b_{q}.npy').astype(float)
    bw = os.path.getsize(f'{pre}w_{q}.vqv'); bs = os.path.getsize(f'{pre}a_{q}.vqv') + os.path.getsize(f'{pre}b_{q}.vqv') - overhead(f'{pre}b_{q}.vqv')
    sp = np.concatenate([a, b]); pw, ps = psnr(src, w), psnr(src, sp)
    print(q, bw, '%.2f' % pw, bs, '%.2f' % ps, 'pre-cut %.2f / %.2f' % (psnr(src[:cut], w[:cut]), psnr(src[:cut], a)), 'post %.2f / %.2f' % (psnr(src[cut:], w[cut:]), psnr(src[cut:], b)))
    W.append((bw, pw)); S.append((bs, ps))

f = lambda L: ([a for a, b in L], [b for a, b in L])
print(bd_numbers(f(W), f(S), 'psnr'))
