"""The network: presets, shapes, codes, quantiser behaviour, and that it can learn at all."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import synthetic_video

from vqcodec.errors import VqvError
from vqcodec.metrics import psnr
from vqcodec.net.model import MSVQVAE, count_parameters, get_config, raw_bits, uint8_to_input
from vqcodec.net.quantizer import ResidualVQ, VectorQuantizer


def test_paper_preset_is_about_the_papers_size():
    n = count_parameters(MSVQVAE(get_config("paper")))
    assert abs(n - 18.5e6) / 18.5e6 < 0.05


@pytest.mark.parametrize("name,grids", [
    ("cpu", {"top": (4, 4, 4), "bottom": (8, 8, 8)}),
    ("paper", {"top": (4, 8, 8), "bottom": (8, 16, 16)}),
    ("single-scale", {"bottom": (8, 8, 8)}),
])
def test_preset_grids(name, grids):
    m = MSVQVAE(get_config(name))
    assert m.cfg.latent_grids(32, 64, 64) == grids
    assert count_parameters(m) > 1e6


def test_single_scale_has_one_level_and_fewer_parameters():
    single = MSVQVAE(get_config("single-scale"))
    assert not hasattr(single, "top_quantizer")
    assert count_parameters(single) < count_parameters(MSVQVAE(get_config("cpu")))


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(VqvError, match="unknown model config"):
        get_config("nope")


def test_raw_bits_grow_with_quality():
    bits = raw_bits(get_config("cpu"))
    values = [bits[q] for q in sorted(bits)]
    assert values == sorted(values) and len(set(values)) == len(values)
    # Q2 of cpu: 4 top stages x 64 codes + 1 bottom stage x 512 codes, 10 bits each
    assert bits[2] == (4 * 64 + 512) * math.log2(1024)


@pytest.mark.parametrize("name", ["tiny", "single-scale"])
def test_encode_decode_shapes_and_dtypes(name):
    torch.manual_seed(0)
    m = MSVQVAE(get_config(name) if name == "tiny" else get_config(name))
    stride = m.cfg.stride
    t, h, w = stride[0] * 2, stride[1] * 2, stride[2] * 3
    frames = synthetic_video(t, h, w)
    for ts, bs in m.cfg.operating_points:
        codes = m.encode(frames, stages=(ts, bs))
        assert codes.level("bottom").indices.shape[0] == bs
        assert all(lv.indices.dtype == np.int32 for lv in codes.levels)
        out = m.decode(codes)
        assert out.shape == frames.shape and out.dtype == np.uint8
    batch = np.stack([frames, frames[::-1].copy()])
    codes = m.encode(batch)
    assert codes.batched and m.decode(codes).shape == batch.shape


def test_encode_is_deterministic_and_refuses_bad_input():
    m = MSVQVAE(get_config("tiny"))
    frames = synthetic_video(8, 16, 32)
    a, b = m.encode(frames), m.encode(frames)
    for la, lb in zip(a.levels, b.levels):
        np.testing.assert_array_equal(la.indices, lb.indices)
    np.testing.assert_array_equal(m.decode(a), m.decode(b))
    with pytest.raises(ValueError, match="multiple of the model stride"):
        m.encode(synthetic_video(8, 17, 32))
    with pytest.raises(TypeError):
        m.encode(frames.astype(np.float32))
    with pytest.raises(ValueError, match="stages"):
        m.encode(frames, stages=(99, 99))


def test_a_batch_codes_each_clip_as_alone():
    m = MSVQVAE(get_config("tiny"))
    clips = [synthetic_video(8, 16, 16, seed=s) for s in range(3)]
    batch = m.encode(np.stack(clips))
    for clip, codes in zip(clips, batch.unbatch()):
        alone = m.encode(clip)
        assert not codes.batched and [lv.name for lv in codes.levels] == [lv.name for lv in alone.levels]
        for x, y in zip(codes.levels, alone.levels):
            np.testing.assert_array_equal(x.indices, y.indices)
    assert [(level, stage) for level, stage, _, _ in alone.streams()] == [("top", 0), ("bottom", 0)]


def test_ema_codebook_moves_to_the_data():
    torch.manual_seed(0)
    vq = VectorQuantizer(dim=2, codebook_size=4, decay=0.5, dead_after=0)
    centers = torch.tensor([[5.0, 5.0], [-5.0, 5.0], [5.0, -5.0], [-5.0, -5.0]])
    data = torch.cat([c + 0.1 * torch.randn(64, 2) for c in centers])
    vq.train()
    for _ in range(20):
        vq(data)
    # every true centre has a code next to it
    d = torch.cdist(centers, vq.codebook).min(1).values
    assert float(d.max()) < 0.5
    q, idx, commit = vq(data)
    assert float(commit) < 0.05


def test_dead_codes_are_restarted_on_data():
    torch.manual_seed(0)
    vq = VectorQuantizer(dim=2, codebook_size=8, decay=0.5, dead_after=3)
    vq.train()
    vq(torch.randn(32, 2))                 # k-means init
    vq.codebook[3] = torch.tensor([1e3, 1e3])  # a code nothing maps to
    vq.ema_sum[3] = vq.codebook[3]
    data = torch.randn(256, 2)
    for _ in range(2):
        vq(data)
    assert float(vq.codebook[3].abs().max()) > 100.0  # not yet: idle for only 2 steps
    for _ in range(2):
        vq(data)
    assert float(vq.codebook[3].abs().max()) < 10.0  # moved back onto the data


def test_residual_stages_reduce_error():
    torch.manual_seed(0)
    rvq = ResidualVQ(dim=4, codebook_size=16, stages=3)
    z = torch.randn(2, 4, 4, 4, 4)
    rvq.train()
    for _ in range(10):
        rvq(z)
    rvq.eval()
    errs = [float(F.mse_loss(rvq(z, n).quantized, z)) for n in (1, 2, 3)]
    assert errs[0] > errs[1] > errs[2]
    out = rvq(z, 2)
    np.testing.assert_allclose(rvq.decode(out.indices).numpy(), out.quantized.detach().numpy(), atol=1e-5)


def test_tiny_model_overfits_one_clip():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    m = MSVQVAE(get_config("tiny"))
    clip = torch.from_numpy(synthetic_video(8, 16, 16))[None]
    x = uint8_to_input(clip)
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    first = None
    for step in range(150):
        o = m(x)
        loss = F.mse_loss(o.recon, x) + 0.25 * o.commit
        opt.zero_grad()
        loss.backward()
        opt.step()
        mse_now = float(F.mse_loss(o.recon.detach(), x))
        first = first if first is not None else mse_now
    assert mse_now < first / 4, (first, mse_now)      # training really fits the clip
    out = m.decode(m.encode(clip[0].numpy()))
    assert psnr(clip[0].numpy(), out) > 20.0


def test_vgg_perceptual_loads_a_local_torchvision_state_dict(tmp_path):
    from vqcodec.train.losses import _VGG16_CFG, VGG16Perceptual
    # a torchvision-format state dict with random weights (real ImageNet weights can't be fetched here)
    sd, cin, i = {}, 3, 0
    for v in _VGG16_CFG:
        if v == "M":
            i += 1
            continue
        sd[f"features.{i}.weight"] = torch.randn(v, cin, 3, 3) * 0.05
        sd[f"features.{i}.bias"] = torch.zeros(v)
        cin, i = v, i + 2
    sd["classifier.0.weight"] = torch.zeros(4, 4)
    path = tmp_path / "vgg16.pth"
    torch.save(sd, path)
    loss = VGG16Perceptual(path)
    x = torch.rand(1, 3, 2, 32, 32) * 2 - 1
    assert float(loss(x, x)) == 0.0
    y = (x + 0.3 * torch.randn_like(x)).requires_grad_()
    val = loss(y, x)
    val.backward()
    assert float(val.detach()) > 0 and y.grad is not None and float(y.grad.abs().sum()) > 0
    assert not any(p.requires_grad for p in loss.parameters())


def test_vgg_perceptual_errors_are_clear(tmp_path):
    from vqcodec.train.losses import VGG16Perceptual
    with pytest.raises(FileNotFoundError, match="VGG16 weights not found"):
        VGG16Perceptual(tmp_path / "missing.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(VqvError, match="not a torchvision VGG16"):
        VGG16Perceptual(bad)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"nonsense")
    with pytest.raises(VqvError, match="cannot read"):
        VGG16Perceptual(junk)


def test_linear_path_starts_neutral_and_the_codec_path_matches_training():
    from dataclasses import replace

    from vqcodec.net.model import to_uint8, uint8_to_input
    torch.manual_seed(0)
    plain = MSVQVAE(get_config("tiny"))
    lin = MSVQVAE(replace(get_config("tiny"), linear_path=True))
    missing, _ = lin.load_state_dict(plain.state_dict(), strict=False)
    assert set(missing) == {"lin_enc.weight", "lin_dec.weight", "lin_enc.bias", "lin_dec.bias"}
    frames = synthetic_video(8, 16, 16)
    plain.eval(), lin.eval()
    for st in plain.cfg.operating_points:   # zero-initialised: adding the path to a trained net changes nothing
        assert np.array_equal(plain.decode(plain.encode(frames, stages=st)), lin.decode(lin.encode(frames, stages=st)))
    with torch.no_grad():
        lin.lin_enc.weight.normal_(0, 0.05)
        lin.lin_dec.weight.normal_(0, 0.05)
    x = uint8_to_input(torch.from_numpy(frames)[None])
    for ts, bs in lin.cfg.operating_points:     # encode/decode (the codec) give what forward (training/eval) gives
        with torch.no_grad():
            ref = to_uint8(lin(x, ts, bs).recon)[0]
        out = lin.decode(lin.encode(frames, stages=(ts, bs)))
        assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1
        if bs > 0:              # with no bottom code there is nothing for the path to carry
            assert not np.array_equal(out, plain.decode(plain.encode(frames, stages=(ts, bs))))


def test_cpu_hq_preset_ladder():
    """The wide preset: a real ladder from ~0.01 to ~0.5 bpp raw, every point more bits than the last."""
    from vqcodec.release.model_info import model_info
    cfg = get_config("cpu-hq")
    assert cfg.linear_path and cfg.latent_dim == 64 and cfg.bottom_stages == 14
    pts = cfg.operating_points
    assert 8 <= len(pts) <= 12 and 1 <= cfg.default_quality <= len(pts)
    assert all(0 <= nb <= cfg.bottom_stages and 1 <= nt <= cfg.top_stages for nt, nb in pts)
    assert all(a[0] <= b[0] and a[1] <= b[1] and a != b for a, b in zip(pts, pts[1:]))
    bpp = [b / (32 * 64 * 64) for _, b in sorted(raw_bits(cfg).items())]
    assert all(x < y for x, y in zip(bpp, bpp[1:]))
    assert 0.005 < bpp[0] < 0.015 and 0.45 < bpp[-1] < 0.6
    # same network as `cpu` but the latent: the shipped weights' architecture is untouched
    cpu = get_config("cpu")
    assert cpu.latent_dim == 32 and cpu.bottom_stages == 6
    assert (cfg.bottom_channels, cfg.decoder_channels, cfg.conv) == (cpu.bottom_channels, cpu.decoder_channels, cpu.conv)
    info = model_info("cpu-hq")
    assert [p["quality"] for p in info["operating_points"]] == list(range(1, len(pts) + 1))
    assert info["latent_dim"] == 64 and info["stages"] == {"top": 4, "bottom": 14}
    m = MSVQVAE(cfg)
    assert cfg.latent_grids(32, 64, 64) == {"top": (4, 4, 4), "bottom": (8, 8, 8)}
    assert m.bottom_quantizer.stages == 14 and m.lin_enc.weight.shape[0] == 64


def _train_tiny(clip: torch.Tensor, dropout: bool, steps: int = 100) -> MSVQVAE:
    import random

    from vqcodec.train.loop import sample_stages
    torch.manual_seed(0)
    m = MSVQVAE(get_config("tiny"))
    x = uint8_to_input(clip)
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    rng = random.Random(0)
    for _ in range(steps):
        nt, nb = sample_stages(m.cfg, rng) if dropout else (m.cfg.top_stages, m.cfg.bottom_stages)
        o = m(x, nt, nb)
        loss = F.mse_loss(o.recon, x) + 0.25 * o.commit
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m.eval()


def test_stage_dropout_makes_every_prefix_a_decodable_point():
    """Quantiser dropout (train.sample_stages): every operating point, a prefix of the stages, codes
    through the real codec, costs more bytes with each added stage and loses no quality for them; without
    dropout the prefixes are worse."""
    from fractions import Fraction

    from vqcodec.coding.decoder import decode_bytes
    from vqcodec.coding.encoder import encode_frames
    from vqcodec.weights import CodecModel

    torch.set_num_threads(1)
    clip = torch.from_numpy(synthetic_video(32, 16, 16))[None]        # one whole GOP
    frames = clip[0].numpy()
    quality = {}
    for dropout in (True, False):
        model = CodecModel.unsaved(_train_tiny(clip, dropout))
        points = []
        for q in model.qualities:
            data = encode_frames(frames, Fraction(16), model=model, quality=q, prior="uniform", rdo_strength=0)
            points.append((len(data), psnr(frames, decode_bytes(data, model=model))))
        quality[dropout] = points
    sizes, psnrs = zip(*quality[True])
    # A tiny model's later stages add little (0.05-1.8 dB after 100 steps) and the exact gain varies with
    # the CPU's float kernels: each point costs more bytes and loses at most 0.1 dB, and the top point
    # beats the top-only one.
    assert all(b > a for a, b in zip(sizes, sizes[1:])), quality[True]
    assert all(b > a - 0.1 for a, b in zip(psnrs, psnrs[1:])) and psnrs[-1] > psnrs[0], quality[True]
    # the top-only point is what dropout protects: trained only with every stage, it is left untrained
    assert quality[True][0][1] > quality[False][0][1] + 1.0, quality
