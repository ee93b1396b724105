"""The dead zones priced without their syntheses (session 26, built): a rounding's slice estimated as the
nearest rounding's synthesis plus the linear path's image of the symbols' change
(``conditional_coder._roundings``, ``ConditionalCoder.linear_image``), so each coder costs one synthesis.
k 0 = a synthesis per rounding (how the dead zones were first built; ``_roundings`` patched here), k 1 =
the built estimate. The final synthesis of the chosen symbols is exact either way (the decoder's). Real
files, decoded (as deadzone.py).

    PYTHONPATH=. python experiments/coder_rdoq/linear_estimate.py 3,...,12 CLIPS... > out.jsonl
"""
import os

import vqcodec.coding.conditional_coder as cc
from rd_rows import BUILT_ROUNDINGS, run, synthesised


def apply(roundings):
    cc._roundings = roundings


if __name__ == "__main__":
    os.environ["SYNTHESISED"] = "0"          # the variants set the pricing themselves
    run([synthesised, BUILT_ROUNDINGS], apply)
