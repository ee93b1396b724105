"""During a real encode: every screened nearest_codes call against the exact one; how many rows were unsure; timing."""
import sys, time, numpy as np, torch, collections
from vqcodec import load_model, encode_frames
from vqcodec.coding import motion_residual as MR
torch.set_num_threads(2)
stat = collections.Counter()
orig = MR.nearest_codes
def checked(left, cb, screen=None):
    t = time.perf_counter(); a = orig(left, cb, screen); stat["t_screen"] += time.perf_counter() - t
    t = time.perf_counter(); b = MR._nearest_exact(left, cb); stat["t_exact"] += time.perf_counter() - t
    stat["rows"] += len(left); stat["calls"] += 1; stat["diff"] += int((a != b).sum())
    if screen is not None and len(left) >= MR.SCREEN_MIN_ROWS:
        d = left.astype(np.float32) @ screen.single.T; v = d * -2 + screen.norms[None]; s = np.sort(v, 1)
        gap = s[:, 1].astype(np.float64) - s[:, 0]
        stat["unsure"] += int((~(gap > screen.margin(np.sqrt((left * left).sum(1))))).sum()); stat["screened_rows"] += len(left)
    return a
MR.nearest_codes = checked
m = load_model()
for path in sys.argv[1:]:
    x = np.load(path)[:64]
    encode_frames(x, 16, model=m)
print(dict(stat))
