"""GOPs: their geometry (padding, refresh points), the levels and streams a GOP carries at a ladder
point, the network's reconstruction of a GOP's codes, and the worker threads that run the network
one GOP at a time."""
from __future__ import annotations

import contextlib
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np
import torch

from vqcodec.codes import Codes, stream_name
from vqcodec.coding.gop_coding import ENHANCEMENT_LABEL, SCALAR_LABEL, LevelLayout
from vqcodec.coding.motion import MOTION_LABEL
from vqcodec.entropy.priors import StreamSymbols
from vqcodec.entropy.scalar_prior import ScalarTables
from vqcodec.errors import VqvError
from vqcodec.net.model import TILE_HALO_PIXELS, TILE_PIXELS
from vqcodec.net.tiling import tile_pool, use_tile_pool

if TYPE_CHECKING:
    from vqcodec.coding.ladder import LadderPoint
    from vqcodec.weights import CodecModel

GOP_FRAMES = 32
#: Memory the GOPs in the network at once may take together (see :func:`network_round`).
NETWORK_MEMORY_BUDGET = 4 << 30
ENCODE_BATCH = 4        # GOPs analysed per round (spread over the worker threads), decided in order
ROUND_PIXELS = 4 * 32 * 320 * 240    # fewer GOPs per round when frames are larger (memory); rounds never change the output
MAX_CODED_SIDE = 4096   # the encoder codes at most this per side; a file claiming more is refused


# ------------------------------------------------------------------------------------------ geometry

