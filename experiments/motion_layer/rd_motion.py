"""RD curves with and without the motion layer on corpus clips; BD-rate per clip and per group."""
import sys, time, json
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from motion_eval import clip, psnr
from vqcodec.weights import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
import bjontegaard as bd

m = load_model()
spec = json.loads(sys.argv[1])          # [[name, path, start, n], ...]
qs = [int(q) for q in sys.argv[2].split(",")]
kw = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
out = {}
for name, path, start, n in spec:
    x = clip(path, start, n)
    res = {"off": [], "on": []}
    for q in qs:
        for key, mo in (("off", False), ("on", True)):
            t = time.time()
            d = encode_frames(x, 16, model=m, quality=q, motion=mo, **(kw if mo else {}))
            te = time.time() - t
            t = time.time(); y = decode_bytes(d, model=m); td = time.time() - t
            res[key].append([q, len(d) * 8 / x[..., 0].size, psnr(y, x), te, td])
    b0 = np.array([r[1] for r in res["off"]]); p0 = np.array([r[2] for r in res["off"]])
    b1 = np.array([r[1] for r in res["on"]]); p1 = np.array([r[2] for r in res["on"]])
    try:
        rate = bd.bd_rate(b0, p0, b1, p1, method="pchip", require_matching_points=False)
    except Exception as e:
        rate = float("nan")
    res["bd_rate"] = rate
    out[name] = res
    print(name, x.shape, "BD-rate %+.1f%%" % rate, " ".join(f"Q{a[0]}:{a[1]:.3f}/{a[2]:.2f}->{b[1]:.3f}/{b[2]:.2f}" for a, b in zip(res["off"], res["on"])), flush=True)
json.dump(out, open(sys.argv[4] if len(sys.argv) > 4 else "rd_out.json", "w"), indent=1)
