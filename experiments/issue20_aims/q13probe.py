"""Probe: qualities above Q12 from finer enhancement steps on today's basis and Q12's base (4+scalar/0.58).
Fits each new step's tables on the training clips' residuals of that base (as fit_ladder's first fit; no refit on
the coded positions), appends the points to the ladder in memory, and measures Q10-Q12 and the new ones."""
import json, os, sys, time
import numpy as np, torch
from vqcodec import load_model, encode_frames, decode_bytes
from vqcodec.codes import STEP_DEN
from vqcodec.coding.enhancement import quantise as quantise_coefficients
from vqcodec.coding.ladder import Ladder, LadderPoint
from vqcodec.entropy.scalar_prior import MAX_LIMIT, ScalarTables
from vqcodec.metrics import psnr
from vqcodec.release.clips import training_clips
from vqcodec.release.prior_fitting import _as_coded, _reconstructions
torch.set_num_threads(2)
m = load_model(); L = m.ladder
steps = [float(s) for s in os.environ.get("STEPS", "40,28,20").split(",")]
max_clips = int(os.environ.get("MAX_CLIPS", "60"))
clips, _ = training_clips("corpus:/work/data/corpus", "/work/data/cache", m.cfg, max_clips)
t0 = time.time()
base_q = 12
recon = list(_reconstructions(m, clips, base_q))
res = [_as_coded(m, c).astype(np.float64) - r for c, r in zip(clips, recon)]
print(f"{len(clips)} training clips, residuals of Q{base_q}'s base in {time.time() - t0:.0f} s", file=sys.stderr)
tabs = dict(L.enh_tables); pts = list(L.points); b = pts[base_q - 1]
basis = L.basis
bc = int(os.environ.get("BASIS_CHANNELS", "0"))
if bc:
    from vqcodec.coding.enhancement import fit_basis
    basis = fit_basis(res, m.cfg.bottom_factor, bc)
    for num in list(tabs):      # today's steps refitted on the new basis (Q12's base residuals: a probe)
        syms = [quantise_coefficients(basis.coefficients(r), num, 1 << 19) for r in res]
        limit = max(1, min(MAX_LIMIT, max(int(np.abs(x).max()) for x in syms)))
        tabs[num] = ScalarTables.fit([np.clip(x, -limit, limit) for x in syms], num, limit)
    print(f"basis of {basis.channels} directions", file=sys.stderr)
for s in steps:
    num = max(1, round(s * STEP_DEN))
    syms = [quantise_coefficients(basis.coefficients(r), num, 1 << 19) for r in res]
    limit = max(1, min(MAX_LIMIT, max(int(np.abs(x).max()) for x in syms)))
    tabs[num] = ScalarTables.fit([np.clip(x, -limit, limit) for x in syms], num, limit)
    pts.append(LadderPoint(b.top, b.bottom, b.step_num, num))
    print(f"step {s}: limit {limit}", file=sys.stderr)
NEW = Ladder(tuple(pts), L.tables, basis, tabs)
from vqcodec.weights import CodecModel
_orig = CodecModel.ladder
CodecModel.ladder = property(lambda self: NEW if self.digest == m.digest else _orig.fget(self))
for path in sys.argv[1:]:
    fr = np.load(path)[:32]
    for q in list(range(10, 13)) + list(range(13, 13 + len(steps))):
        data = encode_frames(fr, 16, model=m, quality=q, prior="auto")
        out = decode_bytes(data, model=m)[:len(fr)]
        print(json.dumps({"clip": os.path.basename(path), "q": q, "point": NEW.points[q - 1].describe(),
                          "bytes": len(data), "bpp": round(len(data) * 8 / (32 * 64 * 64), 4),
                          "psnr": round(float(psnr(fr, out)), 3)}), flush=True)
