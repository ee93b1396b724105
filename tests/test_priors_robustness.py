"""Non-learned priors: their public helpers, and inconsistent codes, wrong counts and hostile bytes
refused with an EntropyError (never another exception, never a wrong decode).
"""
from __future__ import annotations

import msgpack
import numpy as np
import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st
from prior_helpers import SETTINGS, assert_codes_equal, make_gops, static_prior, symbols_of

from vqcodec.codes import CodeLevel, Codes
from vqcodec.entropy.rans import TOTAL, EntropyError
from vqcodec.coding.gop_coding import layout_of, LevelLayout, decode_gop, encode_gop
from vqcodec.entropy.priors import (
    EmpiricalAdaptivePrior,
    EmpiricalStaticPrior,
    StreamSymbols,
    UniformPrior,
    check_codebook_size,
    check_stream_name,
    extended_slices,
    grid_ratio,
    prior_from_header,
    stream_symbols,
)


# ----------------------------------------------------------------------------- helpers
def test_public_helpers():
    assert check_stream_name("bottom.1") == "bottom.1"
    for bad in ("", "x" * 129, 3, None):
        with pytest.raises(EntropyError):
            check_stream_name(bad)
    assert check_codebook_size(np.int64(7)) == 7
    for bad in (0, -1, True, 2.0, (1 << 20) + 1):
        with pytest.raises(EntropyError):
            check_codebook_size(bad)
    np.testing.assert_array_equal(stream_symbols(StreamSymbols("a.0", 8, np.array([[1], [7]]))), [1, 7])
    assert stream_symbols(StreamSymbols("a.0", 8, np.array([], np.float32))).size == 0
    for sym in (np.array([8]), np.array([-1]), np.array([True]), np.array([1.0])):
        with pytest.raises(EntropyError):
            stream_symbols(StreamSymbols("a.0", 8, sym))
    # extended arrays: the reference's last two slices, then the GOP's slices
    cur, ref = np.arange(3 * 2 * 2).reshape(3, 2, 2), 100 + np.arange(3 * 2 * 2).reshape(3, 2, 2)
    e = extended_slices(cur, ref, (3, 2, 2))
    assert e.shape == (5, 2, 2) and e.dtype == np.int64
    np.testing.assert_array_equal(e[:2], ref[1:])
    np.testing.assert_array_equal(e[2:], cur)
    assert (extended_slices(None, None, (3, 2, 2)) == -1).all()
    one = extended_slices(None, np.full((1, 2, 2), 9), (1, 2, 2))      # a 1-slice reference
    assert (one[0] == -1).all() and (one[1] == 9).all() and (one[2] == -1).all()
    assert grid_ratio((4, 16, 16), (4, 8, 8)) == (1, 2, 2)
    assert grid_ratio((4, 16, 16), (4, 16, 16)) == (1, 1, 1)
    assert grid_ratio((4, 16, 15), (4, 8, 8)) is None
    assert grid_ratio((4, 16, 16), (0, 8, 8)) is None


# --------------------------------------------------------------------------------- robustness
def test_decode_gop_wrong_counts_and_layouts():
    gop = make_gops(1)[0]
    layout = layout_of(gop)
    prior = UniformPrior()
    res = encode_gop(layout, prior, gop, copy_mode=False, reference=None)
    assert_codes_equal(decode_gop(layout, prior, res.payload, res.counts, copy_mode=False, reference=None).codes, gop)
    for name in ("top.0", "bottom.1"):
        for n in (res.counts[name] - 1, res.counts[name] + 1, -1, 2 ** 40, None):
            bad = dict(res.counts)
            if n is None:
                del bad[name]
            else:
                bad[name] = n
            with pytest.raises(EntropyError, match=name):
                decode_gop(layout, prior, res.payload, bad, copy_mode=False, reference=None)
    # the payload was made without copy decisions: decoding it as if it had them fails
    with pytest.raises(EntropyError):
        decode_gop(layout, prior, res.payload, res.counts, copy_mode=True, reference=None)
    # another codebook size or stage count than the payload was made with
    for bad_layout in ([LevelLayout("top", 0, 1, (4, 8, 8))],
                       [LevelLayout(lv.name, lv.codebook_size, lv.stages + (lv.name == "bottom"), lv.grid)
                        for lv in layout]):
        with pytest.raises(EntropyError):
            decode_gop(bad_layout, prior, res.payload, res.counts, copy_mode=False, reference=None)
    with pytest.raises(EntropyError):
        prior_from_header("nope", b"")
    with pytest.raises(EntropyError):
        prior_from_header("uniform", b"x")
    with pytest.raises(EntropyError):
        prior_from_header("empirical-static", b"")          # model ships no static tables
    with pytest.raises(EntropyError):
        prior_from_header("empirical-static", b"x", static=static_prior())


def _one_level(idx, copied=None, k=16) -> Codes:
    return Codes((CodeLevel("a", k, np.asarray(idx, np.int32), copied),))


