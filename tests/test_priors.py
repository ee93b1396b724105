"""Non-learned priors behind the one prior interface: GOP round trips through the GOP coder,
side-info round trips, what side info is worth, contexts, hostile bytes."""
from __future__ import annotations

from dataclasses import replace

import msgpack
import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vqcodec.coding.codec import coded_symbols
from vqcodec.codes import CodeLevel, Codes, parse_stream_name, stream_name
from vqcodec.entropy.rans import TOTAL, EntropyError, freqs_from_counts, ideal_bits, uniform_freqs
from vqcodec.coding.gop_coding import layout_of, CodedGop, LevelLayout, decode_gop, encode_gop
from vqcodec.entropy.priors import (EmpiricalAdaptivePrior, EmpiricalStaticPrior, Prior, SliceContext, StreamSymbols,
                            UniformPrior, check_codebook_size, check_stream_name, extended_slices, grid_ratio,
                            prior_from_header, stream_symbols)

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# (level, codebook size, stages, grid at scale 1): 256 top symbols, 1024 per bottom/mid stage, 64 side
LEVELS = [("top", 1024, 1, (4, 8, 8)), ("bottom", 4096, 2, (4, 16, 16)), ("mid", 256, 1, (4, 16, 16)),
          ("side", 1, 1, (1, 8, 8))]
STREAMS = [(stream_name(name, s), k) for name, k, stages, _ in LEVELS for s in range(stages)]


def sources(seed: int = 0, power: float = 6.0) -> dict[str, np.ndarray]:
    """A skewed symbol distribution per stream."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, k in STREAMS:
        p = rng.random(k) ** power
        out[name] = p / p.sum()
    return out


def _grid(grid, small: bool):
    t, h, w = grid
    return (1, max(1, h // 2), max(1, w // 2)) if small else grid


def make_gops(n_gops: int, seed: int = 1, power: float = 6.0, small: bool = False) -> list[Codes]:
    """GOPs of i.i.d. symbols from ``sources``; ``small``: a few symbols per stream."""
    rng = np.random.default_rng(seed)
    ps = sources(0, power)
    out = []
    for _ in range(n_gops):
        levels = []
        for name, k, stages, grid in LEVELS:
            g = _grid(grid, small)
            idx = np.stack([rng.choice(k, g, p=ps[stream_name(name, s)]) for s in range(stages)]).astype(np.int32)
            levels.append(CodeLevel(name, k, idx))
        out.append(Codes(tuple(levels)))
    return out


def assert_codes_equal(a: Codes, b: Codes) -> None:
    assert [lv.name for lv in a.levels] == [lv.name for lv in b.levels]
    for x, y in zip(a.levels, b.levels):
        np.testing.assert_array_equal(x.indices, y.indices)
        np.testing.assert_array_equal(x.copy_map(), y.copy_map())


def assert_roundtrip(prior: Prior, gops: list[Codes], decoder_prior: Prior | None = None, *,
                     copy_mode: bool = False, predicted: bool = False) -> tuple[int, list[CodedGop]]:
    """Encode and decode every GOP (each predicted from the one before when ``predicted``);
    return the real payload bits and the encoder's results."""
    dec_prior = decoder_prior or prior
    payload_bits, results = 0, []
    enc_ref = dec_ref = None
    for codes in gops:
        layout = layout_of(codes)
        enc = encode_gop(layout, prior, codes, copy_mode=copy_mode, reference=enc_ref if predicted else None)
        assert isinstance(enc, CodedGop)
        dec = decode_gop(layout, dec_prior, enc.payload, enc.counts, copy_mode=copy_mode,
                         reference=dec_ref if predicted else None)
        assert_codes_equal(dec.codes, codes)
        assert_codes_equal(enc.codes, codes)
        assert dec.counts == enc.counts
        for lv in codes.levels:                         # the counts are the non-copied positions
            for s in range(lv.stages):
                assert enc.counts[stream_name(lv.name, s)] == int((~lv.copy_map()).sum())
        assert dec.bits.keys() == enc.bits.keys()
        for k, v in enc.bits.items():                   # both sides see the same tables
            assert dec.bits[k] == pytest.approx(v, rel=1e-9, abs=1e-6)
        gop_bits = sum(enc.bits.values())
        # the payload is the ideal information content plus the ANS flush (a few words)
        assert 8 * len(enc.payload) <= gop_bits + 96, (8 * len(enc.payload), gop_bits)
        payload_bits += 8 * len(enc.payload)
        results.append(enc)
        enc_ref, dec_ref = enc.reference, dec.reference
    return payload_bits, results


