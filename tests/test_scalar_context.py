"""The scalar layer's first slice in context (format 11.0): at a scalar point a refresh GOP's first slice of
scalar symbols, which has no slice before it, is coded in two checkerboard passes, the second under the ladder's
tables for "the slice before held v", v the lower median of each symbol's first-pass neighbours; the encoder
takes it where its estimate says it is cheaper, else writes the file of before. ``golden_scalar_context.vqv``
(tests/golden/make_golden_scalar_context.py): 11.0, the shipped model at Q9, the sample clip's first 32 frames."""
from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vqcodec.cli.main import main
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.gops import scalar_tables
from vqcodec.entropy.copy_flags import checkerboard
from vqcodec.entropy.rans import EntropyError
from vqcodec.entropy.scalar_prior import neighbour_medians
from vqcodec.errors import VqvError
from vqcodec.formats import VqvReader
from vqcodec.settings import EncodeSettings
from vqcodec.weights import load_model

from conftest import check_golden, encode_seen, pan_video, synthetic_video
from formats_helpers import flips_refused
from formats_helpers import with_payloads as _rewrite

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
from make_golden_residual import gop_arrays  # noqa: E402
from make_golden_scalar_context import QUALITY, golden_input  # noqa: E402

pytestmark = pytest.mark.usefixtures("padded_gops")   # files of before 13.0: pinned bytes and versions


@pytest.fixture(scope="module")
def golden():
    return (GOLDEN / "golden_scalar_context.vqv").read_bytes()


def _settings(model) -> EncodeSettings:
    return EncodeSettings.build(model, quality=QUALITY, network_float="float32").for_size(80, 64)


def test_neighbour_medians_take_the_lower_median_of_the_neighbours_a_position_has():
    s = np.array([[[1, 5, 2], [7, 0, 3], [4, 9, 6]]])
    even, odd = checkerboard(3, 3)
    med = neighbour_medians(s, even)              # an odd position's neighbours are even ones: 2 or 3 of them here
    assert (med[0, 0, 1], med[0, 1, 0], med[0, 1, 2], med[0, 2, 1]) == (1, 1, 2, 4)   # lower medians of 3
    assert med[0, 1, 1] == 0                      # no neighbour it has
    med = neighbour_medians(s, odd)
    assert med[0, 1, 1] == 5                      # four: 3, 5, 7, 9 -> the lower median
    assert med[0, 0, 0] == 5 and med[0, 2, 2] == 3    # two: (5, 7) and (9, 3) -> the lower
    assert neighbour_medians(np.zeros((2, 1, 1), np.int32), np.ones((1, 1), bool)).tolist() == [[[0]], [[0]]]


def test_golden_decodes_to_its_codes_and_frames_and_rewrites_to_the_same_bytes(shipped_model, golden):
    reader = VqvReader(io.BytesIO(golden))
    assert reader.version == (11, 0) and reader.scalar_context and reader.network_float == "float32"
    assert reader.intra_coder and reader.header.intra_coder          # key 22 in an 11.0 file, as in 10.0
    def arrays_of(g):
        return {**gop_arrays(g), "gop0_scalar": g.codes.scalar.symbols, "gop0_scalar_copied": g.codes.scalar.copy_map()}
    got = check_golden(golden, shipped_model, _settings(shipped_model), "golden_scalar_context", arrays_of)
    assert len(got) == 1 and got[0].frames == 32


def test_the_golden_clip_encodes_as_the_golden_and_the_decoder_makes_what_the_encoder_saw(shipped_model, golden):
    data, seen = encode_seen(shipped_model, _settings(shipped_model), golden_input())
    assert data == golden       # today's encoder writes the golden (to be pinned apart on a deliberate change)
    np.testing.assert_array_equal(decode_bytes(data, model=shipped_model), seen)


def test_without_the_context_the_same_codes_and_pixels_in_more_bytes_and_the_estimate_is_what_it_saves(shipped_model, golden):
    off = encode_frames(golden_input(), 16, model=shipped_model, quality=QUALITY, network_float="float32", scalar_context=False)
    r_off = VqvReader(io.BytesIO(off))
    assert r_off.version == (9, 0) and not r_off.scalar_context
    (g_on,), (g_off,) = read_gop_codes(VqvReader(io.BytesIO(golden)), shipped_model), read_gop_codes(r_off, shipped_model)
    np.testing.assert_array_equal(g_on.codes.scalar.symbols, g_off.codes.scalar.symbols)
    np.testing.assert_array_equal(decode_bytes(golden, model=shipped_model), decode_bytes(off, model=shipped_model))
    plain, context = scalar_tables(shipped_model, shipped_model.point(QUALITY)).first_slice_bits(g_on.codes.scalar.symbols[:, 0])
    saved = (len(off) - len(golden)) * 8
    assert context < plain and abs(saved - (plain - context)) <= 64, (saved, plain - context)


def test_where_two_passes_would_cost_more_the_encoder_writes_the_file_of_before(shipped_model):
    """A synthetic pan's first slices: the estimate says one pass, and the file is the one pinned before."""
    data = encode_frames(pan_video(64, 64, 64), 16, model=shipped_model, quality=9, refresh=0)
    assert VqvReader(io.BytesIO(data)).version == (9, 0)
    assert hashlib.sha256(data).hexdigest()[:16] == "60e8f1855581c7bb"
    tiny = load_model(GOLDEN / "tiny_scalar.pt")                  # and turned off: the files of before
    frames = synthetic_video(40, 48, 40, seed=21)
    for motion, pin in ((False, "919a669fbae7292c"), (True, "faf9454c1d9e721c")):
        data = encode_frames(frames, 16, model=tiny, quality=6, motion=motion, scalar_context=False)
        assert hashlib.sha256(data).hexdigest()[:16] == pin


def test_damage_to_the_first_slice_names_its_gop(shipped_model, golden):
    p = VqvReader(io.BytesIO(golden)).read_chunk(0).payload
    with pytest.raises((EntropyError, VqvError), match="GOP 0"):
        decode_bytes(_rewrite(golden, {0: p[:-4]}), model=shipped_model)
    caught, tried = flips_refused(golden, lambda d: decode_bytes(d, model=shipped_model), tries=12)
    assert caught >= tried - 2, (caught, tried)


def test_the_command_line_turns_it_off(tmp_path):
    np.save(tmp_path / "clip.npy", golden_input())
    runner = CliRunner()
    for flag, version in (([], (11, 0)), (["--no-scalar-context"], (9, 0))):
        out = tmp_path / f"x{len(flag)}.vqv"
        r = runner.invoke(main, ["encode", str(tmp_path / "clip.npy"), str(out), "-Q", "9", "--network-float",
                                 "float32", "-q", *flag])
        assert r.exit_code == 0, r.output
        assert VqvReader(io.BytesIO(out.read_bytes())).version == version
