"""ALPHA and STRENGTH of the lambda per block again, on top of session 26's dead zones: k 0 = shipped
(0.5, 0.5), then each "ALPHA:STRENGTH" of SETTINGS. Real files, decoded (as ../coder_rdoq/deadzone.py; the dead zones priced with a synthesis each, as when
the log was made: ``../coder_rdoq/rd_rows.py``).

    SETTINGS="0.5:0.75,0.7:0.5" PYTHONPATH=. python experiments/propagation/strength_sweep.py 3,...,12 CLIPS... > out.jsonl
"""
import os
import sys
from pathlib import Path

from vqcodec.coding import propagation

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "coder_rdoq"))
from rd_rows import run  # noqa: E402


def apply(setting):
    propagation.ALPHA, propagation.STRENGTH = setting


if __name__ == "__main__":
    run([(propagation.ALPHA, propagation.STRENGTH)] +
        [tuple(float(v) for v in s.split(":")) for s in os.environ["SETTINGS"].split(",")], apply)
