"""A cut inside a GOP's *first* slice (positions 1-3), which the shipped rule leaves alone: the same measurement as
rd.py with the encoder told to split there too (SceneCuts.ends_gop patched).

    QS=4,5,7,9,11 PYTHONPATH=. python experiments/scene_cuts/first_slice.py WINDOW.npy ... > logs/first_slice.jsonl
"""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

from vqcodec.coding import scene_cuts


def _ends_gop(self, frame, gop_frames, gop_began_at_cut):
    last, g = self._next(frame)
    return last is not None and gop_frames % self.slice_frames != 0 and scene_cuts.cut_ratio(last, g) > scene_cuts.CUT_RATIO


scene_cuts.SceneCuts.ends_gop = _ends_gop
sys.argv = [str(Path(__file__).with_name("rd.py"))] + sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
