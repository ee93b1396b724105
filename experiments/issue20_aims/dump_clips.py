"""The benchmark's 3 validation clips as one .npz (for dec_ab.py): python dump_clips.py [OUT.npz]."""
import numpy as np, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.clips import load_clips
cl = load_clips("corpus:/work/data/corpus", None, Path("/work/data/cache"), print)
d = {}
for c in cl:
    d[c.name.split("/")[-1]] = c.frames
np.savez(sys.argv[1] if len(sys.argv) > 1 else "clips3.npz", **d)
