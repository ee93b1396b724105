"""The codec end to end: frames -> .vqv -> frames, exactness, determinism, robustness, streaming."""
from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import make_tiny_weights, synthetic_video

from vqcodec import pipeline
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.encoder import GopEncoder, encode_frames
from vqcodec.coding.gops import network_pool
from vqcodec.errors import ModelMismatchError, VqvError
from vqcodec.formats import VqvFormatError, VqvReader
from vqcodec.settings import EncodeSettings


def _encoder_codes(model, frames, q=None, **kw):
    """What the encoder decided (codes with copy maps), GOP by GOP, without entropy coding."""
    q = q or model.default_quality
    enc = GopEncoder(model, EncodeSettings.build(model, quality=q, **kw), frames.shape[2], frames.shape[1])
    for f in frames:
        enc.add_frame(f)
    return [g.codes for g in enc.finish()]


def test_round_trip_matches_model_decode_exactly(tiny_model):
    frames = synthetic_video(40, 48, 40)
    for q in tiny_model.qualities:
        data = encode_frames(frames, 16, model=tiny_model, quality=q, motion=False)
        out = decode_bytes(data, model=tiny_model)
        assert out.shape == frames.shape and out.dtype == np.uint8
        # without the motion layer, what the decoder produces is exactly the network's decoding of the
        # encoder's codes (with it: test_motion.py)
        codes = _encoder_codes(tiny_model, frames, q, motion=False)
        with network_pool():              # the decoder's way: each GOP alone, one thread per op
            ref = [tiny_model.net.decode(c) for c in codes]
        expect = np.concatenate([ref[0], ref[1][:8]])[:, :48, :40]
        np.testing.assert_array_equal(out, expect)


def test_without_copies_the_codes_are_the_networks_own(tiny_model):
    frames = synthetic_video(32, 32, 32, seed=2)
    got = _encoder_codes(tiny_model, frames, rdo_strength=0)[0]
    want = tiny_model.net.encode(frames)
    for a, b in zip(got.levels, want.levels):
        assert not a.copy_map().any()
        # the bottom latent is computed from the top codes as the decoder sees them: a rare
        # float tie may differ from net.encode's, nothing more
        assert (a.indices != b.indices).mean() < 0.01


@pytest.mark.parametrize("prior", ["uniform", "empirical-static", "empirical-adaptive", "auto"])
def test_every_prior_round_trips_the_codes(tiny_model, prior):
    frames = synthetic_video(33, 32, 32, seed=3)
    data = encode_frames(frames, 16, model=tiny_model, prior=prior)
    reader = VqvReader(io.BytesIO(data))
    got = [g.codes for g in read_gop_codes(reader, tiny_model)]
    want = _encoder_codes(tiny_model, frames, prior=prior)
    for g, w in zip(got, want):
        for a, b in zip(g.levels, w.levels):
            np.testing.assert_array_equal(a.indices, b.indices)
            np.testing.assert_array_equal(a.copy_map(), b.copy_map())
    if prior != "auto":
        assert reader.header.prior == prior


def test_auto_prior_is_never_larger_than_the_others(tiny_model):
    frames = synthetic_video(64, 32, 32, seed=5)
    sizes = {p: len(encode_frames(frames, 16, model=tiny_model, prior=p))
             for p in ("uniform", "empirical-static", "empirical-adaptive", "auto")}
    assert sizes["auto"] <= min(sizes.values()) + 8   # + ANS flush rounding


def test_file_round_trip_keeps_frames_fps_and_size(tiny_model, tiny_weights, tmp_path, video_npy):
    out = tmp_path / "a.vqv"
    rep = pipeline.encode_file(video_npy, out, model=tiny_model, fps="25", progress=False, measure_quality=True)
    # .npy input is taken at 16 fps; --fps 25 resamples by timestamp
    assert rep["fps"] == "25" and rep["frames"] == 63   # 2.5 s of video at 25 fps, the last frame held to the end
    assert rep["bytes"] == out.stat().st_size and rep["bpp"] > 0 and 0 < rep["ssim"] <= 1
    back = tmp_path / "b.npy"
    d = pipeline.decode_file(out, back, model=tiny_model, progress=False)
    arr = np.load(back)
    assert arr.shape == (rep["frames"], 48, 40, 3) and d["fps"] == "25"
    info = pipeline.file_info(out)
    assert info["frames"] == rep["frames"] and info["coded_size"] == [40, 48]
    assert info["overhead"]["total"] == rep["bytes"]


