"""Shared by the learned-prior tests (test_learned_prior*.py): codes compared with their copy maps, and
the codes of a file read back.
"""
from __future__ import annotations

import io

import numpy as np

from vqcodec.codes import Codes
from vqcodec.coding.decoder import read_gop_codes
from vqcodec.formats import VqvReader


def _codes_equal(a: Codes, b: Codes) -> None:
    assert [lv.name for lv in a.levels] == [lv.name for lv in b.levels]
    for x, y in zip(a.levels, b.levels):
        np.testing.assert_array_equal(x.indices, y.indices)
        np.testing.assert_array_equal(x.copy_map(), y.copy_map())


def _read(model, data: bytes, indices=None):
    return list(read_gop_codes(VqvReader(io.BytesIO(data)), model, indices))
