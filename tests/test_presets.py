"""``vqv encode --preset``: how much work the motion decisions do. Each preset is a set of the encoder's
options (explicit ones win), medium is the encoder as it was, and every preset's file decodes to what its
encoder reconstructed. With tiny_linear.pt at its top quality and make_golden_bends.py's juddering pan."""
from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vqcodec.cli.main import main
from vqcodec.coding import gop_decisions, motion_search
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.encoder import GopEncoder, write_container
from vqcodec.coding.effort import Effort
from vqcodec.coding.gop_decisions import decide_gop
from vqcodec.errors import OptionError
from vqcodec.formats import VqvReader
from vqcodec.settings import DEFAULT_PRESET, PRESETS, EncodeSettings
from vqcodec.weights import load_model

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
from make_golden_bends import golden_input, judder_steps, path_video  # noqa: E402
from test_motion_bends import ENCODER_SHA256, TOP  # noqa: E402
from conftest import session27_encoder  # noqa: E402

pytestmark = pytest.mark.usefixtures("padded_gops")   # files of before 13.0: pinned bytes and versions


@pytest.fixture(scope="module")
def lmodel():
    return load_model(GOLDEN / "tiny_linear.pt")


def _encoded(model, frames, **kw) -> tuple[bytes, np.ndarray]:
    """test_motion_bends.py's encode (fps 16, refresh 0) with ``kw`` for the settings; the frames as the
    encoder reconstructed them."""
    settings = EncodeSettings.build(model, quality=TOP, refresh=0, **kw)
    seen, (_, h, w, _) = [], frames.shape
    enc = GopEncoder(model, settings, w, h, on_gop=lambda g, n, codes, recon: seen.append(None if recon is None
                                                                                        else recon[:n]))
    for f in frames:
        enc.add_frame(f)
    buf = io.BytesIO()
    write_container(buf, model, settings, enc.finish(), source_size=(w, h), coded_size=(w, h), fps=16)
    return buf.getvalue(), None if seen[0] is None else np.concatenate(seen)


def test_a_preset_sets_the_options_left_unset_and_an_explicit_one_wins(lmodel):
    assert DEFAULT_PRESET == "medium" and EncodeSettings.build(lmodel) == EncodeSettings.build(lmodel, preset="medium")
    medium = EncodeSettings.build(lmodel, quality=TOP)
    assert medium.motion_layer and medium.bend_frames and medium.motion_search == 6
    assert medium.effort.second and medium.effort.bends_first
    fast = EncodeSettings.build(lmodel, quality=TOP, preset="fast")
    assert fast.bend_frames and fast.effort.second and not fast.effort.bends_first
    faster = EncodeSettings.build(lmodel, quality=TOP, preset="faster")
    assert faster.motion_search == PRESETS["faster"].motion_search < 6 and not faster.effort.bends_first
    veryfast = EncodeSettings.build(lmodel, quality=TOP, preset="veryfast")
    assert veryfast.motion_search < 6 and not veryfast.effort.second
    assert veryfast.effort.bends_first      # with one decision, that decision searches the bent paths
    assert not EncodeSettings.build(lmodel, quality=TOP, preset="ultrafast").motion_layer
    assert EncodeSettings.build(lmodel, quality=TOP, preset="ultrafast", motion=True).motion_layer
    assert EncodeSettings.build(lmodel, quality=TOP, preset="faster", motion_search=5).motion_search == 5
    assert not EncodeSettings.build(lmodel, quality=TOP, preset="fast", motion_bends=False).bend_frames
    assert not EncodeSettings.build(lmodel, quality=TOP, motion=False).motion_layer
    with pytest.raises(OptionError, match="unknown preset 'slowest'"):
        EncodeSettings.build(lmodel, preset="slowest")


def test_medium_is_the_encoder_of_before_byte_for_byte(lmodel):
    data, _ = _encoded(lmodel, golden_input(), preset="medium")
    assert hashlib.sha256(data).hexdigest()[:16] == ENCODER_SHA256


def test_without_the_lambda_per_block_the_encoder_is_session_24s_byte_for_byte(lmodel, monkeypatch):
    """The lambda per block (vqcodec.coding.propagation) and session 28's tuning are the only changes since
    session 24's encoder: with its strength 0 every decision gets the GOP's lambda and the file is the one
    pinned then."""
    from vqcodec.coding import propagation
    monkeypatch.setattr(propagation, "STRENGTH", 0.0)
    session27_encoder(monkeypatch)                  # (and session 28's tuning undone)
    data, _ = _encoded(lmodel, golden_input(), preset="medium")
    assert hashlib.sha256(data).hexdigest()[:16] == "747697dd6532c914"


