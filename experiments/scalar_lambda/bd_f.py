"""BD-rate (PSNR, Q5-Q12 of the 7 clips) against the shipped encoder of: the scalar points' (Q7-Q9) motion
lambda x f, the enhanced points as shipped (lam_*.jsonl, lam_035_07.jsonl); and at f = 0.5 the scalar
layer's copy lambda x g (copy_lambda.jsonl).   PYTHONPATH=. python experiments/scalar_lambda/bd_f.py"""
import json
import os
from collections import defaultdict
from benchmarks.bd import bd_numbers
def load(files, per):
    out = {}
    for f in files:
        rows = [json.loads(l) for l in open(f) if l.startswith('{')]
        cnt = defaultdict(int)
        for r in rows:
            key = r['clip']
            if r['q'] == min(x['q'] for x in rows) and r['k'] == 0: cnt[key] += 1
            out[(key, cnt[key] - 1, r['q'], r['f'])] = (r['bytes'], r['psnr'])
    return out
L = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'logs') + '/'
a = load([L + 'lam_val.jsonl', L + 'lam_mov.jsonl'], 24)
b = load([L + 'lam_035_07.jsonl'], 9)
a.update(b)
clips = sorted({(k[0], k[1]) for k in a})
for clip in clips:
    base = [a[(*clip, q, 1.0)] for q in range(5, 13)]
    line = []
    for f in (0.7, 0.5, 0.35, 0.25):
        test = [a[(*clip, q, f if 7 <= q <= 9 else 1.0)] for q in range(5, 13)]
        bd = bd_numbers(([r for r, _ in base], [p for _, p in base]), ([r for r, _ in test], [p for _, p in test]), 'psnr')['bd_rate']
        line.append(f"f{f}: {bd:+.2f}%" if bd is not None else f"f{f}: n/a")
    print(f"{clip[0][-14:]}#{clip[1]}", " ".join(line))
print("--- g (copy lambda at scalar points), f = 0.5")
c = {}
for f in [L + 'copy_lambda.jsonl']:
    rows = [json.loads(l) for l in open(f)]
    cnt = defaultdict(int)
    for r in rows:
        if r['q'] == 7 and r['k'] == 0: cnt[r['clip']] += 1
        c[(r['clip'], cnt[r['clip']] - 1, r['q'], r['g'])] = (r['bytes'], r['psnr'])
for clip in clips:
    base = [a[(*clip, q, 1.0)] for q in range(5, 13)]
    line = []
    for g in (1.0, 0.5, 2.0):
        test = [c[(*clip, q, g)] if 7 <= q <= 9 else a[(*clip, q, 1.0)] for q in range(5, 13)]
        bd = bd_numbers(([r for r, _ in base], [p for _, p in base]), ([r for r, _ in test], [p for _, p in test]), 'psnr')['bd_rate']
        line.append(f"g{g}: {bd:+.2f}%" if bd is not None else f"g{g}: n/a")
    print(f"{clip[0][-14:]}#{clip[1]}", " ".join(line))
