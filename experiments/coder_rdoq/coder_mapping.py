"""Which two coders the encoder prices, with session 26's dead zones: a coder trained at lambda is taken to
weigh error against bits as D + (RATE_LAMBDA_PER_CODER_LAMBDA / lambda) R; a dead zone trades error for bits
as a higher lambda would, so the coders trained nearest may have moved. k 0 = shipped (3.0), then each
value of SETTINGS. Real files, decoded (as deadzone.py).

    SETTINGS="2.0,4.5" PYTHONPATH=. python experiments/coder_rdoq/coder_mapping.py 3,...,12 CLIPS... > out.jsonl
"""
import os

import vqcodec.coding.conditional_coder as cc
from rd_rows import run


def apply(r):
    cc.RATE_LAMBDA_PER_CODER_LAMBDA = r


if __name__ == "__main__":
    run([cc.RATE_LAMBDA_PER_CODER_LAMBDA] + [float(v) for v in os.environ["SETTINGS"].split(",")], apply)
