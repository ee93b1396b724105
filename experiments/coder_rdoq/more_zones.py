"""More roundings of the coders' symbols, on the first slice only or everywhere (session 26): k 0 = the
shipped encoder (medium: nearest, 0.15, 0.3), then each setting of SETTINGS, "INTRA|ALL" zone lists
(INTRA: the refresh GOP's first slice, choose_intra; ALL: every other slice; empty = as shipped).
Real files, decoded, as deadzone.py.

    SETTINGS="0.1,0.2,0.3,0.4|;0.1,0.2,0.3,0.4|0.1,0.2,0.3,0.4" PYTHONPATH=. python experiments/coder_rdoq/more_zones.py 3,...,12 CLIPS... > out.jsonl
"""
import os

import vqcodec.coding.motion_search as ms
from rd_rows import medium_dead_zones, run

SHIPPED_INTRA = ms.choose_intra


def zones(text):
    return (0.0, *(float(t) for t in text.split(","))) if text else None


def apply(setting):
    intra, rest = setting
    ms.choose_intra = SHIPPED_INTRA if intra is None else (lambda *a, z=intra: SHIPPED_INTRA(*a[:5], z))
    medium_dead_zones(rest)


if __name__ == "__main__":
    settings = [tuple(zones(p) for p in s.split("|")) for s in os.environ["SETTINGS"].split(";")]
    run([(None, None), *settings], apply)
