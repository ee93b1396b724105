"""Run a fully convolutional network piece over large frames in spatial tiles, to bound memory.

The full-resolution ends of the network (the bottom encoder's first stages and the decoder's last)
hold tens of channels per pixel for a whole GOP: 48 x 32 frames x 1280 x 720 floats is 5.6 GB at
720p. :func:`map_tiled` runs the piece on overlapping tiles instead and keeps only each tile's core,
so memory follows the tile, not the frame. The overlap (``halo``) is wider than the reach of the
piece's convolutions that matters in practice, so tiled and whole-frame results agree to float
rounding (tests/test_tiling.py measures it). The tiling is a function of the frame size alone, the
same on every machine, so encoder and decoder see the same numbers wherever they run.

The fixed tiling (``core``-wide cores from the top left, each with the whole ``halo``) computes
up to 2.25x the pixels it keeps. Given the piece's true ``reach``, :func:`tile_plan` instead covers
the frame with the fewest pixels computed: the whole frame when it is no larger than one fixed tile,
else cores of equal size with margins of only the reach, no tile larger than a fixed one (so memory
stays as bounded). When the reach is within the halo, both tilings are exact, and the convolutions
give every pixel the same floats in any tile large enough for torch to run each layer with the same
algorithm (it picks another for thin inputs): so the plan is used only where every tile of both is
at least ``min_side`` wide and tall, and the numbers, the codes and the bytes are those of the fixed
tiling (tests/test_tiling.py; docs/speed.md has the measurements).
"""
from __future__ import annotations

import threading
from concurrent.futures import Executor
from fractions import Fraction
from typing import Callable, Iterator, NamedTuple, TypeVar

import torch

Piece = Callable[[torch.Tensor], torch.Tensor]


class Span(NamedTuple):
    """One tile along an axis: its core ``[start, stop)`` and its extent with margins ``[lo, hi)``."""

    start: int
    stop: int
    lo: int
    hi: int


def tile_starts(size: int, core: int) -> list[int]:
    """Where the cores of ``core``-wide tiles start along an axis of ``size`` (the last may be short)."""
    return list(range(0, size, core))


def fixed_spans(size: int, core: int, halo: int) -> list[Span]:
    """The fixed tiling of an axis: ``core``-wide cores from 0, each with ``halo`` on both sides."""
    return [Span(a, min(a + core, size), max(0, a - halo), min(size, a + core + halo)) for a in tile_starts(size, core)]


