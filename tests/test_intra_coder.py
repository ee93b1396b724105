"""The conditional coders on a refresh GOP's first slice (version 9.0): where a coder, conditioned on the
network's reconstruction, codes a block for less than that reconstruction costs in D + lambda R, the block
takes it, and the next slice predicts from the better frame. The shipped model and coders on small 64x64
clips; the entropy layer on synthetic tables."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import sys
from pathlib import Path

import msgpack
import numpy as np
import pytest
from click.testing import CliRunner

from vqcodec.cli.main import main
from vqcodec.codes import MotionField
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.encoder import EncodedGop, encode_frames, write_container
from vqcodec.coding.gop_coding import DecodeChannel, EncodeChannel
from vqcodec.coding.motion import MotionCoder
from vqcodec.coding.motion_residual import CoderTables, ResidualCoder
from vqcodec.entropy.rans import EntropyError
from vqcodec.errors import VqvError
from vqcodec.formats import INTRA_CODER_VERSION, CrcError, VqvFormatError, VqvReader, version_for
from vqcodec.formats.header import K_CONDITIONAL_CODER, decode_header, encode_header
from vqcodec.formats.versions import check_header_for_version
from vqcodec.metrics import psnr
from vqcodec.settings import EncodeSettings
from vqcodec.weights import default_conditional_coder, load_model

from conftest import encode_seen, pan_video, session27_encoder
from formats_helpers import _header
from formats_helpers import flips_refused
from formats_helpers import with_payloads as _rewrite

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
from make_golden_conditional import QUALITY, golden_input  # noqa: E402
from make_golden_residual import gop_arrays  # noqa: E402

pytestmark = pytest.mark.usefixtures("padded_gops")   # files of before 13.0: pinned bytes and versions

ENCODER_SHA256 = "a68bebffe6beda23"      # session 28: top copies, lambdas (27, three coders priced: 7ca5265661b670ac;
#                                          26: caab2d2507b34228; 25: ca6fe4edea4d4672; the golden's: 70606ba74bcb2e7a)


@pytest.fixture(scope="module")
def model():
    return load_model().full_synthesis()      # the release the pinned files are of


@pytest.fixture(scope="module")
def golden():
    return (GOLDEN / "golden_intra.vqv").read_bytes()


def _first_coder(reader: VqvReader) -> int:
    return len(reader.motion_residual) + 1


# ------------------------------------------------------------------------------------------ the entropy layer
def test_first_slice_coders_round_trip_and_only_coders_are_allowed_there():
    rng = np.random.default_rng(3)
    limit, channels = 6, 4
    tables = CoderTables(rng.integers(1, 60, (3, channels, 2, 2 * limit + 1)).astype(np.int64), limit, (2,))
    options = ((1, 1), (2, 1))                     # the coders are options 3, 4, 5
    grid = (3, 4, 5)
    for trial in range(4):
        flags = rng.random(grid) < 0.5
        flags[0] = False
        option = np.where(flags, rng.integers(0, 6, grid), 0).astype(np.int32)
        option[0] = np.where(rng.random(grid[1:]) < 0.5, rng.integers(3, 6, grid[1:]), 0)
        codes = np.where((flags & (option >= 1) & (option <= 2))[..., None], rng.integers(0, 64, (*grid, 1)), 0)
        symbols = np.where((option >= 3)[..., None], rng.integers(-limit, limit + 1, (*grid, channels)), 0)
        field = MotionField(flags, np.zeros((*grid, 2), np.int32), option, codes.astype(np.int32), None,
                            symbols.astype(np.int32))
        ch = EncodeChannel()
        MotionCoder(residual=ResidualCoder(options, 64, coder=tables, intra=True)).code(ch, grid, field, None, flags)
        dec = DecodeChannel(ch.payload(True), True)
        got = MotionCoder(residual=ResidualCoder(options, 64, coder=tables, intra=True)).code(dec, grid, None, None,
                                                                                              flags)
        dec.finish()
        np.testing.assert_array_equal(got.residual, option)
        np.testing.assert_array_equal(got.coder_symbols, symbols)
        assert ch.bits["motion.intra"] > 0
    # without the version-9 syntax a first-slice option is a residual on a block that is not predicted
    with pytest.raises(EntropyError, match="not predicted"):
        MotionCoder(residual=ResidualCoder(options, 64, coder=tables)).code(EncodeChannel(), grid, field, None, flags)
    # with it, a first-slice block may take a coder, not a stage option
    stage = dataclasses.replace(field, residual=np.where(np.arange(3)[:, None, None] == 0, 1, field.residual))
    with pytest.raises(EntropyError, match="not a conditional coder"):
        MotionCoder(residual=ResidualCoder(options, 64, coder=tables, intra=True)).code(EncodeChannel(), grid, stage,
                                                                                        None, flags)


def test_version_9_headers_need_the_coders_digest_and_the_writer_picks_9_only_with_the_first_slice():
    h = dataclasses.replace(_header(), copy_mode=True, motion_layer=True, motion_residual=((1, 1),),
                            motion_bends=True, conditional_coder=b"12345678")
    assert decode_header(encode_header(h), 9).conditional_coder == b"12345678"
    without = msgpack.packb({k: v for k, v in msgpack.unpackb(encode_header(h), strict_map_key=False).items()
                             if k != K_CONDITIONAL_CODER}, use_bin_type=True)
    with pytest.raises(VqvFormatError, match="key 20"):
        decode_header(without, 9)
    check_header_for_version(INTRA_CODER_VERSION, h)
    with pytest.raises(ValueError, match="key 20"):
        check_header_for_version(INTRA_CODER_VERSION, dataclasses.replace(h, conditional_coder=b""))
    assert version_for(True, False, True, False, True, True, True) == INTRA_CODER_VERSION == (9, 0)
    assert version_for(True, False, True, False, True, True, False) == (8, 0)
    assert version_for(True, False, True, False, True, False, True) == (7, 0)     # no coders: nothing to refine


# ------------------------------------------------------------------------------------------ the golden file
def test_the_golden_file_decodes_to_its_codes_and_frames_and_rewrites_to_the_same_bytes(model, golden):
    reader = VqvReader(io.BytesIO(golden))
    assert reader.version == (9, 0) and reader.intra_coder
    h = reader.header
    want = np.load(GOLDEN / "golden_intra_codes.npz")
    gops = []
    for g in read_gop_codes(reader, model):
        arrays = gop_arrays(g)
        arrays[f"gop{g.index}_motion_conditional_symbols"] = g.codes.motion.coder_symbols
        for k, v in arrays.items():
            np.testing.assert_array_equal(v, want[k], err_msg=k)
        gops.append(EncodedGop(g.codes, g.frames, g.refresh))
    assert (want["gop0_motion_residual"][0] >= _first_coder(reader)).any()
    np.testing.assert_array_equal(decode_bytes(golden, model=model), np.load(GOLDEN / "golden_intra_frames.npy"))
    settings = EncodeSettings(h.quality, model.point(h.quality), h.prior, rdo_strength=1.0, refresh=h.refresh_interval,
                              motion=True, motion_residual=reader.motion_residual,
                              motion_bends=int(model.cfg.bottom_factor[0]), conditional_coder=default_conditional_coder(),
                              intra_coder=reader.intra_coder)
    out = io.BytesIO()
    write_container(out, model, settings, gops, source_size=(h.source_width, h.source_height),
                    coded_size=(h.coded_width, h.coded_height), fps=h.fps_num / h.fps_den)
    assert out.getvalue() == golden


def test_the_golden_clip_encodes_as_pinned_and_the_decoder_makes_what_the_encoder_saw(model):
    settings = EncodeSettings.build(model, quality=QUALITY, refresh=0)
    assert settings.intra_refinement
    data, seen = encode_seen(model, settings, golden_input())
    assert hashlib.sha256(data).hexdigest()[:16] == ENCODER_SHA256, len(data)
    np.testing.assert_array_equal(decode_bytes(data, model=model), seen)


def test_with_session_28s_tuning_undone_the_golden_clip_encodes_as_in_session_27(model, monkeypatch):
    session27_encoder(monkeypatch)
    data, _ = encode_seen(model, EncodeSettings.build(model, quality=QUALITY, refresh=0), golden_input())
    assert hashlib.sha256(data).hexdigest()[:16] == "7ca5265661b670ac", len(data)


def test_damage_to_the_first_slices_coders_names_its_gop(model, golden):
    reader = VqvReader(io.BytesIO(golden))
    bad = bytearray(golden)
    bad[reader._offsets[0] + 20] ^= 0x04
    with pytest.raises(CrcError, match="GOP 0"):
        decode_bytes(bytes(bad), model=model)
    p = reader.read_chunk(0).payload
    with pytest.raises((EntropyError, VqvError), match="GOP 0"):
        decode_bytes(_rewrite(golden, {0: p[:-2]}), model=model)
    # under a good CRC the codec finds nearly every flip and says which GOP (GOP 0's motion layer starts with
    # the first slice's coder options and symbols)
    caught, tried = flips_refused(golden, lambda d: decode_bytes(d, model=model))
    assert caught >= 0.8 * tried, (caught, tried)


# ------------------------------------------------------------------------------------------ behaviour
def test_the_first_slice_is_better_and_the_option_off_and_enhanced_points_write_8_0(model, tmp_path):
    x = pan_video(16, 64, 64, dx=2, dy=1)
    on = encode_frames(x, 16, model=model, quality=QUALITY)
    off = encode_frames(x, 16, model=model, quality=QUALITY, intra_coder=False)
    r_on, r_off = VqvReader(io.BytesIO(on)), VqvReader(io.BytesIO(off))
    assert (r_on.version, r_off.version) == ((9, 0), (8, 0)) and not r_off.intra_coder
    y_on, y_off = decode_bytes(on, model=model), decode_bytes(off, model=model)
    assert psnr(y_on[:4], x[:4]) > psnr(y_off[:4], x[:4])
    g = next(read_gop_codes(r_on, model))
    refined = g.codes.motion.residual[0] >= _first_coder(r_on)
    assert refined.any() and not g.codes.motion.flags[0].any()
    src = tmp_path / "in.npy"
    np.save(src, x)
    r = CliRunner().invoke(main, ["encode", str(src), str(tmp_path / "off.vqv"), "--no-intra-coder",
                                  "--quality", str(QUALITY)])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "off.vqv").read_bytes() == encode_frames(x, 16, model=load_model(), quality=QUALITY,
                                                                intra_coder=False)      # the CLI's: the default
    enhanced = next(q for q in model.qualities if model.point(q).enhanced)
    assert not EncodeSettings.build(model, quality=enhanced).intra_refinement
    assert not EncodeSettings.build(model, quality=QUALITY, conditional_coder=False).intra_refinement


def test_info_and_the_encode_report_show_the_first_slices_share_and_bits(golden, tmp_path):
    (tmp_path / "g.vqv").write_bytes(golden)
    r = CliRunner().invoke(main, ["info", str(tmp_path / "g.vqv")])
    assert r.exit_code == 0 and "first-slice blocks refined by a coder (" in r.output, r.output
    src = tmp_path / "in.npy"
    np.save(src, pan_video(16, 64, 64, dx=3, dy=2))
    r = CliRunner().invoke(main, ["encode", str(src), str(tmp_path / "o.vqv"), "--quality", str(QUALITY), "--json"])
    assert r.exit_code == 0, r.output
    import json
    m = json.loads(r.output)["motion"]
    assert 0 < m["intra"] <= 1 and m["intra_bits"] > 0
    assert m["conditional"] <= 1           # the first slice's blocks are not counted among the predicted
