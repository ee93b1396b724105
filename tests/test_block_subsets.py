"""A slice's second decision made again only for the blocks whose inputs changed (vqcodec.coding.block_subsets): the
same decision as deciding the whole slice again."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import pan_video

from vqcodec.coding import motion_search
from vqcodec.coding.block_subsets import BlockSubset
from vqcodec.coding.motion import MotionResidual
from vqcodec.weights import load_model

GOLDEN = Path(__file__).parent / "golden"


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


@pytest.mark.parametrize("per_block_lam,residual", [(True, True), (False, False), (False, True)])
def test_deciding_again_only_the_changed_blocks_decides_as_the_whole_slice(per_block_lam, residual, monkeypatch):
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
    first = motion_search.decide_slice(*args, pred, coded=coded, bends=True)
    again = motion_search.coder_predictions(first.flags, first.vectors, pred)
    kept = (again == pred).all(-1)
    whole = motion_search.decide_slice(*args, again, coded=coded, start=first.searched, bends=True)
    redone = []
    monkeypatch.setattr(motion_search, "BlockSubset", lambda ids, *a: redone.append(ids) or BlockSubset(ids, *a))
    part = motion_search.decide_slice(*args, again, coded=coded, start=first.searched, bends=True, first=(first, kept))
    assert 0 < len(redone[0]) < kept.size and kept.any() and not kept.all()      # some decided again, some not
    assert whole.flags.any() and whole.bends.any()
    # blocks of both kinds decide otherwise the second time: a prediction changed, or only the vector searched
    changed = (whole.vectors != first.vectors).any(-1) | (whole.flags != first.flags)
    assert (changed & ~kept).any() and (changed & kept & (whole.searched != first.searched).any(-1)).any()
    for a, b in zip(part, whole):
        if isinstance(a, tuple):
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y)
        else:
            np.testing.assert_array_equal(a, b)
    assert (part.chosen is not None) == residual
