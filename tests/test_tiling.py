"""Tiled evaluation of the network's full-resolution ends (vqcodec/net/tiling.py, MSVQVAE._tiled)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import numpy as np
import pytest
import torch

from vqcodec.net import model as model_module
from vqcodec.net.tiling import map_tiled, tile_plan, tile_starts, use_tile_pool

from conftest import synthetic_video


def test_tile_starts_cover_the_axis():
    assert tile_starts(10, 4) == [0, 4, 8]
    assert tile_starts(8, 4) == [0, 4]
    assert tile_starts(3, 4) == [0]


@pytest.mark.parametrize("scale,core,halo", [(Fraction(1, 2), 8, 4), (Fraction(2), 4, 2)])
def test_map_tiled_equals_whole_frame_for_a_local_net(scale, core, halo):
    torch.manual_seed(0)
    conv = torch.nn.Conv3d(3, 5, 3, padding=1)
    if scale < 1:
        net = torch.nn.Sequential(conv, torch.nn.Conv3d(5, 4, (1, 2, 2), stride=(1, 2, 2)))
    else:
        net = torch.nn.Sequential(conv, torch.nn.ConvTranspose3d(5, 4, (1, 2, 2), stride=(1, 2, 2)))
    x = torch.randn(1, 3, 4, 22, 18)                      # ragged: last tiles are short
    with torch.no_grad():
        whole, tiled = net(x), map_tiled(net, x, scale=scale, core=core, halo=halo)
    assert tiled.shape == whole.shape
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-5)


def test_map_tiled_shows_the_seams_without_halo():
    """The halo is what makes tiles agree: with none, border pixels of each tile differ."""
    torch.manual_seed(0)
    net = torch.nn.Conv3d(3, 2, 3, padding=1)
    x = torch.randn(1, 3, 2, 16, 16)
    with torch.no_grad():
        assert not torch.allclose(map_tiled(net, x, scale=Fraction(1), core=8, halo=0), net(x), atol=1e-3)


def test_map_tiled_refuses_tiles_off_the_stride_grid():
    with pytest.raises(ValueError, match="scale"):
        map_tiled(lambda t: t, torch.zeros(1, 1, 1, 20, 20), scale=Fraction(1, 8), core=12, halo=4)


def test_model_tiled_encode_and_decode_match_whole_frames(tiny_model, monkeypatch):
    """Codes and decoded pixels of a frame larger than the tile equal the whole-frame run."""
    net = tiny_model.net
    video = synthetic_video(8, 96, 80, seed=3)
    codes_whole = net.encode(video, stages=net.cfg.operating_points[-1])
    frames_whole = net.decode(codes_whole)
    monkeypatch.setattr(model_module, "TILE_PIXELS", 32)
    monkeypatch.setattr(model_module, "TILE_HALO_PIXELS", 32)
    codes_tiled = net.encode(video, stages=net.cfg.operating_points[-1])
    for a, b in zip(codes_whole.levels, codes_tiled.levels):
        np.testing.assert_array_equal(a.indices, b.indices)
    frames_tiled = net.decode(codes_whole)
    assert np.abs(frames_tiled.astype(int) - frames_whole.astype(int)).max() <= 1


def test_tile_plan_covers_the_frame_with_fewer_pixels_and_no_larger_tiles():
    """Given the reach, the plan's cores still cover each axis once, its margins hold the reach (on
    the grid), no tile is larger than a whole fixed one (core and margins: what the memory estimate
    of coding.gops assumes), and it computes fewer pixels: the whole frame when it is no larger."""
    for h, w in ((240, 320), (360, 640), (720, 1280), (384, 384)):
        fixed = tile_plan(h, w, core=256, halo=64)
        rows, cols = tile_plan(h, w, core=256, halo=64, reach=36, grid=8, min_side=128)
        for spans, size in ((rows, h), (cols, w)):
            assert [s.start for s in spans] == [0] + [s.stop for s in spans[:-1]] and spans[-1].stop == size
            assert all(s.start % 8 == 0 and s.start - s.lo in (s.start, 40) for s in spans)
            assert all(s.hi - s.stop in (size - s.stop, 40) for s in spans)
        area = lambda plan: sum(s.hi - s.lo for s in plan[0]) * sum(s.hi - s.lo for s in plan[1])  # noqa: E731
        assert area((rows, cols)) < area(fixed)
        assert max(r.hi - r.lo for r in rows) * max(c.hi - c.lo for c in cols) <= min(h, 384) * min(w, 384)
        assert (len(rows) * len(cols) == 1) == (h * w <= 384 * 384)


def test_tile_plan_keeps_the_fixed_tiles_where_it_could_change_the_numbers():
    """Fixed tiles when the reach exceeds the fixed margin (those tiles are not exact), when a tile
    of either tiling is thinner than min_side (torch may run it with another conv algorithm), and
    when the frame fits in one core."""
    fixed = tile_plan(720, 1280, core=256, halo=64)
    assert tile_plan(720, 1280, core=256, halo=64, reach=72, grid=8, min_side=128) == fixed
    assert tile_plan(1080, 1920, core=256, halo=64, reach=36, grid=8, min_side=128) == \
        tile_plan(1080, 1920, core=256, halo=64)              # the fixed tiling's last row: 120 px
    assert tile_plan(200, 250, core=256, halo=64, reach=36, grid=8, min_side=128) == \
        tile_plan(200, 250, core=256, halo=64)
    assert tile_plan(720, 1280, core=256, halo=64, reach=36, grid=8, min_side=128) != fixed


def test_planned_tiles_equal_the_whole_frame_for_a_local_net():
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Conv3d(3, 5, 3, padding=1), torch.nn.Conv3d(5, 4, (1, 2, 2), stride=(1, 2, 2)))
    x = torch.randn(1, 3, 2, 40, 36, dtype=torch.float64)
    net = net.double()
    with torch.no_grad():
        whole = net(x)
        tiled = map_tiled(net, x, scale=Fraction(1, 2), core=8, halo=4, reach=1, grid=2, min_side=0)
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-12)


def test_the_reach_of_the_networks_tile_pieces():
    """Measured on the shipped model's layout (docs/speed.md): the analysis reaches 36 pixels (tile
    margin 40), the decoder 44 (margin 48)."""
    from vqcodec.net.model import MSVQVAE, conv_reach, get_config

    with torch.device("meta"):
        net = MSVQVAE(get_config("cpu-hq"))
    assert conv_reach(net.enc_bottom, Fraction(1))[0] == 36
    assert net._synthesis_reach(net.decoder) == 44


def test_tiles_on_a_pool_give_the_same_numbers_and_keep_the_callers_grad_mode():
    """use_tile_pool: a frame's tiles run on other threads, each alone: bit for bit the tiles run here,
    and under the caller's no_grad (thread-local in torch) as under its grad mode."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv3d(3, 5, 3, padding=1), torch.nn.SiLU(), torch.nn.Conv3d(5, 4, 3, padding=1))
    x = torch.randn(1, 3, 4, 40, 36)
    ran_on = set()

    def piece(t):
        ran_on.add(threading.get_ident())
        return net(t)

    with torch.no_grad():
        alone = map_tiled(piece, x, scale=Fraction(1), core=8, halo=4)
    assert ran_on == {threading.get_ident()}
    with ThreadPoolExecutor(2) as pool:
        use_tile_pool(pool)
        try:
            ran_on.clear()
            with torch.no_grad():
                pooled = map_tiled(piece, x, scale=Fraction(1), core=8, halo=4)
            assert threading.get_ident() not in ran_on and not pooled.requires_grad
            assert map_tiled(piece, x, scale=Fraction(1), core=8, halo=4).requires_grad
        finally:
            use_tile_pool(None)
    assert torch.equal(pooled, alone)