def test_default_coded_size_scales_short_side_to_64():
    assert pipeline.coded_size(176, 144, None, 16) == (80, 64)
    assert pipeline.coded_size(1280, 720, None, 16) == (112, 64)
    assert pipeline.coded_size(64, 64, None, 16) == (64, 64)
    assert pipeline.coded_size(40, 30, None, 16) == (40, 30)   # never upscaled
    assert pipeline.coded_size(176, 144, "native", 16) == (176, 144)
    assert pipeline.coded_size(176, 144, "96x64", 16) == (96, 64)
    with pytest.raises(VqvError):
        pipeline.coded_size(176, 144, "big", 16)


def test_scale_to_source_restores_the_source_size(tiny_model, tmp_path):
    src = tmp_path / "big.npy"
    np.save(src, synthetic_video(8, 96, 128))
    out = tmp_path / "x.vqv"
    rep = pipeline.encode_file(src, out, model=tiny_model, progress=False)
    assert rep["coded_size"] == [88, 64]   # tiny model: spatial stride 8
    pipeline.decode_file(out, tmp_path / "y.npy", model=tiny_model, scale_to_source=True, progress=False)
    assert np.load(tmp_path / "y.npy").shape == (8, 96, 128, 3)


def test_model_mismatch_is_refused_by_name(tiny_model, tmp_path):
    data = encode_frames(synthetic_video(8, 16, 16), 16, model=tiny_model)
    from vqcodec.weights import load_model
    other = load_model(make_tiny_weights(tmp_path / "other.pt", seed=1))
    with pytest.raises(ModelMismatchError, match="encoded with model"):
        decode_bytes(data, model=other)


def _small_file(tiny_model) -> bytes:
    return encode_frames(synthetic_video(40, 16, 16), 16, model=tiny_model, prior="empirical-adaptive")


def test_every_truncation_is_a_clear_error(tiny_model):
    data = _small_file(tiny_model)
    for cut in range(len(data)):
        with pytest.raises((VqvFormatError, VqvError)):
            decode_bytes(data[:cut], model=tiny_model)


def test_random_byte_flips_never_decode_silently(tiny_model):
    data = _small_file(tiny_model)
    rng = np.random.default_rng(0)
    for pos in rng.choice(len(data), size=min(len(data), 120), replace=False):
        bad = bytearray(data)
        bad[pos] ^= 1 << int(rng.integers(8))
        with pytest.raises((VqvFormatError, VqvError)) as e:
            decode_bytes(bytes(bad), model=tiny_model)
        assert "\n" not in str(e.value)


def test_crc_error_names_the_gop(tiny_model):
    data = bytearray(_small_file(tiny_model))
    reader = VqvReader(io.BytesIO(bytes(data)))
    # flip a byte inside GOP 1's payload: find it through the index
    chunk1 = reader.read_chunk(1).payload
    pos = bytes(data).rfind(chunk1) + len(chunk1) // 2
    data[pos] ^= 0x10
    with pytest.raises(VqvFormatError, match="GOP 1"):
        decode_bytes(bytes(data), model=tiny_model)


