"""The scalar layer's entropy model: integer tables by channel and temporal context, exact round trips."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vqcodec.entropy.rans import TOTAL, EntropyError, ideal_bits
from vqcodec.entropy.scalar_prior import (CONTEXT_CLIP, N_CLASSES, STEP_DEN, ScalarTables, context_classes, decode_symbols,
                                  encode_symbols, quantise)
from vqcodec.errors import ModelDataError, describe_error, is_user_error


def correlated_latent(rng, c=4, t=8, h=5, w=6, scale=3.0) -> np.ndarray:
    """A latent whose slices follow each other (as video latents do), channels of different scales."""
    z = np.empty((c, t, h, w))
    z[:, 0] = rng.normal(size=(c, h, w))
    for i in range(1, t):
        z[:, i] = 0.9 * z[:, i - 1] + 0.45 * rng.normal(size=(c, h, w))
    return z * (scale / (1 + np.arange(c)))[:, None, None, None]


@pytest.fixture(scope="module")
def tables() -> ScalarTables:
    rng = np.random.default_rng(0)
    train = [correlated_latent(rng) for _ in range(40)]
    return ScalarTables.fit([quantise(z, STEP_DEN // 2, 20) for z in train], STEP_DEN // 2, 20)


def test_tables_are_integer_rows_that_sum_to_the_coder_total(tables):
    f = tables.freqs
    assert f.dtype == np.int64 and f.shape == (4, N_CLASSES, 41)
    assert (f.sum(-1) == TOTAL).all() and f.min() >= 1
    assert tables.step == 0.5 and tables.alphabet == 41


def test_round_trip_is_exact_and_uses_the_payload_up(tables):
    rng = np.random.default_rng(1)
    s = tables.quantise(correlated_latent(rng))
    data = encode_symbols(tables, s)
    np.testing.assert_array_equal(decode_symbols(tables, data, s.shape), s)
    with pytest.raises(EntropyError):
        decode_symbols(tables, data[:-4], s.shape)                     # truncated
    with pytest.raises(EntropyError):
        decode_symbols(tables, data + b"\x01\x00\x00\x00", s.shape)    # extended
    with pytest.raises(EntropyError):
        decode_symbols(tables, data, (4, 9, 5, 6))                     # more symbols than were coded


def test_the_temporal_context_pays_on_correlated_latents(tables):
    """The same symbols cost fewer bits with each slice's context than with the first-slice tables
    alone (a plain per-channel histogram), and the coder spends what the tables say."""
    rng = np.random.default_rng(2)
    s = tables.quantise(correlated_latent(rng, t=16))
    data = encode_symbols(tables, s)
    plain = sum(ideal_bits(tables.offset(s[c]), tables.freqs[c, 0]) for c in range(s.shape[0]))
    assert 8 * len(data) < 0.9 * plain
    rows = [tables.slice_tables(s[:, t - 1] if t else None, (4, 5, 6)) for t in range(16)]
    info = sum(ideal_bits(tables.offset(s[:, t]), rows[t].rows(slice(0, rows[t].shape[0]))) for t in range(16))
    assert info <= 8 * len(data) <= info + 64


def test_context_classes():
    assert (context_classes(None, (2, 3, 4)) == 0).all()
    prev = np.array([[[-100, -1, 0, 1, 100]]])
    assert context_classes(prev, prev.shape).tolist() == [[[1, 1 + CONTEXT_CLIP - 1, 1 + CONTEXT_CLIP,
                                                            2 + CONTEXT_CLIP, N_CLASSES - 1]]]


def test_quantise_rounds_to_the_step_and_clips(tables):
    z = np.array([0.24, 0.26, -0.76, 1e9, -1e9])
    assert tables.quantise(z).tolist() == [0, 1, -2, 20, -20]
    np.testing.assert_allclose(tables.dequantise([1, -2]), [0.5, -1.0])


def test_bytes_round_trip_and_hostile_blobs(tables):
    blob = tables.to_bytes()
    back = ScalarTables.from_bytes(blob)
    assert back.step_num == tables.step_num and back.limit == tables.limit
    np.testing.assert_array_equal(back.freqs, tables.freqs)
    assert back.to_bytes() == blob
    for bad in (b"", b"junk", blob[:-3], blob[:10]):
        with pytest.raises(ModelDataError):
            ScalarTables.from_bytes(bad)
    with pytest.raises(ModelDataError):                   # rows that do not sum to the total
        ScalarTables(512, 20, tables.freqs + 1)
    with pytest.raises(ModelDataError):
        ScalarTables(512, 19, tables.freqs)


def test_malformed_tables_are_a_user_error_of_model_data_not_of_entropy_coding(tables):
    for make in (lambda: ScalarTables.from_bytes(b"junk"), lambda: ScalarTables(512, 20, tables.freqs + 1)):
        with pytest.raises(ModelDataError) as e:
            make()
        assert is_user_error(e.value) and not isinstance(e.value, EntropyError)
        assert describe_error(e.value) == str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ModelDataError, match="^scalar tables: not a zstd frame$"):
        ScalarTables.from_bytes(b"junk")


def test_symbols_outside_the_tables_are_refused(tables):
    s = np.zeros((4, 2, 5, 6), np.int32)
    s[0, 0, 0, 0] = 21
    with pytest.raises(EntropyError):
        encode_symbols(tables, s)
    with pytest.raises(EntropyError):
        encode_symbols(tables, np.zeros((3, 2, 5, 6), np.int32))       # channel count


def integer_walk(seed: int, c=3, t=6, h=4, w=5) -> np.ndarray:
    """Symbols from integer arithmetic only (no float, no RNG library): the same on every machine."""
    x, out = seed, np.zeros((c, t, h, w), np.int32)
    for i in range(out.size):
        x = (x * 1103515245 + 12345) % 2**31
        out.flat[i] = (x >> 16) % 7 - 3
    out[:, 1:] = np.clip(out[:, :-1] + out[:, 1:] // 2, -9, 9)     # each slice leans on the one before
    return out


def test_payload_bytes_do_not_drift():
    """Any change to the fitting, the table rounding, the context rule, the coding order or the
    serialisation changes these bytes; a reader must keep decoding them."""
    tabs = ScalarTables.fit([integer_walk(s) for s in range(10)], 700, 9)
    s = integer_walk(99)
    payload = encode_symbols(tabs, s)
    assert hashlib.sha256(tabs.freqs.astype("<i4").tobytes()).hexdigest() == GOLDEN_TABLES   # not zstd's bytes
    assert payload.hex() == GOLDEN_PAYLOAD
    np.testing.assert_array_equal(decode_symbols(ScalarTables.from_bytes(tabs.to_bytes()),
                                                 bytes.fromhex(GOLDEN_PAYLOAD), s.shape), s)


GOLDEN_TABLES = "78084af1efd8728f9c240b22eed121fe70da4e6dce35caffc933fb9fbaf0511f"
GOLDEN_PAYLOAD = (
    "c1f821ec0da91f1f354758244cc2d7f31914a24f07313119869431aee4deda0c29ba483158e306fd9c6baefd22aec03f"
    "3db00f3e1ab33fb00a193ac599289cf8bd4e3b5b1d42df6703f7cbd3b2f705546ef7ba1b14d163a21f2984abe076c480"
    "89dbcd3fe5bf9598495fd1f24507d1e838f63dc32db7a93471822f9eb1c1ba49c118a37853231a3d")


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_any_symbols_in_range_round_trip(tables, t, h, w, extra, seed):
    rng = np.random.default_rng(seed)
    s = rng.integers(-20, 21, size=(4, t + extra - 1, h, w)).astype(np.int32)
    np.testing.assert_array_equal(decode_symbols(tables, encode_symbols(tables, s), s.shape), s)