def static_prior() -> EmpiricalStaticPrior:
    return EmpiricalStaticPrior.from_counts(
        {name: (p * 1e7).astype(np.int64) for name, p in sources(0).items()})


def symbols_of(gops: list[Codes]) -> list[StreamSymbols]:
    return [s for g in gops for s in coded_symbols(g)]


def total_bits(prior: Prior, gops: list[Codes]) -> int:
    """Real payload bits of ``gops`` under ``prior`` plus its header side info."""
    return sum(8 * len(encode_gop(layout_of(g), prior, g, copy_mode=False, reference=None).payload)
               for g in gops) + 8 * len(prior.params())


# ------------------------------------------------------------------------------------ uniform
@st.composite
def random_gops(draw):
    """Two GOPs of random levels (alphabets, stages, grids), the second possibly predicted from
    the first, with random copy maps consistent with the codes (copies resolved)."""
    seed = draw(st.integers(0, 2 ** 31))
    n_levels = draw(st.integers(1, 3))
    shapes = [(draw(st.sampled_from([1, 2, 3, 256, 4096, 65536])), draw(st.integers(0, 2)),
               (draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 5))))
              for _ in range(n_levels)]
    copy_mode = draw(st.booleans())
    predicted = draw(st.booleans())
    p_copy = draw(st.floats(0, 1)) if copy_mode else 0.0
    rng = np.random.default_rng(seed)
    gops = []
    for g in range(2):
        levels = []
        for j, (k, stages, grid) in enumerate(shapes):
            idx = rng.integers(0, k, (stages,) + grid).astype(np.int32)
            copied = rng.random(grid) < p_copy if stages else np.zeros(grid, bool)
            if g == 0 or not predicted:
                copied[0] = False                       # a refresh GOP has nothing to copy from
            for t in range(grid[0]):
                prev = idx[:, t - 1] if t else (gops[-1].levels[j].indices[:, -1] if copied[0].any() else None)
                if prev is not None:
                    idx[:, t][:, copied[t]] = prev[:, copied[t]]
            levels.append(CodeLevel(f"l{j}", k, idx, copied))
        gops.append(Codes(tuple(levels)))
    return gops, copy_mode, predicted


@SETTINGS
@given(case=random_gops())
def test_uniform_roundtrip(case):
    gops, copy_mode, predicted = case
    prior = UniformPrior()
    assert prior.kind == "uniform" and prior.params() == b""
    _, results = assert_roundtrip(prior, gops, copy_mode=copy_mode, predicted=predicted)
    for g, res in zip(gops, results):
        # each coded symbol costs log2(K) bits; copy decisions are reported apart, per level
        for lv in g.levels:
            for s in range(lv.stages):
                n = int((~lv.copy_map()).sum())
                assert res.bits.get(stream_name(lv.name, s), 0.0) == pytest.approx(n * np.log2(lv.codebook_size),
                                                                             rel=1e-6, abs=1e-6)
        assert all(k.startswith("copy.") for k in res.bits if k not in res.counts)
        assert copy_mode or not any(k.startswith("copy.") for k in res.bits)


