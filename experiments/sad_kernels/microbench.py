"""The kernels against numpy's passes on one 720p slice: the full search (169 vectors x 4 frames) and the moved
blocks' SADs (9 vectors a block), times and equality.  PYTHONPATH=. python experiments/sad_kernels/microbench.py
FRAMES.npy (T >= 8, 1280x720 uint8; e.g. the 96-frame clip of docs/speed.md, session 32)."""
import sys, time
import numpy as np
from vqcodec.coding import sad_kernels
from vqcodec.coding.motion import SUBPEL
from vqcodec.coding.motion_search import SEARCH_BATCH_PIXELS, PhasePlanes, block_rows, search_planes

frames = np.load(sys.argv[1], mmap_mode="r")
ref, targets = np.ascontiguousarray(frames[3]), np.ascontiguousarray(frames[4:8])
h, w = ref.shape[:2]
search, block = 6, (8, 8)
sad_kernels.KERNEL_MIN_PIXELS = sad_kernels.KERNEL_AFTER_PIXELS = 1 << 62      # planes without kernels: numpy
planes = search_planes(ref, 4, search)
K = sad_kernels.kernels()
steps = np.array([(dy, dx) for dy in range(-search, search + 1) for dx in range(-search, search + 1)], np.int64)
whole, tgt16 = planes.planes[0], targets.astype(np.int16)
t0 = time.perf_counter()
chunk = max(1, SEARCH_BATCH_PIXELS // (h * w * 3))
want = np.concatenate([sad_kernels.slice_sads(
    [np.stack([whole[y:y + h, x:x + w] for y, x in planes.reach + steps[a:a + chunk] * (j + 1)]) for j in range(4)],
    tgt16, block) for a in range(0, len(steps), chunk)])
t1 = time.perf_counter()
got = np.concatenate([sad_kernels.full_search_sads(K, whole, tgt16, steps[a:a + 32], planes.reach, block)
                      for a in range(0, len(steps), 32)])
t2 = time.perf_counter()
print(f"full search: numpy {t1 - t0:.3f} s, kernel {t2 - t1:.3f} s, equal {np.array_equal(got, want)}")
rng = np.random.default_rng(0)
vec = rng.integers(-24, 25, (1, h // 8, w // 8, 2)) + rng.integers(-2, 3, (9, h // 8, w // 8, 2))
tb = block_rows(targets[0], block)
t0 = time.perf_counter(); want = planes.sads(vec, block, tb); t1 = time.perf_counter()
got = sad_kernels.moved_sads(K, planes.planes, vec, tb, planes.reach, block); t2 = time.perf_counter()
print(f"moved blocks (9 vectors a block): numpy {t1 - t0:.3f} s, kernel {t2 - t1:.3f} s, equal {np.array_equal(got, want)}")
