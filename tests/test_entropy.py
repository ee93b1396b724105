"""Entropy coder: integer tables, exact round trips, overhead, robustness, golden bytes."""
from __future__ import annotations

import hashlib

import constriction
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vqcodec.entropy import rans as E
from vqcodec.entropy.rans import (PRECISION_BITS, TOTAL, EntropyError, decode, decode_streams, encode,
                             encode_streams, freqs_from_counts, ideal_bits, uniform_freqs)

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

alphabets = st.one_of(st.sampled_from([1, 2, 3, 256, 1024, 4096, 65536]),
                      st.integers(1, 300))
modes = st.sampled_from(["zeros", "uniform", "sparse", "skewed", "one_hot", "huge", "random"])


def make_counts(k: int, mode: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if mode == "zeros":
        return np.zeros(k, np.int64)
    if mode == "uniform":
        return np.full(k, 7, np.int64)
    if mode == "sparse":                                   # many zero-count symbols
        c = np.zeros(k, np.int64)
        idx = rng.choice(k, size=max(1, k // 10), replace=False)
        c[idx] = rng.integers(1, 1000, idx.size)
        return c
    if mode == "skewed":                                   # nearly all mass on one symbol
        c = rng.integers(0, 3, k).astype(np.int64)
        c[rng.integers(k)] = 10 ** 9
        return c
    if mode == "one_hot":
        c = np.zeros(k, np.int64)
        c[rng.integers(k)] = 1
        return c
    if mode == "huge":                                     # totals far beyond 2**38
        return rng.integers(0, 1 << 60, k, dtype=np.int64)
    return (rng.random(k) ** 6 * 10000).astype(np.int64)


def sample(freqs: np.ndarray, n: int, seed: int, mode: str = "table") -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    k = freqs.shape[-1]
    if mode == "any":                                      # includes 1-frequency symbols
        return rng.integers(0, k, n).astype(np.int32)
    return rng.choice(k, size=n, p=freqs / TOTAL).astype(np.int32)


# ------------------------------------------------------------------------------------ tables
@SETTINGS
@given(k=alphabets, mode=modes, seed=st.integers(0, 2 ** 31))
def test_freqs_invariants(k, mode, seed):
    c = make_counts(k, mode, seed)
    f = freqs_from_counts(c)
    assert f.dtype == np.int64 and f.shape == (k,)
    assert int(f.sum()) == TOTAL and int(f.min()) >= 1
    np.testing.assert_array_equal(f, freqs_from_counts(c.copy()))          # deterministic
    # monotone: sorting by (count, freq) must leave freq non-decreasing
    order = np.lexsort((f, c))
    assert np.all(np.diff(f[order]) >= 0)
    if c.any():
        assert np.all(f[c == 0] == 1)
        if mode != "huge":                                  # exact proportional share, +-1
            share = c * (TOTAL - k) / c.sum()
            assert np.all(np.abs(f - 1 - share) < 1.0 + 1e-6)


def test_freqs_special_cases():
    assert freqs_from_counts(np.array([0])).tolist() == [TOTAL]
    assert freqs_from_counts(np.array([5])).tolist() == [TOTAL]
    assert freqs_from_counts(np.array([1, 0])).tolist() == [TOTAL - 1, 1]
    u = uniform_freqs(65536)
    assert set(u.tolist()) == {TOTAL // 65536}
    u3 = uniform_freqs(3)
    assert u3.max() - u3.min() <= 1 and u3.sum() == TOTAL
    big = np.array([2 ** 63 - 1, 2 ** 62, 0, 1], dtype=np.uint64)
    f = freqs_from_counts(big)
    assert f.sum() == TOTAL and f[0] > f[1] > f[3] >= f[2] == 1
    # 2-D rows are coded independently and equal the 1-D results
    rows = np.stack([make_counts(50, m, 3) for m in ["zeros", "sparse", "skewed", "huge"]])
    f2 = freqs_from_counts(rows)
    for r, fr in zip(rows, f2):
        np.testing.assert_array_equal(fr, freqs_from_counts(r))
    # table drift would change this digest
    digest = hashlib.sha256(freqs_from_counts(np.arange(300) ** 3).astype("<i8").tobytes())
    assert digest.hexdigest() == "e630d579b1bf32eccea94f9feae64b436dc365372bd32ab208a8182a226f47c6"


@pytest.mark.parametrize("bad", [np.array([-1, 2]), np.array([0.5, 1.0]), np.zeros(0, np.int64),
                                 np.zeros((2, 2, 2), np.int64), np.array([True, False])])
def test_freqs_rejects(bad):
    with pytest.raises(EntropyError):
        freqs_from_counts(bad)


@pytest.mark.parametrize("bad", [np.array([TOTAL - 1, 0]), np.array([TOTAL, 1]),
                                 np.array([TOTAL / 2, TOTAL / 2]), np.array([TOTAL - 2, 1])])
def test_bad_tables_rejected(bad):
    with pytest.raises(EntropyError):
        encode(np.zeros(3, np.int32), bad)


def test_constriction_uses_exactly_our_table():
    """Encoding one symbol on an empty ANS coder leaves cdf(symbol) as the state, so we can read
    the quantised model constriction really uses; it must be our integer table, bit for bit."""
    for c in [np.array([5, 0, 3, 100, 0, 7]), np.array([0, 1]), make_counts(40, "skewed", 1)]:
        f = freqs_from_counts(c)
        cdf = np.concatenate([[0], np.cumsum(f)[:-1]])
        for batched in (False, True):
            got = []
            for s in range(f.size):
                coder = constriction.stream.stack.AnsCoder()
                if batched:
                    fam = constriction.stream.model.Categorical(perfect=False)
                    coder.encode_reverse(np.array([s], np.int32), fam, E._probs(f[None, :]))
                else:
                    coder.encode_reverse(np.array([s], np.int32), E._model(f))
                w = coder.get_compressed()
                got.append(int(w[0]) if len(w) else 0)
            np.testing.assert_array_equal(got, cdf)


# -------------------------------------------------------------------------------- round trips
@SETTINGS
@given(k=alphabets, mode=modes, n=st.integers(0, 3000), seed=st.integers(0, 2 ** 31),
       draw=st.sampled_from(["table", "any"]))
def test_roundtrip(k, mode, n, seed, draw):
    f = freqs_from_counts(make_counts(k, mode, seed))
    s = sample(f, n, seed, draw)
    data = encode(s, f)
    assert len(data) % 4 == 0
    out = decode(data, f, n)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, s)
    assert data == encode(s.astype(np.int64), f)                 # symbol dtype does not matter


@SETTINGS
@given(k=st.sampled_from([1, 2, 5, 300, 4096]), n=st.integers(0, 400), seed=st.integers(0, 2 ** 31))
def test_roundtrip_batched(k, n, seed):
    rng = np.random.default_rng(seed)
    counts = (rng.random((n, k)) ** 8 * 1000).astype(np.int64)
    f = freqs_from_counts(counts.reshape(n, k))
    s = rng.integers(0, k, n).astype(np.int32)
    data = encode(s, f)
    np.testing.assert_array_equal(decode(data, f, n), s)
    assert abs(ideal_bits(s, f) - sum(ideal_bits(s[i:i + 1], f[i]) for i in range(n))) < 1e-6 * (1 + n)


def test_batched_chunks(monkeypatch):
    """(n, K) tables are pushed in chunks (bounded memory); chunking must not change bytes."""
    rng = np.random.default_rng(0)
    f = freqs_from_counts((rng.random((257, 64)) ** 4 * 500).astype(np.int64))
    s = rng.integers(0, 64, 257).astype(np.int32)
    whole = encode(s, f)
    monkeypatch.setattr(E, "_CHUNK_ELEMS", 64 * 10)          # 10 rows per chunk, ragged tail
    assert encode(s, f) == whole
    np.testing.assert_array_equal(decode(whole, f, 257), s)


def test_multi_stream_payload():
    rng = np.random.default_rng(5)
    streams = []
    for k, n, mode in [(1024, 2048, "random"), (1, 50, "zeros"), (4096, 0, "sparse"),
                       (256, 777, "skewed"), (2, 100, "uniform"), (65536, 300, "random")]:
        f = freqs_from_counts(make_counts(k, mode, n))
        streams.append((sample(f, n, k), f))
    fb = freqs_from_counts((rng.random((60, 33)) * 100).astype(np.int64))
    streams.append((rng.integers(0, 33, 60), fb))                      # a batched one
    data = encode_streams(streams)
    out = decode_streams(data, [(f, len(s)) for s, f in streams])
    for o, (s, _) in zip(out, streams):
        np.testing.assert_array_equal(o, s)
    # one coder, no per-stream padding: at most one word more than the ideal total
    ideal = sum(ideal_bits(s, f) for s, f in streams)
    assert len(data) * 8 - ideal < 64 + 32
    # stream order matters
    with pytest.raises(EntropyError):
        decode_streams(data, [(f, len(s)) for s, f in reversed(streams)])


def test_empty_and_trivial():
    f = uniform_freqs(256)
    assert encode(np.zeros(0, np.int32), f) == b""
    assert decode(b"", f, 0).shape == (0,)
    assert encode(np.zeros(1000, np.int32), np.array([TOTAL])) == b""    # alphabet 1: 0 bits
    np.testing.assert_array_equal(decode(b"", np.array([TOTAL]), 1000), np.zeros(1000))
    assert ideal_bits(np.zeros(10, np.int32), np.array([TOTAL])) == 0.0
    assert ideal_bits(np.arange(256), f) == 256 * 8


# ----------------------------------------------------------------------------------- overhead
def test_overhead_small(capsys):
    rng = np.random.default_rng(1234)
    k, n = 1024, 2048
    p = rng.random(k) ** 6
    p /= p.sum()
    s = rng.choice(k, n, p=p)
    rows = []
    for label, f in [("own histogram", freqs_from_counts(np.bincount(s, minlength=k))),
                     ("true distribution", freqs_from_counts((p * 1e12).astype(np.int64))),
                     ("uniform", uniform_freqs(k))]:
        data = encode(s, f)
        bits, ideal = len(data) * 8, ideal_bits(s, f)
        assert 0 <= bits - ideal < 64 + 32, (label, bits, ideal)
        rows.append(f"{label}: file {bits} bits, ideal {ideal:.1f}, overhead {bits - ideal:.1f} "
                    f"bits ({100 * (bits - ideal) / ideal:.2f}%)")
    with capsys.disabled():
        print("\n[entropy overhead, 2048 symbols, skewed 1024-symbol source]\n  " + "\n  ".join(rows))


# --------------------------------------------------------------------------------- robustness
@SETTINGS
@given(data=st.binary(max_size=200), n=st.integers(0, 500), k=st.sampled_from([2, 17, 4096]))
def test_garbage_never_crashes(data, n, k):
    f = freqs_from_counts(make_counts(k, "random", 0))
    try:
        out = decode(data, f, n)
    except EntropyError:
        return
    assert out.shape == (n,) and out.dtype == np.int32 and (out < k).all()


def test_detectable_corruption():
    rng = np.random.default_rng(9)
    f = freqs_from_counts(make_counts(512, "random", 2))
    s = sample(f, 1500, 3)
    data = encode(s, f)
    with pytest.raises(EntropyError):
        decode(data[:-1], f, 1500)                   # not whole words
    with pytest.raises(EntropyError):
        decode(data + b"\0\0\0\0", f, 1500)           # ANS data never ends in a zero word
    with pytest.raises(EntropyError):
        decode(data + b"\1\0\0\0", f, 1500)           # trailing data
    with pytest.raises(EntropyError):
        decode(data, f, 1499)                         # wrong count: data left over
    with pytest.raises(EntropyError):
        decode(data, uniform_freqs(512), 1500)        # wrong table
    caught = 0
    for _ in range(50):                               # random bit flips: almost always detected
        b = bytearray(data)
        b[rng.integers(len(b) - 8)] ^= 1 << int(rng.integers(8))
        try:
            out = decode(bytes(b), f, 1500)
            assert out.shape == (1500,)
        except EntropyError:
            caught += 1
    assert caught >= 45
    with pytest.raises(EntropyError):
        decode(data, f, E.MAX_SYMBOLS + 1)
    with pytest.raises(EntropyError):
        encode(np.array([512]), f)
    with pytest.raises(EntropyError):
        encode(np.array([-1]), f)
    with pytest.raises(EntropyError):
        encode(np.array([0.0]), f)


# ------------------------------------------------------------------------------------- golden
GOLDEN_COUNTS = [50, 30, 20, 10, 9, 8, 7, 5, 3, 2, 1, 1, 0, 0, 0, 1000]
GOLDEN_FREQS = [731990, 439195, 292797, 146399, 131759, 117119, 102479, 73200, 43920, 29281,
                14641, 14641, 1, 1, 1, 14639792]
GOLDEN_HEX = (
    "130d0ced84991d5e7d2b2073da381f812c45205d780520598edb0cd3e46f203bfe4c1d435a821a0e1608176c"
    "22290b0013ef1f4b3540020e452b1fbb9b2f20d1ae170f59e1851cc76c522075a69c1f0e8fb40918311a20fb"
    "a8390c0df0cc179539081d349af9188d89f31673e9fd04381e2420ce7dc903f9bf5a1f8fad51209b9e620ecd"
    "35b51d76436e20b56b8b1f35648a072c85c71ffb02d31097fd96179260191d0eb4771a99e14b18f9207302f8"
    "49eb1f600bbf019fdbaa9508")


def golden_symbols() -> np.ndarray:
    i = np.arange(200)
    s = ((i * i * 7 + i * 3) % 23) % 16
    s[s > 11] = 0
    return s


def test_golden_bytes():
    assert PRECISION_BITS == 24
    f = freqs_from_counts(np.array(GOLDEN_COUNTS))
    assert f.tolist() == GOLDEN_FREQS
    data = encode(golden_symbols(), f)
    assert data.hex() == GOLDEN_HEX
    np.testing.assert_array_equal(decode(bytes.fromhex(GOLDEN_HEX), f, 200), golden_symbols())


# ------------------------------------------------------------------ payloads that run out (v2)
def _slices(seed: int, k: int, mode: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """A few slices of symbols with shared or per-symbol tables, as the GOP coder sends them."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(int(rng.integers(1, 6))):
        n = int(rng.integers(1, 3000))
        f = freqs_from_counts(make_counts(k, mode, seed + i))
        if i % 2:                                    # per-symbol tables (learned prior, copy flags)
            f = np.repeat(f[None], n, axis=0)
        s = sample(f if f.ndim == 1 else f[0], n, seed + i, "any" if i == 3 else "table")
        out.append((s, f))
    return out


@SETTINGS
@given(k=st.sampled_from([2, 3, 32, 1024]), mode=modes, seed=st.integers(0, 2 ** 31))
def test_a_v2_payload_is_never_taken_for_one_that_ran_out(k, mode, seed):
    """The decoder's early check (the symbols decoded so far cannot carry more information than
    the payload's bits) holds for every payload the encoder writes: skewed, one-hot and
    near-deterministic tables, symbols of frequency 1, 1-symbol alphabets."""
    from vqcodec.coding.gop_coding import DecodeChannel, EncodeChannel
    slices = _slices(seed, k, mode)
    enc = EncodeChannel()
    for s, f in slices:
        enc.code(f, s.size, s)
    dec = DecodeChannel(enc.payload())
    for s, f in slices:
        dec.check_not_exhausted()
        np.testing.assert_array_equal(dec.code(f, s.size), s)
    dec.finish()


def test_a_v2_payload_cut_short_fails_before_its_last_slice():
    from vqcodec.coding.gop_coding import DecodeChannel, EncodeChannel
    f = uniform_freqs(32)
    rng = np.random.default_rng(4)
    slices = [rng.integers(0, 32, 500) for _ in range(8)]
    enc = EncodeChannel()
    for s in slices:
        enc.code(f, s.size, s)
    payload = enc.payload()
    for cut in (b"", payload[-4:], payload[-40:]):
        dec = DecodeChannel(cut)
        with pytest.raises(EntropyError, match="ends before its symbols do"):
            for s in slices[:-1]:
                dec.code(f, s.size)
    # version 1 has no end check: an empty payload is all-zero symbols, as its encoder writes them
    dec = DecodeChannel(b"", end_check=False)
    assert not dec.code(f, 500).any()
    dec.finish()


def test_exhausted_and_one_line_messages():
    d = E.PayloadDecoder(encode(np.array([3, 1]), uniform_freqs(4)))
    assert not d.exhausted
    d.pop(uniform_freqs(4), 2)
    assert d.exhausted and E.PayloadDecoder(b"").exhausted
    e = EntropyError("stream " + "x\n" * 5000)
    assert "\n" not in str(e) and len(str(e)) <= 400


def test_table_rows_code_like_whole_tables_and_are_built_in_blocks(monkeypatch):
    """Per-symbol tables given as TableRows code to the same bytes as the whole array, and the
    coder never asks for more than one block of rows at a time."""
    from vqcodec.entropy import rans as entropy
    from vqcodec.entropy.rans import TableRows, decode_streams, encode_streams

    monkeypatch.setattr(entropy, "_CHUNK_ELEMS", 64 * 16)        # blocks of 64 rows of 16 symbols
    rng = np.random.default_rng(5)
    n, k = 1000, 16
    tables = np.stack([freqs_from_counts(rng.integers(0, 50, k)) for _ in range(n)])
    symbols = np.array([rng.choice(k, p=t / t.sum()) for t in tables], np.int32)
    asked = []

    def make(rows):
        asked.append(rows.stop - rows.start)
        return tables[rows]

    lazy = TableRows(n, k, make)
    data = encode_streams([(symbols, lazy)])
    assert data == encode_streams([(symbols, tables)])
    assert max(asked) <= 64 and sum(asked) == n
    np.testing.assert_array_equal(decode_streams(data, [(lazy, n)])[0], symbols)
    bad = TableRows(n, k, lambda rows: tables[rows][:, :-1])
    with pytest.raises(EntropyError):
        encode_streams([(symbols, bad)])


@SETTINGS
@given(k=st.sampled_from([2, 5, 127, 300]), n=st.integers(0, 300), sets=st.integers(1, 12), seed=st.integers(0, 2 ** 31))
def test_rows_of_a_table_set_code_like_the_same_rows_given_whole(k, n, sets, seed):
    """TableSet.select (context tables: a checked set, its float hand-over computed once) codes to the
    same bytes, ideal bits and decoded symbols as the same rows as an (n, K) array."""
    from vqcodec.coding.channels import DecodeChannel, EncodeChannel
    from vqcodec.entropy.rans import TableSet

    rng = np.random.default_rng(seed)
    table_set = TableSet(freqs_from_counts((rng.random((sets, k)) ** 6 * 900).astype(np.int64)))
    rows = rng.integers(0, sets, n)
    whole = table_set.freqs[rows]
    s = np.array([rng.choice(k, p=t / t.sum()) for t in whole], np.int32).reshape(n)
    data = encode(s, table_set.select(rows))
    assert data == encode(s, whole)
    np.testing.assert_array_equal(decode(data, table_set.select(rows), n), s)
    ch = EncodeChannel()
    ch.code(table_set.select(rows), n, s, "x")
    assert ch.bits.get("x", 0.0) == pytest.approx(ideal_bits(s, whole) if n else 0.0)
    dec = DecodeChannel(ch.payload())
    np.testing.assert_array_equal(dec.code(table_set.select(rows), n, None, "x"), s)
    dec.finish()
    with pytest.raises(EntropyError, match="outside the set"):
        table_set.select(np.array([sets]))
    with pytest.raises(EntropyError):
        TableSet(np.ones((2, k), np.int64))                     # rows not summing to 2^24


def test_a_symbols_start_and_frequency_code_like_its_whole_table():
    """The encoder codes a symbol of a per-symbol table from its (start, freq) alone, in a 3-entry
    table (interval_tables): the same bytes as the whole K-entry table, for the first, the last and
    any other symbol, skewed and flat tables; symbol_intervals reads them off arrays, TableRows
    (built in blocks or given directly) and shared tables alike."""
    from vqcodec.entropy.rans import TableRows, encode_streams, interval_tables, symbol_intervals

    rng = np.random.default_rng(7)
    for k in (3, 4, 7, 256, 1024):
        counts = rng.integers(0, 40, (600, k)) * (rng.random((600, k)) < 0.3)
        counts[:100, 0] = 10 ** 9                            # nearly all mass on the first symbol
        counts[100:200, -1] = 10 ** 9                        # ... on the last
        tables = freqs_from_counts(counts)
        symbols = rng.integers(0, k, 600).astype(np.int32)
        symbols[::4], symbols[1::4] = 0, k - 1
        want = encode_streams([(symbols, tables)])
        start, freq = symbol_intervals(tables, symbols)
        assert encode_streams([interval_tables(start, freq)]) == want
        rows = TableRows(600, k, lambda sl: tables[sl])
        given = TableRows(600, k, lambda sl: tables[sl], lambda s: (start, freq))
        for t in (rows, given):
            got = symbol_intervals(t, symbols)
            np.testing.assert_array_equal(got[0], start)
            np.testing.assert_array_equal(got[1], freq)
        shared = tables[0]
        s1, f1 = symbol_intervals(shared, symbols)
        assert encode_streams([interval_tables(s1, f1)]) == encode_streams([(symbols, shared)])
    # an interval that no valid table has is refused where the 3-entry tables are made (the coder
    # takes them unchecked after): a zero or whole-range frequency, a start before 0 or past the end
    for bad_start, bad_freq in ((5, 0), (0, TOTAL), (0, TOTAL - 1), (-1, 3), (TOTAL - 2, 3)):
        with pytest.raises(EntropyError, match="outside its table"):
            interval_tables(np.array([0, bad_start]), np.array([1, bad_freq]))
