"""Shipping: a training checkpoint becomes a verified half-precision weights file with priors and a card."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import synthetic_video

from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.errors import VqvError
from vqcodec.release.ship import ship
from vqcodec.train.loop import TrainConfig, train
from vqcodec.weights import WeightsError, load_model


def test_ship_writes_weights_with_priors_and_measured_points(tmp_path):
    data = tmp_path / "clips"
    data.mkdir()
    for i in range(4):
        np.save(data / f"c{i}.npy", synthetic_video(24, 24, 24, seed=i))
    train(TrainConfig(config="tiny", data=f"folder:{data}", out=str(tmp_path / "run"), steps=3, batch_size=2,
                      crop_frames=8, crop_size=16, val_every=100, ckpt_every=100, cache_dir=str(tmp_path / "cache"),
                      threads=1, progress=False, warmup=1, samples_per_epoch=16))
    out = tmp_path / "tiny-shipped.pt"
    # a run warm-restarted from step 10 of another (tools/pca_init.py) counts those steps too
    (tmp_path / "run" / "lineage.json").write_text('{"from_step": 10, "from_train_seconds": 36.0}')
    rep = ship(tmp_path / "run" / "checkpoint.pt", out, data=f"folder:{data}", cache_dir=tmp_path / "cache",
               make_default=False, operating_points=[(1, 0), (1, 2)], default_quality=1, log=lambda m: None)
    m = load_model(out)
    assert m.net.cfg.operating_points == ((1, 0), (1, 2)) and m.net.cfg.default_quality == 1
    assert set(m.priors) == {"empirical-static", "learned"}
    assert m.sha256 == rep["sha256"] and m.card["training_steps"] == 13 and m.card["warm_restart_at_step"] == 10
    pts = m.card["operating_points"]
    assert set(pts) == {str(q) for q in m.qualities}
    for p in pts.values():
        assert p["bpp"] > 0 and 0 < p["psnr"] < 100 and set(p["bpp_by_prior"]) >= {"uniform", "learned"}
        # auto keeps the cheapest of its candidates, coded on the learned prior's decisions: no more than a
        # file decided and coded with the learned prior (uniform and static files decide with their own)
        assert p["bpp"] <= p["bpp_by_prior"]["learned"] + 1e-9
    # the shipped file codes video with every prior it carries
    frames = synthetic_video(8, 16, 16)
    for prior in ("empirical-static", "learned"):
        assert decode_bytes(encode_frames(frames, 16, model=m, prior=prior), model=m).shape == frames.shape


@pytest.mark.parametrize("points, default, match", [
    (((1, 0), (1, 3)), 1, "outside"),            # tiny has 2 bottom stages
    (((1, 2), (1, 1)), 1, "add stages"),         # Q2 must not drop stages
    (((0, 0), (1, 1)), 1, "outside"),            # nothing coded
    (((1, 0), (1, 1)), 3, "default quality"),
])
def test_bad_operating_points_are_refused(points, default, match):
    from dataclasses import replace

    from vqcodec.net.model import get_config
    from vqcodec.release.ship import check_operating_points
    with pytest.raises(VqvError, match=match):
        check_operating_points(replace(get_config("tiny"), operating_points=points, default_quality=default))


def test_corrupted_weights_are_refused(tmp_path, tiny_weights):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(tiny_weights.read_bytes()[:-100])
    with pytest.raises(WeightsError):
        load_model(bad)
    with pytest.raises(WeightsError, match="not found"):
        load_model(tmp_path / "none.pt")


def test_shipped_weights_are_verified_against_the_manifest(tmp_path, tiny_weights, monkeypatch):
    import json

    from vqcodec import weights
    wdir = tmp_path / "weights"
    wdir.mkdir()
    (wdir / "m.pt").write_bytes(tiny_weights.read_bytes())
    manifest = wdir / "manifest.json"
    monkeypatch.setattr(weights, "WEIGHTS_DIR", wdir)
    monkeypatch.setattr(weights, "MANIFEST", manifest)
    manifest.write_text(json.dumps({"default": {"file": "m.pt", "sha256": weights.sha256_file(wdir / "m.pt")}}))
    assert load_model().path == wdir / "m.pt"            # the default comes from the manifest
    manifest.write_text(json.dumps({"default": {"file": "m.pt", "sha256": "0" * 64}}))
    with pytest.raises(WeightsError, match="corrupted"):
        load_model()


def test_the_manifest_records_shipped_and_refitted_files(tmp_path, tiny_weights, monkeypatch):
    import json

    from vqcodec import weights
    wdir = tmp_path / "weights"
    wdir.mkdir()
    monkeypatch.setattr(weights, "WEIGHTS_DIR", wdir)
    monkeypatch.setattr(weights, "MANIFEST", wdir / "manifest.json")
    (wdir / "m.pt").write_bytes(tiny_weights.read_bytes())
    assert not weights.record_in_manifest(wdir / "m.pt", "a" * 64)          # not listed: nothing to update
    assert not (wdir / "manifest.json").exists()
    assert weights.record_in_manifest(wdir / "m.pt", "b" * 64, "default")   # shipped under a name
    assert weights.record_in_manifest(wdir / "m.pt", "c" * 64)              # refitted: its entry follows
    assert json.loads((wdir / "manifest.json").read_text()) == {"default": {"file": "m.pt", "sha256": "c" * 64}}
    with pytest.raises(VqvError, match="belong in"):                        # refused before any work
        ship(tmp_path / "none.pt", tmp_path / "elsewhere.pt", data="folder:x", cache_dir=tmp_path, log=print)


def test_a_checkpoint_that_is_not_one_is_a_clear_error(tmp_path, tiny_weights):
    from vqcodec.weights import net_from_checkpoint
    with pytest.raises(WeightsError, match="not found"):
        net_from_checkpoint(tmp_path / "none.pt")
    with pytest.raises(WeightsError, match="not a vqv training checkpoint"):
        net_from_checkpoint(tiny_weights)                                     # a weights file, not a checkpoint
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"nonsense")
    with pytest.raises(WeightsError, match="cannot read"):
        net_from_checkpoint(junk)


def test_int8_weights_store_what_round_to_gives_and_repack_exactly(tmp_path, tiny_weights):
    import torch

    from vqcodec.weights import TRAINING_ONLY, resave_weights, round_to, save_weights

    net = load_model(tiny_weights).net
    sizes = {}
    for precision in ("float", "half", "int8"):
        out = tmp_path / f"{precision}.pt"
        save_weights(net, out, precision=precision)
        sizes[precision] = out.stat().st_size
    assert sizes["int8"] < sizes["half"] < sizes["float"]
    blob = torch.load(tmp_path / "int8.pt", weights_only=True)
    # kernels live outside state_dict, so an older reader reports them missing instead of misreading int8
    assert blob["version"] == 2 and blob["int8"] and not set(blob["int8"]) & set(blob["state_dict"])
    assert all(v.dtype == torch.int8 for v in blob["int8"].values())
    expect = round_to(load_model(tiny_weights).net, "int8").state_dict()
    shipped = [k for k in expect if not k.endswith(TRAINING_ONLY)]
    got = load_model(tmp_path / "int8.pt").net.state_dict()
    assert all(torch.equal(got[k], expect[k]) for k in shipped)
    assert any(not torch.equal(got[k], net.state_dict()[k]) for k in shipped)       # it did quantise
    # packing a packed network changes nothing: ship and resave keep the network bit for bit
    save_weights(load_model(tmp_path / "int8.pt").net, tmp_path / "again.pt", precision="int8")
    repacked = torch.load(tmp_path / "again.pt", weights_only=True)
    assert all(torch.equal(repacked[part][k], blob[part][k]) for part in ("state_dict", "int8", "int8_scales")
               for k in blob[part])
    resave_weights(load_model(tmp_path / "int8.pt"), card={"note": "x"})
    again = load_model(tmp_path / "int8.pt").net.state_dict()
    assert all(torch.equal(again[k], expect[k]) for k in shipped)


def test_weights_of_a_newer_version_or_unknown_precision_are_refused(tmp_path, tiny_weights):
    import torch

    from vqcodec.weights import save_weights

    blob = torch.load(tiny_weights, weights_only=True)
    blob["version"] = 99
    torch.save(blob, tmp_path / "new.pt")
    with pytest.raises(WeightsError, match="newer vqv"):
        load_model(tmp_path / "new.pt")
    with pytest.raises(WeightsError, match="precision"):
        save_weights(load_model(tiny_weights).net, tmp_path / "x.pt", precision="int4")
