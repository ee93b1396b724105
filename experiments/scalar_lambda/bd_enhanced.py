"""BD-rate (PSNR, Q5-Q12) of the enhanced points' (Q10-Q12) motion lambda x 1.5 / x 2.5 against x 1, with Q7-Q9 at
the shipped 0.5 (logs/enhanced_lambda.jsonl: lam_sweep.py 10,11,12 1.5,2.5 CLIPS...).
    PYTHONPATH=. python experiments/scalar_lambda/bd_enhanced.py"""
import json
from collections import defaultdict
from benchmarks.bd import bd_numbers
def load(files):
    out = {}
    for f in files:
        rows = [json.loads(l) for l in open(f) if l.startswith('{')]
        mq = min(x['q'] for x in rows); cnt = defaultdict(int)
        for r in rows:
            if r['q'] == mq and r['k'] == 0: cnt[r['clip']] += 1
            out[(r['clip'], cnt[r['clip']] - 1, r['q'], r['f'])] = (r['bytes'], r['psnr'])
    return out
L = 'experiments/scalar_lambda/logs/'
a = load([L + 'lam_val.jsonl', L + 'lam_mov.jsonl'])
e = load([L + 'enhanced_lambda.jsonl'])
clips = sorted({(k[0], k[1]) for k in e})
for clip in clips:
    # base = the new shipped: Q5-6 base, Q7-9 f0.5, Q10-12 f1 (enh file k0)
    base = [a[(*clip, q, 1.0)] for q in (5, 6)] + [a[(*clip, q, 0.5)] for q in (7, 8, 9)]
    line = []
    b0 = base + [e[(*clip, q, 1.0)] for q in (10, 11, 12)]
    for f in (1.5, 2.5):
        t = base + [e[(*clip, q, f)] for q in (10, 11, 12)]
        bd = bd_numbers(([r for r, _ in b0], [p for _, p in b0]), ([r for r, _ in t], [p for _, p in t]), 'psnr')['bd_rate']
        line.append(f"f{f}: {bd:+.2f}%" if bd is not None else "n/a")
    print(clip[0][-14:], clip[1], " ".join(line))