def test_tiled_frames_code_to_the_same_bytes_for_any_thread_count(tiny_weights, tmp_path):
    """A clip larger than the tiles, coded and decoded with 1, 2 and 3 threads (GOPs and tiles on as
    many workers): the same file and frames."""
    src = tmp_path / "v.npy"
    np.save(src, synthetic_video(40, 96, 80, seed=4))
    script = ("import sys, hashlib, numpy as np, torch; torch.set_num_threads(int(sys.argv[1]));"
              "from fractions import Fraction; from vqcodec.net import model as mm;"
              "mm.TILE_PIXELS, mm.TILE_HALO_PIXELS = 32, 16;"
              "from vqcodec.weights import load_model; from vqcodec.coding.encoder import encode_frames;"
              "from vqcodec.coding.decoder import decode_bytes; m = load_model(sys.argv[3]);"
              "d = encode_frames(np.load(sys.argv[2]), Fraction(16), model=m, quality=3);"
              "y = decode_bytes(d, model=m); print(hashlib.sha256(d).hexdigest(), hashlib.sha256(y.tobytes()).hexdigest())")
    outs = {subprocess.run([sys.executable, "-c", script, str(n), str(src), str(tiny_weights)], check=True,
                           env={**os.environ, "OMP_NUM_THREADS": str(n)}, timeout=300, capture_output=True,
                           text=True).stdout.strip().splitlines()[-1] for n in (1, 2, 3)}
    assert len(outs) == 1, outs


