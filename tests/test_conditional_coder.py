"""The conditional coders (version 8.0): a predicted block's residual coded by a trained network given the
slice's prediction (vqcodec.coding.conditional_coder). The shipped model and the shipped coders (their
4 x 8 x 8 blocks) on small 64x64 clips; the entropy layer on synthetic tables."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import sys
from pathlib import Path

import msgpack
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from vqcodec.cli.main import main
from vqcodec.codes import MotionField
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.encoder import EncodedGop, encode_frames, write_container
from vqcodec.coding.gop_coding import DecodeChannel, EncodeChannel
from vqcodec.coding.conditional_coder import ConditionalCoder
from vqcodec.coding.motion import MotionCoder
from vqcodec.coding.motion_residual import CoderTables, ResidualCoder
from vqcodec.entropy.rans import EntropyError
from vqcodec.errors import VqvError
from vqcodec.formats import CODER_VERSION, CrcError, VqvFormatError, VqvReader, VqvWriter, version_for
from vqcodec.formats.header import K_CONDITIONAL_CODER, decode_header, encode_header
from vqcodec.formats.versions import check_header_for_version
from vqcodec.pipeline import read_codes
from vqcodec.settings import EncodeSettings
from vqcodec.weights import (WeightsError, default_conditional_coder, load_conditional_coder, load_model,
                             shipped_conditional_coder)

from conftest import encode_seen, pan_video, session27_encoder
from formats_helpers import _header
from formats_helpers import with_payloads as _rewrite

GOLDEN = Path(__file__).parent / "golden"
ENCODER_SHA256 = "810e6b199c542a29"      # session 28: top copies, lambdas (27, three coders priced: 4a6cc5672e2a6bbf;
#                                          26, two: a029ac45d01ba821; 25: 3c83f9c86aa18609)
sys.path.insert(0, str(GOLDEN))
from make_golden_conditional import QUALITY, golden_input  # noqa: E402
from make_golden_residual import gop_arrays  # noqa: E402

pytestmark = pytest.mark.usefixtures("padded_gops")   # files of before 13.0: pinned bytes and versions


@pytest.fixture(scope="module")
def model():
    return load_model().full_synthesis()      # the release the pinned files are of


@pytest.fixture(scope="module")
def golden():
    return (GOLDEN / "golden_conditional.vqv").read_bytes()


def _first_coder(reader: VqvReader) -> int:
    return len(reader.motion_residual) + 1


def _settings_of(model, reader: VqvReader) -> EncodeSettings:
    h = reader.header
    return EncodeSettings(h.quality, model.point(h.quality), h.prior, rdo_strength=1.0, refresh=h.refresh_interval,
                          motion=True, motion_residual=reader.motion_residual,
                          motion_bends=int(model.cfg.bottom_factor[0]) if reader.motion_bends else 0,
                          conditional_coder=default_conditional_coder(), intra_coder=reader.intra_coder)


# ------------------------------------------------------------------------------------------ the shipped coders
def test_the_shipped_coders_load_and_fit_the_shipped_model(model):
    coder = default_conditional_coder()
    assert coder is not None and coder.coders == len(coder.lambdas) >= 2 and coder.fits(tuple(model.cfg.bottom_factor))
    t = coder.tables
    assert t.freqs.shape == (coder.coders, t.channels, len(t.edges) + 1, 2 * t.limit + 1)
    assert (t.freqs.sum(-1) == 1 << 24).all()
    assert (t.freqs >= 1).all() and np.isfinite(t.bits).all()
    assert coder.digest == bytes.fromhex(hashlib.sha256(shipped_conditional_coder().read_bytes()).hexdigest())[:8]


def test_a_damaged_coder_file_is_a_one_line_error(tmp_path):
    for field, damage in (("counts", lambda b: b["coders"][0].update(counts=b["coders"][0]["counts"][..., :5])),
                          ("edges", lambda b: b.update(edges=[3, 2])), ("edges", lambda b: b.pop("edges"))):
        blob = torch.load(shipped_conditional_coder(), weights_only=True)
        damage(blob)
        bad = tmp_path / "bad.pt"
        torch.save(blob, bad)
        with pytest.raises(WeightsError, match=field) as e:
            load_conditional_coder(bad)
        assert "\n" not in str(e.value)
    bad.write_bytes(b"not a coder file")
    with pytest.raises(WeightsError):
        load_conditional_coder(bad)


# ------------------------------------------------------------------------------------------ the entropy layer
@pytest.mark.parametrize("edges", [(), (1, 3, 7)])
def test_coder_symbols_round_trip_through_the_motion_layer_and_out_of_range_is_refused(edges):
    rng = np.random.default_rng(5)
    limit, channels = 7, 3
    tables = CoderTables(rng.integers(0, 50, (2, channels, len(edges) + 1, 2 * limit + 1)).astype(np.int64) + 1,
                         limit, edges)
    options = ((1, 1), (2, 1))
    grid = (4, 3, 5)
    for trial in range(5):
        flags = rng.random(grid) < 0.6
        flags[0] = False                           # a refresh GOP's first slice predicts nothing
        option = np.where(flags, rng.integers(0, 5, grid), 0).astype(np.int32)   # 3, 4: the two coders
        codes = np.where((flags & (option >= 1) & (option <= 2))[..., None], rng.integers(0, 64, (*grid, 1)), 0)
        symbols = np.where((flags & (option >= 3))[..., None], rng.integers(-limit, limit + 1, (*grid, channels)), 0)
        field = MotionField(flags, np.zeros((*grid, 2), np.int32), option, codes.astype(np.int32), None,
                            symbols.astype(np.int32))
        ch = EncodeChannel()
        MotionCoder(residual=ResidualCoder(options, 64, coder=tables)).code(ch, grid, field, None, flags)
        payload = ch.payload(True)
        dec = DecodeChannel(payload, True)
        got = MotionCoder(residual=ResidualCoder(options, 64, coder=tables)).code(dec, grid, None, None, flags)
        dec.finish()
        np.testing.assert_array_equal(got.residual, option)
        np.testing.assert_array_equal(got.coder_symbols, symbols)
        np.testing.assert_array_equal(got.residual_codes, codes)
        assert ch.bits.get("motion.conditional", 0) > 0 or not (option >= 3).any()
    bad = dataclasses.replace(field, coder_symbols=np.where(field.coder_symbols != 0, limit + 1, 0).astype(np.int32))
    if (option >= 3).any():
        with pytest.raises(EntropyError, match="beyond"):
            MotionCoder(residual=ResidualCoder(options, 64, coder=tables)).code(EncodeChannel(), grid, bad, None, flags)


def test_the_encoder_codes_a_coders_symbols_as_one_stream_to_the_bytes_of_one_per_channel():
    """The encoder knows every channel's context up front and codes the symbols in one call; the decoder,
    which learns each context from the channels before, pops them channel by channel: the same bytes."""
    rng = np.random.default_rng(21)
    limit, channels, edges, m = 6, 5, (1, 3, 6), 17
    tables = CoderTables(rng.integers(1, 500, (2, channels, len(edges) + 1, 2 * limit + 1)).astype(np.int64),
                         limit, edges)
    symbols = rng.laplace(0, 2.0, (m, channels)).round().clip(-limit, limit).astype(np.int32)
    one = EncodeChannel()
    ResidualCoder(((1, 1),), 64, coder=tables)._code_symbols(one, 1, m, symbols)
    per_channel, activity = EncodeChannel(), np.zeros(m, np.int64)          # the reference: channel by channel
    for c in range(channels):
        per_channel.code(tables.select(1, c, tables.contexts(activity)), m, symbols[:, c] + limit, "motion.conditional")
        activity += np.abs(symbols[:, c])
    assert one.payload(True) == per_channel.payload(True)
    assert one.bits["motion.conditional"] == pytest.approx(per_channel.bits["motion.conditional"], rel=1e-12)
    dec = DecodeChannel(one.payload(True), True)
    np.testing.assert_array_equal(ResidualCoder(((1, 1),), 64, coder=tables)._code_symbols(dec, 1, m, None), symbols)
    dec.finish()
    assert dec.bits["motion.conditional"] == pytest.approx(one.bits["motion.conditional"], rel=1e-9)
    # the decoder's lean pop (code_rows) is the generic one's: same symbols, bits and checks
    rows = (1 * channels + 2) * (len(edges) + 1) + rng.integers(0, len(edges) + 1, m)
    enc = EncodeChannel()
    sym = rng.integers(0, 2 * limit + 1, m)
    enc.code(tables.table_set.select(rows), m, sym, "x")
    lean, generic = DecodeChannel(enc.payload(True), True), DecodeChannel(enc.payload(True), True)
    np.testing.assert_array_equal(lean.code_rows(tables.table_set, rows, "x"), sym)
    np.testing.assert_array_equal(generic.code(tables.table_set.select(rows), m, None, "x"), sym)
    assert lean.bits == generic.bits
    lean.finish()
    empty = DecodeChannel(EncodeChannel().payload(True), True)
    with pytest.raises(EntropyError):
        for _ in range(64):                    # an exhausted payload is refused, never read as zeros
            empty.code_rows(tables.table_set, rows, "x")


def test_the_encoders_price_of_a_block_is_what_its_symbols_cost_under_their_contexts():
    rng = np.random.default_rng(9)
    limit, channels, edges = 5, 6, (1, 2, 4, 8)
    tables = CoderTables(rng.integers(1, 1000, (1, channels, len(edges) + 1, 2 * limit + 1)).astype(np.int64),
                         limit, edges)
    coder = ConditionalCoder((None,), tables, b"\0" * 8)
    symbols = rng.laplace(0, 1.5, (3, 4, channels)).round().clip(-limit, limit).astype(np.int32)
    ch = EncodeChannel()
    ResidualCoder(((1, 1),), 64, coder=tables)._code_symbols(ch, 0, 12, symbols.reshape(12, channels))
    assert coder.block_bits(0, symbols).sum() == pytest.approx(ch.bits["motion.conditional"], rel=1e-9)
    # a block's context for channel c is how many edges the magnitudes of its channels before c reach
    act = np.cumsum(np.abs(symbols), -1) - np.abs(symbols)
    np.testing.assert_array_equal(tables.all_contexts(symbols), (act[..., None] >= np.array(edges)).sum(-1))


def test_the_encoder_prices_the_two_coders_trained_nearest_the_slices_lambda():
    def coders(*lambdas):
        return ConditionalCoder((None,) * len(lambdas), None, b"", lambdas)
    four = coders(0.0004, 0.001, 0.003, 0.01)
    assert four.priced(3 / 0.0004, 2) == [0, 1] and four.priced(3 / 0.0028, 2) == [1, 2]
    assert four.priced(3 / 0.005, 2) == [2, 3] and four.priced(3 / 0.05, 2) == [2, 3]
    assert coders(0.001, 0.003).priced(1e6, 2) == [0, 1] and coders(0.0, 0.0, 0.0).priced(100.0, 2) == [0, 1, 2]
    assert four.priced(3 / 0.0028) == [1, 2, 3]               # medium's default: the three nearest


def test_version_8_headers_need_the_coders_digest():
    h = dataclasses.replace(_header(), copy_mode=True, motion_layer=True, motion_residual=((1, 1),),
                            motion_bends=True, conditional_coder=b"12345678")
    assert decode_header(encode_header(h), 8).conditional_coder == b"12345678"
    assert decode_header(encode_header(h), 7).extra == {K_CONDITIONAL_CODER: b"12345678"}   # unknown before 8.x
    without = msgpack.packb({k: v for k, v in msgpack.unpackb(encode_header(h), strict_map_key=False).items()
                             if k != K_CONDITIONAL_CODER}, use_bin_type=True)
    with pytest.raises(VqvFormatError, match="key 20"):
        decode_header(without, 8)
    check_header_for_version(CODER_VERSION, h)
    with pytest.raises(ValueError, match="key 20"):
        check_header_for_version((7, 0), h)
    with pytest.raises(ValueError, match="key 20"):
        check_header_for_version(CODER_VERSION, dataclasses.replace(h, conditional_coder=b""))
    assert version_for(True, False, True, False, True, True) == CODER_VERSION == (8, 0)


# ------------------------------------------------------------------------------------------ the golden file
def test_the_golden_file_decodes_to_its_codes_and_frames_and_rewrites_to_the_same_bytes(model, golden):
    reader = VqvReader(io.BytesIO(golden))
    assert reader.version == (8, 0) and reader.conditional_coder == default_conditional_coder().digest
    assert reader.refresh_points() == [0] and reader.motion_bends
    want = np.load(GOLDEN / "golden_conditional_codes.npz")
    got = list(read_gop_codes(reader, model))
    assert len(got) == 2 and not got[1].refresh
    first = _first_coder(reader)
    for g in got:
        arrays = gop_arrays(g)
        arrays[f"gop{g.index}_motion_conditional_symbols"] = g.codes.motion.coder_symbols
        assert set(arrays) == {k for k in want.files if k.startswith(f"gop{g.index}_")}
        for key, arr in arrays.items():
            np.testing.assert_array_equal(arr, want[key])
        m = g.codes.motion
        coded = m.residual >= first
        assert coded.any() and not (coded & ~m.flags).any()          # coder blocks in each GOP, all predicted
        assert not m.coder_symbols[~coded].any() and not m.residual_codes[coded].any()
    frames, ref = decode_bytes(golden, model=model), np.load(GOLDEN / "golden_conditional_frames.npy")
    assert frames.shape == ref.shape == (40, 64, 64, 3)
    diff = np.abs(frames.astype(int) - ref.astype(int))              # (floats may round 1 LSB apart elsewhere)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01
    gops = [EncodedGop(g.codes, g.frames, reader.is_refresh(g.index)) for g in got]
    out = io.BytesIO()
    h = reader.header
    write_container(out, model, _settings_of(model, reader), gops, source_size=(h.source_width, h.source_height),
                    coded_size=(h.coded_width, h.coded_height), fps=h.fps_num / h.fps_den)
    assert out.getvalue() == golden


def test_the_golden_clip_encodes_as_pinned_and_the_decoder_makes_what_the_encoder_saw(model):
    settings = EncodeSettings.build(model, quality=QUALITY, refresh=0, intra_coder=False)     # 8.0 (9.0: test_intra_coder)
    data, seen = encode_seen(model, settings, golden_input())
    # the golden keeps the bytes of the encoder that made it (session 22); today's encoder's file is pinned
    # by its hash, to be updated only with a deliberate encoder change (session 23: slices wholly of padding
    # repeat the frame before them; the golden clip's last GOP has some)
    assert hashlib.sha256(data).hexdigest()[:16] == ENCODER_SHA256, len(data)
    np.testing.assert_array_equal(decode_bytes(data, model=model), seen)


def test_with_session_28s_tuning_undone_the_golden_clip_encodes_as_in_session_27(model, monkeypatch):
    session27_encoder(monkeypatch)
    settings = EncodeSettings.build(model, quality=QUALITY, refresh=0, intra_coder=False)
    data, _ = encode_seen(model, settings, golden_input())
    assert hashlib.sha256(data).hexdigest()[:16] == "4a6cc5672e2a6bbf", len(data)


def test_with_the_nearest_rounding_alone_the_golden_clip_encodes_as_before_the_dead_zones(model, monkeypatch):
    from vqcodec import settings as settings_module
    from vqcodec.coding.effort import Effort
    monkeypatch.setitem(settings_module.PRESETS, "medium", settings_module.Preset(effort=Effort(dead_zones=(0.0,),
                                                                                                   coders=2)))
    session27_encoder(monkeypatch)
    settings = EncodeSettings.build(model, quality=QUALITY, refresh=0, intra_coder=False)
    data, _ = encode_seen(model, settings, golden_input())
    assert hashlib.sha256(data).hexdigest()[:16] == "3c83f9c86aa18609", len(data)   # session 25's pin


def test_with_two_coders_priced_the_golden_clip_encodes_as_in_session_26(model, monkeypatch):
    from vqcodec import settings as settings_module
    from vqcodec.coding.effort import Effort
    monkeypatch.setitem(settings_module.PRESETS, "medium", settings_module.Preset(effort=Effort(coders=2)))
    session27_encoder(monkeypatch)
    settings = EncodeSettings.build(model, quality=QUALITY, refresh=0, intra_coder=False)
    data, _ = encode_seen(model, settings, golden_input())
    assert hashlib.sha256(data).hexdigest()[:16] == "a029ac45d01ba821", len(data)


def test_a_dead_zone_rounds_toward_zero_what_lies_within_it_of_the_half():
    tables = CoderTables(np.ones((1, 1, 1, 9), np.int64), 4, ())
    coder = ConditionalCoder((None,), tables, b"\0" * 8)
    y = torch.tensor([[[0.64, -0.64, 0.75, 1.7, -1.7, 1.2, 9.6, -0.2]]])
    assert coder.symbols(y).tolist() == [[[1, -1, 1, 2, -2, 1, 4, 0]]]
    assert coder.symbols(y, 0.15).tolist() == [[[0, 0, 1, 2, -2, 1, 4, 0]]]
    assert coder.symbols(y, 0.3).tolist() == [[[0, 0, 0, 1, -1, 1, 4, 0]]]


def test_the_linear_image_of_a_symbols_change_stays_in_its_block_and_is_the_synthesis_linear_part():
    coder = default_conditional_coder()
    delta = np.zeros((3, 4, coder.tables.channels), np.float32)
    delta[1, 2, 5] = 1.0
    img = coder.linear_image(1, delta)
    assert img.shape == (4, 24, 32, 3) and np.abs(img[:, 8:16, 16:24]).max() > 0
    img[:, 8:16, 16:24] = 0
    assert not img.any()
    # the synthesis's own linear term: dec_lin(symbols) in 0..1 units, x 255
    with torch.no_grad():
        lin = coder.nets[1].dec_lin(torch.from_numpy(delta.transpose(2, 0, 1).copy())[None])[0]
    np.testing.assert_allclose(coder.linear_image(1, delta), (lin * 255).reshape(4, 3, 24, 32).permute(0, 2, 3, 1).numpy())


def test_the_dead_zones_never_raise_a_blocks_priced_cost_and_lower_some():
    from vqcodec.coding.conditional_coder import _cheaper_coders
    from vqcodec.coding.effort import Effort
    from vqcodec.coding.motion_search import block_sse
    coder = default_conditional_coder()
    x = pan_video(8, 64, 64, dx=3, dy=1)
    source, pred = x[4:], np.repeat(x[3:4], 4, 0)                 # a slice and its (still) prediction
    lam = 3 / coder.lambdas[1]
    cost = block_sse(pred, source, (8, 8)).astype(np.float64) + lam * 1.0
    nearest = _cheaper_coders(coder, source, pred, lam, cost, (0.0,))[3]
    dead = _cheaper_coders(coder, source, pred, lam, cost, Effort().dead_zones)[3]
    assert len(Effort().dead_zones) > 1 and (nearest < cost).any() and (dead <= nearest).all() and (dead < nearest).any()


def test_damage_to_a_version_8_payload_names_its_gop(model, golden):
    reader = VqvReader(io.BytesIO(golden))
    bad = bytearray(golden)
    bad[reader._offsets[1] + 12] ^= 0x10
    with pytest.raises(CrcError, match="GOP 1"):                 # the chunk's CRC finds it
        decode_bytes(bytes(bad), model=model)
    # under a good CRC the codec finds nearly every flip, and says which GOP (a flip inside a code under a
    # uniform table, or a symbol under a flat one, may decode to other values: the CRC is what rules that out)
    p = reader.read_chunk(1).payload
    caught = 0
    positions = range(0, len(p), max(1, len(p) // 24))
    for pos in positions:
        damaged = bytearray(p)
        damaged[pos] ^= 0x21
        try:
            decode_bytes(_rewrite(golden, {1: bytes(damaged)}), model=model)
        except (EntropyError, VqvError) as e:
            assert "GOP 1" in str(e) and "\n" not in str(e)
            caught += 1
    assert caught >= 0.8 * len(positions), (caught, len(positions))
    with pytest.raises((EntropyError, VqvError), match="GOP 1"):
        decode_bytes(_rewrite(golden, {1: p[:-2]}), model=model)


def test_a_file_naming_coders_this_vqv_lacks_is_a_clear_error(model, golden, tmp_path):
    reader = VqvReader(io.BytesIO(golden))
    out = io.BytesIO()
    with VqvWriter(out, reader.version) as w:
        for i in range(len(reader)):
            w.write_chunk(reader.read_chunk(i))
        w.finish(dataclasses.replace(reader.header, conditional_coder=b"\x00" * 8, sections=()))
    with pytest.raises(VqvError, match="does not ship"):
        decode_bytes(out.getvalue(), model=model)
    bad = tmp_path / "bad.vqv"
    bad.write_bytes(out.getvalue())
    r = CliRunner().invoke(main, ["decode", str(bad), str(tmp_path / "o.npy")])
    assert r.exit_code == 1 and "does not ship" in r.output and "Traceback" not in r.output


# ------------------------------------------------------------------------------------------ behaviour
def test_the_same_bytes_and_pixels_for_1_2_and_3_threads(model):
    x = pan_video(24, 64, 64, dx=2, dy=1)
    got = set()
    before = torch.get_num_threads()
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            data = encode_frames(x, 16, model=model, quality=QUALITY)
            got.add((data, decode_bytes(data, model=model).tobytes()))
    finally:
        torch.set_num_threads(before)
    assert len(got) == 1
    data = next(iter(got))[0]
    reader = VqvReader(io.BytesIO(data))
    assert reader.version == (9, 0)                  # the first slice's blocks may take a coder too
    assert any((g.codes.motion.residual[1:] >= _first_coder(reader)).any() for g in read_gop_codes(reader, model))
    assert (next(read_gop_codes(reader, model)).codes.motion.residual[0] >= _first_coder(reader)).any()


def test_the_option_off_writes_the_format_before_and_codes_exports_the_symbols(model, golden, tmp_path):
    x = pan_video(16, 64, 64, dx=2, dy=1)
    off = encode_frames(x, 16, model=model, quality=QUALITY, conditional_coder=False)
    assert VqvReader(io.BytesIO(off)).version == (7, 0)
    src = tmp_path / "in.npy"
    np.save(src, x)
    r = CliRunner().invoke(main, ["encode", str(src), str(tmp_path / "off.vqv"), "--no-conditional-coder",
                                  "--quality", str(QUALITY)])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "off.vqv").read_bytes() == encode_frames(x, 16, model=load_model(), quality=QUALITY,
                                                                conditional_coder=False)    # the CLI's: the default
    (tmp_path / "g.vqv").write_bytes(golden)
    arrays = read_codes(tmp_path / "g.vqv").arrays()
    assert arrays["motion_conditional_symbols"].shape[-1] == default_conditional_coder().tables.channels
    assert (arrays["motion_residual"] >= 5).any()


def test_info_and_the_encode_report_show_the_coders_share_and_bits(golden, tmp_path):
    (tmp_path / "g.vqv").write_bytes(golden)
    r = CliRunner().invoke(main, ["info", str(tmp_path / "g.vqv")])
    assert r.exit_code == 0 and "made by a conditional coder (" in r.output, r.output
    assert f"conditional coders {default_conditional_coder().digest.hex()}" in r.output
    src = tmp_path / "in.npy"
    np.save(src, pan_video(16, 64, 64, dx=3, dy=2))
    r = CliRunner().invoke(main, ["encode", str(src), str(tmp_path / "o.vqv"), "--quality", str(QUALITY), "--json"])
    assert r.exit_code == 0, r.output
    import json
    m = json.loads(r.output)["motion"]
    assert 0 < m["conditional"] <= 1 and m["conditional_bits"] > 0


def test_the_faster_presets_leave_the_coders_out_unless_asked(model):
    for preset, want in (("medium", True), ("fast", True), ("faster", False), ("veryfast", False)):
        assert (EncodeSettings.build(model, quality=QUALITY, preset=preset).conditional is not None) == want
    asked = EncodeSettings.build(model, quality=QUALITY, preset="faster", conditional_coder=True)
    assert asked.conditional is not None
    assert EncodeSettings.build(model, quality=QUALITY, motion_residual=False).conditional is None   # needs it
    assert EncodeSettings.build(model, quality=QUALITY, preset="ultrafast").conditional is None      # no motion


def test_large_frames_leave_the_coders_out_unless_asked(model):
    s = EncodeSettings.build(model, quality=QUALITY)
    assert s.for_size(640, 480).conditional is not None and s.for_size(320, 240) is s
    assert s.for_size(1280, 720).conditional is None and s.for_size(1280, 720).residual_options
    asked = EncodeSettings.build(model, quality=QUALITY, conditional_coder=True)
    assert asked.for_size(1280, 720).conditional is not None


def test_the_synthesis_with_channels_last_transposed_convs_computes_the_plain_network():
    from vqcodec.net.conditional_coder import ConditionalCoderNet
    torch.manual_seed(3)
    net = ConditionalCoderNet(8, 16, 8).eval()
    y, p = torch.randn(1, 8, 3, 5).round(), torch.rand(1, 12, 24, 40)
    with torch.no_grad():
        f1 = net.p1(p)
        f2 = net.p2(f1)
        h = net.s1(torch.cat([net.s2(torch.cat([net.s3(torch.cat([y, net.p3(f2)], 1)), f2], 1)), f1], 1))
        plain = p + net.dec_lin(y) + net.out(torch.cat([h, p], 1))
        got = net.synthesis(y, p)
    assert got.is_contiguous() and torch.allclose(got, plain, atol=1e-5)