def test_identical_bytes_and_pixels_for_any_thread_count(tiny_weights, tmp_path):
    """Every GOP goes through the network alone with single-threaded ops (network_pool), so
    --threads changes speed, never the file or the decoded frames."""
    src = tmp_path / "v.npy"
    np.save(src, synthetic_video(32 * 5 + 7, 40, 48, seed=8))
    script = (
        "import sys, hashlib, numpy as np, torch; torch.set_num_threads(int(sys.argv[1]));"
        "from vqcodec import pipeline;"
        "pipeline.encode_file(sys.argv[2], sys.argv[3], model_path=sys.argv[4], progress=False);"
        "pipeline.decode_file(sys.argv[3], sys.argv[3] + '.npy', model_path=sys.argv[4], progress=False);"
        "print(hashlib.sha256(np.load(sys.argv[3] + '.npy').tobytes()).hexdigest())"
    )
    outs, pixels = [], []
    for n in (1, 2, 3):
        out = tmp_path / f"t{n}.vqv"
        env = {**os.environ, "OMP_NUM_THREADS": str(n)}
        r = subprocess.run([sys.executable, "-c", script, str(n), str(src), str(out), str(tiny_weights)],
                           check=True, env=env, timeout=300, capture_output=True, text=True)
        outs.append(out.read_bytes())
        pixels.append(r.stdout.strip().splitlines()[-1])
    assert outs[0] == outs[1] == outs[2]
    assert pixels[0] == pixels[1] == pixels[2]


def test_numpys_blas_runs_on_one_thread_while_the_codec_works_and_is_restored_after(tiny_model, monkeypatch):
    from threadpoolctl import threadpool_info

    from vqcodec.coding import encoder

    def blas_threads():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    before = blas_threads()
    seen = []
    decide = encoder.GopEncoder._decide_levels

    def spy(self, *a, **k):
        seen.append(blas_threads())
        return decide(self, *a, **k)
    monkeypatch.setattr(encoder.GopEncoder, "_decide_levels", spy)
    data = encode_frames(synthetic_video(16, 32, 32), 16, model=tiny_model)
    monkeypatch.undo()
    with network_pool():
        inside = blas_threads()
    assert before and seen and all(set(s.values()) == {1} for s in seen) and set(inside.values()) == {1}
    assert blas_threads() == before
    assert decode_bytes(data, model=tiny_model).shape == (16, 32, 32, 3)


