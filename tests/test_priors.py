"""Non-learned priors behind the one prior interface: GOP round trips through the GOP coder,
side-info round trips, what side info is worth, contexts. Public helpers and hostile bytes:
test_priors_robustness.py."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prior_helpers import (
    SETTINGS,
    STREAMS,
    assert_codes_equal,
    assert_roundtrip,
    make_gops,
    static_prior,
    symbols_of,
    total_bits,
)

from vqcodec.coding.gops import coded_symbols
from vqcodec.codes import CodeLevel, Codes, parse_stream_name, stream_name
from vqcodec.entropy.rans import TOTAL, EntropyError, freqs_from_counts, ideal_bits, uniform_freqs
from vqcodec.coding.gop_coding import layout_of, decode_gop, encode_gop
from vqcodec.entropy.priors import (
    EmpiricalAdaptivePrior,
    EmpiricalStaticPrior,
    Prior,
    SliceContext,
    StreamSymbols,
    UniformPrior,
    extended_slices,
    prior_from_header,
)


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
