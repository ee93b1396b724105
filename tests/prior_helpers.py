"""Shared by the prior tests (test_priors*.py): synthetic GOPs of skewed i.i.d. symbols, round trips
through the GOP coder with every check, and a static prior fitted on their sources.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from vqcodec.coding.gops import coded_symbols
from vqcodec.codes import CodeLevel, Codes, stream_name
from vqcodec.coding.gop_coding import layout_of, CodedGop, decode_gop, encode_gop
from vqcodec.entropy.priors import EmpiricalStaticPrior, Prior, StreamSymbols


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
