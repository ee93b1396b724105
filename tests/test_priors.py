"""Non-learned priors: GOP round trips, side-info round trips, selection, hostile bytes."""
from __future__ import annotations

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vqcodec.codes import CodeLevel, Codes
from vqcodec.entropy import TOTAL, EntropyError, freqs_from_counts, uniform_freqs
from vqcodec.priors import (EmpiricalAdaptivePrior, EmpiricalStaticPrior, StreamSpec,
                            StreamSymbols, UniformPrior, choose_prior, prior_costs,
                            prior_from_header)

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LAYOUT = [("top.0", 1024, 256), ("bottom.0", 4096, 1024), ("bottom.1", 4096, 1024),
          ("bottom.2", 256, 1024), ("side.0", 1, 64)]


def sources(seed: int = 0, power: float = 6.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for name, k, _ in LAYOUT:
        p = rng.random(k) ** power
        out[name] = p / p.sum()
    return out


def make_gops(n_gops: int, seed: int = 1, power: float = 6.0, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    ps = sources(0, power)
    return [[StreamSymbols(name, k, rng.choice(k, int(n * scale), p=ps[name]).astype(np.int32))
             for name, k, n in LAYOUT] for _ in range(n_gops)]


def specs_of(gop):
    return [StreamSpec(s.name, s.codebook_size, int(np.asarray(s.symbols).size)) for s in gop]


def assert_roundtrip(prior, gops, decoder_prior=None):
    dec = decoder_prior or prior
    total = 0
    for gop in gops:
        payload = prior.encode_gop(gop)
        total += len(payload) * 8
        out = dec.decode_gop(payload, specs_of(gop))
        assert len(out) == len(gop)
        for o, s in zip(out, gop):
            np.testing.assert_array_equal(o, np.asarray(s.symbols).reshape(-1))
    return total


def static_prior() -> EmpiricalStaticPrior:
    return EmpiricalStaticPrior.from_counts(
        {name: (p * 1e7).astype(np.int64) for name, p in sources(0).items()})


# ------------------------------------------------------------------------------------ uniform
@SETTINGS
@given(seed=st.integers(0, 2 ** 31), ks=st.lists(st.sampled_from([1, 2, 3, 256, 4096, 65536]),
                                                  min_size=0, max_size=5),
       n=st.integers(0, 700))
def test_uniform_roundtrip(seed, ks, n):
    rng = np.random.default_rng(seed)
    gop = [StreamSymbols(f"s.{i}", k, rng.integers(0, k, (n, 1))) for i, k in enumerate(ks)]
    prior = UniformPrior()
    assert prior.kind == "uniform" and prior.params() == b""
    bits = assert_roundtrip(prior, [gop])
    assert bits <= prior.estimate_bits([gop]) + 64 + 32


def test_codes_integration():
    """Streams straight from vqcodec.codes.Codes (multi-dimensional index maps)."""
    rng = np.random.default_rng(3)
    codes = Codes((CodeLevel("top", 512, rng.integers(0, 512, (2, 4, 4, 4)).astype(np.int32)),
                   CodeLevel("bottom", 1024, rng.integers(0, 1024, (3, 8, 8, 8)).astype(np.int32))))
    gop = [StreamSymbols(f"{lv}.{st_}", k, idx) for lv, st_, k, idx in codes.streams()]
    for prior in (UniformPrior(), EmpiricalAdaptivePrior.fit([gop])):
        out = prior.decode_gop(prior.encode_gop(gop), specs_of(gop))
        for o, (_, _, _, idx) in zip(out, codes.streams()):
            np.testing.assert_array_equal(o.reshape(idx.shape), idx)


# ------------------------------------------------------------------------------------- static
def test_static_roundtrip_and_bytes():
    prior = static_prior()
    assert prior.kind == "empirical-static" and prior.params() == b""
    blob = prior.to_bytes()
    back = EmpiricalStaticPrior.from_bytes(blob)
    assert set(back.tables) == set(prior.tables)
    for name, f in prior.tables.items():
        np.testing.assert_array_equal(back.tables[name], f)
        assert f.sum() == TOTAL and f.min() >= 1
    assert back.to_bytes() == blob
    gops = make_gops(2)
    assert_roundtrip(prior, gops, back)
    # a stream the tables do not know falls back to uniform
    extra = StreamSymbols("new.0", 300, np.arange(300))
    np.testing.assert_array_equal(prior.table("new.0", 300), uniform_freqs(300))
    assert_roundtrip(prior, [[extra] + gops[0]], back)
    # known stream with another alphabet size is a model mismatch
    with pytest.raises(EntropyError):
        prior.table("top.0", 512)
    # pseudocounts keep unseen symbols cheap
    p = EmpiricalStaticPrior.from_counts({"a": np.array([1000, 0, 0, 0])})
    assert p.tables["a"][1] > 1000
    assert prior_from_header("empirical-static", b"", static=back) is back


def test_static_rejects_bad_tables():
    with pytest.raises(EntropyError):
        EmpiricalStaticPrior({"a": np.array([TOTAL - 1, 0])})
    with pytest.raises(EntropyError):
        EmpiricalStaticPrior({"a": freqs_from_counts(np.ones((2, 4), np.int64))})


# ----------------------------------------------------------------------------------- adaptive
@pytest.mark.parametrize("n_gops,scale", [(1, 0.05), (1, 1.0), (4, 1.0)])
def test_adaptive_roundtrip(n_gops, scale):
    gops = make_gops(n_gops, scale=scale)
    enc = EmpiricalAdaptivePrior.fit(gops)
    assert enc.kind == "empirical-adaptive"
    params = enc.params()
    dec = EmpiricalAdaptivePrior.from_params(params, specs_of(gops[0]))
    assert dec.params() == params
    assert set(dec.tables) == set(enc.tables)
    for name, f in enc.tables.items():
        np.testing.assert_array_equal(dec.tables[name], f)
    assert "side.0" not in enc.tables                       # alphabet 1 needs no table
    bits = assert_roundtrip(enc, gops, dec)
    assert bits <= enc.estimate_bits(gops) + n_gops * 96
    again = prior_from_header("empirical-adaptive", params, specs_of(gops[0]))
    assert_roundtrip(enc, gops[:1], again)


def test_adaptive_flat_equals_nested_and_beats_uniform():
    gops = make_gops(4)
    nested = EmpiricalAdaptivePrior.fit(gops)
    flat = EmpiricalAdaptivePrior.fit([s for g in gops for s in g])
    assert nested.params() == flat.params()
    # per stream, fit only keeps a table when it pays for its side info
    uni = UniformPrior()
    assert nested.total_bits(gops) < uni.total_bits(gops)
    assert len(nested.tables) >= 3


def test_adaptive_empty_and_tiny():
    tiny = [[StreamSymbols("top.0", 4096, np.array([1, 2, 3]))]]
    p = EmpiricalAdaptivePrior.fit(tiny)
    assert p.params() == b"" and p.tables == {}
    assert EmpiricalAdaptivePrior.from_params(b"").tables == {}
    assert_roundtrip(p, tiny, EmpiricalAdaptivePrior.from_params(b""))
    empty = [[StreamSymbols("top.0", 16, np.zeros(0, np.int32))]]
    assert EmpiricalAdaptivePrior.fit(empty).params() == b""
    assert_roundtrip(p, empty)


def test_adaptive_table_is_what_is_sent():
    """Skewed histogram with zero counts: decoder tables come only from the quantised codes."""
    sym = np.concatenate([np.zeros(5000, np.int32), np.arange(1, 40), np.full(300, 7)])
    gop = [StreamSymbols("x.0", 256, sym)]
    enc = EmpiricalAdaptivePrior.fit([gop], steps=(2,))
    assert enc.steps == {"x.0": 2}
    f = enc.tables["x.0"]
    assert f[0] > f[7] > f[1] and f[200] == 1
    dec = EmpiricalAdaptivePrior.from_params(enc.params())
    np.testing.assert_array_equal(dec.tables["x.0"], f)
    assert_roundtrip(enc, [gop], dec)
    with pytest.raises(EntropyError):                       # same name, other alphabet
        EmpiricalAdaptivePrior.from_params(enc.params(), [StreamSpec("x.0", 512, 1)])
    with pytest.raises(EntropyError):
        EmpiricalAdaptivePrior.fit([gop, [StreamSymbols("x.0", 512, sym)]])


# ---------------------------------------------------------------------------------- selection
def test_choose_prior_picks_cheapest():
    big = make_gops(4)
    cands = [UniformPrior(), EmpiricalAdaptivePrior.fit(big)]
    costs = prior_costs(cands, big)
    assert costs[1] < costs[0]
    assert choose_prior(cands, big) is cands[1]
    # a static prior matching the source beats paying for side info
    stat = static_prior()
    cands3 = cands + [stat]
    costs3 = prior_costs(cands3, big)
    assert choose_prior(cands3, big) is cands3[int(np.argmin(costs3))] is stat
    # near-uniform source, tiny file: side info is not worth it
    small = make_gops(1, power=0.0, scale=0.1)
    cands = [EmpiricalAdaptivePrior.fit(small, steps=(8,)), UniformPrior()]
    chosen = choose_prior(cands, small)
    c = prior_costs(cands, small)
    assert chosen is cands[int(np.argmin(c))]
    assert chosen.total_bits(small) <= UniformPrior().total_bits(small)
    with pytest.raises(ValueError):
        choose_prior([], small)


# --------------------------------------------------------------------------------- robustness
def test_decode_gop_wrong_specs():
    gop = make_gops(1)[0]
    prior = UniformPrior()
    payload = prior.encode_gop(gop)
    specs = specs_of(gop)
    bad = [StreamSpec(s.name, s.codebook_size, s.count) for s in specs]
    bad[0] = StreamSpec(bad[0].name, bad[0].codebook_size, bad[0].count - 1)
    with pytest.raises(EntropyError):
        prior.decode_gop(payload, bad)
    for spec in (StreamSpec("a", 0, 1), StreamSpec("a", 16, -1), StreamSpec("", 16, 1),
                 StreamSpec("a", 16, 2 ** 40)):
        with pytest.raises(EntropyError):
            prior.decode_gop(payload, [spec])
    with pytest.raises(EntropyError):
        prior.encode_gop([StreamSymbols("a", 16, np.array([16]))])
    with pytest.raises(EntropyError):
        prior_from_header("nope", b"")
    with pytest.raises(EntropyError):
        prior_from_header("uniform", b"x")
    with pytest.raises(EntropyError):
        prior_from_header("empirical-static", b"")          # model ships no static tables


def _parse_or_entropy_error(fn, data):
    try:
        fn(data)
    except EntropyError as e:
        assert "\n" not in str(e)


@SETTINGS
@given(data=st.binary(max_size=300))
def test_garbage_blobs(data):
    _parse_or_entropy_error(EmpiricalAdaptivePrior.from_params, data)
    _parse_or_entropy_error(EmpiricalAdaptivePrior.from_params, b"\x00" + data)
    _parse_or_entropy_error(EmpiricalAdaptivePrior.from_params, b"\x01" + data)
    _parse_or_entropy_error(EmpiricalStaticPrior.from_bytes, data)
    _parse_or_entropy_error(lambda d: UniformPrior().decode_gop(d, [StreamSpec("a", 300, 50)]),
                            data)


def test_corrupted_valid_blobs():
    rng = np.random.default_rng(0)
    gops = make_gops(2)
    params = EmpiricalAdaptivePrior.fit(gops).params()
    static = static_prior().to_bytes()
    for blob, fn in [(params, EmpiricalAdaptivePrior.from_params),
                     (static, EmpiricalStaticPrior.from_bytes)]:
        for _ in range(60):
            b = bytearray(blob)
            b[rng.integers(len(b))] ^= 1 << int(rng.integers(8))
            _parse_or_entropy_error(fn, bytes(b))
        _parse_or_entropy_error(fn, blob[: len(blob) // 2])
        _parse_or_entropy_error(fn, blob + b"x")
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
    import zstandard
    with pytest.raises(EntropyError):
        EmpiricalStaticPrior.from_bytes(
            zstandard.ZstdCompressor().compress(msgpack.packb(bad_static, use_bin_type=True)))
    bad_static["precision"] = 16
    with pytest.raises(EntropyError):
        EmpiricalStaticPrior.from_bytes(
            zstandard.ZstdCompressor().compress(msgpack.packb(bad_static, use_bin_type=True)))
