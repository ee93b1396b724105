"""The light synthesis (docs/DESIGN.md, "Light synthesis"): a small deep path beside the decoder, used wherever a
clip's bottom latent is coded; files of the release before it (a legacy digest) decode with the decoder as they did."""
from __future__ import annotations

import json
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
import torch
from conftest import make_tiny_weights, synthetic_video

from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.net.model import MSVQVAE
from vqcodec.weights import WeightsError, load_model, save_weights

LIGHT = {"light_channels": (4, 4), "light_blocks": (1, 0)}


def _with_light(path, out, seed=3):
    """The tiny model of ``path`` with a (random, non-zero) light synthesis, saved as add_light_synthesis.py saves
    it: the same priors, the file it replaces kept as a legacy digest."""
    base = load_model(path)
    net = MSVQVAE(replace(base.cfg, **LIGHT))
    torch.manual_seed(seed)
    state = {**{k: v for k, v in net.state_dict().items() if k.startswith("light_decoder.")},
             **base.net.state_dict()}
    net.load_state_dict(state)
    with torch.no_grad():
        for p in net.light_decoder.parameters():
            p.normal_(0, 0.1)
    save_weights(net.eval(), out, precision="float", priors=base.priors, legacy={base.sha256: base.priors},
                 card={"light_synthesis": {"replaces": base.sha256}})
    return load_model(out), base


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("light")
    return _with_light(make_tiny_weights(d / "base.pt"), d / "light.pt")


def test_the_light_synthesis_decodes_where_the_bottom_is_coded_and_the_decoder_elsewhere(models):
    light, base = models
    net = light.net
    frames = synthetic_video(8, 32, 32)
    for stages in net.cfg.operating_points:
        codes = net.encode(frames, stages=stages)
        full = base.net.decode(codes)
        assert np.array_equal(net.decode(codes, light=False), full)     # the same decoder weights
        if stages[1] == 0:        # no bottom code: the top level alone, which the decoder's depth reconstructs
            assert net.synthesis_for(torch.zeros(1, 8, 1, 2, 2)) is net.decoder
            assert np.array_equal(net.decode(codes), full)
        else:
            out = net.decode(codes)
            assert out.shape == full.shape and not np.array_equal(out, full)
            lat = net.dequantise(codes)          # the latents' path gives the same frames
            assert np.array_equal(net.decode_latents(lat)[0], out)
            assert np.array_equal(net.decode_latents(lat, light=False)[0], full)


def test_a_batch_decodes_each_clip_with_its_own_synthesis(models):
    net = models[0].net
    clips = np.stack([synthetic_video(8, 32, 32, seed=s) for s in range(2)])
    codes = net.encode(clips, stages=net.cfg.operating_points[-1])
    one = [net.decode(c) for c in codes.unbatch()]
    both = net.decode(codes)
    assert all(np.array_equal(both[i], one[i]) for i in range(2))


def test_the_weights_file_says_so_and_older_configs_keep_their_json(models, tmp_path):
    light, base = models
    blob = torch.load(light.path, weights_only=True)
    cfg = json.loads(blob["config"])
    assert blob["version"] == 4 and cfg["light_channels"] == [4, 4] and cfg["light_blocks"] == [1, 0]
    assert "light_channels" not in json.loads(torch.load(base.path, weights_only=True)["config"])
    assert light.net.light_decoder is not None and base.net.light_decoder is None
    bad = tmp_path / "bad.pt"
    torch.save({**blob, "config": json.dumps({**cfg, "light_blocks": [1]})}, bad)
    with pytest.raises(WeightsError, match="light_blocks has 1 entries, not 2"):
        load_model(bad)


def test_files_of_the_release_before_decode_as_they_did_and_new_files_with_the_light_synthesis(models):
    light, base = models
    frames = synthetic_video(16, 32, 32)
    old = encode_frames(frames, Fraction(16), model=base, quality=3, motion=False)
    before = decode_bytes(old, model=base)
    assert np.array_equal(decode_bytes(old, model=light), before)       # the legacy digest: the decoder
    assert light.for_digest(base.digest).light is False and light.light
    new = encode_frames(frames, Fraction(16), model=light, quality=3, motion=False)
    assert new != old
    back = decode_bytes(new, model=light)
    assert back.shape == before.shape and not np.array_equal(back, before)
    with pytest.raises(Exception, match="encoded with model"):
        decode_bytes(new, model=base)


def test_the_latents_of_a_file_of_the_release_before_decode_as_vqv_decode_does(models, tmp_path):
    from vqcodec.latents import frames_from_latents, read_latents
    light, base = models
    frames = synthetic_video(16, 32, 32)
    for model, name in ((base, "old"), (light, "new")):
        p = tmp_path / f"{name}.vqv"
        p.write_bytes(encode_frames(frames, Fraction(16), model=model, quality=3, motion=False))
        lat = read_latents(p, light)
        got = frames_from_latents(light, {"top": lat["top"][0], "bottom": lat["bottom"][0]},
                                  coded_frames=int(lat.coded_frames[0]), model_digest=lat.model)
        assert np.array_equal(got[:16, :32, :32], decode_bytes(p.read_bytes(), model=light)), name


def test_the_cli_writes_the_release_before_with_full_synthesis_and_refuses_it_where_there_is_none(models, tmp_path,
                                                                                                 video_npy):
    from click.testing import CliRunner

    from cli.main import main
    light, base = models
    runner = CliRunner()
    args = ["encode", str(video_npy), "--model", str(light.path), "-Q", "3", "--no-motion", "-q"]
    assert runner.invoke(main, args + [str(tmp_path / "light.vqv")]).exit_code == 0
    assert runner.invoke(main, args + [str(tmp_path / "full.vqv"), "--full-synthesis"]).exit_code == 0
    r = runner.invoke(main, ["encode", str(video_npy), str(tmp_path / "old.vqv"), "--model", str(base.path), "-Q", "3",
                             "--no-motion", "-q"])
    assert r.exit_code == 0, r.output
    full, old = (tmp_path / "full.vqv").read_bytes(), (tmp_path / "old.vqv").read_bytes()
    assert full == old != (tmp_path / "light.vqv").read_bytes()     # the release before's file, byte for byte
    assert base.full_synthesis() is base                             # nothing to go back to, nothing to refuse
    orphan = tmp_path / "orphan.pt"
    save_weights(light.net, orphan, precision="float", priors=light.priors)      # no earlier release recorded
    r = runner.invoke(main, args[:3] + [str(orphan), "-Q", "3", str(tmp_path / "x.vqv"), "--full-synthesis"])
    assert r.exit_code == 1 and "no release of this network without its light synthesis" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "x.vqv").exists()