def padded_size(width: int, height: int, stride: tuple[int, int, int]) -> tuple[int, int]:
    """The model's input size for a coded size: each side rounded up to the spatial stride."""
    return -(-width // stride[2]) * stride[2], -(-height // stride[1]) * stride[1]


def pad_gop(frames: np.ndarray, t: int, h: int, w: int) -> np.ndarray:
    """Pad (n, H0, W0, 3) to (t, h, w, 3) by repeating the last frame / edge pixels."""
    n, h0, w0, _ = frames.shape
    if (n, h0, w0) == (t, h, w):
        return frames
    return np.pad(frames, ((0, t - n), (0, h - h0), (0, w - w0), (0, 0)), mode="edge")


def coded_gop_frames(frames: int, trim: int) -> int:
    """The frames a GOP of ``frames`` real frames is coded over: :data:`GOP_FRAMES`, or with ``trim`` (format 13.0,
    header key 25) the fewest whole groups of ``trim`` frames that hold them (the same rule as the header's)."""
    return GOP_FRAMES if not trim else min(GOP_FRAMES, -(-frames // trim) * trim)


def is_refresh(gop_index: int, refresh: int) -> bool:
    """GOP 0 always; then every ``refresh`` GOPs (``refresh`` 0: never again)."""
    return gop_index == 0 or (refresh > 0 and gop_index % refresh == 0)


# ------------------------------------------------------------------------------------------ network runs

def gop_network_bytes(height: int, width: int) -> int:
    """About how much memory one GOP of ``height`` x ``width`` frames needs in the network: the
    full-resolution tile at work (``TILE_PIXELS`` plus margins; ~180 bytes per pixel and frame)
    and the GOP's buffers (~12 bytes per pixel and frame). Measured: 1.3 GB for a 720p GOP."""
    side = TILE_PIXELS + 2 * TILE_HALO_PIXELS
    tile = min(height, side) * min(width, side)
    return GOP_FRAMES * (180 * tile + 12 * height * width)


def network_round(height: int, width: int) -> tuple[int, int]:
    """(GOPs run at once, GOPs per round) for frames of ``height`` x ``width``. At once: torch's
    thread count (``--threads``), fewer where those GOPs together would need more than
    :data:`NETWORK_MEMORY_BUDGET` (720p: 3, 4K: 1). Per round: ``ENCODE_BATCH`` at small sizes, down
    to one per worker for large frames, whose decoded GOPs alone are hundreds of megabytes. Neither
    changes the output."""
    threads = max(1, torch.get_num_threads())
    workers = max(1, min(threads, NETWORK_MEMORY_BUDGET // gop_network_bytes(height, width)))
    return workers, max(workers, min(ENCODE_BATCH, ROUND_PIXELS // (GOP_FRAMES * height * width)))


_BLAS = None     # threadpoolctl's view of the loaded BLAS libraries, made once


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """numpy's BLAS on one thread inside the block (restored after). The codec's products are small
    (a slice's blocks against a codebook): OpenBLAS's threads cost more than they give, 1.7-2.8x of a
    motion encode (docs/speed.md), and the cores are the GOP workers' anyway."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController
        _BLAS = ThreadpoolController()
    with _BLAS.limit(limits=1, user_api="blas"):
        yield


@contextlib.contextmanager
def network_pool(workers: int | None = None, share_tiles: bool = False) -> Iterator[ThreadPoolExecutor]:
    """Worker threads for the network, one GOP each, every op single-threaded.

    The same output for any thread count: a conv's result can depend on how many threads split
    it, and on the batch it sits in, so every GOP goes through the network alone (batch 1) with
    one intra-op thread; parallelism comes from running several GOPs at once instead, and the tiles
    of a large frame (each alone, as one after another) on as many tile workers. The pool has
    ``workers`` workers (default: as many as torch had threads, ``--threads``); numpy's BLAS runs on one
    thread meanwhile (:func:`single_threaded_blas`). On an exception out of the block the GOPs in
    flight are left to finish in the background (results dropped). ``share_tiles``: the caller's own
    network work inside (a slice's conditional coders, :func:`~vqcodec.net.tiling.run_alone_each`) runs
    on the tile workers too: the decoder's, and the encoder's where its slices are too small for its
    decisions' side thread (which otherwise has the second core).
    """
    threads = max(1, torch.get_num_threads())
    torch.set_num_threads(1)
    workers = workers or threads
    # the tiles' workers: at most ``workers`` tiles in the network at once, as before (memory), but a
    # lone GOP's tiles spread over the cores (tiling.use_tile_pool)
    tiles = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vqv-tile")
    pool = ThreadPoolExecutor(max_workers=workers, initializer=use_tile_pool, initargs=(tiles,))
    caller_tiles = tile_pool()
    if share_tiles:
        use_tile_pool(tiles)
    try:
        with single_threaded_blas():
            yield pool
    except BaseException:
        # stopped (a signal, an error, the caller gone): GOPs not yet started are dropped and the ones
        # in the network are not waited for, which at 720p would take a minute or more
        pool.shutdown(wait=False, cancel_futures=True)
        tiles.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        pool.shutdown(wait=True)
        tiles.shutdown(wait=True)
    finally:
        use_tile_pool(caller_tiles)
        torch.set_num_threads(threads)


def synthesise(model: CodecModel, codes: Codes, enhance: bool = True) -> np.ndarray:
    """Codes of one GOP (padded size) -> uint8 frames (T, H, W, 3): the network's reconstruction,
    plus the enhancement layer at an enhanced point (unless ``enhance`` is False: a GOP with a motion
    layer adds it slice by slice after the prediction, :func:`enhancement_residual`)."""
    frames = model.net.decode(codes, light=model.light)
    if codes.enhancement is None or not enhance:
        return frames
    return _pixel_basis(model).apply(frames, codes.enhancement.symbols, codes.enhancement.step)


def enhancement_residual(model: CodecModel, codes: Codes) -> Callable[[np.ndarray, int], np.ndarray] | None:
    """``(frames, t) -> frames`` adding slice ``t`` of the GOP's enhancement layer to one slice's
    frames (the motion layer's ``residual``), or None without an enhancement layer."""
    enh = codes.enhancement
    if enh is None:
        return None
    basis = _pixel_basis(model)
    if codes.motion is None:
        return lambda frames, t: basis.apply(frames, enh.symbols[:, t:t + 1], enh.step)
    skip = codes.motion.flags & enh.copy_map()
    return lambda frames, t: predicted_residual(basis, frames, enh.symbols[:, t], enh.step, skip[t])


def predicted_residual(basis, frames: np.ndarray, symbols: np.ndarray, step: float, skip: np.ndarray) -> np.ndarray:
    """One slice's ``frames`` (bt, H, W, 3) plus the enhancement ``symbols`` (K, H', W'), except at the
    ``skip`` blocks (H', W'): motion blocks whose enhancement is a copy keep their prediction as is."""
    out = basis.apply(frames, symbols[:, None], step)
    if skip.any():
        bh, bw = basis.block[1:]
        pick = np.repeat(np.repeat(skip, bh, 0), bw, 1)[None, :, :, None]
        out = np.where(pick, frames, out)
    return out


def _pixel_basis(model: CodecModel):
    if model.ladder.basis is None:
        raise VqvError("these codes carry an enhancement layer but the model has no pixel basis")
    return model.ladder.basis


# ------------------------------------------------------------------------------------------ layout

def gop_layout(model: CodecModel, point: LadderPoint, t: int, h: int, w: int) -> list[LevelLayout]:
    """The levels a GOP of this padded size carries at this ladder point, in coding order."""
    grids = model.cfg.latent_grids(t, h, w)
    out = []
    if "top" in grids:
        out.append(LevelLayout("top", model.cfg.top_codebook, point.top, grids["top"]))
    out.append(LevelLayout("bottom", model.cfg.bottom_codebook, point.bottom, grids["bottom"]))
    return out


def scalar_tables(model: CodecModel, point: LadderPoint, first_slice_context: bool = False) -> ScalarTables | None:
    """The scalar layer's tables at a scalar point, else None; ``first_slice_context``: as a version-11 file
    codes a refresh GOP's first slice (:mod:`vqcodec.entropy.scalar_prior`)."""
    if not point.scalar:
        return None
    tables = model.ladder.tables[point.step_num]
    return dataclasses.replace(tables, first_slice_context=True) if first_slice_context else tables


def file_scalar_tables(model: CodecModel, point: LadderPoint, context: bool, gops) -> ScalarTables | None:
    """The tables an encoder codes a file's scalar layer with (``gops``: its encoded GOPs): with the first
    slices in two passes (version 11) where ``context`` is asked for and that is cheaper on the refresh GOPs'
    first slices (estimated bits; on real footage nearly always, on some synthetic textures not)."""
    tables = scalar_tables(model, point)
    if tables is None or not context:
        return tables
    bits = [tables.first_slice_bits(g.codes.scalar.symbols[:, 0]) for g in gops if g.refresh]
    return scalar_tables(model, point, sum(b - a for a, b in bits) < 0)


def enhancement_tables(model: CodecModel, point: LadderPoint) -> ScalarTables | None:
    """The enhancement layer's tables at an enhanced point, else None."""
    return model.ladder.enh_tables[point.enh_num] if point.enhanced else None


def layout_streams(layout: list[LevelLayout]) -> list[tuple[str, int]]:
    """``(stream name, codebook size)`` of every coded stream, in coding order (the chunk's order)."""
    return [(n, lv.codebook_size) for lv in layout for n in lv.streams()]


def chunk_streams(layout: list[LevelLayout], scalar: ScalarTables | None,
                  enhancement: ScalarTables | None = None, motion: bool = False) -> list[str]:
    """The names of the symbol counts a chunk stores, in order: every VQ stream, then the scalar
    layer, then the enhancement layer, then the motion layer (its number of predicted blocks)."""
    return [n for n, _ in layout_streams(layout)] + ([SCALAR_LABEL] if scalar is not None else []) \
        + ([ENHANCEMENT_LABEL] if enhancement is not None else []) + ([MOTION_LABEL] if motion else [])


def coded_symbols(codes: Codes) -> list[StreamSymbols]:
    """The symbols a GOP actually codes (copied positions left out), per stream."""
    out = []
    for lv in codes.levels:
        keep = ~lv.copy_map()
        for s in range(lv.stages):
            out.append(StreamSymbols(stream_name(lv.name, s), lv.codebook_size,
                                     np.ascontiguousarray(lv.indices[s][keep]).astype(np.int32)))
    return out
