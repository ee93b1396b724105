import json, sys, collections
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from benchmarks.bd import bd_rates
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
by = collections.defaultdict(list)
for r in rows: by[(r["variant"], r["clip"])].append(r)
base = sys.argv[2] if len(sys.argv) > 2 else "bilinear"
vs = sorted({r["variant"] for r in rows} - {base})
for v in vs:
    out = []
    for (var, clip), pts in sorted(by.items()):
        if var != v or (base, clip) not in by: continue
        a = sorted(by[(base, clip)], key=lambda r: r["q"]); b = sorted(pts, key=lambda r: r["q"])
        if len(a) != len(b): continue
        d = bd_rates(a, b, ("psnr",))["bd_rate_psnr"]
        out.append(d); print(f"{v} {clip}: {d:+.2f}%  bytes {[x['bytes'] for x in b]} vs {[x['bytes'] for x in a]}  dB {[round(x['psnr']-y['psnr'],2) for x,y in zip(b,a)]}")
    print(f"{v}: mean {sum(out)/len(out):+.2f}% over {len(out)} clips")
