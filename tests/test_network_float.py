"""Networks in bfloat16 (version 10.0, header key 21): the header and versions, the bfloat16 copies of the
networks, a round trip through the encoder and decoder, the same bytes for any thread count, the golden
file, and the CLI. The shipped model on small 64x64 clips; the format on synthetic headers."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import msgpack
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import encode_seen, pan_video
from formats_helpers import _header

from vqcodec.cli.main import main
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.encoder import EncodedGop, encode_frames, write_container
from vqcodec.formats import BFLOAT16_VERSION, VqvFormatError, VqvReader, version_for
from vqcodec.formats.header import (
    K_INTRA_CODER,
    K_NETWORK_FLOAT,
    decode_header,
    encode_header,
)
from vqcodec.formats.versions import check_header_for_version
from vqcodec.metrics import psnr
from vqcodec.net.bfloat16 import bfloat16_is_native
from vqcodec.settings import EncodeSettings
from vqcodec.weights import default_conditional_coder, load_model

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
from make_golden_conditional import QUALITY, golden_input  # noqa: E402
from make_golden_residual import gop_arrays  # noqa: E402

pytestmark = pytest.mark.usefixtures("padded_gops")   # files of before 13.0: pinned bytes and versions


@pytest.fixture(scope="module")
def model():
    return load_model().full_synthesis()      # the release the pinned files are of


# ------------------------------------------------------------------------------------------ the format

def _h10(**kw):
    base = dict(motion_layer=True, copy_mode=True, motion_residual=((1, 1),), conditional_coder=b"\x01" * 8,
                network_float="bfloat16", intra_coder=True)
    return _header(**{**base, **kw})


def test_version_10_header_round_trip_and_its_keys():
    h = _h10()
    raw = encode_header(h)
    m = msgpack.unpackb(raw, strict_map_key=False)
    assert m[K_NETWORK_FLOAT] == 1 and m[K_INTRA_CODER] is True
    assert decode_header(raw, 10) == h
    # without the coders, the motion layer or even copy mode: key 21 alone makes it a 10.x header
    plain = _header(network_float="bfloat16")
    assert decode_header(encode_header(plain), 10) == plain
    check_header_for_version(BFLOAT16_VERSION, plain)
    # a 10.x header needs key 21, and 1 is its only value
    with pytest.raises(VqvFormatError, match="key 21"):
        decode_header(encode_header(_header()), 10)
    for bad in (0, 2, True, "bfloat16"):
        with pytest.raises(VqvFormatError, match="key 21"):
            decode_header(msgpack.packb({**m, K_NETWORK_FLOAT: bad}), 10)
    # before 10.x keys 21 and 22 are unknown keys: kept, and the networks compute in float32
    old = decode_header(msgpack.packb({**m}), 9)
    assert old.network_float == "float32" and not old.intra_coder and old.extra == {21: 1, 22: True}
    with pytest.raises(ValueError, match="key 22"):
        encode_header(_h10(conditional_coder=b""))


def test_writer_versions():
    assert version_for(True, False, True, False, True, True, True, True) == BFLOAT16_VERSION == (10, 0)
    assert version_for(False, False, bfloat16=True) == (10, 0)
    assert version_for(True, False, True, False, True, True, True) == (9, 0)
    with pytest.raises(ValueError, match="key 21"):
        check_header_for_version((10, 0), _h10(network_float="float32", intra_coder=False))
    with pytest.raises(ValueError, match="key 21"):
        check_header_for_version((9, 0), _h10(intra_coder=False))
    with pytest.raises(ValueError, match="key 22"):
        check_header_for_version((9, 0), _h10(network_float="float32"))
    with pytest.raises(ValueError, match="keys 21 and 22"):
        check_header_for_version((10, 0), _header(network_float="bfloat16", extra={22: True}))


# ------------------------------------------------------------------------------------------ the networks

def test_bfloat16_copies_keep_codebooks_and_linear_parts_and_decode_close(model):
    net = model.net
    half = model.computing_in("bfloat16")
    assert model.computing_in("bfloat16") is half and model.computing_in("float32") is model
    b = half.net
    assert b.compute_dtype == torch.bfloat16 and net.compute_dtype == torch.float32
    assert b.decoder[0].weight.dtype == torch.bfloat16 and net.decoder[0].weight.dtype == torch.float32
    for name in ("lin_dec", "lin_enc", "bottom_quantizer", "top_quantizer"):
        for (k, p), (_, q) in zip(getattr(net, name).state_dict().items(), getattr(b, name).state_dict().items()):
            assert p.dtype == q.dtype and torch.equal(p, q), (name, k)
    assert half.digest == model.digest
    for k, v in vars(model.motion_residual_basis).items():          # the residual's integer tables: the same
        assert np.array_equal(v, vars(half.motion_residual_basis)[k]), k
    x = pan_video(32, 64, 64, dx=2)
    codes = net.encode(x, stages=(2, 4))
    y32, y16 = net.decode(codes), b.decode(codes)
    assert not np.array_equal(y32, y16)
    assert psnr(y16, y32) > 45 and np.abs(y16.astype(int) - y32).max() <= 8
    with pytest.raises(ValueError):
        model.computing_in("float16")


def test_coder_copies_keep_the_linear_parts_and_synthesise_close():
    coder = default_conditional_coder()
    half = coder.computing_in("bfloat16")
    assert coder.computing_in("bfloat16") is half and coder.computing_in("float32") is coder
    assert half.tables is coder.tables and half.digest == coder.digest
    n32, n16 = coder.nets[0], half.nets[0]
    assert n16.dec_lin.weight.dtype == torch.float32 and torch.equal(n16.dec_lin.weight, n32.dec_lin.weight)
    assert n16.out[0].weight.dtype == torch.bfloat16
    pred = pan_video(4, 64, 64, dx=1)
    src = pan_video(4, 64, 64, dx=2)
    y = coder.symbols(coder.analysis(0, src, pred))
    r32, r16 = coder.reconstruct(0, y, pred), half.reconstruct(0, y, pred)
    assert psnr(r16, r32) > 45 and np.abs(r16.astype(int) - r32).max() <= 8


# ------------------------------------------------------------------------------------------ the codec

def test_bfloat16_round_trip_decodes_what_the_encoder_saw(model):
    x = golden_input()[:40]
    s = EncodeSettings.build(model, quality=QUALITY, refresh=0, network_float="bfloat16").for_size(64, 64)
    assert s.network_float == "bfloat16"
    data, seen = encode_seen(model, s, x)
    r = VqvReader(io.BytesIO(data))
    assert r.version == (10, 0) and r.network_float == "bfloat16" and r.intra_coder and r.conditional_coder
    np.testing.assert_array_equal(decode_bytes(data, model=model), seen)
    # the same clip in float32: a 9.0 file, of about the same size and quality
    s32 = EncodeSettings.build(model, quality=QUALITY, refresh=0, network_float="float32").for_size(64, 64)
    d32, seen32 = encode_seen(model, s32, x)
    assert VqvReader(io.BytesIO(d32)).version == (9, 0)
    assert abs(len(data) - len(d32)) < 0.1 * len(d32) and abs(psnr(seen, x) - psnr(seen32, x)) < 0.3
    # auto: bfloat16 exactly where this CPU has its instructions
    auto = EncodeSettings.build(model, quality=QUALITY, network_float="auto")
    assert auto.network_float == ("bfloat16" if bfloat16_is_native() else "float32")


def test_enhanced_point_in_bfloat16_has_no_first_slice_coders(model):
    data = encode_frames(golden_input()[:32], 16, model=model, quality=11, network_float="bfloat16",
                         scalar_context=False)          # (a 10.0 file; with the scalar layer's context 11.0)
    r = VqvReader(io.BytesIO(data))
    assert r.version == (10, 0) and r.conditional_coder and not r.intra_coder and not r.header.intra_coder
    assert decode_bytes(data, model=model).shape == (32, 64, 64, 3)


def test_same_bytes_and_pixels_for_any_thread_count(model):
    x = pan_video(72, 64, 64, dx=2)
    outs = []
    for n in (1, 2, 3):
        torch.set_num_threads(n)
        d = encode_frames(x, 16, model=model, refresh=1, network_float="bfloat16")
        outs.append((d, decode_bytes(d, model=model)))
    torch.set_num_threads(1)
    assert VqvReader(io.BytesIO(outs[0][0])).version == (10, 0)
    for d, y in outs[1:]:
        assert d == outs[0][0]
        np.testing.assert_array_equal(y, outs[0][1])


def test_golden_decodes_to_its_codes_and_frames_and_rewrites_to_the_same_bytes(model):
    data = (GOLDEN / "golden_bfloat16.vqv").read_bytes()
    reader = VqvReader(io.BytesIO(data))
    assert reader.version == (10, 0) and reader.network_float == "bfloat16" and reader.intra_coder
    want = np.load(GOLDEN / "golden_bfloat16_codes.npz")
    gops = []
    for g in read_gop_codes(reader, model):
        got = {**gop_arrays(g), f"gop{g.index}_motion_conditional_symbols": g.codes.motion.coder_symbols}
        for k, v in got.items():
            np.testing.assert_array_equal(v, want[k], err_msg=k)     # codes: bit-exact everywhere
        gops.append(EncodedGop(g.codes, g.frames, g.refresh))
    frames = decode_bytes(data, model=model)
    ref = np.load(GOLDEN / "golden_bfloat16_frames.npy")
    # pixels come from bfloat16 convolutions, which another CPU's kernels may round differently
    diff = np.abs(frames.astype(int) - ref.astype(int))
    assert frames.shape == ref.shape and diff.max() <= 2 and (diff > 0).mean() < 0.02
    h = reader.header
    settings = EncodeSettings(h.quality, model.point(h.quality), h.prior, rdo_strength=1.0, refresh=h.refresh_interval,
                              motion=True, motion_residual=reader.motion_residual,
                              motion_bends=int(model.cfg.bottom_factor[0]),
                              conditional_coder=default_conditional_coder().computing_in("bfloat16"),
                              intra_coder=reader.intra_coder, network_float="bfloat16")
    out = io.BytesIO()
    write_container(out, model, settings, gops, source_size=(h.source_width, h.source_height),
                    coded_size=(h.coded_width, h.coded_height), fps=h.fps_num / h.fps_den)
    assert out.getvalue() == data


def test_cli_option_report_and_info(tmp_path):
    src = tmp_path / "in.npy"
    np.save(src, golden_input()[:32])
    out = tmp_path / "out.vqv"
    r = CliRunner().invoke(main, ["encode", str(src), str(out), "--network-float", "bfloat16", "-q", "--json"])
    assert r.exit_code == 0, r.output
    assert '"network_float": "bfloat16"' in r.output
    r = CliRunner().invoke(main, ["info", str(out)])
    assert r.exit_code == 0 and ".vqv 10.0" in r.output and "networks in bfloat16" in r.output
    r = CliRunner().invoke(main, ["encode", str(src), str(tmp_path / "b.vqv"), "--network-float", "half"])
    assert r.exit_code == 2 and "half" in r.output


def test_a_cpu_without_bfloat16_instructions_emulates_them_close_to_the_golden(monkeypatch):
    """Where torch has no fast bfloat16 kernels the decoder runs the same arithmetic on float32 ones
    (vqcodec.net.bfloat16): the golden file's codes as everywhere, its pixels within the kernels' rounding."""
    import vqcodec.coding.decoder as decoder_mod
    from vqcodec.net import bfloat16
    from vqcodec.weights import load_conditional_coder, shipped_conditional_coder
    monkeypatch.setattr(bfloat16, "bfloat16_is_native", lambda: False)
    fresh = load_model().full_synthesis()                            # its bfloat16 copies made now, emulated
    coder = load_conditional_coder(shipped_conditional_coder())
    monkeypatch.setattr(decoder_mod, "conditional_coder_for_file", lambda digest: coder)
    emulated = fresh.computing_in("bfloat16")
    assert emulated.net.emulated and emulated.net.decoder[0].weight.dtype == torch.float32
    assert coder.computing_in("bfloat16").nets[0].emulated
    frames = decode_bytes((GOLDEN / "golden_bfloat16.vqv").read_bytes(), model=fresh)
    diff = np.abs(frames.astype(int) - np.load(GOLDEN / "golden_bfloat16_frames.npy"))
    assert diff.max() <= 2 and (diff > 0).mean() < 0.03


def test_latents_of_a_bfloat16_file_decode_to_its_frames(model, tmp_path):
    from vqcodec.latents import frames_from_latents, read_latents
    p = tmp_path / "b.vqv"
    p.write_bytes(encode_frames(golden_input()[:64], 16, model=model, quality=4, motion=False,
                                network_float="bfloat16"))
    lat = read_latents(p, model)
    assert lat.network_float == "bfloat16"
    want = decode_bytes(p.read_bytes(), model=model)
    got = [frames_from_latents(model, {"top": lat["top"][g], "bottom": lat["bottom"][g]},
                               network_float=lat.network_float, coded_frames=int(lat.coded_frames[g]))[:lat.frame_counts[g]]
           for g in range(len(lat))]
    np.testing.assert_array_equal(np.concatenate(got), want)


def test_a_forged_network_float_is_a_one_line_data_error(tmp_path):
    from formats_helpers import _chunks, _write
    from test_formats_v5 import _map, _with_header_map
    good = _write(_h10(frame_count=8, gop_length=4), _chunks(8, gop=4), (10, 0))
    assert VqvReader(io.BytesIO(good)).network_float == "bfloat16"
    for bad in (_with_header_map(good, {**_map(good), K_NETWORK_FLOAT: 2}),
                _with_header_map(good, {k: v for k, v in _map(good).items() if k != K_NETWORK_FLOAT})):
        p = tmp_path / "bad.vqv"
        p.write_bytes(bad)
        r = CliRunner().invoke(main, ["info", str(p)])
        assert r.exit_code == 1 and "key 21" in r.output and r.output.count("\n") == 1, r.output


def test_the_encode_reports_the_psnr_of_the_bfloat16_decode(model, tmp_path):
    """Without the motion layer the encoder makes no reconstruction of its own: the report's quality comes from
    a synthesis, which must be the file's (bfloat16), not float32."""
    from vqcodec.pipeline import encode_file
    src, out = tmp_path / "in.npy", tmp_path / "o.vqv"
    x = golden_input()[:32]
    np.save(src, x)
    r = encode_file(src, out, quality=4, motion=False, network_float="bfloat16", measure_quality=True,
                    progress=False, model=model)
    assert VqvReader(io.BytesIO(out.read_bytes())).network_float == "bfloat16"
    assert r["psnr"] == pytest.approx(psnr(decode_bytes(out.read_bytes(), model=model), x), abs=1e-9)
