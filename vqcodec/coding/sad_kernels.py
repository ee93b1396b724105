"""The motion search's sums of absolute differences, compiled (numba) for frames large enough to pay for it.

A SAD is an integer: the compiled kernels and numpy's passes (the reference, and the path for small frames
or where numba is missing) give the same numbers, so the encoder's choices and bytes are the same either way
(``tests/test_sad_kernels.py``). The full search fuses what numpy does in several passes over whole frames
(difference, magnitude, sums over frames and blocks) into one pass, a block row at a time, in cache: the
full search of a 1280x720 slice (169 vectors x 4 frames) in 0.13 s instead of 1.5 s (docs/speed.md, session
33). The sub-pixel refinements and bent paths gather each block out of the phase planes: compiled about twice as
fast as numpy's gather, and without holding the GIL, so the bent paths' side thread and the main thread's
decisions overlap (a 720p encode 95 s with the full search alone compiled, 82-84 s with both).

Numba compiles the kernels on their first use in a process and keeps them in its cache (next to this file, or in
the user's cache directory where that is read-only): the first encode after an install pays ~3 s, later ones
~0.9 s of import and loading. Hence the rules, :data:`KERNEL_MIN_PIXELS` and
:data:`KERNEL_AFTER_PIXELS`.
"""
from __future__ import annotations

import functools
import threading
from types import SimpleNamespace

import numpy as np

#: Frames of at least this many pixels are searched with the compiled kernels; below it (the 64x64 default),
#: numpy's passes cost less than importing numba (~0.9 s a process) on a short clip. Either gives the same SADs.
KERNEL_MIN_PIXELS = 160 * 120
#: ... and so are smaller ones once this process has searched that many pixels of reference frames with numpy (a
#: 64x64 GOP searches ~15 slices; at ~14 ms saved a slice the import is repaid after ~4 GOPs): long clips and
#: datasets. Which path searches a slice never changes a byte.
KERNEL_AFTER_PIXELS = 64 * 64 * 64
_searched = 0               # pixels of reference frames searched with numpy's passes so far in this process
#: The full search's candidates per kernel call: its output (candidates x blocks, int64) stays small.
FULL_SEARCH_BATCH = 32


_LOCK = threading.Lock()       # the first use may come from the decisions' side thread too: compiled once


@functools.cache
def _kernels_once():
    try:
        import numba
        k = _compile(numba)
        # compiled (or loaded from the cache) here, once, on the types the search passes: a numba that
        # cannot compile them leaves the search to numpy rather than failing an encode
        k.full_search(np.zeros((1, 6), np.int16), np.zeros((1, 1, 6), np.int16), np.zeros((1, 2), np.int64), 0, 1, 2)
        k.moved(np.zeros((16, 1, 6), np.int16), np.zeros((1, 1, 1, 2), np.int64), np.zeros((1, 1, 1, 6), np.int16),
                0, 1, 2)
        return k
    except Exception:               # ImportError, or numba's own errors on an unusual platform
        return None


def kernels():
    """The compiled kernels (a namespace with ``full_search`` and ``moved``), or None without numba."""
    with _LOCK:
        return _kernels_once()


def for_frame(height: int, width: int):
    """The kernels to search a frame of this size with, or None (numpy's passes)."""
    global _searched
    if height * width >= KERNEL_MIN_PIXELS or _searched >= KERNEL_AFTER_PIXELS:
        return kernels()
    _searched += height * width         # (a race between threads only moves the switch by a slice)
    return None


def _compile(numba):
    jit = numba.njit(nogil=True, cache=True)

    @jit
    def full_search(whole, targets, steps, reach, bh, bw):
        # whole (H2, W2 * 3) int16: the reference at whole pixels, padded by ``reach``; targets (bt, H, W * 3)
        # int16; steps (N, 2) whole pixels per frame (frame j moves by j + 1 steps) -> (N, H', W') int64
        bt, h, wc = targets.shape
        rw = bw * 3
        hb, wb = h // bh, wc // rw
        n = steps.shape[0]
        out = np.zeros((n, hb, wb), np.int64)
        acc = np.zeros(wc, np.int16)       # per column: at most bt * bh * 255 (full_search_fits)
        for k in range(n):
            for j in range(bt):
                dy, dx = reach + steps[k, 0] * (j + 1), (reach + steps[k, 1] * (j + 1)) * 3
                if dy < 0 or dy + h > whole.shape[0] or dx < 0 or dx + wc > whole.shape[1]:
                    raise ValueError("a full-search step beyond the padded reference")
        for by in range(hb):
            for k in range(n):
                acc[:] = 0
                for j in range(bt):
                    dy, dx = reach + steps[k, 0] * (j + 1), (reach + steps[k, 1] * (j + 1)) * 3
                    for y in range(by * bh, by * bh + bh):
                        trow = targets[j, y]
                        rrow = whole[y + dy, dx:dx + wc]
                        for x in range(wc):
                            acc[x] += np.int16(abs(np.int16(trow[x] - rrow[x])))
                for bx in range(wb):
                    s = 0
                    for i in range(bx * rw, bx * rw + rw):
                        s += acc[i]
                    out[k, by, bx] = s
        return out

    @jit
    def moved(planes, vectors, targets, reach, bh, bw):
        # planes (16, H2, W2 * 3) int16 (plane fy * 4 + fx); vectors (N, H', W', 2) quarter pixels; targets
        # (H', W', bh, bw * 3) int16 -> (N, H', W') int64; block by block (its target stays in cache)
        n, hb, wb = vectors.shape[0], vectors.shape[1], vectors.shape[2]
        rw = bw * 3
        out = np.empty((n, hb, wb), np.int64)
        for by in range(hb):
            for bx in range(wb):
                tb = targets[by, bx]
                for k in range(n):
                    vy, vx = vectors[k, by, bx, 0], vectors[k, by, bx, 1]
                    p = (vy & 3) * 4 + (vx & 3)
                    y0 = reach + by * bh + (vy >> 2)
                    x0 = (reach + bx * bw + (vx >> 2)) * 3
                    if y0 < 0 or y0 + bh > planes.shape[1] or x0 < 0 or x0 + rw > planes.shape[2]:
                        raise ValueError("a vector beyond the padded reference")
                    s = 0
                    for r in range(bh):
                        row, t = planes[p, y0 + r, x0:x0 + rw], tb[r]
                        for i in range(rw):
                            s += abs(np.int16(row[i] - t[i]))
                    out[k, by, bx] = s
        return out

    return SimpleNamespace(full_search=full_search, moved=moved)


