"""Scene cuts (format 12.0): with the motion layer, from Q4, a GOP ends before a scene cut that falls inside a slice,
padded as a last GOP is, and a refresh GOP starts at the cut; the header's key 23 lists the GOPs so cut
short. The files here are written with ``trim_gops=False`` (12.0: every GOP padded to 32 frames; trimming, 13.0,
has its own tests in test_trimmed_gops.py). ``golden_scene_cut.vqv`` (tests/golden/make_golden_scene_cut.py): 12.0, the shipped model at Q4, 40 frames
of the sample clip with a cut at frame 14."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vqcodec.cli.main import main
from vqcodec.coding.decoder import DamagedGop, DamageLog, decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.scene_cuts import CUT_RATIO, SceneCuts, cut_ratio, grey
from vqcodec.formats import GopChunk, Header, VqvFormatError, VqvReader, VqvWriter
from vqcodec.formats.header import decode_header, encode_header
from vqcodec.settings import EncodeSettings

from conftest import check_golden, encode_seen, pan_video, synthetic_video

GOLDEN = Path(__file__).parent / "golden"
PADDED = {"network_float": "float32", "trim_gops": False}      # the golden's networks, every GOP over 32 frames
sys.path.insert(0, str(GOLDEN))
from make_golden_residual import gop_arrays  # noqa: E402
from make_golden_scene_cut import CUT, QUALITY, golden_input  # noqa: E402


@pytest.fixture(scope="module")
def golden():
    return (GOLDEN / "golden_scene_cut.vqv").read_bytes()


def _header(frames: int, short=()) -> Header:
    return Header(model_digest=b"\x01" * 8, source_width=16, source_height=16, coded_width=16, coded_height=16,
                  frame_count=frames, short_gops=short)


# ----------------------------------------------------------------------------------------------- format

def test_the_header_places_every_gop_from_the_short_ones():
    h = _header(100, ((0, 27), (2, 5)))
    assert h.gop_count == 5
    assert [h.gop_frames(i) for i in range(5)] == [27, 32, 5, 32, 4]
    assert [h.gop_start(i) for i in range(5)] == [0, 27, 59, 64, 96]
    plain = _header(100)
    assert [plain.gop_frames(i) for i in range(4)] == [32, 32, 32, 4] and plain.gop_start(3) == 96
    back = decode_header(encode_header(_header(100, ((0, 27), (2, 5)))), 12)
    assert back.short_gops == ((0, 27), (2, 5)) and back == h


@pytest.mark.parametrize("short,frames", [(((0, 27),), 27), (((0, 32),), 64), (((1, 3), (1, 4)), 80),
                                          (((0, 0),), 40), (((-1, 3),), 40), (((0, 3, 4),), 40), ((("a", 3),), 40)])
def test_impossible_short_gops_are_refused_in_one_line(short, frames):
    with pytest.raises(ValueError) as e:
        encode_header(_header(frames, short))
    assert "key 23" in str(e.value) and "\n" not in str(e.value)


def _file(frames: list[int], short, version=(12, 0)) -> bytes:
    out = io.BytesIO()
    with VqvWriter(out, version) as w:
        for i, n in enumerate(frames):
            w.write_chunk(GopChunk(index=i, frame_count=n, symbol_counts=(), predicted=False, payload=b"\x00"))
        w.finish(_header(sum(frames), short))
    return out.getvalue()


def test_a_12_0_file_carries_its_short_gops_and_a_reader_checks_each_chunk_against_them():
    data = _file([14, 32, 5], ((0, 14),))
    r = VqvReader(io.BytesIO(data))
    assert r.version == (12, 0) and len(r) == 3 and [r.read_chunk(i).frame_count for i in range(3)] == [14, 32, 5]
    with pytest.raises(ValueError, match="GOP 0 has 14 frames, expected 32"):
        _file([14, 32], (), version=(11, 0))                    # a short GOP the header does not list
    with pytest.raises(ValueError, match="key 23"):
        _file([14, 32, 5], ((0, 14),), version=(11, 0))         # a field of 12.0 files only
    with pytest.raises(ValueError, match="key 23"):
        _file([32, 32, 5], (), version=(12, 0))                 # ... which need it
    # the header rewritten to list another length for GOP 0: the chunk contradicts it
    bad = _file([14, 32, 5], ((0, 14),)).replace(encode_header(_header(51, ((0, 14),))),
                                                 encode_header(_header(51, ((0, 13),))))
    with pytest.raises(VqvFormatError):
        list(VqvReader(io.BytesIO(bad)))


def test_a_12_x_header_without_key_23_is_refused_and_an_11_x_reader_keeps_it_as_unknown():
    raw = encode_header(_header(40, ((0, 14),)))
    with pytest.raises(VqvFormatError, match="key 23"):
        decode_header(encode_header(_header(40)), 12)
    assert 23 in decode_header(raw, 11).extra


# ----------------------------------------------------------------------------------------------- detector

def test_a_cut_is_found_and_a_pan_or_a_still_is_not():
    pan = pan_video(t=12, h=64, w=64, dx=3)
    other = 255 - synthetic_video(t=8, h=64, w=64, seed=5)
    clip = np.concatenate([pan[:6], other[:6]])
    cuts = SceneCuts(4)
    assert [i for i, f in enumerate(clip) if cuts.is_cut(f)] == [6]
    assert cut_ratio(grey(pan[0]), grey(pan[0])) == 0.0
    assert all(cut_ratio(grey(pan[i]), grey(pan[i + 1])) < CUT_RATIO / 2 for i in range(11))


def test_a_gop_ends_only_at_a_cut_inside_a_slice_and_a_fade_makes_one_short_gop():
    a = pan_video(t=40, h=32, w=32)
    b = np.broadcast_to((np.arange(32)[None, :, None, None] + 200).astype(np.uint8), (8, 32, 32, 3))  # a flat scene
    for at, ends in ((6, True), (13, True), (3, True), (1, True), (8, False), (4, False)):
        cuts = SceneCuts(4)
        clip = np.concatenate([a[:at], b[:8]])
        assert [i for i, f in enumerate(clip) if cuts.ends_gop(f, i, False)] == ([at] if ends else [])
    # every frame a new scene (a flicker): the first cut ends GOP 0; a GOP begun at a cut runs a whole slice first
    flicker = np.stack([np.full((32, 32, 3), 40 * (i % 2) + 100 + 3 * i, np.uint8) + a[0] // 8 for i in range(12)])
    cuts, gop, ends = SceneCuts(4), 0, []
    for i, f in enumerate(flicker):
        if cuts.ends_gop(f, gop, bool(ends)):
            ends.append(i)
            gop = 0
        gop += 1
    assert ends == [1, 6, 11]       # after frame 1, only past a whole slice and inside the next one


# ----------------------------------------------------------------------------------------------- codec

def test_golden_decodes_to_its_codes_and_frames_and_rewrites_to_the_same_bytes(shipped_model, golden):
    reader = VqvReader(io.BytesIO(golden))
    h = reader.header
    assert reader.version == (12, 0) and h.short_gops == ((0, CUT),) and h.frame_count == 40
    assert [h.gop_frames(i) for i in range(2)] == [CUT, 40 - CUT] and reader.is_refresh(1)
    settings = EncodeSettings.build(shipped_model, quality=QUALITY, network_float="float32").for_size(80, 64)
    got = check_golden(golden, shipped_model, settings, "golden_scene_cut", gop_arrays)
    assert [g.frames for g in got] == [CUT, 40 - CUT] and all(g.refresh for g in got)


def test_the_golden_clip_encodes_as_the_golden_and_the_decoder_makes_what_the_encoder_saw(shipped_model, golden):
    settings = EncodeSettings.build(shipped_model, quality=QUALITY, network_float="float32",
                                    trim_gops=False).for_size(80, 64)
    data, seen = encode_seen(shipped_model, settings, golden_input())
    assert data == golden
    np.testing.assert_array_equal(decode_bytes(data, model=shipped_model), seen)


def test_without_scene_cuts_or_without_a_cut_inside_a_slice_the_file_of_before(shipped_model):
    clip = golden_input()
    off = encode_frames(clip, 16, model=shipped_model, quality=QUALITY, scene_cuts=False, **PADDED)
    assert VqvReader(io.BytesIO(off)).version == (9, 0)
    aligned = np.concatenate([clip[:CUT - 2], clip[CUT:]])       # the cut at frame 12, between slices
    on = encode_frames(aligned, 16, model=shipped_model, quality=QUALITY, **PADDED)
    assert on == encode_frames(aligned, 16, model=shipped_model, quality=QUALITY, scene_cuts=False, **PADDED)
    still = encode_frames(clip, 16, model=shipped_model, quality=QUALITY, motion=False, **PADDED)
    assert VqvReader(io.BytesIO(still)).version < (12, 0)        # without the motion layer: never cut
    low = encode_frames(clip, 16, model=shipped_model, quality=3, **PADDED)
    assert low == encode_frames(clip, 16, model=shipped_model, quality=3, scene_cuts=False, **PADDED)
    assert VqvReader(io.BytesIO(low)).version == (9, 0)          # nor at Q3 (two bottom stages)


def test_the_cut_scene_is_coded_better_than_across_the_cut(shipped_model, golden):
    clip = golden_input()
    off = encode_frames(clip, 16, model=shipped_model, quality=QUALITY, scene_cuts=False, **PADDED)
    err = {name: ((decode_bytes(d, model=shipped_model)[CUT:CUT + 4].astype(float) - clip[CUT:CUT + 4]) ** 2).mean()
           for name, d in (("on", golden), ("off", off))}
    assert err["on"] < 0.8 * err["off"], err                     # the new scene's first slice, coded alone


def test_a_damaged_gop_after_a_cut_names_its_own_frames(shipped_model, golden, tmp_path):
    reader = VqvReader(io.BytesIO(golden))
    log = DamageLog(reader.header)
    log(DamagedGop(1, reader.header.gop_frames(1), "test"))
    assert log.spans == [{"gops": [1, 1], "frames": [CUT, 39], "reason": "test"}]
    src = tmp_path / "cut.vqv"
    src.write_bytes(golden)
    res = CliRunner().invoke(main, ["info", str(src)])
    assert res.exit_code == 0 and "1 GOP ended before a scene cut" in res.output
    res = CliRunner().invoke(main, ["decode", "-q", str(src), str(tmp_path / "out.npy")])
    assert res.exit_code == 0 and np.load(tmp_path / "out.npy").shape[0] == 40


def test_the_same_bytes_for_one_two_and_three_threads(shipped_model, golden):
    from vqcodec.pipeline import torch_threads
    for n in (2, 3):
        with torch_threads(n):
            assert encode_frames(golden_input(), 16, model=shipped_model, quality=QUALITY, **PADDED) == golden


def test_a_ladder_is_fitted_on_clips_with_a_scene_cut(tmp_path):
    """fit_ladder (``vqv`` release tools) codes each training clip as one GOP: a clip with a scene cut inside a
    slice, which the encoder would split in two, is fitted on as one (it used to stop the fit)."""
    from vqcodec.release.prior_fitting import fit_ladder
    from vqcodec.weights import load_model
    lmodel = load_model(Path(__file__).parent / "golden" / "tiny_linear.pt")
    cut = np.concatenate([pan_video(13, 64, 64, dx=3), 255 - synthetic_video(19, 64, 64, seed=5)])
    data = encode_frames(np.ascontiguousarray(cut), 16, model=lmodel, quality=3, motion=True, refresh=0)
    assert VqvReader(io.BytesIO(data)).header.short_gops == ((0, 13),)       # the encoder does split it
    clips = [synthetic_video(32, 64, 64, seed=s) for s in range(2)] + [np.ascontiguousarray(cut)]
    ladder = fit_ladder(lmodel, clips, [(1, 2, None), (1, 0, 0.08), (1, 0, 0.08, 8.0)], enhancement_channels=16)
    assert ladder.points[2].enhanced and ladder.basis.channels == 16
