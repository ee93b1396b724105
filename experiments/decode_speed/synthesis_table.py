"""synthesis_table.py FILE: per value of ``bits`` against bits 0, each clip's BD-rate (PSNR, Q3-Q12) and the
decoder's coder syntheses over all the clip's files (with the blocks they serve), from synthesis_sweep.py's rows."""
import json
import sys
from collections import defaultdict

from benchmarks.bd import bd_numbers

rows = defaultdict(lambda: defaultdict(dict))
for line in open(sys.argv[1]):
    if line.startswith("{"):
        r = json.loads(line)
        rows[r["bits"]][r["clip"]][r["q"]] = r
names = {"val_bikes.mp4_128.npy": "bikes@128", "val_carphone_pristine.mp4_0.np": "car@0",
         "val_carphone_pristine.mp4_32.n": "car@32", "mov_balle.npy": "balle", "mov_bbb.npy": "bbb", "mov_bikes.npy": "bikes",
         "mov_motionmov.npy": "motion.mov"}
base = rows[0.0]
clips = list(base)
print("| synthesis bits | " + " | ".join(names.get(c, c) for c in clips) + " | mean BD-rate | syntheses (blocks) |")
print("| --- " * (len(clips) + 3) + "|")
for bits in sorted(rows):
    row, syn, blocks = [], 0, 0
    for c in clips:
        qs = sorted(set(rows[bits][c]) & set(base[c]))
        syn += sum(rows[bits][c][q]["syntheses"] for q in qs)
        blocks += sum(rows[bits][c][q]["blocks"] for q in qs)
        if len(qs) < 4:
            row.append(None)
            continue
        curve = lambda by: ([by[q]["bytes"] * 8 / (32 * 64 * 64) for q in qs], [by[q]["psnr"] for q in qs])  # noqa: E731
        row.append(bd_numbers(curve(base[c]), curve(rows[bits][c]), "psnr")["bd_rate"])
    ok = [r for r in row if r is not None]
    print(f"| {bits:g} | " + " | ".join("–" if r is None else f"{r:+.2f}%" for r in row)
          + f" | {sum(ok) / max(len(ok), 1):+.2f}% | {syn} ({blocks}) |")
