"""The motion decisions' lambda, scaled: BD-rate of `--motion` against motion off per factor.

    FACTORS=1,0.5,2 PYTHONPATH=. python experiments/motion_layer/lambda_sweep.py

(factors multiply the encoder's own motion lambda, MOTION_LAMBDA_SCALE included)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from variants import curve, report  # noqa: E402

from vqcodec.coding.encoder import GopEncoder  # noqa: E402

orig = GopEncoder._motion_lambda
for f in [float(x) for x in os.environ.get("FACTORS", "1,0.5,2").split(",")]:
    GopEncoder._motion_lambda = lambda self, i, f=f: orig(self, i) * f
    report(f"lambda x{f}", curve(True))
