"""Scalar operating points end to end on the tiny model: ladder, encoder, payload, decoder."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_weights, synthetic_video

from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.encoder import GopEncoder, encode_frames
from vqcodec.coding.gops import chunk_streams, gop_layout, scalar_tables
from vqcodec.coding.ladder import Ladder
from vqcodec.coding.prior_choice import file_prior
from vqcodec.entropy.rans import EntropyError
from vqcodec.formats import VqvReader
from vqcodec.release.prior_fitting import _bottom_latents, fit_ladder
from vqcodec.settings import EncodeSettings
from vqcodec.weights import WEIGHTS_VERSION, WeightsError, load_model, save_weights

# VQ 1+0, 1+1, 1+2, then scalar points at coarse to fine steps
POINTS = [(1, 0, None), (1, 1, None), (1, 2, None), (1, 0, 0.5), (1, 0, 0.2), (1, 0, 0.08)]


def make_tiny_ladder_weights(path: Path) -> Path:
    make_tiny_weights(path)
    m = load_model(path)
    clips = [synthetic_video(32, 32, 32, seed=s) for s in range(6)]
    ladder = fit_ladder(m, clips, POINTS)
    save_weights(m.net, path, precision="float", priors={**m.priors, "scalar": ladder.to_bytes()}, card=m.card)
    return path


@pytest.fixture(scope="module")
def smodel(tmp_path_factory):
    return load_model(make_tiny_ladder_weights(tmp_path_factory.mktemp("scalar") / "tiny_scalar.pt"))


def test_the_ladder_defines_the_qualities(smodel):
    assert smodel.qualities == [1, 2, 3, 4, 5, 6] and smodel.vq_qualities == [1, 2, 3]
    assert [p.describe() for p in smodel.ladder.points][2:] == ["1+2", "1+scalar/0.5", "1+scalar/0.200195",
                                                               "1+scalar/0.0800781"]
    assert Ladder.from_bytes(smodel.ladder.to_bytes()).points == smodel.ladder.points


def test_scalar_points_round_trip_and_trade_bits_for_quality(smodel):
    frames = synthetic_video(40, 48, 40, seed=3)
    sizes = []
    for q in (4, 5, 6):
        data = encode_frames(frames, 16, model=smodel, quality=q)
        enc = GopEncoder(smodel, EncodeSettings.build(smodel, quality=q), 40, 48)
        for f in frames:
            enc.add_frame(f)
        want = [g.codes for g in enc.finish()]
        got = list(read_gop_codes(VqvReader(io.BytesIO(data)), smodel))
        assert len(got) == 2
        for g, w in zip(got, want):
            assert g.codes.scalar is not None and g.codes.level("bottom").stages == 0
            np.testing.assert_array_equal(g.codes.scalar.symbols, w.scalar.symbols)
            np.testing.assert_array_equal(g.codes.scalar.copy_map(), w.scalar.copy_map())
            assert g.bits.get("scalar", 0) + g.bits["copy.scalar"] > 0     # (all may be copies)
        assert decode_bytes(data, model=smodel).shape == frames.shape
        sizes.append(len(data))
    assert sizes[0] < sizes[1] < sizes[2], sizes


def test_copies_make_a_still_video_cheap_and_keep_it_exact(smodel):
    """A frozen video: with copy mode (the default) positions repeat the slice before instead of
    being coded, which makes the file smaller; copied symbols repeat exactly."""
    still = np.repeat(synthetic_video(1, 32, 32, seed=8), 64, axis=0)
    on = encode_frames(still, 16, model=smodel, quality=6)
    off = encode_frames(still, 16, model=smodel, quality=6, rdo_strength=0)
    assert len(on) < 0.75 * len(off)        # (the first slice, coded either way, is most of it)
    got = list(read_gop_codes(VqvReader(io.BytesIO(on)), smodel))
    sc = [g.codes.scalar for g in got]
    # (not every position: where the tables make a repeated symbol cheaper than a copy flag, the
    # encoder codes it; and the latent changes near the GOP's edges, which its convolutions see)
    assert sc[0].copy_map()[1:].mean() > 0.25 and sc[1].copy_map().mean() > 0.25
    assert sc[1].copy_map()[0].any()                                    # slice 0 copies GOP 0's last slice
    for i, g in enumerate(sc):
        before = np.concatenate([sc[i - 1].symbols[:, -1:] if i else g.symbols[:, :1], g.symbols[:, :-1]], 1)
        m = g.copy_map()
        assert (g.symbols[:, m] == before[:, m]).all()


def test_finer_steps_carry_the_latent_more_exactly(smodel):
    """(The tiny network is untrained, so pixels say little; its latent is what the layer codes.)"""
    frames = synthetic_video(32, 32, 32, seed=4)
    z = next(_bottom_latents(smodel, [frames], 1))
    errors = []
    for q in (4, 5, 6):       # without copy decisions the top codes are the natural ones _bottom_latents uses
        data = encode_frames(frames, 16, model=smodel, quality=q, rdo_strength=0)
        sc = next(read_gop_codes(VqvReader(io.BytesIO(data)), smodel)).codes.scalar
        err = float(np.mean((sc.latent() - z) ** 2))
        assert err <= (sc.step ** 2) / 12 * 1.5          # uniform rounding error, nothing clipped away
        errors.append(err)
    assert errors[0] > errors[1] > errors[2]


def test_a_damaged_scalar_payload_is_an_error_not_zeros(smodel):
    data = encode_frames(synthetic_video(32, 32, 32, seed=5), 16, model=smodel, quality=5)
    reader = VqvReader(io.BytesIO(data))
    chunk = reader.read_chunk(0)
    layout = gop_layout(smodel, smodel.point(5), 32, 32, 32)
    scalar = scalar_tables(smodel, smodel.point(5))
    names = chunk_streams(layout, scalar)
    assert names[-1] == "scalar"
    counts = dict(zip(names, chunk.symbol_counts))
    prior = file_prior(reader, smodel, layout)
    from vqcodec.coding.gop_coding import decode_gop
    with pytest.raises(EntropyError):
        decode_gop(layout, prior, chunk.payload[:-8], counts, copy_mode=reader.header.copy_mode, reference=None,
                   scalar=scalar)
    with pytest.raises(EntropyError):
        decode_gop(layout, prior, chunk.payload, {**counts, "scalar": counts["scalar"] - 1},
                   copy_mode=reader.header.copy_mode, reference=None, scalar=scalar)


def test_weights_with_a_ladder_are_a_newer_version(smodel, tmp_path):
    import torch
    blob = torch.load(smodel.path, weights_only=True)
    assert blob["version"] == 3 <= WEIGHTS_VERSION       # 4: a light synthesis too (tests/test_light_synthesis.py)
    blob["priors"]["scalar"] = torch.zeros(10, dtype=torch.uint8)
    torch.save(blob, tmp_path / "bad.pt")
    with pytest.raises(WeightsError, match="ladder"):
        load_model(tmp_path / "bad.pt").qualities


def test_the_cli_reports_and_exports_a_scalar_point(smodel, tmp_path):
    import json

    from click.testing import CliRunner

    from vqcodec.cli.main import main
    np.save(tmp_path / "in.npy", synthetic_video(40, 32, 32, seed=6))
    run = CliRunner().invoke
    r = run(main, ["encode", str(tmp_path / "in.npy"), str(tmp_path / "s.vqv"), "--model", str(smodel.path),
                   "-Q", "6", "--json", "-q"])
    rep = json.loads(r.output[r.output.index("{"):])
    assert r.exit_code == 0 and set(rep["bits_per_level"]) == {"top", "bottom", "motion"} and "bottom" in rep["copied"]
    r = run(main, ["codes", str(tmp_path / "s.vqv"), str(tmp_path / "c.npz"), "--model", str(smodel.path)])
    z = np.load(tmp_path / "c.npz")
    assert r.exit_code == 0 and z["bottom"].shape[1] == 0 and z["bottom_scalar"].shape[:2] == (2, 8)
    assert float(z["bottom_scalar_step"]) == smodel.point(6).step
    assert z["bottom_scalar_copied"].shape == (2, *z["bottom_scalar"].shape[2:]) and z["bottom_scalar_copied"].any()
    r = run(main, ["model-info", "--model", str(smodel.path)])
    assert r.exit_code == 0 and "scalar bottom latent, step 0.5" in r.output


def test_the_scalar_points_motion_decisions_weigh_bits_by_their_own_scale(smodel, monkeypatch):
    """At a scalar point the motion decisions' lambda is the quantiser's high-rate slope times
    MOTION_LAMBDA_SCALE_SCALAR (at the tiny ladder's fine steps, MOTION_LAMBDA_SCALE_FINE_SCALAR; that slope
    overstates a coarse step's): a smaller scale buys quality with bits on a moving clip, and the file
    decodes to what the encoder saw either way."""
    from conftest import encode_seen, pan_video
    from vqcodec.coding import lambdas
    frames = pan_video(32, 32, 32, dx=1)
    out = {}
    for scale in (1.0, 0.1):
        monkeypatch.setattr(lambdas, "MOTION_LAMBDA_SCALE_FINE_SCALAR", scale)
        monkeypatch.setattr(lambdas, "MOTION_LAMBDA_SCALE_SCALAR", 1.0)      # (the tiny ladder's steps are all fine)
        settings = EncodeSettings.build(smodel, quality=4)
        assert settings.motion_layer
        data, seen = encode_seen(smodel, settings, frames)
        np.testing.assert_array_equal(decode_bytes(data, model=smodel), seen)
        out[scale] = len(data), float(np.mean((seen.astype(float) - frames) ** 2))
    assert out[0.1][0] > out[1.0][0] and out[0.1][1] < out[1.0][1], out