@pytest.mark.parametrize("preset", ["ultrafast", "veryfast", "faster", "fast"])
def test_every_preset_writes_a_file_that_decodes_to_what_its_encoder_saw(lmodel, preset):
    frames = golden_input()
    data, seen = _encoded(lmodel, frames, preset=preset)
    reader = VqvReader(io.BytesIO(data))
    if preset == "ultrafast":                       # no motion layer: no reconstruction in the encoder
        assert not reader.motion_layer
        network = [lmodel.net.decode(g.codes)[:g.frames] for g in read_gop_codes(reader, lmodel)]
        np.testing.assert_array_equal(decode_bytes(data, model=lmodel), np.concatenate(network))
        return
    np.testing.assert_array_equal(decode_bytes(data, model=lmodel), seen)
    assert reader.version == (7, 0) and reader.motion_bends
    fields = [g.codes.motion for g in read_gop_codes(reader, lmodel)]
    assert all(f.flags.any() for f in fields)
    assert any(f.bends.any() for f in fields)      # bent paths found with the first decision's search or without
    medium, _ = _encoded(lmodel, frames)
    if preset == "veryfast":
        assert data != medium                       # one decision a slice, other decisions
    elif preset == "fast":                          # without the coders (none in this model): medium's decisions
        assert data == medium


@pytest.mark.parametrize("effort", [Effort(), Effort(bends_first=False), Effort(second=False)])
def test_the_decisions_do_the_work_their_effort_names(monkeypatch, effort):
    calls = []
    search, decide = motion_search.search_slice, motion_search.decide_blocks

    def search_spy(*args):
        calls.append(("search", args[6] is not None))             # a search from the vectors found before
        return search(*args)

    def decide_spy(*args, **kw):
        calls.append(("decide", args[11] if len(args) > 11 else kw.get("bends", False)))
        return decide(*args, **kw)

    for module in (motion_search, gop_decisions):
        monkeypatch.setattr(module, "search_slice", search_spy)
        monkeypatch.setattr(module, "decide_blocks", decide_spy)
    frames = path_video(judder_steps(8))            # 8 frames: 4 slices of 2 frames, moving in steps
    recon = np.clip(frames.astype(int) + 2, 0, 255).astype(np.uint8)
    rates = np.full((4, frames.shape[1] // 4, frames.shape[2] // 4), 40.0)
    decide_gop(frames, recon, None, rates, 30.0, 2, (2, 4, 4), bends=True, effort=effort)
    searches, decides = [s for k, s in calls if k == "search"], [b for k, b in calls if k == "decide"]
    assert searches.count(False) == 3               # slices 1..3 (slice 0 of a refresh GOP has no reference)
    if not effort.second:
        assert not any(searches) and decides == [True] * 3
    else:       # without the coders: the pass-0 blocks, then the rest, all with bent paths (bends_first or not)
        assert 0 < searches.count(True) <= 3 and decides == [True] * 6
    with pytest.raises(ValueError, match="bent paths need"):
        decide_gop(frames, recon, None, rates, 30.0, 2, (2, 4, 4), bends=True, effort=Effort(False, False))


def test_the_command_line_takes_a_preset_and_reports_it(tmp_path):
    np.save(tmp_path / "judder.npy", path_video(judder_steps(16)))
    model = ["--model", str(GOLDEN / "tiny_linear.pt"), "-Q", str(TOP)]
    for preset, motion in (("ultrafast", False), ("veryfast", True), (None, True)):
        out = tmp_path / f"{preset}.vqv"
        r = CliRunner().invoke(main, ["encode", str(tmp_path / "judder.npy"), str(out), "--json", *model,
                                      *(["--preset", preset] if preset else [])])
        assert r.exit_code == 0, r.output
        report = json.loads(r.output)
        assert report["preset"] == (preset or "medium") and ("motion" in report) == motion
        assert VqvReader(io.BytesIO(out.read_bytes())).motion_layer == motion
    r = CliRunner().invoke(main, ["encode", str(tmp_path / "judder.npy"), str(tmp_path / "x.vqv"), "--json", *model,
                                  "--preset", "ultrafast", "--motion"])
    assert r.exit_code == 0 and "motion" in json.loads(r.output)          # an explicit option wins
    r = CliRunner().invoke(main, ["encode", str(tmp_path / "judder.npy"), str(tmp_path / "y.vqv"), "--preset", "slowest"])
    assert r.exit_code == 2 and "slowest" in r.output and "Traceback" not in r.output
