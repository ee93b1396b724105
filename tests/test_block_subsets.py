"""Some of a slice's blocks decided as one row of blocks (vqcodec.coding.block_subsets), and a slice's two decisions
making each block's once (vqcodec.coding.gop_decisions): the decisions of deciding the whole slice twice."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_same_decision, pan_video

from vqcodec.coding import block_subsets, gop_decisions, motion_search
from vqcodec.coding.block_subsets import BlockSubset
from vqcodec.coding.effort import Effort
from vqcodec.coding.motion import MotionResidual
from vqcodec.weights import load_model

GOLDEN = Path(__file__).parent / "golden"


def test_blocks_gathered_into_a_row_scatter_back_to_their_places():
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (2, 16, 24, 3)).astype(np.uint8)
    ids = np.array([0, 4, 7, 13, 23])                    # on the 4 x 6 grid of 4x4 blocks
    row = block_subsets.gather_blocks(frames, ids, (2, 4, 4))
    assert row.shape == (2, 4, 20, 3)
    for k, i in enumerate(ids):
        y, x = divmod(i, 6)
        np.testing.assert_array_equal(row[:, :, 4 * k:4 * k + 4], frames[:, 4 * y:4 * y + 4, 4 * x:4 * x + 4])
    out = np.zeros_like(frames)
    block_subsets.scatter_blocks(out, ids, row, (2, 4, 4))
    mask = np.zeros((4, 6), bool)
    mask.flat[ids] = True
    pixels = np.repeat(np.repeat(mask, 4, 0), 4, 1)
    np.testing.assert_array_equal(out[:, pixels], frames[:, pixels])
    assert not out[:, ~pixels].any()


@pytest.mark.parametrize("size", [(24, 32), (120, 160)])       # numpy's gathers; the compiled SADs (>= 160 x 120)
def test_a_row_of_blocks_reads_the_planes_where_its_blocks_sit_on_the_grid(size):
    rng = np.random.default_rng(5)
    h, w = size
    planes = motion_search.search_planes(rng.integers(0, 256, (h, w, 3)).astype(np.uint8), 2, 3)
    grid, block = (h // 8, w // 8), (2, 8, 8)
    lim = (planes.reach - 1) * 4
    vectors = rng.integers(-lim, lim + 1, (3, *grid, 2))             # quarter pixels, every phase
    targets = motion_search.block_rows(rng.integers(0, 256, (h, w, 3)).astype(np.uint8), (8, 8))
    ids = np.sort(rng.choice(grid[0] * grid[1], 7, replace=False))
    sub = BlockSubset(ids, grid, block)
    shifted, row = sub.planes(planes), vectors.reshape(3, -1, 2)[:, ids][:, None]        # (3, 1, 7, 2)
    row_targets = sub.values(targets)
    np.testing.assert_array_equal(shifted.sads(row, (8, 8), row_targets)[:, 0],
                                  planes.sads(vectors, (8, 8), targets).reshape(3, -1)[:, ids])
    np.testing.assert_array_equal(shifted.blocks(row, (8, 8))[:, 0],
                                  planes.blocks(vectors, (8, 8)).reshape(3, -1, 8, 8, 3)[:, ids])


def _twice_whole(args, pred, coded):
    """What a slice's two decisions were: the whole slice, then the whole slice again with the coder's predictions."""
    first = motion_search.decide_slice(*args, pred, coded=coded, bends=True)
    again = gop_decisions.coder_predictions(first.flags, first.vectors, pred)
    if not (again != pred).any():
        return first, first, again
    return first, motion_search.decide_slice(*args, again, coded=coded, start=first.searched, bends=True), again


@pytest.mark.parametrize("per_block_lam,residual", [(True, True), (False, False), (False, True)])
def test_deciding_each_block_once_decides_as_deciding_the_slice_twice(per_block_lam, residual, monkeypatch):
    h, w = 64, 96
    rng = np.random.default_rng(11)
    src = pan_video(5, h, w, dx=3)
    src = np.clip(src.astype(np.int16) + rng.integers(-20, 21, src.shape), 0, 255).astype(np.uint8)
    before, source = src[2], src[3:5]                               # a slice of 2 frames
    recon = np.clip(source.astype(np.int16) + rng.integers(-25, 26, source.shape), 0, 255).astype(np.uint8)
    grid, block = (h // 4, w // 4), (2, 4, 4)
    rate = rng.uniform(20.0, 120.0, grid)
    lam = rng.uniform(10.0, 60.0, grid) if per_block_lam else 30.0
    coded = MotionResidual(((1, 1),), load_model(GOLDEN / "tiny_linear.pt").motion_residual_basis) if residual else None
    pred = np.where(rng.random((*grid, 1)) < 0.5, [2, 6], 0)        # the slice before's vectors, where it moved
    args = source, recon, before, rate, lam, 4, block
    first, whole, again = _twice_whole(args, pred, coded)
    kept = (again == pred).all(-1)
    assert whole.flags.any() and whole.bends.any() and kept.any() and not kept.all()
    # blocks of both kinds decide otherwise the second time: a prediction changed, or only the vector searched
    changed = (whole.vectors != first.vectors).any(-1) | (whole.flags != first.flags)
    assert (changed & ~kept).any() and (changed & kept & (whole.searched != first.searched).any(-1)).any()
    decided = []
    monkeypatch.setattr(motion_search, "BlockSubset", lambda ids, *a: decided.append(ids) or BlockSubset(ids, *a))
    once = gop_decisions.decide_in_two(*args, pred, None, coded, motion_search.search_planes(before, 2, 4), True, None)
    assert sum(map(len, decided)) < 1.5 * kept.size          # each block once, the moved pass-0 blocks twice
    assert_same_decision(once, whole)
    assert (once.chosen is not None) == residual


def test_a_slice_whose_predictions_stay_is_decided_once(monkeypatch):
    rng = np.random.default_rng(2)
    src = pan_video(3, 32, 32, dx=2)
    recon = np.clip(src[1:3].astype(np.int16) + rng.integers(-25, 26, (2, 32, 32, 3)), 0, 255).astype(np.uint8)
    args = src[1:3], recon, src[0], np.full((8, 8), 200.0), 30.0, 3, (2, 4, 4)
    monkeypatch.setattr(gop_decisions, "coder_predictions", lambda flags, vectors, pred: pred)
    first = motion_search.decide_slice(*args, np.zeros((8, 8, 2), np.int64), bends=True)
    assert first.flags.any()
    once = gop_decisions.decide_in_two(*args, np.zeros((8, 8, 2), np.int64), None, None,
                                       motion_search.search_planes(src[0], 2, 3), True, None)
    assert_same_decision(once, first)


def test_with_the_coders_the_first_decision_decides_only_the_pass_0_blocks_and_the_second_is_as_before(monkeypatch):
    from vqcodec.settings import EncodeSettings
    model = load_model()                                          # the shipped model and coders
    settings = EncodeSettings.build(model, quality=6, conditional_coder=True)
    coded = MotionResidual(settings.residual_options, model.motion_residual_basis, settings.conditional)
    assert coded.coder is not None
    rng = np.random.default_rng(6)
    src = pan_video(5, 64, 64, dx=3)
    src = np.clip(src.astype(np.int16) + rng.integers(-5, 6, src.shape), 0, 255).astype(np.uint8)
    recon = np.clip(src[1:5].astype(np.int16) + rng.integers(-25, 26, (4, 64, 64, 3)), 0, 255).astype(np.uint8)
    args = src[1:5], recon, src[0], rng.uniform(100.0, 400.0, (8, 8)), 2000.0, 4, (4, 8, 8)
    pred = np.where(rng.random((8, 8, 1)) < 0.5, [2, 6], 0)
    # before: the first decision of the whole slice (priced without the coders), then the whole slice again
    first = motion_search.decide_slice(*args, pred, coded=dataclasses.replace(coded, coder=None), bends=True)
    again = gop_decisions.coder_predictions(first.flags, first.vectors, pred)
    whole = motion_search.decide_slice(*args, again, coded=coded, start=first.searched, bends=True)
    # (the predictions matter: with the first ones the second decision differs)
    alone = motion_search.decide_slice(*args, pred, coded=coded, start=first.searched, bends=True)
    assert any((x != y).any() for x, y in zip((alone.flags, alone.vectors, *alone.chosen),
                                             (whole.flags, whole.vectors, *whole.chosen)))
    decided = []
    monkeypatch.setattr(motion_search, "BlockSubset", lambda ids, *a: decided.append(ids) or BlockSubset(ids, *a))
    got = gop_decisions.decide_twice(args, pred, None, coded, True, Effort(), None)
    assert [len(ids) for ids in decided] == [32]                  # the pass-0 blocks, once
    assert whole.flags.any() and (whole.chosen[0] >= coded.first_coder).any()      # some blocks take a coder
    assert_same_decision(got, whole)


def test_a_row_of_blocks_never_predicts_beyond_the_planes_from_the_grids_places():
    rng = np.random.default_rng(6)
    ref = rng.integers(0, 256, (16, 24, 3)).astype(np.uint8)
    planes = motion_search.search_planes(ref, 2, 1)                  # reach 4 pixels
    sub = BlockSubset(np.array([1, 4]), (4, 6), (2, 4, 4))
    row = np.zeros((2, 4, 8, 3), np.uint8)
    near = motion_search._predicted(row, ref, np.full((1, 2, 2), 4), None, (2, 4, 4), sub.planes(planes))
    np.testing.assert_array_equal(near[0, :, :4], motion_search._predicted(
        np.zeros((2, 16, 24, 3), np.uint8), ref, np.full((4, 6, 2), 4), None, (2, 4, 4), planes)[0, :4, 4:8])
    with pytest.raises(ValueError, match="beyond the planes' reach"):
        motion_search._predicted(row, ref, np.full((1, 2, 2), 40), None, (2, 4, 4), sub.planes(planes))
