"""The motion decisions' lambda per block (vqcodec.coding.propagation): worth flows back along the vectors,
conserved up to ALPHA, and the lambdas are moved between blocks around the GOP's, not lowered."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import pan_video

from vqcodec.coding import propagation
from vqcodec.coding.motion import SUBPEL


def _pan_field(t: int = 4, hb: int = 4, wb: int = 6, dx_blocks: int = 1):
    flags = np.ones((t, hb, wb), bool)
    flags[0] = False
    vectors = np.zeros((t, hb, wb, 2), np.int64)
    vectors[1:, ..., 1] = dx_blocks * 8 * SUBPEL
    return flags, vectors


def test_worth_flows_back_along_the_vectors_and_is_conserved():
    flags, vectors = _pan_field()
    p = propagation.propagation(flags, vectors, (8, 8))
    assert (p[-1] == 0).all()                                   # nothing is predicted from the last slice
    for t in range(1, len(p)):                                  # each slice hands on ALPHA x (1 + its worth)
        assert p[t - 1].sum() == pytest.approx(propagation.ALPHA * (1 + p[t][flags[t]]).sum())
    assert (p[0][:, 0] == 0).all() and (p[0][:, 1:] > 0).all()  # a pan right reads the next column, never column 0
    assert p[0].mean() > p[1].mean() > p[2].mean()              # earlier slices are read by more of the GOP


def test_a_half_block_vector_splits_its_worth_between_two_blocks():
    flags, vectors = _pan_field(t=2, hb=1, wb=4)
    vectors[1, ..., 1] = 4 * SUBPEL                             # half a block right
    p = propagation.propagation(flags, vectors, (8, 8))
    np.testing.assert_allclose(p[0, 0], propagation.ALPHA * np.array([0.5, 1, 1, 1.5]))   # (clamped at the edge)


def test_the_lambdas_move_between_blocks_around_the_gops():
    frames = pan_video(16, 32, 48, dx=2)                        # 4 slices of 4 frames, 4 x 6 blocks
    recon = (frames // 32 * 32 + 16).astype(np.uint8)           # a coarse reconstruction: prediction pays
    rates = np.full((4, 4, 6), 40.0)
    lam = propagation.block_lambdas(frames, recon, rates, 100.0, 4, (4, 8, 8))
    assert lam.shape == (4, 4, 6)
    assert np.exp(np.log(lam).mean()) == pytest.approx(100.0)     # the GOP's lambda, redistributed
    assert lam[-1].min() > lam[1].max()                          # the last slice, read by nothing, pays most
    flags, _ = propagation.lookahead_field(frames, recon, rates, 100.0, 4, (4, 8, 8))
    assert not flags[0].any() and flags[1:].mean() > 0.5         # the pan is predicted


def test_the_lookahead_on_two_threads_finds_what_one_finds(monkeypatch):
    # slices of 256 blocks (128 x 128) run every other one on the decisions' side thread: the same field
    frames = pan_video(16, 128, 128, dx=3)
    rng = np.random.default_rng(5)
    recon = np.clip(frames.astype(np.int16) + rng.integers(-12, 13, frames.shape), 0, 255).astype(np.uint8)
    rates = rng.uniform(10.0, 80.0, (4, 16, 16))
    both = propagation.lookahead_field(frames, recon, rates, 60.0, 4, (4, 8, 8))
    monkeypatch.setattr(propagation, "SIDE_THREAD_BLOCKS", 10 ** 9)
    one = propagation.lookahead_field(frames, recon, rates, 60.0, 4, (4, 8, 8))
    assert both[0].any() and not both[0].all()                   # some blocks predicted, not all
    for a, b in zip(both, one):
        np.testing.assert_array_equal(a, b)