def test_codes_integration_and_reported_bits():
    """Codes straight from the model's layout (a top and a bottom level on different grids), with
    the empirical priors; ``CodedGop.bits`` is exactly the information content per stream."""
    rng = np.random.default_rng(3)
    codes = Codes((CodeLevel("top", 512, rng.integers(0, 512, (2, 4, 4, 4)).astype(np.int32)),
                   CodeLevel("bottom", 1024, rng.integers(0, 1024, (3, 8, 8, 8)).astype(np.int32))))
    counts = {s.name: np.bincount(s.symbols, minlength=s.codebook_size) for s in coded_symbols(codes)}
    for prior in (UniformPrior(), EmpiricalAdaptivePrior.fit(coded_symbols(codes)),
                  EmpiricalStaticPrior.from_counts(counts)):
        assert_roundtrip(prior, [codes])
        res = encode_gop(layout_of(codes), prior, codes, copy_mode=False, reference=None)
        assert set(res.bits) == {"top.0", "top.1", "bottom.0", "bottom.1", "bottom.2"}
        for lv, s, k, idx in codes.streams():
            name = stream_name(lv, s)
            assert res.counts[name] == idx.size
            assert res.bits[name] == pytest.approx(ideal_bits(idx.reshape(-1), prior.table(name, k)), rel=1e-9)


def test_table_priors_ignore_the_context():
    """One table per stream, whatever the slice, the lower stream or the copy map says."""
    rng = np.random.default_rng(0)
    grid = (4, 3, 3)
    for prior in (UniformPrior(), static_prior(), EmpiricalAdaptivePrior.fit(symbols_of(make_gops(1)))):
        for t in range(4):
            ext = extended_slices(rng.integers(0, 1024, grid), rng.integers(0, 1024, grid) if t % 2 else None, grid)
            coded = rng.random(grid[1:]) < 0.5
            ctx = SliceContext("top.0", 1024, t, ext, None, None, coded)
            np.testing.assert_array_equal(prior.slice_tables(ctx), prior.table("top.0", 1024))
        assert ctx.n_coded == int(coded.sum())


# ---------------------------------------------------------------------- the one interface
class PreviousSlicePrior(Prior):
    """A toy conditional prior written against the interface only: a spike on the previous slice's
    code at each coded position (one table per position), uniform where there is none. It records
    every context it is asked about (copies: the GOP coder fills the arrays in place later)."""

    def __init__(self) -> None:
        self.seen: list[SliceContext] = []

    def slice_tables(self, ctx: SliceContext) -> np.ndarray:
        self.seen.append(replace(ctx, ext=ctx.ext.copy(), coded=ctx.coded.copy(),
                                 lower_ext=None if ctx.lower_ext is None else ctx.lower_ext.copy()))
        k = ctx.codebook_size
        prev = ctx.ext[1 + ctx.t][ctx.coded]
        counts = np.ones((prev.size, k), np.int64)
        hit = prev >= 0
        counts[np.nonzero(hit)[0], prev[hit]] = 4 * k
        return freqs_from_counts(counts)


def _repetitive_gops(rng, n: int, with_copies: bool) -> list[Codes]:
    """top (4, 2, 2) and bottom (4, 4, 4) codes, 2 stages each, that mostly repeat the slice before
    (across GOPs too); with ``with_copies`` some repeats are marked as copies."""
    out, last = [], None
    for _ in range(n):
        levels = []
        for j, (name, k, grid) in enumerate((("top", 32, (4, 2, 2)), ("bottom", 64, (4, 4, 4)))):
            idx = rng.integers(0, k, (2,) + grid).astype(np.int32)
            copied = np.zeros(grid, bool)
            for t in range(grid[0]):
                prev = idx[:, t - 1] if t else (None if last is None else last[j].indices[:, -1])
                if prev is None:
                    continue
                rep = rng.random(grid[1:]) < 0.8
                idx[:, t][:, rep] = prev[:, rep]
                if with_copies:
                    copied[t] = rep & (rng.random(grid[1:]) < 0.5)
            levels.append(CodeLevel(name, k, idx, copied if with_copies else None))
        last = levels
        out.append(Codes(tuple(levels)))
    return out


LOWER = {"top.0": None, "top.1": (1, 1, 1), "bottom.0": (1, 2, 2), "bottom.1": (1, 1, 1)}


