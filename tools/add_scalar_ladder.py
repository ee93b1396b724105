"""Give a shipped weights file a quality ladder with scalar points (docs/scalar_layer_design.md).

    python tools/add_scalar_ladder.py vqcodec/weights/vqv-cpu-hq.pt --data corpus:data/corpus \\
        --cache-dir data/cache --points "2,0 4,1 4,2 4,3 4,4 4,6 4,s1.5 4,s1.2 4,s1.0 4,s0.85 4,s0.7 4,s0.5"

``T,B`` is a VQ point (top and bottom stages), ``T,sSTEP`` a scalar point (top stages, then the
bottom latent as integers of that step); a trailing ``,eSTEP`` adds an enhancement layer of that step
in 8-bit pixel units (``4,s0.58,e80``; vqcodec/coding/enhancement.py). The tables are fitted on every training clip, every point
is measured on the validation clips (into the model card), and the file is rewritten in place; files
its earlier release wrote keep decoding (legacy priors, and that release's VQ qualities).
"""
from __future__ import annotations

import argparse
import json
import sys

from vqcodec.release.quality_ladder import add_ladder


def parse_points(text: str) -> list[tuple[int, int, float | None, float | None]]:
    out = []
    for item in text.split():
        top, base, *more = item.split(",")
        enh = float(more[0][1:]) if more and more[0].startswith("e") else None
        out.append((int(top), 0, float(base[1:]), enh) if base.startswith("s") else (int(top), int(base), None, enh))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights")
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache-dir", required=True)
    ap.add_argument("--points", required=True)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    rep = add_ladder(a.weights, parse_points(a.points), data=a.data, cache_dir=a.cache_dir, threads=a.threads,
                     log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
