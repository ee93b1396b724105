"""Temporal copy mode, prediction across GOPs and refresh points (issue 10), on the tiny model."""
from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import synthetic_video
from hypothesis import given, settings
from hypothesis import strategies as st

from vqcodec import pipeline
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.encoder import GopEncoder, encode_frames
from vqcodec.coding.gop_coding import DecodeChannel, EncodeChannel, layout_of
from vqcodec.coding.gops import network_pool
from vqcodec.entropy.copy_flags import CopyFlagModel
from vqcodec.errors import VqvError
from vqcodec.formats import VqvFormatError, VqvReader
from vqcodec.settings import EncodeSettings


def _static_video(t: int, h: int = 32, w: int = 32) -> np.ndarray:
    return np.repeat(synthetic_video(1, h, w, seed=4), t, axis=0)


def _encoder_codes(model, frames, q=None, **kw):
    enc = GopEncoder(model, EncodeSettings.build(model, quality=q or None, **kw), frames.shape[2], frames.shape[1])
    for f in frames:
        enc.add_frame(f)
    return enc.finish()


def _read(model, data, indices=None):
    return list(read_gop_codes(VqvReader(io.BytesIO(data)), model, indices))


def test_copy_decisions_round_trip_exactly(tiny_model):
    frames = np.concatenate([_static_video(40), synthetic_video(56, 32, 32, seed=1)])
    want = _encoder_codes(tiny_model, frames)
    assert any(lv.copy_map().any() for g in want for lv in g.codes.levels)        # copies were chosen
    assert not all(lv.copy_map()[1:].all() for g in want for lv in g.codes.levels if lv.stages)
    data = encode_frames(frames, 16, model=tiny_model)
    h = VqvReader(io.BytesIO(data)).header
    assert h.copy_mode and h.gop_prediction
    got = _read(tiny_model, data)
    for g, w in zip(got, want):
        for a, b in zip(g.codes.levels, w.codes.levels):
            np.testing.assert_array_equal(a.indices, b.indices)
            np.testing.assert_array_equal(a.copy_map(), b.copy_map())
    # copied positions hold exactly the previous slice's whole code stack
    for g in got:
        for lv in g.codes.levels:
            m = lv.copy_map()
            for t in range(1, m.shape[0]):
                np.testing.assert_array_equal(lv.indices[:, t][:, m[t]], lv.indices[:, t - 1][:, m[t]])


def test_a_static_video_costs_a_small_fraction_of_a_moving_one(tiny_model):
    still = len(encode_frames(_static_video(128), 16, model=tiny_model))
    moving = len(encode_frames(synthetic_video(128, 32, 32, seed=1), 16, model=tiny_model))
    off = len(encode_frames(_static_video(128), 16, model=tiny_model, rdo_strength=0))
    assert still < 0.45 * moving, (still, moving)   # the GOP edges (zero-padded convs) stay coded
    assert still < 0.5 * off, (still, off)          # the copies, not the prior alone, make it cheap


def test_strength_zero_turns_copy_mode_off(tiny_model):
    data = encode_frames(_static_video(64), 16, model=tiny_model, rdo_strength=0)
    assert not VqvReader(io.BytesIO(data)).header.copy_mode
    assert not any(lv.copy_map().any() for g in _read(tiny_model, data) for lv in g.codes.levels)
    with pytest.raises(VqvError, match="rdo-strength"):
        encode_frames(_static_video(8), 16, model=tiny_model, rdo_strength=-1)


def test_a_scene_cut_still_decodes_exactly(tiny_model):
    a, b = synthetic_video(48, 32, 32, seed=1), 255 - synthetic_video(48, 32, 32, seed=9)
    frames = np.concatenate([a, b])                       # the cut falls inside GOP 1
    gops = _encoder_codes(tiny_model, frames)
    data = encode_frames(frames, 16, model=tiny_model)
    out = decode_bytes(data, model=tiny_model)
    with network_pool():                  # the decoder's way: each GOP alone, one thread per op
        ref = np.concatenate([tiny_model.net.decode(g.codes) for g in gops])
    np.testing.assert_array_equal(out, ref[:96])


