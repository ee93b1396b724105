"""The version-1.0 learned-prior golden fixtures: NOT to be regenerated.

tiny_learned.pt (the tiny test model with an empirical-static and a learned prior),
golden_learned.vqv (3 GOPs, container version 1.0, learned prior, GOP context on),
golden_learned_codes.npz and golden_learned_frames.npy were written by release 0.1 with this
script as it stood then (see the git history of tests/golden/make_golden_learned.py). They are
a record of files in the wild: test_learned_prior.py checks that today's decoder still decodes
them bit-exactly and that today's GOP coder re-codes their codes to exactly their payloads.
Today's encoder writes version-2.0 files, so running the old recipe again would not reproduce
them; and the model's digest is in golden_learned.vqv's header, so tiny_learned.pt must never
be rewritten either (tests/golden/make_golden_v2.py reads it for the version-2.0 fixture).

    python tests/golden/make_golden_learned.py

only says this and exits with status 1. For the version-2.0 learned-prior fixture (golden_v2.*),
see make_golden_v2.py.
"""
from __future__ import annotations

import sys


def main() -> int:
    print(__doc__.strip(), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