def test_independent_network_work_runs_on_the_tile_workers_only_where_the_caller_shares_them():
    """run_alone_each: results in order, and inside a decoder's network_pool (share_tiles) the first in the
    caller's thread and the others on the tile workers, each with torch on one thread (so the same floats as
    one after another on one thread); elsewhere (no pool, or the encoder's pool) all in the caller's thread."""
    from vqcodec.coding.gops import network_pool
    from vqcodec.net.tiling import run_alone_each, tile_pool

    def task(i):
        return lambda: (i, threading.current_thread().name, torch.get_num_threads())

    tasks = [task(i) for i in range(5)]
    here = threading.current_thread().name
    assert [r[:2] for r in run_alone_each(tasks)] == [(i, here) for i in range(5)]
    torch.set_num_threads(2)                           # (conftest puts it back to 1 after the test)
    with network_pool(2):
        assert all(r[1] == here for r in run_alone_each(tasks))
    with network_pool(2, share_tiles=True):
        got = run_alone_each(tasks)
        assert [r[0] for r in got] == list(range(5))
        assert got[0][1] == here and all(r[1].startswith("vqv-tile") for r in got[1:])
        assert all(r[2] == 1 for r in got)
    assert tile_pool() is None                         # restored after the block
    assert torch.get_num_threads() == 2


def test_a_large_nearest_code_search_spread_over_the_tile_workers_finds_the_same_codes(monkeypatch):
    """VectorQuantizer.nearest searches many rows in fixed chunks; on a thread with tile workers (a lone large
    GOP's decisions) the chunks run there, each alone on one thread: the same codes as one after another."""
    from vqcodec.net import quantizer
    monkeypatch.setattr(quantizer, "NEAREST_ROWS", 64)
    torch.manual_seed(0)
    vq = quantizer.VectorQuantizer(8, 32)
    x = torch.randn(1000, 8)
    alone = vq.nearest(x)
    threads = set()
    real = quantizer.run_alone_each

    def spy(tasks):
        return real([lambda t=t: threads.add(threading.get_ident()) or t() for t in tasks])
    monkeypatch.setattr(quantizer, "run_alone_each", spy)
    with ThreadPoolExecutor(max_workers=2) as tiles:
        use_tile_pool(tiles)
        try:
            spread = vq.nearest(x)
        finally:
            use_tile_pool(None)
    assert len(threads) >= 2 and torch.equal(spread, alone)
    assert torch.equal(alone, torch.cdist(x, vq.codebook).argmin(1))