def test_refresh_points_are_marked_and_decode_alone(tiny_model):
    frames = synthetic_video(32 * 5, 32, 32, seed=2)
    data = encode_frames(frames, 16, model=tiny_model, refresh=2)
    reader = VqvReader(io.BytesIO(data))
    assert reader.refresh_points() == [0, 2, 4] and reader.header.refresh_interval == 2
    assert [reader.read_chunk(i).predicted for i in range(5)] == [False, True, False, True, False]
    full = _read(tiny_model, data)
    for i in (4, 3, 1):                                    # random access, in any order
        (one,) = _read(tiny_model, data, [i])
        for a, b in zip(one.codes.levels, full[i].codes.levels):
            np.testing.assert_array_equal(a.indices, b.indices)
    # damage GOP 1: GOP 2 (a refresh point) and GOP 3 (predicted from it) still decode
    bad = _damage_payload(data, 1)
    assert len(_read(tiny_model, bad, [2, 3])) == 2
    with pytest.raises(VqvFormatError, match="GOP 1"):
        _read(tiny_model, bad, [1])


def test_a_damaged_gop_never_silently_propagates(tiny_model):
    frames = synthetic_video(32 * 4, 32, 32, seed=2)
    data = encode_frames(frames, 16, model=tiny_model, refresh=0)
    assert VqvReader(io.BytesIO(data)).refresh_points() == [0]
    bad = _damage_payload(data, 1)
    (g0,) = _read(tiny_model, bad, [0])
    for i in (2, 3):                                        # predicted (indirectly) from GOP 1
        with pytest.raises(VqvFormatError, match="GOP 1"):
            _read(tiny_model, bad, [i])
    with pytest.raises(VqvFormatError, match="GOP 1"):
        decode_bytes(bad, model=tiny_model)


def _damage_payload(data: bytes, gop: int) -> bytes:
    payload = VqvReader(io.BytesIO(data)).read_chunk(gop).payload
    pos = data.rfind(payload) + len(payload) // 2
    out = bytearray(data)
    out[pos] ^= 0x20
    return bytes(out)


def test_info_and_encode_report_the_copies(tiny_model, tmp_path):
    src = tmp_path / "still.npy"
    np.save(src, _static_video(64))
    out = tmp_path / "s.vqv"
    rep = pipeline.encode_file(src, out, model=tiny_model, progress=False)
    assert set(rep["copied"]) == {"top", "bottom"} and rep["copied"]["bottom"] > 0.5
    info = pipeline.file_info(out, model=tiny_model)
    assert info["copied"] == rep["copied"]
    assert info["copy_bits"]["bottom"] == pytest.approx(rep["copy_bits"]["bottom"], rel=1e-6)
    # a static region costs a small fraction of a bit per position
    positions = 2 * 16 * 8 * 8                              # GOPs x bottom grid (T/2, H/4, W/4) of the tiny model
    assert info["copy_bits"]["bottom"] / positions < 0.2


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 4), st.floats(0, 1), st.integers(0, 2**31 - 1))
def test_copy_flag_coding_round_trips(h, w, t, p, seed):
    rng = np.random.default_rng(seed)
    flags = rng.random((t, h, w)) < p
    enc, ch = CopyFlagModel(), EncodeChannel()
    prev = None
    for k in range(t):
        assert np.array_equal(enc.code_slice(ch, flags[k], prev, (h, w)), flags[k])
        prev = flags[k]
    dec_ch, dec = DecodeChannel(ch.payload()), CopyFlagModel()
    prev = None
    for k in range(t):
        prev = dec.code_slice(dec_ch, None, prev, (h, w))
        np.testing.assert_array_equal(prev, flags[k])
    dec_ch.finish()
    np.testing.assert_array_equal(enc.counts, dec.counts)    # both sides end in the same state


def test_files_of_the_weights_before_a_prior_refit_still_decode(tmp_path):
    """Refitting the priors rewrites the weights file (new digest); the old priors stay inside it
    as a legacy entry, so files the old file wrote decode with the new one."""
    from conftest import make_tiny_weights

    from vqcodec.entropy.priors import EmpiricalStaticPrior
    from vqcodec.errors import ModelMismatchError
    from vqcodec.weights import load_model, resave_weights

    path = make_tiny_weights(tmp_path / "m.pt", seed=3)
    old = load_model(path)
    frames = synthetic_video(40, 32, 32, seed=6)
    data = encode_frames(frames, 16, model=old, prior="empirical-static")
    want = decode_bytes(data, model=old)
    flat = {n: np.ones(k, np.int64) for n, k in (("top.0", 32), ("bottom.0", 64), ("bottom.1", 64))}
    resave_weights(old, priors={"empirical-static": EmpiricalStaticPrior.from_counts(flat).to_bytes()})
    new = load_model(path)
    assert new.digest != old.digest and old.sha256 in new.legacy
    np.testing.assert_array_equal(decode_bytes(data, model=new), want)
    fresh = encode_frames(frames, 16, model=new, prior="empirical-static")
    assert fresh != data and VqvReader(io.BytesIO(fresh)).header.model_digest == new.digest
    other = load_model(make_tiny_weights(tmp_path / "o.pt", seed=4))
    with pytest.raises(ModelMismatchError):
        decode_bytes(data, model=other)