def even_spans(size: int, n: int, grid: int, margin: int) -> list[Span] | None:
    """``n`` cores of equal size (a multiple of ``grid``; the last may be shorter) with ``margin``
    on both sides, or None if ``n`` such cores would leave one empty."""
    core = -(-size // (n * grid)) * grid
    if (n - 1) * core >= size:
        return None
    return fixed_spans(size, core, margin)


def _extents(spans: list[Span]) -> list[int]:
    return [s.hi - s.lo for s in spans]


def tile_plan(h: int, w: int, *, core: int, halo: int, reach: int | None = None, grid: int = 1,
              min_side: int = 0) -> tuple[list[Span], list[Span]]:
    """The tiles (rows, columns) a piece runs on over an ``h`` x ``w`` input: the fixed tiling, or,
    given the piece's ``reach`` (input units, at most ``halo``), the one computing the fewest pixels
    with no tile larger than a fixed one, its margins ``reach`` rounded up to ``grid`` (see the
    module docstring for when it is used)."""
    fixed = fixed_spans(h, core, halo), fixed_spans(w, core, halo)
    if reach is None or reach > halo or (h <= core and w <= core):
        return fixed
    margin = -(-reach // grid) * grid
    budget = (min(h, core + 2 * halo)) * min(w, core + 2 * halo)
    best = None
    for ny in range(1, len(fixed[0]) + 1):
        for nx in range(1, len(fixed[1]) + 1):
            rows, cols = even_spans(h, ny, grid, margin), even_spans(w, nx, grid, margin)
            if rows is None or cols is None or max(_extents(rows)) * max(_extents(cols)) > budget:
                continue
            cost = sum(_extents(rows)) * sum(_extents(cols))
            if best is None or cost < best[0]:
                best = (cost, rows, cols)
    if best is None:
        return fixed
    for spans, size in ((fixed[0], h), (fixed[1], w), (best[1], h), (best[2], w)):
        if any(e < min_side and e != size for e in _extents(spans)):
            return fixed
    return best[1], best[2]


_local = threading.local()
T = TypeVar("T")


def use_tile_pool(pool: Executor | None) -> None:
    """From now on, :func:`map_tiled` called in this thread runs a frame's tiles on ``pool`` (None:
    one after another, here). Each tile is computed alone, with the same shapes and ops, so the
    result is the same either way; a GOP's worker gives its tiles to other cores this way when there
    are fewer GOPs in the network than cores (a 720p clip of one GOP)."""
    _local.pool = pool


def tile_pool() -> Executor | None:
    """This thread's tile pool (:func:`use_tile_pool`), or None."""
    return getattr(_local, "pool", None)


def run_alone_each(tasks: list[Callable[[], T]]) -> list[T]:
    """Each task's result, in order: where this thread has a tile pool (its workers run torch on one
    thread, as this thread then does), the first here and the others on the pool, else all here one after
    another. For independent pieces of network work, each computed alone with the same shapes and ops, so
    the results are the same either way."""
    pool = tile_pool()
    if pool is None or len(tasks) < 2:
        return [t() for t in tasks]
    # the caller would only wait for the workers (three coders on two workers took two rounds)
    futures = [pool.submit(t) for t in tasks[1:]]
    return [tasks[0](), *_drained(futures)]


def _drained(futures: list) -> Iterator[torch.Tensor]:
    """The futures' results in order, each let go of once taken (a tile's output is not kept twice)."""
    for i, f in enumerate(futures):
        futures[i] = None
        yield f.result()


def map_tiled(piece: Piece, x: torch.Tensor, *, scale: Fraction, core: int, halo: int, reach: int | None = None,
              grid: int = 1, min_side: int = 0) -> torch.Tensor:
    """``piece(x)`` computed tile by tile over the last two (spatial) axes of ``x`` (N, C, T, H, W).

    ``piece`` maps an input of spatial size (h, w) to an output of (h * scale, w * scale); ``core``,
    ``halo`` and ``grid`` are in input units and must keep ``* scale`` whole (multiples of the
    piece's stride), so every tile samples the same grid phase as the whole frame. A frame that fits
    in one core is passed through whole. ``reach``, ``grid``, ``min_side``: see :func:`tile_plan`.
    """
    h, w = x.shape[-2:]
    if h <= core and w <= core:
        return piece(x)
    for v in (core, halo) + ((grid,) if reach is not None else ()):
        if (v * scale).denominator != 1:
            raise ValueError(f"tile size {v} does not keep the scale {scale} whole")
    rows, cols = tile_plan(h, w, core=core, halo=halo, reach=reach, grid=grid, min_side=min_side)
    if len(rows) == len(cols) == 1:
        return piece(x)
    tiles = [(r, c) for r in rows for c in cols]
    pool = tile_pool()
    if pool is None:
        results = (piece(x[..., r.lo:r.hi, c.lo:c.hi]) for r, c in tiles)
    else:
        grad = torch.is_grad_enabled()       # thread-local: the caller's no_grad holds in the pool too

        def run(r: Span, c: Span) -> torch.Tensor:
            with torch.set_grad_enabled(grad):
                return piece(x[..., r.lo:r.hi, c.lo:c.hi])

        futures = [pool.submit(run, r, c) for r, c in tiles]
        results = _drained(futures)
    out = None
    for (r, c), y in zip(tiles, results):
        if out is None:
            out = y.new_empty(*y.shape[:-2], int(h * scale), int(w * scale))
        oy, ox = int((r.start - r.lo) * scale), int((c.start - c.lo) * scale)
        ch, cw = int((r.stop - r.start) * scale), int((c.stop - c.start) * scale)
        out[..., int(r.start * scale):int(r.stop * scale), int(c.start * scale):int(c.stop * scale)] = \
            y[..., oy:oy + ch, ox:ox + cw]
        del y
    return out
