"""The motion layer (format 3.0): integer prediction, its coding, the encoder's decisions, files."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from vqcodec.codes import CodeLevel, MotionField
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.encoder import GopEncoder, encode_frames
from vqcodec.coding.gop_coding import DecodeChannel, EncodeChannel
from vqcodec.coding.gops import enhancement_residual, synthesise
from vqcodec.coding.motion import MAX_VECTOR, MotionCoder, apply_motion, predict_blocks, predict_slice
from vqcodec.coding.motion_search import PhasePlanes, _predicted, block_rows, search_vectors, vector_bits
from vqcodec.coding.sad_kernels import slice_sads
from vqcodec.coding.rdo import force_level_copies, force_motion_copies, predicted_cells
from vqcodec.entropy.rans import EntropyError
from vqcodec.formats import CrcError, VqvReader
from vqcodec.pipeline import read_codes
from vqcodec.settings import EncodeSettings
from vqcodec.metrics import psnr
from vqcodec.weights import load_model

from conftest import pan_video

pytestmark = pytest.mark.usefixtures("padded_gops")   # files of before 13.0: pinned bytes and versions

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def emodel():
    """The tiny model with an enhanced point (the only tiny points whose reconstruction is good
    enough for prediction from it to pay)."""
    return load_model(GOLDEN / "tiny_enhanced.pt")


# ------------------------------------------------------------------------------------------ prediction
def test_prediction_is_an_integer_shift_or_an_integer_blend():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    vec = np.zeros((4, 4, 2), np.int32)
    mask = np.zeros((4, 4), bool)
    mask[1, 2] = True
    vec[1, 2] = (8, -4)                                     # 2 pixels down, 1 left
    np.testing.assert_array_equal(predict_blocks(ref, vec, mask, (8, 8))[0], ref[10:18, 15:23])
    vec[1, 2] = (2, 0)                                      # half a pixel down: the rounded mean
    want = (ref[8:16, 16:24].astype(int) * 8 + ref[9:17, 16:24].astype(int) * 8 + 8) >> 4
    np.testing.assert_array_equal(predict_blocks(ref, vec, mask, (8, 8))[0], want)
    vec[0, 0], mask[0, 0] = (-32, -32), True                # beyond the edge: clamped to it
    np.testing.assert_array_equal(predict_blocks(ref, vec, mask, (8, 8))[0], np.broadcast_to(ref[0, 0], (8, 8, 3)))


def test_a_slice_is_predicted_from_the_frame_before_it_moved_j_plus_one_times():
    frames = pan_video(8, 16, 16, dx=1)
    field = MotionField(np.ones((2, 2, 2), bool), np.tile(np.array([0, 4], np.int32), (2, 2, 2, 1)))
    field.flags[0] = False
    out = apply_motion(frames, field, None, (4, 8, 8))
    np.testing.assert_array_equal(out[:4], frames[:4])
    for j in range(4):          # frame 4 + j = frame 3 moved j + 1 pixels, away from the right edge
        np.testing.assert_array_equal(out[4 + j][:, :16 - (j + 1)], frames[3][:, j + 1:])
    with pytest.raises(EntropyError, match="no frame before"):
        apply_motion(frames, MotionField(np.ones((2, 2, 2), bool), field.vectors), None, (4, 8, 8))


def test_the_search_predicts_with_the_same_integers_as_the_decoder():
    rng = np.random.default_rng(2)
    ref = rng.integers(0, 256, (24, 40, 3)).astype(np.uint8)
    planes = PhasePlanes(ref, 4 * 9)
    everywhere = np.ones((3, 5), bool)
    for mult in (1, 2, 4):
        vec = rng.integers(-MAX_VECTOR, MAX_VECTOR + 1, (3, 5, 2)).astype(np.int32) * mult
        want = predict_blocks(ref, vec, everywhere, (8, 8)).reshape(3, 5, 8, 8, 3)
        np.testing.assert_array_equal(planes.blocks(vec, (8, 8)), want)
        one = np.broadcast_to(vec[1, 2], vec.shape).copy()
        whole = predict_blocks(ref, one, everywhere, (8, 8)).reshape(3, 5, 8, 8, 3).transpose(0, 2, 1, 3, 4)
        np.testing.assert_array_equal(planes.frame(*(int(c) for c in vec[1, 2])), whole.reshape(24, 40, 3))
    # a batch of candidates at once, and their SADs (what the searches price)
    cand = rng.integers(-4 * 9 * 4 + 4, 4 * 9 * 4 - 4, (6, 3, 5, 2))
    target = rng.integers(0, 256, (24, 40, 3)).astype(np.uint8)
    tb = target.astype(np.int64).reshape(3, 8, 5, 8, 3).transpose(0, 2, 1, 3, 4)
    for n in range(len(cand)):
        moved = predict_blocks(ref, cand[n], everywhere, (8, 8)).reshape(3, 5, 8, 8, 3).astype(np.int64)
        np.testing.assert_array_equal(planes.blocks(cand, (8, 8))[n], moved)
        np.testing.assert_array_equal(planes.sads(cand, (8, 8), block_rows(target, (8, 8)))[n],
                                      np.abs(moved - tb).sum(axis=(-3, -2, -1)))


def test_the_decisions_trial_slice_is_the_decoders_prediction():
    """The decisions read every block's prediction from the phase planes, straight or bent, and fall
    back to the decoder's own prediction beyond their reach: either way the decoder's integers."""
    rng = np.random.default_rng(5)
    before = rng.integers(0, 256, (16, 24, 3)).astype(np.uint8)
    recon = rng.integers(0, 256, (4, 16, 24, 3)).astype(np.uint8)
    for reach, path in ((4 * 7, None), (4 * 7, rng.integers(-6, 7, (2, 3, 3, 2))), (3, None)):
        vec = rng.integers(-20, 21, (2, 3, 2))
        want = recon.copy()
        every = MotionField(np.ones((1, 2, 3), bool), vec[None].astype(np.int32),
                            bends=None if path is None else path[None].astype(np.int32))
        predict_slice(want, every, 0, before, (4, 8, 8))
        got = _predicted(recon, before, vec, path, (4, 8, 8), PhasePlanes(before, reach))
        np.testing.assert_array_equal(got, want)


def test_search_finds_the_pan():
    frames = pan_video(5, 32, 32, dx=2, dy=-1)
    vec = search_vectors(frames[1:5], frames[0], (8, 8), 4)
    inner = vec[1:-1, 1:-1].reshape(-1, 2)
    assert (inner == [-4, 8]).all(), inner


def _one_by_one_search(targets, ref, block, search, pred, mu):
    """The search as first written: every candidate priced alone, kept when strictly cheaper."""
    bh, bw = block
    hb, wb = ref.shape[0] // bh, ref.shape[1] // bw
    planes = PhasePlanes(ref, targets.shape[0] * (search + 1))
    tb = [t.reshape(hb, bh, wb, bw, 3).transpose(0, 2, 1, 3, 4) for t in targets.astype(np.int32)]
    pred = np.zeros((hb, wb, 2), np.int64) if pred is None else pred
    best, vec = np.full((hb, wb), np.inf), np.zeros((hb, wb, 2), np.int32)

    def price(cand):
        sad = sum(np.abs(planes.blocks(cand * (j + 1), block) - tb[j]).sum(axis=(2, 3, 4)) for j in range(len(tb)))
        return sad + mu * vector_bits(cand, pred)

    steps = sorted(((dy, dx) for dy in range(-search, search + 1) for dx in range(-search, search + 1)),
                   key=lambda v: (abs(v[0]) + abs(v[1]), v))
    for dy, dx in steps:
        cand = np.broadcast_to(np.array([dy * 4, dx * 4]), (hb, wb, 2))
        cost = price(cand)
        better = cost < best
        best[better], vec[better] = cost[better], cand[better]
    for step in (2, 1):
        centre = vec.copy()
        for oy in (-step, 0, step):
            for ox in (-step, 0, step):
                if oy or ox:
                    cand = np.clip(centre + np.array([oy, ox]), -MAX_VECTOR, MAX_VECTOR)
                    cost = price(cand)
                    better = cost < best
                    best[better], vec[better] = cost[better], cand[better]
    return vec


@pytest.mark.parametrize("case", range(8))
def test_the_batched_search_keeps_what_one_by_one_keeps(case):
    rng = np.random.default_rng(case)
    h, w = [(32, 32), (16, 40), (24, 8), (40, 24)][case % 4]
    yy, xx = np.mgrid[:h + 40, :w + 40]
    scene = (127 + 90 * np.sin(yy / 4.0 + case) * np.cos(xx / 6.0))[..., None].repeat(3, -1)
    ref = scene[20:20 + h, 20:20 + w].astype(np.uint8)
    dy, dx = case % 3 - 1, 2 - case % 5
    targets = np.stack([scene[20 + dy * (j + 1):20 + dy * (j + 1) + h, 20 + dx * (j + 1):20 + dx * (j + 1) + w]
                        for j in range(4)]).astype(np.int64)
    if case % 2:
        targets = targets + rng.integers(-25, 26, targets.shape)
    if case == 6:
        targets = np.repeat(ref[None].astype(np.int64), 4, 0)          # every candidate near zero ties
    targets = targets.clip(0, 255).astype(np.uint8)
    pred = rng.integers(-12, 13, (h // 8, w // 8, 2)) if case % 3 == 0 else None
    mu, search = [0.0, 3.0, 11.5, 40.0][case % 4], [2, 3, 4, 6][case % 4]
    np.testing.assert_array_equal(search_vectors(targets, ref, (8, 8), search, pred, mu),
                                  _one_by_one_search(targets, ref, (8, 8), search, pred, mu))


def test_a_search_from_a_start_keeps_the_better_of_start_and_prediction_and_refines_it():
    """The second search of a slice (once the coder's vector predictions are known): from each
    block's earlier vector or its prediction, whichever costs less, refined; never beyond the
    planes' reach, even from a prediction out of the search range."""
    frames = pan_video(5, 32, 32, dx=2, dy=-1)
    targets, ref = frames[1:5], frames[0]
    pan = np.broadcast_to(np.array([-4, 8]), (4, 4, 2))
    zero = np.zeros((4, 4, 2), np.int64)
    # from nothing, predicted the pan: the pan
    got = search_vectors(targets, ref, (8, 8), 4, pan, mu=5.0, start=zero)
    assert (got[1:-1, 1:-1] == [-4, 8]).all(), got
    # a prediction far beyond the range (8 pixels a frame, search 2) is clipped, not an index error
    far = np.full((4, 4, 2), MAX_VECTOR)
    got = search_vectors(targets, ref, (8, 8), 2, far, mu=5.0, start=zero)
    assert np.abs(got).max() <= 2 * 4 + 3
    # from the full search's own answer and the same prediction: never a worse cost
    full = search_vectors(targets, ref, (8, 8), 4, zero, mu=5.0)
    again = search_vectors(targets, ref, (8, 8), 4, zero, mu=5.0, start=full)
    one = _one_by_one_search(targets, ref, (8, 8), 4, zero, 5.0)
    np.testing.assert_array_equal(full, one)

    def cost(v):
        planes = PhasePlanes(ref, 4 * 5)
        tb = [t.astype(np.int32).reshape(4, 8, 4, 8, 3).transpose(0, 2, 1, 3, 4) for t in targets]
        return sum(np.abs(planes.blocks(v * (j + 1), (8, 8)) - tb[j]).sum(axis=(2, 3, 4)) for j in range(4)) \
            + 5.0 * vector_bits(v, zero)
    assert (cost(again) <= cost(full)).all()


@pytest.mark.parametrize("block,frames", [((8, 8), 4), ((32, 32), 32)])      # float32 sums, and int64 beyond 2^24
def test_slice_sads_are_the_integer_sums(block, frames):
    rng = np.random.default_rng(5)
    moved = [rng.integers(0, 256, (3, 32, 64, 3)).astype(np.int16) for _ in range(frames)]
    targets = rng.integers(0, 256, (frames, 32, 64, 3)).astype(np.int16)
    bh, bw = block
    want = sum(np.abs(m.astype(np.int64) - t) for m, t in zip(moved, targets))
    want = want.reshape(3, 32 // bh, bh, 64 // bw, bw, 3).sum(axis=(2, 4, 5))
    got = slice_sads(moved, targets, block)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------------------------------ coding
def test_motion_field_round_trips_through_the_coder_and_damage_is_an_error():
    rng = np.random.default_rng(1)
    grid = (8, 4, 5)
    flags = rng.random(grid) < 0.5
    flags[0] = False
    vectors = np.where(flags[..., None], rng.integers(-MAX_VECTOR, MAX_VECTOR + 1, (*grid, 2)), 0).astype(np.int32)
    field = MotionField(flags, vectors)
    copied = flags | (rng.random(grid) < 0.3)                # flags are coded only at copied positions
    ch = EncodeChannel()
    got = MotionCoder().code(ch, grid, field, None, copied)
    np.testing.assert_array_equal(got.flags, flags)
    np.testing.assert_array_equal(got.vectors, vectors)
    payload = ch.payload()
    dec = DecodeChannel(payload)
    back = MotionCoder().code(dec, grid, None, None, copied)
    dec.finish()
    np.testing.assert_array_equal(back.flags, flags)
    np.testing.assert_array_equal(back.vectors, vectors)
    bad = MotionField(flags, np.where(flags[..., None], MAX_VECTOR + 1, 0).astype(np.int32))
    with pytest.raises(EntropyError, match="beyond"):
        MotionCoder().code(EncodeChannel(), grid, bad, None, copied)
    with pytest.raises(EntropyError, match="not copies"):   # a predicted block must copy its codes
        MotionCoder().code(EncodeChannel(), grid, field, None, copied & ~flags)
    with pytest.raises(EntropyError):                       # a cut payload runs out
        dec = DecodeChannel(payload[:len(payload) // 2])
        MotionCoder().code(dec, grid, None, None, copied)
        dec.finish()


def test_forced_copies_keep_the_chain_of_other_positions():
    idx = np.arange(1 * 4 * 2 * 2).reshape(1, 4, 2, 2).astype(np.int32)
    copied = np.zeros((4, 2, 2), bool)
    copied[2, 0, 0] = True                                  # slice 2 repeats slice 1 there
    idx[0, 2, 0, 0] = idx[0, 1, 0, 0]
    flags = np.zeros((4, 2, 2), bool)
    flags[1, 0, 0] = True                                   # slice 1 becomes a motion block there
    out = force_level_copies(CodeLevel("bottom", 16, idx, copied), flags, None)
    assert out.copied[1, 0, 0] and out.indices[0, 1, 0, 0] == idx[0, 0, 0, 0]
    # slice 2 had copied slice 1's old codes: it keeps them, now coded rather than copied
    assert not out.copied[2, 0, 0] and out.indices[0, 2, 0, 0] == idx[0, 2, 0, 0]


def test_a_top_cell_whose_bottom_blocks_are_all_predicted_repeats_the_slice_before():
    flags = np.zeros((4, 4, 4), bool)
    flags[2:4, 0:2, 0:2] = True                             # top cell (1, 0, 0): all 8 of its blocks
    flags[2:4, 2:4, 2:4] = True
    flags[3, 3, 3] = False                                  # top cell (1, 1, 1): 7 of 8
    assert predicted_cells(flags, (2, 2, 2)).tolist() == [[[False, False], [False, False]],
                                                           [[True, False], [False, False]]]
    assert predicted_cells(flags, (3, 2, 2)) is None        # grids that do not nest
    rng = np.random.default_rng(0)
    top = CodeLevel("top", 16, rng.integers(0, 16, (1, 2, 2, 2)).astype(np.int16), np.zeros((2, 2, 2), bool))
    bottom = CodeLevel("bottom", 16, rng.integers(0, 16, (2, 4, 4, 4)).astype(np.int16), np.zeros((4, 4, 4), bool))
    before = (CodeLevel("top", 16, rng.integers(0, 16, (1, 1, 2, 2)).astype(np.int16)),
              CodeLevel("bottom", 16, rng.integers(0, 16, (2, 1, 4, 4)).astype(np.int16)))
    new_top, new_bottom = force_motion_copies((top, bottom), flags, None)
    assert new_top.copied[1, 0, 0] and new_top.copied.sum() == 1
    assert new_top.indices[0, 1, 0, 0] == top.indices[0, 0, 0, 0]
    np.testing.assert_array_equal(new_bottom.copied, flags)
    flags[0:2] = True                                       # a predicted GOP's first slices: from the GOP before
    new_top, _ = force_motion_copies((top, bottom), flags, before)
    assert new_top.copied[0, 0, 0] and new_top.indices[0, 0, 0, 0] == before[0].indices[0, -1, 0, 0]


def test_an_encoder_copies_every_top_cell_the_motion_layer_predicts_whole():
    """The shipped model at Q9 (whose own copy decisions keep every such cell of this pan coded), a 64x64 pan of
    two GOPs, the second predicted from the first (its first top slice copies across GOPs): the decoder makes
    what the encoder saw, and 1 and 3 threads write the same bytes."""
    import torch
    from conftest import encode_seen
    model, frames = load_model(), pan_video(64, 64, 64)
    settings = EncodeSettings.build(model, quality=9, refresh=0)
    data, seen = encode_seen(model, settings, frames)
    gops = list(read_gop_codes(VqvReader(io.BytesIO(data)), model))
    assert len(gops) == 2 and not gops[1].refresh
    whole = 0
    for g in gops:
        top = g.codes.level("top")
        cells = predicted_cells(g.codes.motion.flags, top.grid)
        whole += int(cells.sum())
        assert not (cells & ~top.copy_map()).any()
    assert whole > 16 and predicted_cells(gops[1].codes.motion.flags, gops[1].codes.level("top").grid)[0].any()
    np.testing.assert_array_equal(decode_bytes(data, model=model), seen)
    torch.set_num_threads(3)
    try:
        assert encode_seen(model, settings, frames)[0] == data
    finally:
        torch.set_num_threads(1)


# ------------------------------------------------------------------------------------------ files
def test_motion_files_round_trip_and_the_decoder_makes_what_the_encoder_saw(emodel):
    frames = pan_video(40, 32, 32)
    settings = EncodeSettings.build(emodel, quality=3, motion=True)
    seen = []
    enc = GopEncoder(emodel, settings, 32, 32, on_gop=lambda g, n, codes, recon: seen.append(recon[:n]))
    for f in frames:
        enc.add_frame(f)
    enc.finish()
    data = encode_frames(frames, 16, model=emodel, quality=3, motion=True)
    reader = VqvReader(io.BytesIO(data))
    assert reader.version == (7, 0) and reader.header.copy_mode and reader.motion_bends    # bent paths, no residual
    np.testing.assert_array_equal(decode_bytes(data, model=emodel), np.concatenate(seen))
    gops = list(read_gop_codes(reader, emodel))
    assert all(g.codes.motion is not None for g in gops) and gops[0].codes.motion.flags.any()
    assert not gops[0].codes.motion.flags[0].any()          # a refresh GOP's first slice: nothing before it
    # at an enhanced point a predicted block either codes its residual or keeps the prediction as is:
    # both kinds are in this file, and the decoder made what the encoder saw of each
    predicted = np.concatenate([g.codes.motion.flags for g in gops])
    kept = np.concatenate([g.codes.enhancement.copy_map() for g in gops])
    assert (predicted & kept).any() and (predicted & ~kept).any()
    off = encode_frames(frames, 16, model=emodel, quality=3, motion=False)
    assert VqvReader(io.BytesIO(off)).version == (2, 0)     # without the layer: a 2.0 file, as before


def test_a_pan_costs_well_under_half_the_bits_and_its_vectors_are_the_pan(emodel, tmp_path):
    frames = pan_video(48, 32, 32, dx=1)
    off = encode_frames(frames, 16, model=emodel, quality=4, motion=False)
    on = encode_frames(frames, 16, model=emodel, quality=4, motion=True)
    assert len(on) < 0.5 * len(off), (len(on), len(off))
    assert psnr(decode_bytes(on, model=emodel), frames) >= psnr(decode_bytes(off, model=emodel), frames)
    (tmp_path / "pan.vqv").write_bytes(on)
    arrays = read_codes(tmp_path / "pan.vqv", model=emodel).arrays()
    predicted = arrays["motion_predicted"]
    assert predicted.mean() > 0.5
    vectors = arrays["motion_vectors"][predicted]
    assert (np.median(vectors, axis=0) == [0, 4]).all()     # 1 pixel per frame to the left = +4 quarter pixels


def test_refresh_gops_decode_alone_and_damage_names_the_gop(emodel):
    frames = pan_video(96, 32, 32)
    data = encode_frames(frames, 16, model=emodel, quality=3, motion=True, refresh=1)
    whole = decode_bytes(data, model=emodel)
    reader = VqvReader(io.BytesIO(data))
    assert reader.refresh_points() == [0, 1, 2]
    (g,) = read_gop_codes(reader, emodel, [2])
    alone = apply_motion(synthesise(emodel, g.codes, enhance=False), g.codes.motion, None, (2, 4, 4),
                         enhancement_residual(emodel, g.codes))
    np.testing.assert_array_equal(alone, whole[64:96])
    start = reader._offsets[1]
    bad = bytearray(data)
    bad[start + 12] ^= 0x10
    with pytest.raises(CrcError, match="GOP 1"):
        decode_bytes(bytes(bad), model=emodel)


def test_same_bytes_and_pixels_for_any_thread_count(emodel):
    import torch
    frames = pan_video(72, 32, 32, dx=1, dy=1)
    out = []
    for n in (1, 2, 3):
        torch.set_num_threads(n)
        data = encode_frames(frames, 16, model=emodel, quality=4, motion=True, refresh=0)
        out.append((data, decode_bytes(data, model=emodel)))
    torch.set_num_threads(1)
    for data, pix in out[1:]:
        assert data == out[0][0]
        np.testing.assert_array_equal(pix, out[0][1])


@pytest.mark.parametrize("quality", [2, 4])      # a scalar point; an enhanced one
def test_same_bytes_however_the_gops_are_grouped_into_rounds(emodel, monkeypatch, quality):
    """A round is as many GOPs as the workers run at once (at native sizes: the thread count), so
    the motion decisions must not depend on where a round ends (they did: at 320x240 --threads 1
    and 2 gave different files)."""
    import vqcodec.coding.encoder as encoder_module
    from vqcodec.coding.gops import network_round
    frames = pan_video(136, 32, 32, dx=1, dy=1)           # 5 GOPs, the last short
    out = []
    for per_round in (1, 2, 3, None):
        monkeypatch.setattr(encoder_module, "network_round",
                            network_round if per_round is None else (lambda h, w, n=per_round: (1, n)))
        data = encode_frames(frames, 16, model=emodel, quality=quality, motion=True, refresh=3)
        out.append((data, decode_bytes(data, model=emodel)))
    assert len(VqvReader(io.BytesIO(out[0][0]))) == 5
    for data, pix in out[1:]:
        assert data == out[0][0]
        np.testing.assert_array_equal(pix, out[0][1])


def test_motion_needs_copy_mode_and_a_sane_range(emodel):
    from vqcodec.errors import OptionError
    frames = pan_video(8, 32, 32)
    data = encode_frames(frames, 16, model=emodel, quality=3, motion=True, rdo_strength=0)
    assert VqvReader(io.BytesIO(data)).version == (2, 0)    # no copies, no motion layer
    with pytest.raises(OptionError, match="motion-search"):
        EncodeSettings.build(emodel, motion=True, motion_search=0)


def test_the_layer_is_on_by_default_and_no_motion_turns_it_off(emodel, tmp_path):
    from click.testing import CliRunner

    from vqcodec.cli.main import main
    np.save(tmp_path / "pan.npy", pan_video(40, 32, 32, dx=1))
    run = CliRunner().invoke
    for flag, layer in (([], True), (["--no-motion"], False)):
        out = tmp_path / f"pan{len(flag)}.vqv"
        r = run(main, ["encode", str(tmp_path / "pan.npy"), str(out), "--model", str(emodel.path), "-Q", "3", "-q",
                       *flag])
        assert r.exit_code == 0, r.output
        assert VqvReader(io.BytesIO(out.read_bytes())).motion_layer == layer
    assert VqvReader(io.BytesIO(encode_frames(pan_video(40, 32, 32), 16, model=emodel, quality=3))).motion_layer
    # encode-dataset keeps it off: there the codes are the product, and a predicted block's are a copy
    dataset = next(p for p in main.commands["encode-dataset"].params if p.name == "motion")
    assert dataset.default is False


def test_codes_without_a_motion_field_write_a_layer_with_nothing_predicted(emodel):
    """Settings with the layer, codes made without it (e.g. an older file's, written again): a valid
    file whose layer predicts nothing, decoding to the same frames."""
    from vqcodec.coding.encoder import write_container
    frames = pan_video(40, 32, 32)
    off = EncodeSettings.build(emodel, quality=3, motion=False)
    enc = GopEncoder(emodel, off, 32, 32)
    for f in frames:
        enc.add_frame(f)
    gops = enc.finish()
    files = []
    for motion in (False, True):
        buf = io.BytesIO()
        write_container(buf, emodel, EncodeSettings.build(emodel, quality=3, motion=motion), gops,
                        source_size=(32, 32), coded_size=(32, 32), fps=16)
        files.append(buf.getvalue())
    reader = VqvReader(io.BytesIO(files[1]))
    assert reader.motion_layer and not any(g.codes.motion.flags.any() for g in read_gop_codes(reader, emodel))
    np.testing.assert_array_equal(decode_bytes(files[1], model=emodel), decode_bytes(files[0], model=emodel))


def test_bent_paths_decided_on_a_second_thread_decide_the_same(monkeypatch):
    """Large slices search and price their bent paths on another thread: the same decision."""
    import vqcodec.coding.motion_search as ms
    frames = pan_video(11, 48, 48, dx=1)[[0, 1, 3, 6, 10]]        # speeding up: bent paths pay
    rng = np.random.default_rng(1)
    recon = np.clip(frames[1:].astype(int) + rng.integers(-20, 21, frames[1:].shape), 0, 255).astype(np.uint8)
    rate = rng.uniform(10, 200, (6, 6))
    got = {}
    for blocks in (10 ** 9, 1):
        monkeypatch.setattr(ms, "SIDE_THREAD_BLOCKS", blocks)
        got[blocks] = ms.decide_slice(frames[1:], recon, frames[0], rate, 30.0, 4, (4, 8, 8), bends=True)
    a, b = got.values()
    assert a.flags.any() and a.bends.any()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def _bilinear_reference(ref, vectors, mask, block):
    """The prediction as first written: every pixel from its four clamped neighbours."""
    bh, bw = block
    h, w = ref.shape[:2]
    by, bx = np.nonzero(mask)
    v = vectors[by, bx].astype(np.int64)
    ys = (by[:, None] * bh + np.arange(bh)) * 4 + v[:, :1]
    xs = (bx[:, None] * bw + np.arange(bw)) * 4 + v[:, 1:]
    y0, x0, fy, fx = ys >> 2, xs >> 2, (ys & 3)[:, :, None, None], (xs & 3)[:, None, :, None]
    r = ref.astype(np.int64)

    def at(yy, xx):
        return r[np.clip(yy, 0, h - 1)[:, :, None], np.clip(xx, 0, w - 1)[:, None, :]]

    acc = ((4 - fy) * (4 - fx) * at(y0, x0) + (4 - fy) * fx * at(y0, x0 + 1) + fy * (4 - fx) * at(y0 + 1, x0)
           + fy * fx * at(y0 + 1, x0 + 1))
    return ((acc + 8) >> 4).astype(np.uint8)


def test_the_prediction_is_the_bilinear_formula_at_every_pixel_and_edge():
    rng = np.random.default_rng(11)
    for k in range(60):
        h, w = rng.integers(1, 6, 2) * 8
        block = [(8, 8), (4, 4), (8, 4)][k % 3]
        ref = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        if k % 7 == 0:
            ref[:] = 255                          # the largest sums
        vec = rng.integers(-140, 141, (h // block[0], w // block[1], 2)).astype(np.int32)   # far off the frame too
        mask = rng.random(vec.shape[:2]) < 0.7
        np.testing.assert_array_equal(predict_blocks(ref, vec, mask, block), _bilinear_reference(ref, vec, mask, block))
    assert predict_blocks(ref, vec, np.zeros(vec.shape[:2], bool), block).shape == (0, *block, 3)
