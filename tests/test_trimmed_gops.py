"""Trimmed GOPs (format 13.0): a GOP of fewer than 32 frames (the last, or one ended at a scene cut) is coded over
the fewest whole 8-frame groups that hold it, not padded to 32; the header's key 25 says so. ``golden_trimmed.vqv``
(tests/golden/make_golden_trimmed.py): 13.0, the shipped model at Q4, 51 frames of the sample clip with a cut at
frame 14: GOPs of 14, 32 and 5 frames coded over 16, 32 and 8, the last predicted from the whole one."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vqcodec.cli.main import main
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.gops import coded_gop_frames
from vqcodec.entropy.rans import EntropyError
from vqcodec.errors import VqvError
from vqcodec.formats import GopChunk, Header, VqvFormatError, VqvReader, VqvWriter
from vqcodec.formats.header import decode_header, encode_header
from vqcodec.pipeline import read_codes
from vqcodec.settings import EncodeSettings

from conftest import check_golden, encode_seen

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
from make_golden_residual import gop_arrays  # noqa: E402
from make_golden_trimmed import CUT, QUALITY, golden_input  # noqa: E402

FRAMES = (CUT, 32, 5)           # the golden's GOPs' frames ...
CODED = (16, 32, 8)             # ... and the frames each is coded over


@pytest.fixture(scope="module")
def golden():
    return (GOLDEN / "golden_trimmed.vqv").read_bytes()


def _header(frames: int, short=(), trim=8) -> Header:
    return Header(model_digest=b"\x01" * 8, source_width=16, source_height=16, coded_width=16, coded_height=16,
                  frame_count=frames, short_gops=short, gop_trim=trim)


# ----------------------------------------------------------------------------------------------- format

def test_the_header_says_what_each_gop_is_coded_over():
    h = _header(83, ((0, 14),))
    assert [h.gop_frames(i) for i in range(4)] == [14, 32, 32, 5]
    assert [h.gop_coded_frames(i) for i in range(4)] == [16, 32, 32, 8]
    assert [coded_gop_frames(n, 8) for n in (1, 8, 9, 24, 25, 32)] == [8, 8, 16, 24, 32, 32]
    assert coded_gop_frames(5, 0) == 32 and _header(83, trim=0).gop_coded_frames(2) == 32
    back = decode_header(encode_header(h), 13)
    assert back == h and back.gop_trim == 8


@pytest.mark.parametrize("trim", [33, -1, 1 << 16])
def test_an_impossible_gop_trim_is_refused_in_one_line(trim):
    with pytest.raises(ValueError) as e:
        encode_header(_header(40, trim=trim))
    assert "gop_trim" in str(e.value) and "\n" not in str(e.value)


def _file(frames: list[int], header: Header, version=(13, 0)) -> bytes:
    out = io.BytesIO()
    with VqvWriter(out, version) as w:
        for i, n in enumerate(frames):
            w.write_chunk(GopChunk(index=i, frame_count=n, symbol_counts=(), predicted=False, payload=b"\x00"))
        w.finish(header)
    return out.getvalue()


def test_key_25_is_a_field_of_13_0_files_which_need_it_and_older_readers_keep_it_unknown():
    data = _file([32, 5], _header(37))
    assert VqvReader(io.BytesIO(data)).version == (13, 0)
    with pytest.raises(ValueError, match="key 25"):
        _file([14, 32, 5], _header(51, ((0, 14),)), version=(12, 0))      # a field of 13.0 files only
    with pytest.raises(ValueError, match="key 25"):
        _file([32, 5], _header(37, trim=0))                     # ... which need it
    raw = encode_header(_header(37))
    with pytest.raises(VqvFormatError, match="key 25"):
        decode_header(encode_header(_header(37, trim=0)), 13)
    assert decode_header(raw, 11).extra == {25: 8}             # an older reader: an unknown key, kept


def test_a_gop_trim_the_model_cannot_decode_is_refused_in_one_line(shipped_model, golden):
    r = VqvReader(io.BytesIO(golden))
    h = Header(**{**r.header.__dict__, "gop_trim": 4})
    out = io.BytesIO()
    with VqvWriter(out, (13, 0)) as w:
        for i in range(len(r)):
            w.write_chunk(r.read_chunk(i))
        w.finish(h)
    with pytest.raises(VqvError) as e:
        decode_bytes(out.getvalue(), model=shipped_model)
    assert "groups of 4 frames" in str(e.value) and "\n" not in str(e.value)


# ----------------------------------------------------------------------------------------------- codec

def test_golden_decodes_to_its_codes_and_frames_and_rewrites_to_the_same_bytes(shipped_model, golden):
    reader = VqvReader(io.BytesIO(golden))
    h = reader.header
    assert reader.version == (13, 0) and h.gop_trim == 8 and h.short_gops == ((0, CUT),)
    assert tuple(h.gop_frames(i) for i in range(3)) == FRAMES and tuple(h.gop_coded_frames(i) for i in range(3)) == CODED
    settings = EncodeSettings.build(shipped_model, quality=QUALITY, network_float="float32").for_size(80, 64)
    got = check_golden(golden, shipped_model, settings, "golden_trimmed", gop_arrays)
    assert [g.codes.level("bottom").grid[0] for g in got] == [4, 8, 2]     # 4 frames a bottom slice
    assert [g.refresh for g in got] == [True, True, False]


def test_the_golden_clip_encodes_as_the_golden_and_the_decoder_makes_what_the_encoder_saw(shipped_model, golden):
    settings = EncodeSettings.build(shipped_model, quality=QUALITY, network_float="float32").for_size(80, 64)
    data, seen = encode_seen(shipped_model, settings, golden_input())
    assert data == golden
    np.testing.assert_array_equal(decode_bytes(data, model=shipped_model), seen)


def test_trimming_costs_fewer_bytes_and_off_it_writes_the_padded_file_of_before(shipped_model, golden):
    kw = dict(model=shipped_model, quality=QUALITY, network_float="float32")
    off = encode_frames(golden_input(), 16, trim_gops=False, **kw)
    r = VqvReader(io.BytesIO(off))
    assert r.version == (12, 0) and [r.header.gop_coded_frames(i) for i in range(3)] == [32, 32, 32]
    assert len(golden) < len(off)
    assert decode_bytes(off, model=shipped_model).shape == decode_bytes(golden, model=shipped_model).shape
    # no GOP of 24 frames or fewer (a last GOP of 28 frames is coded over 32 either way), every GOP ending at a
    # slice's end: the same bytes; a last GOP of 26 frames ends inside a slice, priced on its own frames: the same
    # version, other bytes
    clip = golden_input()
    for extra, same in ((23, True), (21, False)):       # 37 + 23 = 60: GOPs 32 + 28; 37 + 21 = 58: GOPs 32 + 26
        long = np.concatenate([clip[CUT:], clip[CUT:CUT + extra]])
        on, padded = encode_frames(long, 16, **kw), encode_frames(long, 16, trim_gops=False, **kw)
        assert (on == padded) == same and VqvReader(io.BytesIO(on)).version == VqvReader(io.BytesIO(padded)).version


def test_readers_of_codes_see_every_gop_on_one_grid(shipped_model, golden):
    cf = read_codes(io.BytesIO(golden), model=shipped_model)
    arrays = cf.arrays()
    assert arrays["bottom"].shape[:3] == (3, 3, 8) and arrays["top"].shape[2] == 4
    assert cf.frame_counts == list(FRAMES)
    gops = list(read_gop_codes(VqvReader(io.BytesIO(golden)), shipped_model))
    for i, g in enumerate(gops):             # each GOP's own slices, then its last repeated, as copies
        bottom = g.codes.level("bottom")
        t = bottom.grid[0]
        np.testing.assert_array_equal(arrays["bottom"][i, :, :t], bottom.indices)
        assert (arrays["bottom"][i, :, t:] == bottom.indices[:, -1:]).all() and arrays["bottom_copied"][i, t:].all()
        assert not arrays["motion_predicted"][i, t:].any()
    from vqcodec.latents import read_latents
    lat = read_latents(io.BytesIO(golden), shipped_model)
    assert lat.levels[-1].latent.shape[:3] == (3, shipped_model.cfg.latent_dim, 8)


def test_the_same_bytes_for_one_two_and_three_threads(shipped_model, golden):
    from vqcodec.pipeline import torch_threads
    for n in (2, 3):
        with torch_threads(n):
            assert encode_frames(golden_input(), 16, model=shipped_model, quality=QUALITY, network_float="float32") == golden


def test_the_cli_reports_and_turns_off_trimming(shipped_model, golden, tmp_path):
    src = tmp_path / "trimmed.vqv"
    src.write_bytes(golden)
    res = CliRunner().invoke(main, ["info", str(src)])
    assert res.exit_code == 0 and "GOPs of fewer frames coded over whole 8-frame groups" in res.output
    res = CliRunner().invoke(main, ["decode", "-q", str(src), str(tmp_path / "out.npy")])
    assert res.exit_code == 0 and np.load(tmp_path / "out.npy").shape[0] == sum(FRAMES)
    np.save(tmp_path / "clip.npy", golden_input()[CUT:CUT + 40])          # 40 frames: GOPs of 32 and 8
    for flag, trimmed in (([], True), (["--no-trim-gops"], False)):
        out = tmp_path / f"clip{len(flag)}.vqv"
        res = CliRunner().invoke(main, ["encode", str(tmp_path / "clip.npy"), str(out), "-Q", "4", *flag])
        assert res.exit_code == 0, res.output
        assert ("1 coded over fewer frames" in res.output) == trimmed
        assert (VqvReader(io.BytesIO(out.read_bytes())).version == (13, 0)) == trimmed


@pytest.mark.parametrize("quality", [3, 7, 12])
def test_a_trimmed_gop_predicted_from_a_whole_one_at_every_kind_of_point(shipped_model, quality):
    """A stage point (Q3), a scalar point (Q7) and an enhanced point (Q12), every prior priced: the last GOP (8 frames)
    is coded over 8 and predicted from the whole GOP before it; the decoder makes what the encoder saw."""
    clip = golden_input()[CUT:CUT + 40]
    settings = EncodeSettings.build(shipped_model, quality=quality).for_size(80, 64)
    data, seen = encode_seen(shipped_model, settings, clip)
    r = VqvReader(io.BytesIO(data))
    assert r.version == (13, 0) and [r.header.gop_coded_frames(i) for i in range(2)] == [32, 8] and not r.is_refresh(1)
    np.testing.assert_array_equal(decode_bytes(data, model=shipped_model), seen)


def test_with_trimmed_gops_scene_cuts_start_at_q3_and_without_them_at_q4_as_before(shipped_model):
    """A GOP cut short no longer pays for its padding, so from Q3 on (two bottom stages) a cut inside a slice ends
    the GOP; with --no-trim-gops only from Q4 on, as in 12.0 (the file of before)."""
    kw = dict(model=shipped_model, quality=3, network_float="float32")
    clip = golden_input()[:40]
    on = VqvReader(io.BytesIO(encode_frames(clip, 16, **kw)))
    off = VqvReader(io.BytesIO(encode_frames(clip, 16, trim_gops=False, **kw)))
    assert on.header.short_gops == ((0, CUT),) and on.version == (13, 0)
    assert off.header.short_gops == () and off.version < (12, 0)


def test_a_forged_gop_trim_is_an_error_naming_the_gop_not_garbage(shipped_model, golden, tmp_path):
    """Key 25 rewritten to 16: GOP 2's payload, coded over 8 frames, read over 16, fails its checks: a one-line data
    error (exit 1) naming the GOP, no output."""
    r = VqvReader(io.BytesIO(golden))
    forged = tmp_path / "forged.vqv"
    with open(forged, "wb") as f, VqvWriter(f, (13, 0)) as w:
        for i in range(len(r)):
            w.write_chunk(r.read_chunk(i))
        w.finish(Header(**{**r.header.__dict__, "gop_trim": 16}))
    with pytest.raises(EntropyError, match="^GOP 2"):
        decode_bytes(forged.read_bytes(), model=shipped_model)
    res = CliRunner().invoke(main, ["decode", "-q", str(forged), str(tmp_path / "out.npy")])
    assert res.exit_code == 1 and "GOP 2" in res.output and len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "out.npy").exists()


@pytest.mark.parametrize("kind", ["codes", "latents", "frames"])
def test_the_dataset_gives_every_gop_of_a_trimmed_file_one_shape(golden, tmp_path, kind):
    from torch.utils.data import default_collate
    from vqcodec.dataset import VqvDataset
    (tmp_path / "trimmed.vqv").write_bytes(golden)
    ds = VqvDataset(tmp_path, kind=kind)
    items = [ds[i] for i in range(len(ds))]
    assert len(items) == 3 and [it["frame_count"] for it in items] == list(FRAMES)
    batch = default_collate(items)                      # the GOPs stack: one shape
    assert batch["valid"].shape[0] == 3 and batch["valid"].sum(1).tolist() == \
        ([-(-n // 4) for n in FRAMES] if kind != "frames" else list(FRAMES))


def test_a_slice_partly_of_padding_is_decided_on_its_own_frames(shipped_model):
    """With ``real_only`` (the trimmed GOPs' encoder) the motion decisions of a slice partly of padding do not
    depend on the padding's pixels; without it they may."""
    from vqcodec.coding.gop_decisions import decide_gop
    from vqcodec.coding.motion_search import block_sse
    from conftest import pan_video
    frames = pan_video(22, 32, 32, dx=2)                       # 22 frames: the last slice holds 2 of them
    rng = np.random.default_rng(0)
    edge = np.concatenate([frames, np.repeat(frames[-1:], 2, 0)])
    noise = np.concatenate([frames, rng.integers(0, 256, (2, 32, 32, 3), np.uint8)])
    assert block_sse(edge, noise, (8, 8), 22).sum() == 0 and block_sse(edge, noise, (8, 8)).sum() > 0
    recon = np.clip(edge.astype(int) + rng.integers(-6, 7, edge.shape), 0, 255).astype(np.uint8)
    rates = np.full((6, 4, 4), 40.0)
    block = tuple(int(b) for b in shipped_model.cfg.bottom_factor)

    def field(source, real_only):
        f, _ = decide_gop(source, recon, None, rates, 20.0, 3, block, frames=22, real_only=real_only)
        return f.flags[-1], f.vectors[-1]
    for a, b in zip(field(edge, True), field(noise, True)):
        np.testing.assert_array_equal(a, b)
    assert any((a != b).any() for a, b in zip(field(edge, False), field(noise, False)))
