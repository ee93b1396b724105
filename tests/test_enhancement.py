"""The enhancement layer end to end on the tiny model: pixel basis, ladder, encoder, payload, decoder."""
from __future__ import annotations

import io
import json
from pathlib import Path

import msgpack
import numpy as np
import pytest
from conftest import make_tiny_weights, synthetic_video
from hypothesis import given, settings
from hypothesis import strategies as st

from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.encoder import GopEncoder, encode_frames
from vqcodec.coding.enhancement import PixelBasis, fit_basis, from_blocks, quantise, to_blocks
from vqcodec.coding.gop_coding import decode_gop
from vqcodec.coding.gops import chunk_streams, enhancement_tables, gop_layout, scalar_tables
from vqcodec.coding.ladder import Ladder
from vqcodec.coding.prior_choice import file_prior
from vqcodec.entropy.blob import zstd_decompress
from vqcodec.entropy.rans import EntropyError
from vqcodec.errors import ModelDataError
from vqcodec.formats import VqvReader
from vqcodec.release.prior_fitting import fit_ladder
from vqcodec.settings import EncodeSettings
from vqcodec.weights import load_model, save_weights

# VQ 1+1, a scalar point, then the same scalar point with a coarse and a fine enhancement layer
POINTS = [(1, 1, None), (1, 0, 0.2), (1, 0, 0.2, 24.0), (1, 0, 0.2, 8.0)]


def make_tiny_enhanced_weights(path: Path, channels: int = 32) -> Path:
    make_tiny_weights(path)
    m = load_model(path)
    clips = [synthetic_video(32, 32, 32, seed=s) for s in range(6)]
    ladder = fit_ladder(m, clips, POINTS, enhancement_channels=channels)
    save_weights(m.net, path, precision="float", priors={**m.priors, "scalar": ladder.to_bytes()}, card=m.card)
    return path


@pytest.fixture(scope="module")
def emodel(tmp_path_factory):
    return load_model(make_tiny_enhanced_weights(tmp_path_factory.mktemp("enh") / "tiny_enhanced.pt"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0 ** 2 / np.mean((a.astype(np.float64) - b) ** 2)))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 3), st.integers(0, 2 ** 31))
def test_blocks_are_a_reversible_reordering(bt, bh, bw, nt, nh, nw, seed):
    x = np.random.default_rng(seed).integers(0, 255, (bt * nt, bh * nh, bw * nw, 3))
    b = to_blocks(x, (bt, bh, bw))
    assert b.shape == (nt, nh, nw, 3 * bt * bh * bw)
    np.testing.assert_array_equal(b[0, 0, 0, :3], x[0, 0, 0])          # (t, y, x, rgb) order, rgb fastest
    np.testing.assert_array_equal(from_blocks(b, (bt, bh, bw)), x)


def test_the_basis_is_orthonormal_and_applying_it_undoes_the_projection():
    rng = np.random.default_rng(0)
    res = [rng.normal(0, 10, (8, 8, 8, 3)) * np.linspace(0.2, 2, 3) for _ in range(4)]
    basis = fit_basis(res, (2, 4, 4), 96)                     # every direction: an exact transform
    np.testing.assert_allclose(basis.basis.T @ basis.basis, np.eye(96), atol=1e-4)
    base = np.full((8, 8, 8, 3), 100, np.uint8)
    coef = basis.coefficients(res[0])
    out = basis.apply(base, np.rint(coef / 0.01).astype(np.int32), 0.01)
    np.testing.assert_allclose(out.astype(float), np.clip(np.rint(100 + res[0]), 0, 255), atol=1)
    again = PixelBasis.from_bytes(basis.to_bytes())
    np.testing.assert_array_equal(again.basis, basis.basis)
    assert again.block == (2, 4, 4)


def test_dead_zone_rounding_sends_small_coefficients_to_zero():
    c = np.array([0.69, 0.71, -0.71, 1.69, 1.71, 100.0])
    np.testing.assert_array_equal(quantise(c, 1024, 50), [0, 1, -1, 1, 2, 50])


def test_a_damaged_pixel_basis_is_refused():
    basis = fit_basis([np.random.default_rng(1).normal(size=(4, 8, 8, 3))], (2, 4, 4), 8)
    with pytest.raises(ModelDataError):
        PixelBasis((2, 4, 4), basis.mean[:-1], basis.basis)
    with pytest.raises(ModelDataError):
        PixelBasis((2, 4, 4), basis.mean, basis.basis * np.nan)
    with pytest.raises(ModelDataError):
        PixelBasis.from_bytes(basis.to_bytes()[:-3])


def test_ladders_without_the_layer_keep_their_version_1_bytes(emodel):
    lad = emodel.ladder
    assert lad.version == 2 and [p.enhanced for p in lad.points] == [False, False, True, True]
    assert [p.describe() for p in lad.points][2:] == ["1+scalar/0.200195+enh/24", "1+scalar/0.200195+enh/8"]
    assert Ladder.from_bytes(lad.to_bytes()).points == lad.points
    plain = Ladder(tuple(p.base() for p in lad.points), lad.tables)
    assert msgpack.unpackb(zstd_decompress(plain.to_bytes(), "ladder"), raw=False)["v"] == 1
    with pytest.raises(ModelDataError, match="no pixel basis"):
        Ladder(lad.points, lad.tables)
    with pytest.raises(ModelDataError, match="do not fit the pixel basis"):
        Ladder(tuple(p.base() for p in lad.points), lad.tables, None, lad.enh_tables)


