"""Tables of sweep.py's rows: ``table.py BASE JSONL...`` gives each label's BD-rate (PSNR, pchip/akima of
benchmarks.bd over each clip's Q3-Q12 front) against label BASE per clip; ``table.py pts:BASE JSONL...`` the
mean change of bytes (log ratio) and of PSNR at each quality instead (exact where a change keeps every
point's PSNR, as the top copies do; BD-rate is noisy on clips whose front is degenerate, balle and
motion.mov, where Q7-Q9 fall below Q6)."""
import json
import math
import sys
from collections import defaultdict

from benchmarks.bd import bd_numbers

POINTS = sys.argv[1].startswith("pts:")
base = sys.argv[1].removeprefix("pts:")
cur = defaultdict(lambda: defaultdict(dict))
for p in sys.argv[2:]:
    for line in open(p):
        if line.startswith("{"):
            r = json.loads(line)
            cur[r["label"]][r["clip"]][r["q"]] = (r["bytes"] * 8 / (32 * 64 * 64), r["psnr"])
NAMES = {"val_bikes.mp4_128.npy": "bikes@128", "val_carphone_pristine.mp4_0.np": "car@0",
         "val_carphone_pristine.mp4_32.n": "car@32", "mov_balle.npy": "balle", "mov_bbb.npy": "bbb",
         "mov_bikes.npy": "bikes", "mov_motionmov.npy": "motion.mov"}
clips = list(cur[base])
print("| variant | " + " | ".join(NAMES.get(c, c) for c in clips) + " | mean |")
print("| --- " * (len(clips) + 2) + "|")
for lab, by in cur.items():
    if lab == base:
        continue
    row = []
    for c in clips:
        qs = sorted(set(by.get(c, {})) & set(cur[base][c]))
        if len(qs) < 3:
            row.append(None)
            continue
        b, v = [cur[base][c][q] for q in qs], [by[c][q] for q in qs]
        if POINTS:
            row.append((sum(math.log(y[0] / x[0]) for x, y in zip(b, v)) / len(qs) * 100,
                        sum(y[1] - x[1] for x, y in zip(b, v)) / len(qs)))
        else:
            row.append(bd_numbers(([p[0] for p in b], [p[1] for p in b]), ([p[0] for p in v], [p[1] for p in v]),
                                  "psnr")["bd_rate"])
    ok = [r for r in row if r is not None]
    if POINTS:
        print(f"| {lab} | " + " | ".join("–" if r is None else f"{r[0]:+.2f}% / {r[1]:+.3f} dB" for r in row)
              + f" | {sum(r[0] for r in ok) / max(len(ok), 1):+.2f}% |")
    else:
        print(f"| {lab} | " + " | ".join("–" if r is None else f"{r:+.2f}%" for r in row)
              + f" | {sum(ok) / max(len(ok), 1):+.2f}% |")