def test_a_payload_that_runs_out_before_its_symbols_is_an_error(tiny_model):
    """An exhausted rANS stream decodes zeros silently; the end check catches a short payload even
    when the chunk's CRC is valid (a forged or truncated-and-rewritten chunk)."""
    from vqcodec.coding.gop_coding import decode_gop, encode_gop
    from vqcodec.entropy.priors import UniformPrior
    from vqcodec.entropy.rans import EntropyError

    (g,) = _encoder_codes(tiny_model, synthetic_video(32, 32, 32, seed=5), rdo_strength=0)
    layout = layout_of(g.codes)
    res = encode_gop(layout, UniformPrior(), g.codes, copy_mode=False, reference=None)
    ok = decode_gop(layout, UniformPrior(), res.payload, res.counts, copy_mode=False, reference=None)
    for a, b in zip(ok.codes.levels, g.codes.levels):
        np.testing.assert_array_equal(a.indices, b.indices)
    for short in (b"", res.payload[:4], res.payload[:len(res.payload) // 2]):
        with pytest.raises(EntropyError):
            decode_gop(layout, UniformPrior(), short, res.counts, copy_mode=False, reference=None)


def test_a_header_claiming_a_huge_coded_size_is_refused_before_decoding(tiny_model):
    from vqcodec.formats import GopChunk, Header, VqvWriter

    buf = io.BytesIO()
    w = VqvWriter(buf)
    w.write_chunk(GopChunk(index=0, frame_count=32, symbol_counts=(0, 0, 0), predicted=False, payload=b""))
    w.finish(Header(model_digest=tiny_model.digest, source_width=16384, source_height=16384, coded_width=16384,
                    coded_height=16384, frame_count=32, quality=1, prior="uniform"))
    with pytest.raises(VqvError, match="exceeds 4096"):
        decode_bytes(buf.getvalue(), model=tiny_model)


def test_info_of_a_forged_file_still_shows_the_header(tiny_model, tmp_path):
    """A chunk whose payload is cut short but whose CRC is valid (forged, not damaged in transit):
    info still reports the header and index and says why it has no copy statistics."""
    from vqcodec.formats import GopChunk, VqvWriter

    data = encode_frames(synthetic_video(64, 32, 32, seed=2), 16, model=tiny_model)
    reader = VqvReader(io.BytesIO(data))
    buf = io.BytesIO()
    w = VqvWriter(buf)
    for c in reader:
        w.write_chunk(GopChunk(c.index, c.frame_count, c.symbol_counts, c.predicted,
                               c.payload[:4] if c.index == 1 else c.payload))
    w.finish(reader.header)
    forged = tmp_path / "forged.vqv"
    forged.write_bytes(buf.getvalue())
    info = pipeline.file_info(forged, model=tiny_model)
    assert info["frames"] == 64 and info["copy_stats"].startswith("unavailable (GOP 1")
    from vqcodec.entropy.rans import EntropyError
    with pytest.raises(EntropyError, match="GOP 1"):
        decode_bytes(buf.getvalue(), model=tiny_model)


def test_priors_unchanged_across_releases_are_stored_once(tmp_path):
    """A legacy entry whose priors equal the current ones (or each other) adds (almost) nothing to
    the weights file, and reads back whole."""
    from conftest import make_tiny_weights

    from vqcodec.weights import load_model, save_weights

    m = load_model(make_tiny_weights(tmp_path / "m.pt", seed=3))
    big = {**m.priors, "x-test-blob": bytes(range(256)) * 400}      # 100 kB, kept by every release
    plain = tmp_path / "plain.pt"
    save_weights(m.net, plain, precision="float", priors=big, card=m.card)
    shared = tmp_path / "shared.pt"
    save_weights(m.net, shared, precision="float", priors=big, card=m.card,
                 legacy={"ab" * 32: dict(big), "cd" * 32: dict(big)})
    assert shared.stat().st_size < plain.stat().st_size + 4000
    back = load_model(shared)
    assert back.priors == big and back.legacy == {"ab" * 32: big, "cd" * 32: big}
