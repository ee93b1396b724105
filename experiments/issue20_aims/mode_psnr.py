"""Per mode (network block / predicted without residual / predicted with residual / coder), the share of blocks and
their PSNR, for a clip at several qualities."""
import sys, tempfile, numpy as np, torch
from vqcodec import load_model, encode_frames, decode_bytes, read_codes
torch.set_num_threads(2)
m = load_model()
fr = np.load(sys.argv[1]); n = len(fr)
for q in [int(x) for x in sys.argv[2].split(",")]:
    data = encode_frames(fr, 16, model=m, quality=q, prior="auto")
    out = decode_bytes(data, model=m)[:n]
    with tempfile.NamedTemporaryFile(suffix=".vqv") as f:
        f.write(data); f.flush(); cf = read_codes(f.name, model=m)
    err = (out.astype(float) - fr.astype(float)) ** 2        # (T, H, W, 3)
    se = {}; cnt = {}
    for g, codes in enumerate(cf.gops):
        mf = codes.motion
        if mf is None: continue
        T, H, W = mf.flags.shape
        for t in range(T):
            for y in range(H):
                for x in range(W):
                    f0 = g * 32 + t * 4
                    if f0 >= n: continue
                    e = err[f0:f0 + 4, y * 8:(y + 1) * 8, x * 8:(x + 1) * 8].mean()
                    if t == 0 and g == 0: kind = "first slice"
                    elif not mf.flags[t, y, x]: kind = "network"
                    else:
                        r = 0 if mf.residual is None else int(mf.residual[t, y, x])
                        kind = "pred" if r == 0 else f"pred+res{r}"
                    se[kind] = se.get(kind, 0) + e; cnt[kind] = cnt.get(kind, 0) + 1
    tot = sum(cnt.values())
    print(f"Q{q} {len(data)} B: " + ", ".join(f"{k} {100*cnt[k]/tot:.0f}% {10*np.log10(255**2/(se[k]/cnt[k])):.1f} dB"
                                              for k in sorted(cnt)), flush=True)