def test_memory_does_not_grow_with_video_length(tiny_weights, tmp_path):
    """Peak RSS of encoding+decoding a long video stays near a short one's (frames are streamed)."""
    script = r"""
import resource, sys
import numpy as np
from vqcodec import pipeline
from vqcodec.weights import load_model
n = int(sys.argv[1]); src = sys.argv[2]
m = load_model(sys.argv[3])
# the source is a memory-mapped .npy, so only the frames in flight are resident
arr = np.lib.format.open_memmap(src, mode="w+", dtype=np.uint8, shape=(n, 64, 64, 3))
for i in range(0, n, 64):
    arr[i:i + 64] = (np.arange(64)[:, None, None, None] + i) % 256
arr.flush(); del arr
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
pipeline.encode_file(src, src + ".vqv", model=m, progress=False)
pipeline.decode_file(src + ".vqv", src + ".out.mp4", model=m, progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
"""
    growth = {}
    for n in (64, 2048):   # 2048 frames of 64x64 RGB = 25 MB of raw frames
        r = subprocess.run([sys.executable, "-c", script, str(n), str(tmp_path / f"v{n}.npy"), str(tiny_weights)],
                           capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert r.returncode == 0, r.stderr[-1500:]
        growth[n] = int(r.stdout.strip().splitlines()[-1])   # KiB
    # 32x more frames: the extra peak memory stays far below the 25 MB the frames would take
    assert growth[2048] - growth[64] < 12_000, growth


def test_scale_to_source_refuses_an_absurd_source_size(tiny_model, tmp_path):
    from vqcodec.formats import Header, VqvReader, VqvWriter

    data = encode_frames(synthetic_video(8, 16, 16), 16, model=tiny_model)
    reader = VqvReader(io.BytesIO(data))
    h = reader.header
    buf = io.BytesIO()
    w = VqvWriter(buf, reader.version)
    for c in reader:
        w.write_chunk(c)
    w.finish(Header(**{**h.__dict__, "source_width": 60000, "source_height": 60000}))
    src = tmp_path / "huge.vqv"
    src.write_bytes(buf.getvalue())
    with pytest.raises(VqvError, match="exceeds 8192"):
        pipeline.decode_file(src, tmp_path / "o.npy", model=tiny_model, scale_to_source=True, progress=False)
    assert not (tmp_path / "o.npy").exists()
    pipeline.decode_file(src, tmp_path / "o.npy", model=tiny_model, progress=False)   # coded size: fine
    assert np.load(tmp_path / "o.npy").shape == (8, 16, 16, 3)


def test_the_encoder_searches_only_the_stages_it_reads(tiny_model):
    """level_latents with fewer stages gives the same codes for those stages (a residual stage
    depends only on the ones before it), so the encoder quantises one stage past its point, not all."""
    import torch

    from vqcodec.coding.rdo import level_latents

    frames = synthetic_video(8, 48, 48)
    net = tiny_model.net
    pixel_term, h_b, z_t = net.analyse(frames[None])
    z_b = net.bottom_latent(pixel_term, h_b, net.top_quantizer(z_t).indices)
    with torch.no_grad():
        for quantizer, z in ((net.top_quantizer, z_t), (net.bottom_quantizer, z_b)):
            full = level_latents(quantizer, z)[0]
            for n in range(1, quantizer.stages + 1):
                part = level_latents(quantizer, z, n)[0]
                np.testing.assert_array_equal(part.codes, full.codes[:n])
                np.testing.assert_array_equal(part.codebooks, full.codebooks[:n])


def test_the_models_priors_are_parsed_once(tiny_model):
    """An encode or decode asks for the model's priors several times: each blob is parsed once, and
    a replaced blob is parsed again."""
    from dataclasses import replace

    from vqcodec.coding.prior_choice import learned_prior, static_prior

    model = replace(tiny_model, parsed_priors={})
    assert static_prior(model) is static_prior(model) is not None
    assert learned_prior(model) is learned_prior(model)
    model.priors = dict(model.priors, **{"empirical-static": bytes(bytearray(model.priors["empirical-static"]))})
    first = model.parsed_priors["empirical-static"][1]
    assert static_prior(model) is not first


@pytest.mark.parametrize("quality,motion", [(4, False), (12, True)])
def test_auto_prices_every_prior_in_one_walk_exactly(quality, motion):
    """code_file_each (one walk, the prior-independent symbols prepared once) gives each candidate
    prior the payloads, bits and counts of coding the file under that prior alone (shipped model:
    all four priors; a scalar point with the enhancement and motion layers)."""
    from vqcodec.coding.encoder import code_file
    from vqcodec.coding.gop_coding import layout_of
    from vqcodec.coding.gops import enhancement_tables, scalar_tables
    from vqcodec.coding.pricing import code_file_each
    from vqcodec.coding.prior_choice import candidate_priors
    from vqcodec.weights import load_model

    model = load_model()
    frames = synthetic_video(72, 32, 48, seed=4)
    settings = EncodeSettings.build(model, quality=quality, motion=motion, refresh=2)
    enc = GopEncoder(model, settings, 48, 32)
    for f in frames:
        enc.add_frame(f)
    gops = enc.finish()
    assert len(set(layout_of(g.codes)[-1].grid for g in gops)) == 2       # the last GOP (8 frames) trimmed
    extra = (scalar_tables(model, settings.point), enhancement_tables(model, settings.point), settings.motion_coding)
    priors = candidate_priors(model, "auto", [g.codes for g in gops])
    ranked = ["rank"] if gops[0].codes.level("bottom").stages else []      # not at a scalar point (Q12)
    assert [p.kind for p in priors] == ["uniform", "empirical-static", "empirical-adaptive", "learned"] + ranked
    each = code_file_each(priors, [(g.codes, g.refresh) for g in gops], True, *extra,
                          bends=settings.bend_frames)
    for prior, coded in zip(priors, each):
        alone = code_file(prior, gops, True, *extra, bends=settings.bend_frames)
        assert [c.payload for c in coded] == [c.payload for c in alone]
        assert [c.bits for c in coded] == [c.bits for c in alone]
        assert [c.counts for c in coded] == [c.counts for c in alone]