def full_search_fits(frames: int, block_height: int) -> bool:
    """Whether the full-search kernel's int16 column sums hold a slice of ``frames`` frames of blocks this tall."""
    return frames * block_height * 255 <= np.iinfo(np.int16).max


def full_search_sads(k, whole: np.ndarray, targets: np.ndarray, steps: np.ndarray, reach: int,
                     block: tuple[int, int]) -> np.ndarray:
    """Per whole-pixel step (N, 2) and block, the SAD over the slice ``targets`` (bt, H, W, 3) int16 of frame
    ``j`` moved by ``j + 1`` steps from ``whole`` (the reference at whole pixels, padded by ``reach``):
    int64 (N, H', W'), with the kernels ``k``."""
    bt, h, w, c = targets.shape
    if not full_search_fits(bt, block[0]):
        raise ValueError("slice too long for the kernel's int16 column sums")
    return k.full_search(np.ascontiguousarray(whole).reshape(whole.shape[0], -1),
                         np.ascontiguousarray(targets).reshape(bt, h, w * c),
                         np.ascontiguousarray(steps, np.int64), int(reach), int(block[0]), int(block[1]))


def moved_sads(k, planes: np.ndarray, vectors: np.ndarray, targets: np.ndarray, reach: int,
               block: tuple[int, int]) -> np.ndarray:
    """Each block (H', W') moved by its own vector (..., H', W', 2; quarter pixels) out of the 16 phase
    ``planes`` (16, H2, W2, 3) int16: its SAD from ``targets`` (H', W', bh, bw x 3) int16, int64 (..., H', W'),
    with the kernels ``k``."""
    lead, (hb, wb) = vectors.shape[:-3], vectors.shape[-3:-1]
    v = np.ascontiguousarray(vectors, np.int64).reshape(-1, hb, wb, 2)
    p = planes.reshape(planes.shape[0], planes.shape[1], -1)
    out = k.moved(p, v, np.ascontiguousarray(targets, np.int16), int(reach), int(block[0]), int(block[1]))
    return out.reshape(*lead, hb, wb)


def slice_sads(moved: list[np.ndarray], targets: np.ndarray, block: tuple[int, int]) -> np.ndarray:
    """numpy's passes (the reference): per candidate and block, the SAD summed over a slice: ``moved[j]``
    (N, H, W, 3) int16 frame ``j`` as each candidate moves it, ``targets`` (bt, H, W, 3) int16 -> int64
    (N, H', W'). The sums are integers below 2^24, so float32 (BLAS) adds them exactly; larger blocks sum
    in int64."""
    bh, bw = block
    n, h, w, _ = moved[0].shape
    if len(moved) * 3 * bh * bw * 255 >= 1 << 24 or len(moved) * 255 > np.iinfo(np.int16).max:
        total = sum(np.abs(m.astype(np.int64) - t) for m, t in zip(moved, targets))
        return total.reshape(n, h // bh, bh, w // bw, bw, 3).sum(axis=(2, 4, 5))
    acc = np.abs(moved[0] - targets[0])
    for m, t in zip(moved[1:], targets[1:]):
        acc += np.abs(m - t)
    pix = acc[..., 0].astype(np.float32)
    pix += acc[..., 1]
    pix += acc[..., 2]
    rows = pix.reshape(n, h // bh, bh, w).sum(2)                              # (N, H', W)
    cols = np.kron(np.eye(w // bw, dtype=np.float32), np.ones((bw, 1), np.float32))   # (W, W') block sums
    return (rows @ cols).astype(np.int64)
