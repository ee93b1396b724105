"""Top cells of real files by how many of their 8 bottom blocks the motion layer predicts, counting the cells
the top level coded (not copied) outside a refresh GOP's first slice. Command line: ``FILES...`` (.vqv)."""
import sys

from vqcodec.pipeline import read_codes_with_model
for path in sys.argv[1:]:
    model, cf = read_codes_with_model(path)
    g = cf.gops[0]; top = [l for l in g.levels if l.name == "top"][0]
    fl = g.motion.flags; tt, th, tw = top.grid
    cnt = fl.reshape(tt, 2, th, 2, tw, 2).sum(axis=(1, 3, 5))
    cop = top.copy_map(); cnt[0] = -1
    h = [int(((cnt == k) & ~cop).sum()) for k in range(9)]
    print(f"{path.split('/')[-1]:36s} coded top cells by predicted blocks 0..8: {h}")
