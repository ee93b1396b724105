"""Emulation of intra-specialised coders: a refresh GOP's first slice is refined by the coders of ICC (a
conditional coders' file, same coder count and lambdas as the shipped one) instead of the shipped ones;
encoder (choose_intra), entropy coding (code_intra) and decoder (refine_intra) all see ICC."""
import vqcodec.coding.motion_search as MS
import vqcodec.coding.motion as MO
import vqcodec.coding.motion_residual as MR
from vqcodec.weights import load_conditional_coder

ICC = None


def use(path):
    global ICC
    ICC = None if path is None else load_conditional_coder(path)


_choose, _refine, _code = MS.choose_intra, MO.refine_intra, MR.ResidualCoder.code_intra


def choose(coder, *a):
    return _choose(ICC or coder, *a)


class _Swap:
    def __init__(self, obj, tables=False):
        self.obj, self.tables = obj, tables

    def __enter__(self):
        self.saved = self.obj.coder
        if ICC is not None:
            object.__setattr__(self.obj, "coder", ICC.tables if self.tables else ICC)

    def __exit__(self, *e):
        object.__setattr__(self.obj, "coder", self.saved)


def refine(frames, field, block, residual):
    with _Swap(residual):
        return _refine(frames, field, block, residual)


def code(self, *a, **k):
    with _Swap(self, tables=True):
        return _code(self, *a, **k)


MS.choose_intra, MO.refine_intra, MR.ResidualCoder.code_intra = choose, refine, code
