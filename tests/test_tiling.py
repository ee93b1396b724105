"""Tiled evaluation of the network's full-resolution ends (vqcodec/net/tiling.py, MSVQVAE._tiled)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from vqcodec.net import model as model_module
from vqcodec.net.tiling import map_tiled, tile_starts

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
