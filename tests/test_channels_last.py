"""The native bfloat16 networks' channels-last route (vqcodec/net/channels_last.py): the same operations as
the modules' forwards (checked in float32, where only the sums' order can differ), its reordered
space-to-depth and depth-to-space, the modules it refuses, and the codec path that takes it."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vqcodec.net import channels_last
from vqcodec.net.model import MSVQVAE, depth_to_space, get_config, space_to_depth

from conftest import synthetic_video


def _random_net(name: str, **changes) -> MSVQVAE:
    """A network of preset ``name`` with every parameter random (a fresh one's residual blocks are the
    identity, which would hide a wrongly wired block)."""
    torch.manual_seed(0)
    net = MSVQVAE(dataclasses.replace(get_config(name), **changes)).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    return net


@pytest.mark.parametrize("conv", ["2+1d", "3d"])
@pytest.mark.parametrize("part,shape", [("enc_bottom", (1, 3, 8, 16, 24)), ("enc_top", (1, 16, 4, 4, 6)),
                                        ("dec_top", (1, 8, 2, 2, 3)), ("pre_bottom", (1, 32, 4, 4, 6)),
                                        ("decoder", (1, 24, 4, 4, 6))])
def test_each_network_piece_computes_what_its_forward_does(conv, part, shape):
    module = getattr(_random_net("tiny", conv=conv), part)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = module(x)
        got = channels_last.run(module, channels_last.as_input(x, torch.float32))
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5 * float(want.abs().max()))


@pytest.mark.parametrize("s", [(1, 2, 2), (2, 2, 2), (2, 1, 3)])
def test_space_to_depth_keeps_each_pixels_channels_together_and_depth_to_space_undoes_it(s):
    x = torch.arange(2 * 5 * 4 * 6 * 6, dtype=torch.float32).reshape(2, 5, 4, 6, 6)
    got = channels_last.space_to_depth(channels_last.as_input(x, torch.float32), s)
    order = channels_last._order(5, s)
    torch.testing.assert_close(got, space_to_depth(x, s)[:, order], rtol=0, atol=0)
    torch.testing.assert_close(channels_last.depth_to_space(got, s), x, rtol=0, atol=0)
    y = torch.randn(1, 5 * int(np.prod(s)), 2, 3, 3)
    torch.testing.assert_close(channels_last.depth_to_space(channels_last.as_input(y[:, order], torch.float32), s),
                               depth_to_space(y, s), rtol=0, atol=0)


def test_other_modules_are_refused_not_run_some_other_way():
    x = channels_last.as_input(torch.randn(1, 4, 2, 4, 4), torch.float32)
    with pytest.raises(TypeError, match="Linear"):
        channels_last.run(torch.nn.Sequential(torch.nn.Linear(4, 4)), x)
    with pytest.raises(TypeError, match="channels-last"):
        channels_last.run(torch.nn.Conv3d(4, 4, 3, stride=2), x)


def test_runs_on_a_network_copied_in_inference_mode():
    """A copy made under ``torch.inference_mode`` (as a benchmark or a caller may make it) has inference
    tensors for weights, which keep no version counter: the route must not need one."""
    net = _random_net("tiny")
    x = torch.randn(1, 24, 2, 3, 3)
    with torch.inference_mode():
        copy = net.in_bfloat16(emulate=False)
        got = channels_last.run(copy.decoder, channels_last.as_input(x, torch.float32).bfloat16())
    assert got.shape == net.decoder(x).shape and torch.isfinite(got.float()).all()


def test_the_native_bfloat16_codec_path_runs_channels_last(monkeypatch, shipped_model):
    """A native bfloat16 copy's synthesis takes this route and lands within bfloat16's rounding of the
    emulated arithmetic (the modules' own forwards on float32 kernels), as the golden file's decode on another
    CPU does (tests/test_network_float.py); an emulated copy never takes it."""
    net = shipped_model.net
    codes = net.encode(synthetic_video(32, 64, 64))
    calls = []
    real = channels_last.run
    monkeypatch.setattr(channels_last, "run", lambda m, x: calls.append(m) or real(m, x))
    emulated = net.in_bfloat16(emulate=True)
    expected = {light: emulated.decode(codes, light=light) for light in (False, True)}
    assert not calls
    native = net.in_bfloat16(emulate=False)
    assert native.decoder[0].weight.dtype == torch.bfloat16 and not native.emulated
    for light, synthesis in ((False, native.decoder), (True, native.light_decoder)):    # both syntheses
        pixels = native.decode(codes, light=light)
        assert synthesis in calls and pixels.shape == expected[light].shape
        diff = np.abs(pixels.astype(int) - expected[light].astype(int))
        assert diff.max() <= 2 and (diff > 0).mean() < 0.03
