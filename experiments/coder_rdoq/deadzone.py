"""Encoder-only roundings of the conditional coders' symbols (session 26): besides the analysis's nearest
integers, each priced coder also tries dead-zone roundings ``sign(y) floor(|y| + 0.5 - z)`` for each z of a
setting; each rounding costs one synthesis of the slice, and each block keeps its cheapest (coder,
rounding) in D + lambda R (``--preset medium``'s dead zones, set here). The decoder is unchanged (it
reads symbols). Real files, decoded: bytes and PSNR per clip and quality, k 0 = nearest only (session 25's
encoder), k 1.. = each setting of THETAS (the nearest always included).

    THETAS="0.15;0.15,0.3" PYTHONPATH=. python experiments/coder_rdoq/deadzone.py 3,4,...,12 CLIPS... > out.jsonl
    PYTHONPATH=. python experiments/intra_slice/bd_jsonl.py out.jsonl

(Sessions 26's first two logs ran an earlier form of this script, which patched the encoder's pricing with
the same roundings computed in numpy.)
"""
import os

from rd_rows import medium_dead_zones, run

if __name__ == "__main__":
    settings = [(0.0, *(float(t) for t in s.split(","))) for s in os.environ.get("THETAS", "0.2").split(";")]
    run([(0.0,), *settings], medium_dead_zones)