@pytest.mark.parametrize("copy_mode", [False, True])
def test_a_new_prior_needs_no_codec_change_and_sees_the_same_context_on_both_sides(copy_mode):
    rng = np.random.default_rng(5)
    gops = _repetitive_gops(rng, 3, with_copies=copy_mode)
    assert not copy_mode or any(lv.copy_map().any() for g in gops for lv in g.levels)
    enc_p, dec_p = PreviousSlicePrior(), PreviousSlicePrior()
    enc_ref = dec_ref = None
    bits = {"context": 0.0, "uniform": 0.0}
    uni_ref = None
    for i, codes in enumerate(gops):
        layout = layout_of(codes)
        enc_p.seen, dec_p.seen = [], []
        enc = encode_gop(layout, enc_p, codes, copy_mode=copy_mode, reference=enc_ref)
        dec = decode_gop(layout, dec_p, enc.payload, enc.counts, copy_mode=copy_mode, reference=dec_ref)
        assert_codes_equal(dec.codes, codes)
        uni = encode_gop(layout, UniformPrior(), codes, copy_mode=copy_mode, reference=uni_ref)
        for key, res in (("context", enc), ("uniform", uni)):    # the codes' bits, not the copy decisions'
            bits[key] += sum(v for k, v in res.bits.items() if not k.startswith("copy."))
        enc_ref, dec_ref, uni_ref = enc.reference, dec.reference, uni.reference
        assert len(enc_p.seen) == len(dec_p.seen) > 0
        for e, d in zip(enc_p.seen, dec_p.seen):
            name, t, ext, lower, ratio, coded = e.name, e.t, e.ext, e.lower_ext, e.lower_ratio, e.coded
            assert (name, t, ratio) == (d.name, d.t, d.lower_ratio)
            np.testing.assert_array_equal(ext, d.ext)
            np.testing.assert_array_equal(coded, d.coded)
            assert (lower is None) == (d.lower_ext is None)
            if lower is not None:
                np.testing.assert_array_equal(lower, d.lower_ext)
            # causal: nothing of this slice's coded positions, nor of later slices, is visible
            assert (ext[3 + t:] == -1).all() and (ext[2 + t][coded] == -1).all()
            assert (ext[2:2 + t] >= 0).all() and (ext[2 + t][~coded] >= 0).all()
            # slots 0 and 1: the reference GOP's last two slices (none for the refresh GOP 0)
            level, stage = parse_stream_name(name)
            if i == 0:
                assert (ext[:2] == -1).all()
            else:
                np.testing.assert_array_equal(ext[:2], gops[i - 1].level(level).indices[stage][-2:])
            # the lower stream: the previous stage, or top.0 (2x coarser in space) for bottom.0,
            # whose whole GOP is known
            assert ratio == LOWER[name] and (lower is None) == (LOWER[name] is None)
            if lower is not None:
                assert (lower[2:] >= 0).all()
        assert {e.name for e in enc_p.seen} == set(LOWER)
    assert bits["context"] < 0.7 * bits["uniform"], bits          # the context is really used


# ------------------------------------------------------------------------------------- static
def test_static_roundtrip_and_bytes():
    prior = static_prior()
    assert prior.kind == "empirical-static" and prior.params() == b""
    blob = prior.to_bytes()
    back = EmpiricalStaticPrior.from_bytes(blob)
    assert set(back.tables) == set(prior.tables) == {n for n, _ in STREAMS}
    for name, f in prior.tables.items():
        np.testing.assert_array_equal(back.tables[name], f)
        assert f.sum() == TOTAL and f.min() >= 1
    assert back.to_bytes() == blob
    gops = make_gops(2)
    static_bits, _ = assert_roundtrip(prior, gops, back)
    uniform_bits, _ = assert_roundtrip(UniformPrior(), gops)
    assert static_bits < 0.9 * uniform_bits                 # matched tables pay
    # a stream the tables do not know falls back to uniform
    np.testing.assert_array_equal(prior.table("new.0", 300), uniform_freqs(300))
    extra = Codes((CodeLevel("new", 300, np.arange(300, dtype=np.int32).reshape(1, 1, 10, 30)),) + gops[0].levels)
    assert_roundtrip(prior, [extra], back)
    # known stream with another alphabet size is a model mismatch
    with pytest.raises(EntropyError):
        prior.table("top.0", 512)
    wrong = Codes((CodeLevel("top", 512, np.zeros((1, 1, 2, 2), np.int32)),))
    with pytest.raises(EntropyError):
        encode_gop(layout_of(wrong), prior, wrong, copy_mode=False, reference=None)
    # pseudocounts keep unseen symbols cheap
    p = EmpiricalStaticPrior.from_counts({"a": np.array([1000, 0, 0, 0])})
    assert p.tables["a"][1] > 1000
    assert prior_from_header("empirical-static", b"", static=back) is back


