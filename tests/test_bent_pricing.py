"""The bent paths priced only where they differ from the straight ones, in chunks on two threads
(vqcodec.coding.bent_pricing): the slice decision is the one that pricing every block of the bent slice makes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import assert_same_decision, pan_video

from vqcodec.coding import bent_pricing, motion_search
from vqcodec.coding.motion import MotionResidual
from vqcodec.weights import load_model

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def lmodel():
    return load_model(GOLDEN / "tiny_linear.pt")        # a linear path: the motion residual's basis


class _WholeSlice:
    """What the decision did before: the bent slice priced whole, every block."""

    def __init__(self, search, price, source, straight, lam, block, per_block=True, side=None):
        self.search, self.price, self.source, self.lam = search, price, source, lam

    def result(self):
        vec, path, trial = self.search()
        return (vec, path, *self.price(self.source, trial, self.lam))


@pytest.mark.parametrize("size,per_block_lam,residual", [((128, 128), True, True), ((128, 128), False, False),
                                                        ((32, 40), True, True)])
def test_pricing_only_the_bent_blocks_decides_as_pricing_them_all(lmodel, monkeypatch, size, per_block_lam, residual):
    # 128 x 128 in 4x4 blocks: 1,024 blocks, the side thread and the main thread share the chunks (of 64 here);
    # 32 x 40: 80 blocks, all on the calling thread
    h, w = size
    rng = np.random.default_rng(7)
    src = pan_video(5, h, w, dx=3)
    src = np.clip(src.astype(np.int16) + rng.integers(-20, 21, src.shape), 0, 255).astype(np.uint8)
    before, source = src[2], src[3:5]                               # a slice of 2 frames
    recon = np.clip(source.astype(np.int16) + rng.integers(-25, 26, source.shape), 0, 255).astype(np.uint8)
    grid = (h // 4, w // 4)
    rate = rng.uniform(20.0, 120.0, grid)
    lam = rng.uniform(10.0, 60.0, grid) if per_block_lam else 30.0
    coded = MotionResidual(((1, 1),), lmodel.motion_residual_basis) if residual else None
    monkeypatch.setattr(bent_pricing, "CHUNK_BLOCKS", 64)
    apart = motion_search.decide_slice(source, recon, before, rate, lam, 4, (2, 4, 4), coded=coded, bends=True)
    monkeypatch.setattr(motion_search, "BentPricing", _WholeSlice)
    whole = motion_search.decide_slice(source, recon, before, rate, lam, 4, (2, 4, 4), coded=coded, bends=True)
    assert apart.bends.any() and apart.flags.any() and not apart.flags.all()    # some blocks bent, some not predicted
    assert_same_decision(apart, whole)
    assert (apart.chosen is not None) == residual
