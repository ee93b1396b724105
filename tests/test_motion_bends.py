"""Bent paths (format 7.0): a predicted block's frame ``j`` moves by ``d_j = 2 d_(j-1) - d_(j-2) + bend_j``
(``d_0`` its vector, ``d_(-1) = 0``), not ``(j + 1) x`` its vector: the paths, their coding, the search,
header key 19, files, reports and the command line; with tiny_linear.pt at its top quality (bottom blocks
of 2 frames x 4x4 pixels: one bend a block; with the motion residual). ``golden_bends.vqv``
(tests/golden/make_golden_bends.py): 7.0, a 40-frame 32x40 juddering pan, two GOPs, bent blocks in both."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import sys
import zlib
from pathlib import Path

import msgpack
import numpy as np
import pytest
from click.testing import CliRunner

from vqcodec.cli.main import main
from vqcodec.cli.reports import format_info
from vqcodec.codes import Codes, MotionField
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.encoder import EncodedGop, encode_frames, write_container
from vqcodec.coding.gop_coding import DecodeChannel, EncodeChannel, GopReference
from vqcodec.coding.motion import (BEND_LABEL, MAX_BEND, MAX_VECTOR, MotionCoder, check_displacements,
                                   code_motion_layer, displacements, predict_slice)
from vqcodec.coding.motion_search import decide_slice, search_bends, search_planes
from vqcodec.coding import motion as motion_module
from vqcodec.entropy.rans import EntropyError
from vqcodec.formats import CrcError, UnsupportedVersionError, VqvFormatError, VqvReader, VqvWriter, version_for
from vqcodec.formats.header import K_MOTION_BENDS, decode_header, encode_header
from vqcodec.formats.versions import BENDS_VERSION, SUPPORTED_MAJORS, WRITABLE_VERSIONS
from vqcodec.pipeline import file_info, read_codes
from vqcodec.settings import EncodeSettings
from vqcodec.weights import load_model

from conftest import encode_seen, pan_video
from formats_helpers import _chunks, _header
from formats_helpers import with_payloads as _rewrite
GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
from make_golden_bends import golden_input, judder_steps, path_video  # noqa: E402
from make_golden_residual import gop_arrays  # noqa: E402

pytestmark = pytest.mark.usefixtures("padded_gops")   # files of before 13.0: pinned bytes and versions

TOP = 3                               # tiny_linear's top quality: 1 top + 2 bottom stages, the motion residual
#: The first 16 hex digits of the SHA-256 of the golden clip encoded by today's encoder (see the golden test).
ENCODER_SHA256 = "3eeabdbe75954481"   # session 28: top copies, lambdas (25, a motion lambda per block: 0a7fbe16a5116743;
#                                       session 23: 747697dd6532c914)
#: test_motion_residual.py's pin of the 5.0 encoder on its pan (bends off: the same encoder as there).
FIVE_SHA256 = "a99750f5e0c805dd"     # session 28 (25, a motion lambda per block: f9818fa8d8ba0a33), as test_motion_residual's


@pytest.fixture(scope="module")
def lmodel():
    return load_model(GOLDEN / "tiny_linear.pt")


@pytest.fixture(scope="module")
def golden():
    return (GOLDEN / "golden_bends.vqv").read_bytes()


def _encoded(model, frames, **kw) -> tuple[bytes, np.ndarray]:
    """``frames`` encoded as encode_frames does (fps 16, refresh 0, the motion layer), and the frames as the
    encoder reconstructed them."""
    return encode_seen(model, EncodeSettings.build(model, quality=TOP, motion=True, refresh=0, **kw), frames)


def _written(model, reader: VqvReader, gops: list[EncodedGop]) -> bytes:
    """GOPs' codes written with the settings of ``reader``'s header (bent paths: a slice's 2 frames)."""
    h = reader.header
    settings = EncodeSettings(h.quality, model.point(h.quality), h.prior, rdo_strength=1.0, refresh=h.refresh_interval,
                              motion=True, motion_residual=reader.motion_residual,
                              motion_bends=int(model.cfg.bottom_factor[0]) if reader.motion_bends else 0)
    out = io.BytesIO()
    write_container(out, model, settings, gops, source_size=(h.source_width, h.source_height),
                    coded_size=(h.coded_width, h.coded_height), fps=h.fps_num / h.fps_den)
    return out.getvalue()


# ------------------------------------------------------------------------------------------ the golden file
def test_bends_golden_file_decodes_to_its_codes_and_frames_and_rewrites_to_the_same_bytes(lmodel, golden):
    reader = VqvReader(io.BytesIO(golden))
    assert reader.version == (7, 0) and reader.motion_bends and reader.header.copy_mode and reader.motion_layer
    assert reader.motion_residual == ((1, 1),) and reader.refresh_points() == [0]
    want = np.load(GOLDEN / "golden_bends_codes.npz")
    got = list(read_gop_codes(reader, lmodel))
    assert len(got) == 2 and not got[1].refresh
    for g in got:
        arrays = gop_arrays(g)                # levels, copy maps, flags, vectors, residual, bends
        assert set(arrays) == {k for k in want.files if k.startswith(f"gop{g.index}_")}
        for key, arr in arrays.items():
            np.testing.assert_array_equal(arr, want[key])
        m = g.codes.motion
        assert m.bends.shape == (16, 8, 10, 1, 2) and m.bends.dtype == np.int32
        bent = m.bends.any(axis=(-2, -1))
        assert bent.any() and not (bent & ~m.flags).any()          # bent blocks in each GOP, all predicted
        assert np.abs(m.bends).max() <= MAX_BEND
        for t in range(16):                                         # every path within the decoder's reach
            check_displacements(displacements(m.vectors[t], m.bends[t], 2), m.flags[t])
    assert got[1].codes.motion.flags[0].any()          # the predicted GOP's first slice predicts across GOPs
    frames, ref = decode_bytes(golden, model=lmodel), np.load(GOLDEN / "golden_bends_frames.npy")
    assert frames.shape == ref.shape == (40, 32, 40, 3)
    diff = np.abs(frames.astype(int) - ref.astype(int))          # (the network's floats may round 1 LSB apart)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01
    gops = [EncodedGop(g.codes, g.frames, reader.is_refresh(g.index)) for g in got]
    assert _written(lmodel, reader, gops) == golden


def test_the_golden_clip_encodes_as_pinned_and_the_decoder_makes_what_the_encoder_saw(lmodel):
    """Encoded again from the pixels with make_golden_bends.py's settings: today's encoder's file is pinned by
    its hash (today: the golden's bytes; to be updated only with a deliberate encoder change), and the
    decoder's frames are the encoder's reconstruction, bit for bit."""
    data, seen = _encoded(lmodel, golden_input())
    assert hashlib.sha256(data).hexdigest()[:16] == ENCODER_SHA256, len(data)
    assert VqvReader(io.BytesIO(data)).version == (7, 0)
    np.testing.assert_array_equal(decode_bytes(data, model=lmodel), seen)


# ------------------------------------------------------------------------------------------ paths and pixels
def test_displacements_are_the_straight_path_without_bends_and_follow_the_recurrence_with_them():
    vec = np.array([[[4, -8], [0, 3]], [[-32, 32], [1, 1]]], np.int32)        # (H', W', 2) = (2, 2, 2)
    straight = displacements(vec, None, 4)
    assert straight.shape == (4, 2, 2, 2) and straight.dtype == np.int64
    for j in range(4):
        np.testing.assert_array_equal(straight[j], (j + 1) * vec.astype(np.int64))
    np.testing.assert_array_equal(displacements(vec, np.zeros((2, 2, 3, 2), np.int32), 4), straight)
    bends = np.zeros((2, 2, 3, 2), np.int32)
    bends[0, 0] = [(1, 0), (0, -2), (3, 3)]
    got = displacements(vec, bends, 4)
    # by hand: d0 = v; d1 = 2 d0 + b1; d2 = 2 d1 - d0 + b2; d3 = 2 d2 - d1 + b3
    np.testing.assert_array_equal(got[:, 0, 0], [(4, -8), (9, -16), (14, -26), (22, -33)])
    others = np.arange(4) > 0                                             # straight blocks stay straight
    np.testing.assert_array_equal(got.reshape(4, 4, 2)[:, others], straight.reshape(4, 4, 2)[:, others])
    # one constant bend a: a constant acceleration, d_j = (j + 1) v + a j (j + 1) / 2
    accel = np.broadcast_to(np.array([2, -1], np.int32), (2, 2, 7, 2))
    j = np.arange(8)[:, None, None, None]
    np.testing.assert_array_equal(displacements(vec, accel, 8), (j + 1) * vec + np.array([2, -1]) * j * (j + 1) // 2)
    assert displacements(vec, bends, 1).shape == (1, 2, 2, 2)             # a one-frame slice: its vector alone


def test_a_bent_block_is_predicted_along_its_path_and_a_path_beyond_reach_is_refused():
    rng = np.random.default_rng(4)
    before = rng.integers(0, 256, (40, 48, 3)).astype(np.uint8)
    frames = rng.integers(0, 256, (4, 40, 48, 3)).astype(np.uint8)
    flags = np.zeros((1, 5, 6), bool)
    flags[0, 2, 3] = True                                        # rows 16..24, columns 24..32
    vectors = np.zeros((1, 5, 6, 2), np.int32)
    vectors[0, 2, 3] = (0, 4)                                    # 1 pixel right
    bends = np.zeros((1, 5, 6, 3, 2), np.int32)
    bends[0, 2, 3] = [(8, 0), (0, 0), (-8, 0)]                   # d = (0,1), (2,2), (4,3), (4,4) pixels

    def predicted(bends):
        out = frames.copy()
        predict_slice(out, MotionField(flags, vectors, bends=bends), 0, before, (4, 8, 8))
        return out

    out = predicted(bends)
    for j, (dy, dx) in enumerate([(0, 1), (2, 2), (4, 3), (4, 4)]):
        np.testing.assert_array_equal(out[j, 16:24, 24:32], before[16 + dy:24 + dy, 24 + dx:32 + dx])
    out[:, 16:24, 24:32] = frames[:, 16:24, 24:32]
    np.testing.assert_array_equal(out, frames)                   # nothing else changed
    # without bends (or all-zero ones) the block moves j + 1 pixels at frame j
    for out in (predicted(None), predicted(np.zeros_like(bends))):
        for j in range(4):
            np.testing.assert_array_equal(out[j, 16:24, 24:32], before[16:24, 25 + j:33 + j])
    # at the edge of the reach ((j + 1) x 8 pixels at frame j) a path is predicted; one quarter beyond, refused
    vectors[0, 2, 3] = (0, MAX_VECTOR)
    bends[0, 2, 3] = 0
    predicted(bends)
    for frame in range(3):
        far = bends.copy()
        far[0, 2, 3, frame] = (0, 1)
        with pytest.raises(EntropyError, match="beyond"):
            predicted(far)
    far = np.zeros_like(bends)
    far[0, 1, 1, 0] = (0, MAX_BEND)                              # beyond reach, but not a predicted block
    predicted(far)


#: The frame before a 2-frame slice, then the slice: the picture steps ``first`` then ``second`` whole pixels.
STOP_AND_GO = [((0, 3), (0, 0)), ((0, 1), (0, 3)), ((0, 2), (0, -2)), ((1, 0), (0, 2)), ((-1, 2), (2, 1))]


@pytest.mark.parametrize("first,second", STOP_AND_GO)
def test_the_bend_search_from_the_true_vector_finds_the_true_bend(first, second):
    fr = path_video(np.array([(0, 0), first, second]))
    planes = search_planes(fr[0], 2, 6)
    vec = np.broadcast_to(np.array(first) * 4, (8, 10, 2)).astype(np.int64)
    first_vec, got = search_bends(fr[1:], planes, vec, np.zeros_like(vec), mu=2 * np.sqrt(20.0), block=(2, 4, 4))
    assert got.shape == (8, 10, 1, 2) and got.dtype == np.int32
    assert (first_vec[1:-1, 1:-1] == vec[1:-1, 1:-1]).all()          # frame 0 keeps the true vector
    want = 4 * (np.array(second) - np.array(first))                # d1 - 2 d0, in quarter pixels
    assert (got[1:-1, 1:-1, 0] == want).all(), got[1:-1, 1:-1, 0]


@pytest.mark.parametrize("first,second", STOP_AND_GO[:3])
def test_the_slice_decision_finds_the_bent_path_a_perfect_reference_predicts_exactly(first, second):
    fr = path_video(np.array([(0, 0), first, second]))
    got = decide_slice(fr[1:], fr[1:].copy(), fr[0], np.full((8, 10), 1e4), 20.0, 6, (2, 4, 4), bends=True)
    assert got.flags[1:-1, 1:-1].all()
    d = displacements(got.vectors, got.bends, 2)[:, 1:-1, 1:-1]
    true = [4 * np.array(first), 4 * (np.array(first) + np.array(second))]
    assert ((d[0] == true[0]).all(-1) & (d[1] == true[1]).all(-1)).mean() > 0.5


# ------------------------------------------------------------------------------------------ coding
def _random_bent_field(rng, grid, frames: int, refresh: bool) -> tuple[MotionField, np.ndarray]:
    """Flags, vectors within +-16 and bends within +-8 on about half the predicted blocks (so every path is
    within reach), one bend at the table's edge; ``copied``: the positions the flags are coded at."""
    flags = rng.random(grid) < 0.6
    flags[0] &= not refresh                                        # a refresh GOP's first slice: nothing before
    vectors = np.where(flags[..., None], rng.integers(-16, 17, (*grid, 2)), 0).astype(np.int32)
    bent = flags & (rng.random(grid) < 0.5)
    bends = np.where(bent[..., None, None], rng.integers(-8, 9, (*grid, frames - 1, 2)), 0).astype(np.int32)
    t, y, x = (int(a[0]) for a in np.nonzero(bent))
    vectors[t, y, x], bends[t, y, x] = 0, 0
    bends[t, y, x, 0] = (MAX_BEND, -MAX_BEND)
    copied = flags | (rng.random(grid) < 0.3)
    return MotionField(flags, vectors, bends=bends), copied


def test_bends_round_trip_through_the_coder_across_a_predicted_gop():
    rng = np.random.default_rng(5)
    grid, frames = (8, 4, 5), 4                                   # slices of 4 frames: 3 bends a block
    f0, copied0 = _random_bent_field(rng, grid, frames, refresh=True)
    f1, copied1 = _random_bent_field(rng, grid, frames, refresh=False)
    assert f1.flags[0].any() and (f1.bends[0] != 0).any()
    for f, t in ((f, t) for f in (f0, f1) for t in range(grid[0])):          # every path within reach
        check_displacements(displacements(f.vectors[t], f.bends[t], frames), f.flags[t])

    def code(channels, fields):
        """A refresh GOP, then a GOP predicted from it (its models and its last slice's bends carried over)."""
        out, ref = [], None
        for ch, given, copied in zip(channels, fields, (copied0, copied1)):
            models: dict = {}
            got = code_motion_layer(grid, ch, given, ref, models, copied, bends=True, frames=frames)
            ref = GopReference(Codes((), motion=got), models)
            out.append(got)
        return out

    def same(a: MotionField, b: MotionField) -> bool:
        return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("flags", "vectors", "bends"))

    enc = [EncodeChannel(), EncodeChannel()]
    for want, got in zip((f0, f1), code(enc, (f0, f1))):
        assert same(got, want)
        assert got.bends.shape == (*grid, frames - 1, 2) and got.residual is None
    assert all(ch.bits.get(BEND_LABEL, 0) > 0 for ch in enc)
    payloads = [ch.payload() for ch in enc]
    dec = [DecodeChannel(p) for p in payloads]
    assert all(same(got, want) for want, got in zip((f0, f1), code(dec, (None, None))))
    for d in dec:
        d.finish()
    # the same fields without bends cost fewer bits: the bends are in the payload, not free
    plain = [EncodeChannel(), EncodeChannel()]
    code(plain, [dataclasses.replace(f, bends=None) for f in (f0, f1)])
    assert all(len(p.payload()) < len(q) for p, q in zip(plain, payloads))
    # the predicted GOP decodes only after the refresh GOP (its models), and a cut payload runs out
    for payload, copied in ((payloads[1], copied1), (payloads[0][:len(payloads[0]) // 2], copied0)):
        with pytest.raises(EntropyError):
            d = DecodeChannel(payload)
            code_motion_layer(grid, d, None, None, {}, copied, bends=True, frames=frames)
            d.finish()


def test_the_coder_refuses_bends_it_cannot_write():
    rng = np.random.default_rng(6)
    grid = (6, 3, 4)
    field, copied = _random_bent_field(rng, grid, 2, refresh=True)
    MotionCoder().code(EncodeChannel(), grid, dataclasses.replace(field, bends=np.zeros_like(field.bends)), None,
                       copied, 2)                              # straight paths: fine without the bends' coder

    def coded(bends):
        code_motion_layer(grid, EncodeChannel(), dataclasses.replace(field, bends=bends), None, {}, copied,
                          bends=True, frames=2)

    for bad in (MAX_BEND + 1, -MAX_BEND - 1):
        bends = field.bends.copy()
        bends[field.bends.any(axis=(-2, -1))] = (bad, 0)
        with pytest.raises(EntropyError, match="beyond"):
            coded(bends)
    bends = field.bends.copy()
    bends[1:][~field.flags[1:]] = (0, 4)
    with pytest.raises(EntropyError, match="not predicted"):
        coded(bends)
    with pytest.raises(EntropyError, match="not a 7.x file"):         # bends in a file that carries none
        code_motion_layer(grid, EncodeChannel(), field, None, {}, copied)


def _beyond_reach(lmodel, golden, monkeypatch) -> bytes:
    """The golden's codes with one predicted block of GOP 1 on a path one quarter pixel beyond reach at frame 1
    (vector 8 pixels, bend a quarter pixel), written with the coder's reach check off (it refuses it)."""
    reader = VqvReader(io.BytesIO(golden))
    got = list(read_gop_codes(reader, lmodel))
    m = got[1].codes.motion
    t, y, x = (int(a[0]) for a in np.nonzero(m.flags))
    vectors, bends = m.vectors.copy(), m.bends.copy()
    vectors[t, y, x], bends[t, y, x, 0] = (0, MAX_VECTOR), (0, 1)
    codes = dataclasses.replace(got[1].codes, motion=dataclasses.replace(m, vectors=vectors, bends=bends))
    gops = [EncodedGop(got[0].codes, got[0].frames, True), EncodedGop(codes, got[1].frames, False)]
    with pytest.raises(EntropyError, match="beyond 2 x 8 pixels at frame 1"):   # the encoder's coder refuses it
        _written(lmodel, reader, gops)
    with monkeypatch.context() as m:
        m.setattr(motion_module, "check_displacements", lambda disp, mask: None)
        return _written(lmodel, reader, gops)


def test_a_damaged_bends_file_names_its_gop(lmodel, golden, monkeypatch):
    reader = VqvReader(io.BytesIO(golden))
    bad = bytearray(golden)
    bad[reader._offsets[1] + 12] ^= 0x10
    with pytest.raises(CrcError, match="GOP 1"):                 # the chunk's CRC finds it
        decode_bytes(bytes(bad), model=lmodel)
    # a payload damaged under a good CRC: the codec finds it, and says which GOP
    p = reader.read_chunk(1).payload
    for pos in (0, 41, 80, 120, 200, len(p) - 6, len(p) - 3):   # (a flip inside a uniform-table code may pass)
        damaged = bytearray(p)
        damaged[pos] ^= 0x21
        with pytest.raises(EntropyError, match="GOP 1") as e:
            decode_bytes(_rewrite(golden, {1: bytes(damaged)}), model=lmodel)
        assert "\n" not in str(e.value)
    with pytest.raises(EntropyError, match="beyond"):        # a path beyond reach: an error, not pixels
        decode_bytes(_beyond_reach(lmodel, golden, monkeypatch), model=lmodel)


def test_a_path_beyond_reach_is_damage_in_its_gop(lmodel, golden, monkeypatch):
    bad = _beyond_reach(lmodel, golden, monkeypatch)
    with pytest.raises(EntropyError, match="GOP 1"):
        decode_bytes(bad, model=lmodel)
    with pytest.raises(EntropyError, match="GOP 1"):
        list(read_gop_codes(VqvReader(io.BytesIO(bad)), lmodel))


# ------------------------------------------------------------------------------------------ files
def test_bends_on_write_7_0_and_off_the_files_written_before(lmodel):
    frames = path_video(judder_steps(24))
    on = encode_frames(frames, 16, model=lmodel, quality=TOP, motion=True, refresh=0)
    off = encode_frames(frames, 16, model=lmodel, quality=TOP, motion=True, refresh=0, motion_bends=False)
    r_on, r_off = VqvReader(io.BytesIO(on)), VqvReader(io.BytesIO(off))
    assert r_on.version == (7, 0) and r_on.motion_bends and r_on.motion_residual == ((1, 1),)
    assert r_off.version in ((5, 0), (6, 0)) and not r_off.motion_bends and not r_off.header.motion_bends  # (6.0: rank)
    assert K_MOTION_BENDS not in msgpack.unpackb(off[6:6 + off[5]], strict_map_key=False)     # no key 19
    assert all(g.codes.motion.bends is None for g in read_gop_codes(r_off, lmodel))
    assert any(g.codes.motion.bends.any() for g in read_gop_codes(r_on, lmodel))
    assert decode_bytes(off, model=lmodel).shape == decode_bytes(on, model=lmodel).shape == (24, 32, 40, 3)
    # bends off: the very bytes of the 5.0 encoder (test_motion_residual.py's pan and pin)
    before = encode_frames(pan_video(40, 32, 40, dx=1, dy=1), 16, model=lmodel, quality=TOP, motion=True, refresh=0,
                           motion_bends=False)
    assert hashlib.sha256(before).hexdigest()[:16] == FIVE_SHA256
    # what the settings carry: a slice's frames where the file has the motion layer and bends, else 0
    assert EncodeSettings.build(lmodel, quality=TOP).bend_frames == 2 == lmodel.cfg.bottom_factor[0]
    for kw in ({"motion_bends": False}, {"motion": False}, {"rdo_strength": 0}):   # (no copies: no motion layer)
        assert EncodeSettings.build(lmodel, quality=TOP, **kw).bend_frames == 0
    plain = VqvReader(io.BytesIO(encode_frames(frames[:8], 16, model=lmodel, quality=TOP, rdo_strength=0)))
    assert not plain.motion_layer and not plain.motion_bends and plain.version < (7, 0)


def test_the_rank_prior_codes_a_7_0_file(lmodel):
    data, seen = _encoded(lmodel, path_video(judder_steps(24)), prior="rank")
    reader = VqvReader(io.BytesIO(data))
    assert reader.version == (7, 0) and reader.header.prior == "rank" and reader.motion_bends
    np.testing.assert_array_equal(decode_bytes(data, model=lmodel), seen)


# ------------------------------------------------------------------------------------------ header key 19
def _h7(**kw):
    return _header(**{"frame_count": 72, "gop_prediction": True, "copy_mode": True, "motion_layer": True,
                      "motion_bends": True, **kw})


def _v7(header=None, version=BENDS_VERSION) -> bytes:
    header = header or _h7()
    buf = io.BytesIO()
    with VqvWriter(buf, version) as w:
        for c in _chunks(header.frame_count, pred={1}):
            w.write_chunk(c)
        w.finish(header)
    return buf.getvalue()


def _with_header_map(data: bytes, m: dict, major: int | None = None) -> bytes:
    """``data`` with its header map replaced by ``m`` (and its major by ``major``), the header CRC fixed."""
    hmap = msgpack.packb(m, use_bin_type=True)
    assert data[5] < 128 and len(hmap) < 128           # one-byte varints in these small files
    head = b"VQV" + bytes([major or data[3], data[4], len(hmap)]) + hmap
    return head + zlib.crc32(head).to_bytes(4, "little") + data[10 + data[5]:]


def test_version_7_is_bent_paths_and_the_writer_keeps_key_19_to_it():
    assert BENDS_VERSION == (7, 0) and 7 in SUPPORTED_MAJORS and (7, 0) in WRITABLE_VERSIONS
    for args in [(m, s, r, k) for m in (False, True) for s in (False, True) for r in (False, True) for k in (0, 1)]:
        assert version_for(*args, motion_bends=True) == (7, 0)
        assert version_for(*args) == version_for(*args, motion_bends=False) != (7, 0)
    h7 = _h7()
    data = _v7(h7)
    assert data[:5] == b"VQV\x07\x00"
    r = VqvReader(io.BytesIO(data))
    assert r.version == (7, 0) and r.motion_bends and r.motion_layer and r.motion_residual == ()   # key 18 optional
    assert r.header == h7 and r.header.extra == {}
    hmap = encode_header(h7)
    assert msgpack.unpackb(hmap, strict_map_key=False)[K_MOTION_BENDS] is True and decode_header(hmap, 7) == h7
    assert K_MOTION_BENDS not in msgpack.unpackb(encode_header(_header()), strict_map_key=False)
    assert VqvReader(io.BytesIO(_v7(_h7(motion_residual=((1, 1),))))).motion_residual == ((1, 1),)
    rank = _h7(prior="rank")                                         # the rank prior: a 6.x and 7.x prior
    assert VqvReader(io.BytesIO(_v7(rank))).header.prior == "rank"
    assert decode_header(encode_header(rank), 7).prior == "rank"
    with pytest.raises(ValueError, match="key 19"):                   # a 7.0 file without bends
        _v7(_h7(motion_bends=False))
    for version in ((5, 0), (6, 0), (3, 0), (4, 0)):                  # bends in another version
        with pytest.raises(ValueError, match="key 19"):
            _v7(_h7(motion_residual=((1, 1),) if version == (5, 0) else (), prior="rank" if version == (6, 0)
                    else h7.prior), version)
    for kw in ({"motion_layer": False}, {"copy_mode": False}):       # bends need the layer and copy mode
        with pytest.raises(ValueError, match="key 19"):
            _v7(_h7(**kw))
    with pytest.raises(ValueError, match="extra key 19"):
        _v7(_h7(extra={K_MOTION_BENDS: True}))
    with pytest.raises(ValueError):
        VqvWriter(io.BytesIO(), (14, 0))


def test_key_19_is_required_and_true_in_7_x_and_an_extra_key_before():
    good = _v7()
    m = msgpack.unpackb(good[6:6 + good[5]], raw=False, strict_map_key=False)
    for bad in ({k: v for k, v in m.items() if k != K_MOTION_BENDS}, {**m, K_MOTION_BENDS: False},
                {**m, K_MOTION_BENDS: 1}, {**m, K_MOTION_BENDS: "yes"}):
        with pytest.raises(VqvFormatError, match="key 19") as e:
            VqvReader(io.BytesIO(_with_header_map(good, bad)))
        assert "\n" not in str(e.value)
    no_layer = {k: v for k, v in m.items() if k != 16}
    with pytest.raises(VqvFormatError, match="key 19"):
        VqvReader(io.BytesIO(_with_header_map(good, no_layer)))
    # before 7.x key 19 is nobody's: an unknown key, kept in extra, and the file has no bends
    hmap = encode_header(_header(extra={K_MOTION_BENDS: True, 99: 1}))
    for major in (2, 3, 4, 6):                            # (a 5.x header needs key 18)
        h = decode_header(hmap, major)
        assert h.extra == {K_MOTION_BENDS: True, 99: 1} and not h.motion_bends
    r = VqvReader(io.BytesIO(_v7(_h7(motion_layer=False, motion_bends=False, prior="rank",
                                     extra={K_MOTION_BENDS: True}), (6, 0))))
    assert r.version == (6, 0) and not r.motion_bends and r.header.extra == {K_MOTION_BENDS: True}
    with pytest.raises(UnsupportedVersionError, match="13.x"):
        VqvReader(io.BytesIO(_with_header_map(good, m, 14)))


# ------------------------------------------------------------------------------------------ reports and command
def test_codes_and_info_report_the_bends(lmodel, golden, tmp_path):
    (tmp_path / "bends.vqv").write_bytes(golden)
    want = np.load(GOLDEN / "golden_bends_codes.npz")
    arrays = read_codes(tmp_path / "bends.vqv", model=lmodel).arrays()
    assert arrays["motion_bends"].shape == (2, 16, 8, 10, 1, 2) and arrays["motion_bends"].dtype == np.int32
    for i in (0, 1):
        np.testing.assert_array_equal(arrays["motion_bends"][i], want[f"gop{i}_motion_bends"])
    flagged = sum(int(want[f"gop{i}_motion_predicted"].sum()) for i in (0, 1))
    bent = sum(int(want[f"gop{i}_motion_bends"].any(axis=(-2, -1)).sum()) for i in (0, 1))
    info = file_info(tmp_path / "bends.vqv", model=lmodel)
    assert info["format_version"] == "7.0" and info["motion"]["bent"] == round(bent / flagged, 4) > 0
    assert 0 < info["motion"]["bend_bits"] < 8 * len(golden)
    assert "on bent paths" in format_info(info)
    model = ["--model", str(GOLDEN / "tiny_linear.pt")]
    run = CliRunner().invoke
    r = run(main, ["info", str(tmp_path / "bends.vqv"), "--json", *model])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["motion"] == info["motion"]
    r = run(main, ["codes", str(tmp_path / "bends.vqv"), str(tmp_path / "c.npz"), *model])
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(np.load(tmp_path / "c.npz")["motion_bends"], arrays["motion_bends"])
    # a file without bends exports none and reports none
    plain = GOLDEN / "golden_residual.vqv"
    assert "motion_bends" not in read_codes(plain, model=lmodel).arrays()
    assert "bent" not in file_info(plain, model=lmodel)["motion"]


def test_the_command_line_writes_bends_unless_told_not_to(tmp_path):
    np.save(tmp_path / "judder.npy", path_video(judder_steps(16)))
    for flag, bends in (([], True), (["--no-motion-bends"], False), (["--motion-bends"], True)):
        out = tmp_path / f"j{len(flag)}{bends}.vqv"
        r = CliRunner().invoke(main, ["encode", str(tmp_path / "judder.npy"), str(out), "-Q", str(TOP), "-q",
                                      "--model", str(GOLDEN / "tiny_linear.pt"), *flag])
        assert r.exit_code == 0, r.output
        reader = VqvReader(io.BytesIO(out.read_bytes()))
        assert (reader.version == (7, 0)) == reader.motion_bends == bends and reader.motion_layer