def test_static_rejects_bad_tables():
    with pytest.raises(EntropyError):
        EmpiricalStaticPrior({"a": np.array([TOTAL - 1, 0])})
    with pytest.raises(EntropyError):
        EmpiricalStaticPrior({"a": freqs_from_counts(np.ones((2, 4), np.int64))})
    with pytest.raises(EntropyError):
        EmpiricalStaticPrior({"": uniform_freqs(4)})
    with pytest.raises(ValueError):
        EmpiricalStaticPrior.from_counts({"a": np.ones(4, np.int64)}, pseudocount=-1)


# ----------------------------------------------------------------------------------- adaptive
@pytest.mark.parametrize("n_gops,small", [(1, True), (1, False), (4, False)])
def test_adaptive_roundtrip(n_gops, small):
    gops = make_gops(n_gops, small=small)
    enc = EmpiricalAdaptivePrior.fit(symbols_of(gops))
    assert enc.kind == "empirical-adaptive"
    params = enc.params()
    dec = EmpiricalAdaptivePrior.from_params(params, STREAMS)
    assert dec.params() == params
    assert set(dec.tables) == set(enc.tables)
    for name, f in enc.tables.items():
        np.testing.assert_array_equal(dec.tables[name], f)
    assert "side.0" not in enc.tables                       # alphabet 1 needs no table
    assert_roundtrip(enc, gops, dec)
    again = prior_from_header("empirical-adaptive", params, STREAMS)
    assert_roundtrip(enc, gops[:1], again)


def test_adaptive_fit_is_a_histogram_of_the_coded_symbols():
    """Order and grouping of the streams do not matter, copied positions do not count, and the
    result beats the uniform prior, side info included."""
    gops = make_gops(4)
    a = EmpiricalAdaptivePrior.fit(symbols_of(gops))
    b = EmpiricalAdaptivePrior.fit(iter(symbols_of(gops[::-1])))   # any iterable, any order
    assert a.params() == b.params() and a.params()
    # the same GOPs with half the bottom positions copied (indices made consistent): only the
    # coded symbols are histogrammed, so fit on coded_symbols equals fit on those symbols alone
    copied_gops = []
    for g in gops:
        bot = g.level("bottom")
        copied = np.zeros(bot.grid, bool)
        copied[1:, ::2] = True
        idx = bot.indices.copy()
        for t in range(1, idx.shape[1]):
            idx[:, t][:, copied[t]] = idx[:, t - 1][:, copied[t]]
        copied_gops.append(Codes(tuple(CodeLevel(lv.name, lv.codebook_size, idx, copied) if lv.name == "bottom"
                                       else lv for lv in g.levels)))
    c = EmpiricalAdaptivePrior.fit(symbols_of(copied_gops))
    manual = [StreamSymbols(f"bottom.{s}", 4096, cg.level("bottom").indices[s][~cg.level("bottom").copy_map()])
              for cg in copied_gops for s in range(2)]
    manual += [s for cg in copied_gops for s in coded_symbols(cg) if not s.name.startswith("bottom")]
    assert c.params() == EmpiricalAdaptivePrior.fit(manual).params() != a.params()
    assert_roundtrip(c, copied_gops, EmpiricalAdaptivePrior.from_params(c.params(), STREAMS), copy_mode=True)
    # per stream, fit only keeps a table when it pays for its side info
    assert total_bits(a, gops) < total_bits(UniformPrior(), gops)
    assert len(a.tables) >= 3


