"""The motion search's compiled SADs (numba): the same integers as numpy's passes, so the same choices and
bytes; a step or vector beyond the padded reference is an error, never a read outside it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

from vqcodec.coding import sad_kernels  # noqa: E402
from vqcodec.coding.encoder import encode_frames  # noqa: E402
from vqcodec.coding.motion_search import PhasePlanes, block_rows, decide_slice, search_vectors  # noqa: E402
from vqcodec.weights import load_model  # noqa: E402

from conftest import pan_video  # noqa: E402

K = sad_kernels.kernels()


def use_kernels(monkeypatch, on: bool) -> None:
    """Every frame searched with the kernels, or none (however much this process has searched already)."""
    monkeypatch.setattr(sad_kernels, "KERNEL_MIN_PIXELS", 0 if on else 1 << 62)
    monkeypatch.setattr(sad_kernels, "KERNEL_AFTER_PIXELS", 0 if on else 1 << 62)


@pytest.mark.parametrize("bt,block,search", [(1, (8, 8), 3), (4, (8, 8), 2), (3, (4, 8), 2), (2, (16, 16), 1)])
def test_the_full_search_kernel_gives_numpys_sums(bt, block, search):
    rng = np.random.default_rng(bt)
    h, w = 32, 48
    reach = bt * (search + 1)
    ref = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    whole = np.pad(ref.astype(np.int16), ((reach, reach + 1), (reach, reach + 1), (0, 0)), mode="edge")
    targets = rng.integers(0, 256, (bt, h, w, 3)).astype(np.int16)
    steps = np.array([(dy, dx) for dy in range(-search, search + 1) for dx in range(-search, search + 1)], np.int64)
    moved = [np.stack([whole[reach + dy * (j + 1):reach + dy * (j + 1) + h, reach + dx * (j + 1):reach + dx * (j + 1) + w]
                       for dy, dx in steps]) for j in range(bt)]
    want = sad_kernels.slice_sads(moved, targets, block)
    got = sad_kernels.full_search_sads(K, whole, targets, steps, reach, block)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("block", [(8, 8), (4, 8)])
def test_the_moved_blocks_kernel_gives_numpys_sums_at_every_phase(block, monkeypatch):
    use_kernels(monkeypatch, False)
    rng = np.random.default_rng(7)
    ref = rng.integers(0, 256, (32, 40, 3)).astype(np.uint8)
    planes = PhasePlanes(ref, 6)
    assert planes.kernels is None
    hb, wb = 32 // block[0], 40 // block[1]
    vectors = rng.integers(-20, 21, (3, 2, hb, wb, 2))          # quarter pixels, every phase, both signs
    targets = block_rows(rng.integers(0, 256, (32, 40, 3)).astype(np.uint8), block)
    want = planes.sads(vectors, block, targets)
    got = sad_kernels.moved_sads(K, planes.planes, vectors, targets, planes.reach, block)
    assert got.shape == want.shape == (3, 2, hb, wb)
    np.testing.assert_array_equal(got, want)


def test_a_vector_or_a_step_beyond_the_reference_is_an_error():
    rng = np.random.default_rng(3)
    planes = PhasePlanes(rng.integers(0, 256, (16, 16, 3)).astype(np.uint8), 2)
    targets = block_rows(rng.integers(0, 256, (16, 16, 3)).astype(np.uint8), (8, 8))
    far = np.zeros((1, 2, 2, 2), np.int64)
    far[0, 1, 1] = (4 * 3, 0)                                   # 3 pixels down, reach 2
    with pytest.raises(ValueError, match="beyond"):
        sad_kernels.moved_sads(K, planes.planes, far, targets, planes.reach, (8, 8))
    tg = rng.integers(0, 256, (1, 16, 16, 3)).astype(np.int16)
    with pytest.raises(ValueError, match="beyond"):
        sad_kernels.full_search_sads(K, planes.planes[0], tg, np.array([[3, 0]]), planes.reach, (8, 8))


def test_the_search_and_a_slices_decision_are_the_same_with_and_without_kernels(monkeypatch):
    frames = pan_video(9, 48, 64, dx=1, dy=1)
    rng = np.random.default_rng(2)
    noisy = np.clip(frames.astype(int) + rng.integers(-12, 13, frames.shape), 0, 255).astype(np.uint8)
    recon = np.clip(frames[1:5].astype(int) + rng.integers(-20, 21, (4, 48, 64, 3)), 0, 255).astype(np.uint8)
    rate = rng.uniform(10, 200, (6, 8))
    got = []
    for on in (False, True):
        use_kernels(monkeypatch, on)
        v = search_vectors(noisy[1:5], noisy[0], (8, 8), 3, mu=20.0)
        again = search_vectors(noisy[1:5], noisy[0], (8, 8), 3, pred=np.roll(v, 1, 0).astype(np.int64), mu=20.0,
                               start=v)
        d = decide_slice(noisy[1:5], recon, noisy[0], rate, 30.0, 3, (4, 8, 8), bends=True)
        got.append((v, again, *d))
    assert got[0][0].any()
    for a, b in zip(*got):
        np.testing.assert_array_equal(a, b)


def test_a_motion_file_is_the_same_bytes_with_and_without_kernels(monkeypatch):
    model = load_model(Path(__file__).parent / "golden" / "tiny_enhanced.pt")
    frames = pan_video(40, 32, 48, dx=2, dy=1)
    out = []
    for on in (False, True):
        use_kernels(monkeypatch, on)
        out.append(encode_frames(frames, 16, model=model, quality=4, motion=True, refresh=0))
    assert out[0] == out[1]


def test_small_frames_take_the_kernels_once_the_process_has_searched_enough(monkeypatch):
    monkeypatch.setattr(sad_kernels, "KERNEL_MIN_PIXELS", 160 * 120)
    monkeypatch.setattr(sad_kernels, "KERNEL_AFTER_PIXELS", 3 * 64 * 64)
    monkeypatch.setattr(sad_kernels, "_searched", 0)
    assert sad_kernels.for_frame(240, 320) is K                # large: at once
    assert [sad_kernels.for_frame(64, 64) is K for _ in range(5)] == [False, False, False, True, True]