def test_encode_gop_refuses_inconsistent_codes():
    layout = [LevelLayout("a", 16, 1, (2, 2, 2))]
    ok = _one_level(np.arange(8).reshape(1, 2, 2, 2))
    ref = encode_gop(layout, UniformPrior(), ok, copy_mode=True, reference=None).reference
    copied = np.zeros((2, 2, 2), bool)
    copied[1, 0, 0] = True
    cases = [
        (_one_level(-np.ones((1, 2, 2, 2))), True, None),                       # a negative symbol
        (_one_level(np.zeros((1, 2, 2, 3))), True, None),                       # not the layout's grid
        (_one_level(np.zeros((2, 2, 2, 2))), True, None),                       # not the layout's stages
        (_one_level(np.arange(8).reshape(1, 2, 2, 2), copied), False, None),    # copies, copy mode off
        (_one_level(np.arange(8).reshape(1, 2, 2, 2), copied), True, None),     # copy differs from slice 0
        (_one_level(np.zeros((1, 2, 2, 2)), np.ones((2, 2, 2), bool)), True, None),  # refresh GOP copies slice 0
        (_one_level(np.arange(8).reshape(1, 2, 2, 2), copied), True, ref),      # predicted: still differs
        (_one_level(np.zeros((1, 2, 2, 2)), np.eye(2, dtype=bool)[None].repeat(2, 0)), True, ref),
    ]                                                      # ... and slice 0 differs from the reference's last
    for codes, copy_mode, reference in cases:
        with pytest.raises(EntropyError):
            encode_gop(layout, UniformPrior(), codes, copy_mode=copy_mode, reference=reference)
    # a reference of another shape
    other = encode_gop([LevelLayout("a", 16, 1, (2, 1, 1))], UniformPrior(), _one_level(np.zeros((1, 2, 1, 1))),
                       copy_mode=True, reference=None).reference
    with pytest.raises(EntropyError, match="reference"):
        encode_gop(layout, UniformPrior(), ok, copy_mode=True, reference=other)


def test_encode_gop_refuses_a_symbol_outside_the_alphabet():
    with pytest.raises(EntropyError):
        encode_gop([LevelLayout("a", 16, 1, (1, 1, 1))], UniformPrior(), _one_level(np.full((1, 1, 1, 1), 16)),
                   copy_mode=False, reference=None)


def _parse_or_entropy_error(fn, data):
    try:
        fn(data)
    except EntropyError as e:
        assert "\n" not in str(e)


GARBAGE_LAYOUT = [LevelLayout("a", 300, 1, (1, 5, 10))]


@SETTINGS
@given(data=st.binary(max_size=300))
def test_garbage_blobs(data):
    _parse_or_entropy_error(EmpiricalAdaptivePrior.from_params, data)
    _parse_or_entropy_error(EmpiricalAdaptivePrior.from_params, b"\x00" + data)
    _parse_or_entropy_error(EmpiricalAdaptivePrior.from_params, b"\x01" + data)
    _parse_or_entropy_error(EmpiricalStaticPrior.from_bytes, data)
    for copy_mode in (False, True):
        _parse_or_entropy_error(lambda d: decode_gop(GARBAGE_LAYOUT, UniformPrior(), d, {"a.0": 50},
                                                     copy_mode=copy_mode, reference=None), data)


def test_corrupted_valid_blobs():
    rng = np.random.default_rng(0)
    gops = make_gops(2)
    params = EmpiricalAdaptivePrior.fit(symbols_of(gops)).params()
    static = static_prior().to_bytes()
    for blob, fn in [(params, EmpiricalAdaptivePrior.from_params),
                     (static, EmpiricalStaticPrior.from_bytes)]:
        for _ in range(60):
            b = bytearray(blob)
            b[rng.integers(len(b))] ^= 1 << int(rng.integers(8))
            _parse_or_entropy_error(fn, bytes(b))
        for broken in (blob[: len(blob) // 2], blob + b"x"):
            with pytest.raises(EntropyError):
                fn(broken)
    # well-formed msgpack with hostile contents
    hostile = [
        [1, [["a", 2 ** 30, 1, b"\0"]]],                 # alphabet too large
        [1, [["a", 4, 3, b"\0\0\0\1"]]],                 # invalid step
        [1, [["a", 4, 1, b"\0\0\0\xff"]]],               # code out of range
        [1, [["a", 4, 1, b"\0\0\0"]]],                   # length mismatch
        [1, [["a", 4, 1, b"\0\0\0\1"], ["a", 4, 1, b"\0\0\0\1"]]],  # duplicate
        [1, [["a", 4, True, b"\0\0\0\1"]]],
        [2, []], {"a": 1}, [1, [[1, 2, 3]]], [1, [["x" * 1000, 4, 1, b"\0\0\0\1"]]],
    ]
    for obj in hostile:
        with pytest.raises(EntropyError):
            EmpiricalAdaptivePrior.from_params(b"\x00" + msgpack.packb(obj, use_bin_type=True))
    with pytest.raises(EntropyError):
        EmpiricalAdaptivePrior.from_params(b"\x07abc")
    bad_static = {"magic": "vqv-static-prior", "v": 1, "precision": 24,
                  "tables": {"a": np.array([TOTAL - 1, 0], "<u4").tobytes()}}
    with pytest.raises(EntropyError):
        EmpiricalStaticPrior.from_bytes(
            zstandard.ZstdCompressor().compress(msgpack.packb(bad_static, use_bin_type=True)))
    bad_static["precision"] = 16
    with pytest.raises(EntropyError):
        EmpiricalStaticPrior.from_bytes(
            zstandard.ZstdCompressor().compress(msgpack.packb(bad_static, use_bin_type=True)))