def test_side_info_is_paid_only_where_it_pays():
    """What ``auto`` relies on: a static prior matching the source beats sending tables, which
    beats uniform; on a tiny near-uniform file the adaptive prior sends nothing it cannot repay."""
    big = make_gops(4)
    static, adaptive, uniform = static_prior(), EmpiricalAdaptivePrior.fit(symbols_of(big)), UniformPrior()
    assert total_bits(static, big) < total_bits(adaptive, big) < total_bits(uniform, big)
    small = make_gops(1, power=0.0, small=True)
    fitted = EmpiricalAdaptivePrior.fit(symbols_of(small), steps=(8,))
    assert total_bits(fitted, small) <= total_bits(uniform, small)
    assert fitted.params() == b""                           # nothing was worth its side info


def test_adaptive_empty_and_tiny():
    tiny = [StreamSymbols("top.0", 4096, np.array([1, 2, 3]))]
    p = EmpiricalAdaptivePrior.fit(tiny)
    assert p.params() == b"" and p.tables == {}
    assert EmpiricalAdaptivePrior.from_params(b"").tables == {}
    codes = Codes((CodeLevel("top", 4096, np.array([1, 2, 3], np.int32).reshape(1, 1, 1, 3)),))
    assert_roundtrip(p, [codes], EmpiricalAdaptivePrior.from_params(b""))
    empty = [StreamSymbols("top.0", 16, np.zeros(0, np.int32))]
    assert EmpiricalAdaptivePrior.fit(empty).params() == b""
    assert EmpiricalAdaptivePrior.fit([]).params() == b""
    # a GOP with nothing coded: every position copied from the reference GOP (only decisions sent)
    # and a level dropped at this operating point (0 stages)
    first = Codes((CodeLevel("top", 16, np.full((1, 2, 2, 2), 5, np.int32)),
                   CodeLevel("bottom", 16, np.zeros((0, 2, 4, 4), np.int32))))
    still = Codes((CodeLevel("top", 16, np.full((1, 2, 2, 2), 5, np.int32), np.ones((2, 2, 2), bool)),
                   CodeLevel("bottom", 16, np.zeros((0, 2, 4, 4), np.int32))))
    assert EmpiricalAdaptivePrior.fit(coded_symbols(still)).params() == b""
    res = encode_gop(layout_of(first), p, first, copy_mode=True, reference=None)
    res2 = encode_gop(layout_of(still), p, still, copy_mode=True, reference=res.reference)
    assert res2.counts == {"top.0": 0} and set(res2.bits) == {"copy.top"}
    assert_roundtrip(p, [first, still], copy_mode=True, predicted=True)


def test_adaptive_table_is_what_is_sent():
    """Skewed histogram with zero counts: decoder tables come only from the quantised codes."""
    sym = np.concatenate([np.zeros(5000, np.int32), np.arange(1, 40), np.full(300, 7)])
    gop = [StreamSymbols("x.0", 256, sym)]
    enc = EmpiricalAdaptivePrior.fit(gop, steps=(2,))
    assert enc.steps == {"x.0": 2}
    f = enc.tables["x.0"]
    assert f[0] > f[7] > f[1] and f[200] == 1
    dec = EmpiricalAdaptivePrior.from_params(enc.params())
    np.testing.assert_array_equal(dec.tables["x.0"], f)
    codes = Codes((CodeLevel("x", 256, sym.reshape(1, 1, 1, -1)),))
    assert_roundtrip(enc, [codes], dec)
    with pytest.raises(EntropyError):                       # same name, other alphabet
        EmpiricalAdaptivePrior.from_params(enc.params(), [("x.0", 512)])
    with pytest.raises(EntropyError):
        EmpiricalAdaptivePrior.fit(gop + [StreamSymbols("x.0", 512, sym)])
    with pytest.raises(ValueError):
        EmpiricalAdaptivePrior.fit(gop, steps=(3,))


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