def test_enhanced_points_round_trip_and_trade_bits_for_quality(emodel):
    frames = synthetic_video(40, 48, 40, seed=3)
    sizes, quality = [], []
    for q in (2, 3, 4):
        data = encode_frames(frames, 16, model=emodel, quality=q)
        enc = GopEncoder(emodel, EncodeSettings.build(emodel, quality=q), 40, 48)
        for f in frames:
            enc.add_frame(f)
        want = [g.codes for g in enc.finish()]
        got = list(read_gop_codes(VqvReader(io.BytesIO(data)), emodel))
        for g, w in zip(got, want):
            assert (g.codes.enhancement is None) == (q == 2)
            if q > 2:
                np.testing.assert_array_equal(g.codes.enhancement.symbols, w.enhancement.symbols)
                assert g.codes.enhancement.symbols.shape[0] == 32 and g.bits["enhancement"] > 0
            np.testing.assert_array_equal(g.codes.scalar.symbols, w.scalar.symbols)   # the same base
        out = decode_bytes(data, model=emodel)
        assert out.shape == frames.shape
        sizes.append(len(data))
        quality.append(psnr(out, frames))
    assert sizes[0] < sizes[1] < sizes[2], sizes
    assert quality[0] + 1 < quality[1] < quality[2], quality


def test_a_damaged_enhancement_payload_is_an_error_not_zeros(emodel):
    data = encode_frames(synthetic_video(32, 32, 32, seed=5), 16, model=emodel, quality=3, motion=False)
    reader = VqvReader(io.BytesIO(data))
    chunk = reader.read_chunk(0)
    point = emodel.point(3)
    layout = gop_layout(emodel, point, 32, 32, 32)
    scalar, enh = scalar_tables(emodel, point), enhancement_tables(emodel, point)
    names = chunk_streams(layout, scalar, enh)
    assert names[-2:] == ["scalar", "enhancement"]
    counts = dict(zip(names, chunk.symbol_counts))
    prior = file_prior(reader, emodel, layout)
    kw = dict(copy_mode=reader.header.copy_mode, reference=None, scalar=scalar, enhancement=enh)
    decode_gop(layout, prior, chunk.payload, counts, **kw)                      # as written: fine
    with pytest.raises(EntropyError):
        decode_gop(layout, prior, chunk.payload[:-8], counts, **kw)
    with pytest.raises(EntropyError, match="enhancement"):
        decode_gop(layout, prior, chunk.payload, {**counts, "enhancement": counts["enhancement"] - 1}, **kw)
    with pytest.raises(EntropyError):       # the same payload read without the layer: bytes left over
        decode_gop(layout, prior, chunk.payload, counts, **{**kw, "enhancement": None})


def test_the_cli_reports_and_exports_an_enhanced_point(emodel, tmp_path):
    from click.testing import CliRunner

    from vqcodec.cli.main import main
    np.save(tmp_path / "in.npy", synthetic_video(40, 32, 32, seed=6))
    run = CliRunner().invoke
    r = run(main, ["encode", str(tmp_path / "in.npy"), str(tmp_path / "e.vqv"), "--model", str(emodel.path),
                   "-Q", "4", "--json", "-q"])
    rep = json.loads(r.output[r.output.index("{"):])
    assert r.exit_code == 0 and set(rep["bits_per_level"]) == {"top", "bottom", "enhancement", "motion"}
    r = run(main, ["codes", str(tmp_path / "e.vqv"), str(tmp_path / "c.npz"), "--model", str(emodel.path)])
    z = np.load(tmp_path / "c.npz")
    assert r.exit_code == 0 and z["enhancement"].shape[:2] == (2, 32) and float(z["enhancement_step"]) == 8.0
    r = run(main, ["decode", str(tmp_path / "e.vqv"), str(tmp_path / "out.npy"), "--model", str(emodel.path)])
    assert r.exit_code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"),
                                  decode_bytes((tmp_path / "e.vqv").read_bytes(), model=emodel))
    r = run(main, ["model-info", "--model", str(emodel.path)])
    assert r.exit_code == 0 and "enhancement layer, step 8" in r.output


def test_enhancement_copies_make_a_still_video_cheap_and_repeat_exactly(emodel):
    """A frozen video: the enhancement layer's own copy decisions repeat the slice before (across
    GOPs too) instead of coding its symbols again."""
    still = np.repeat(synthetic_video(1, 32, 32, seed=8), 64, axis=0)
    on = encode_frames(still, 16, model=emodel, quality=4)
    off = encode_frames(still, 16, model=emodel, quality=4, rdo_strength=0)
    got = list(read_gop_codes(VqvReader(io.BytesIO(on)), emodel))
    enh = [g.codes.enhancement for g in got]
    assert enh[0].copy_map()[1:].mean() > 0.5 and enh[1].copy_map()[0].any()
    assert sum(g.bits.get("enhancement", 0) for g in got) < 0.5 * sum(
        g.bits["enhancement"] for g in read_gop_codes(VqvReader(io.BytesIO(off)), emodel))
    assert len(on) < len(off)
    for i, e in enumerate(enh):
        before = np.concatenate([enh[i - 1].symbols[:, -1:] if i else e.symbols[:, :1], e.symbols[:, :-1]], 1)
        m = e.copy_map()
        assert (e.symbols[:, m] == before[:, m]).all()
