"""BD-rate (PSNR) per clip of each k's curve against k = 0's, from the JSON lines of coders_on_slice0.py or
rd_intra_coder.py (points up to MAX_Q, default 12; clips told apart by the order they ran in)."""
import json, sys
from collections import defaultdict
from benchmarks.bd import bd_numbers
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
maxq = int(sys.argv[2]) if len(sys.argv) > 2 else 12
seen = {}; cur = defaultdict(lambda: defaultdict(lambda: ([], [])))
for r in rows:
    if r["q"] == 3 and r["k"] == 0: seen[r["clip"]] = seen.get(r["clip"], -1) + 1
    if r["q"] > maxq: continue
    c = cur[f'{r["clip"][-12:]}#{seen[r["clip"]]}'][r["k"]]; c[0].append(r["bytes"] * 8 / (32 * 64 * 64)); c[1].append(r["psnr"])
for clip, by in cur.items():
    out = [f"K{k:g} {(bd_numbers(by[0], by[k], 'psnr')['bd_rate'] or float('nan')):+.2f}%" for k in sorted(by) if k and len(by[k][0]) == len(by[0][0])]
    print(f"{clip:20} ({len(by[0][0])} pts):", ", ".join(out))
