"""The training loop: runs, checkpoints, resumes, and scales out with DDP (gloo on CPU)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from vqcodec.errors import OptionError
from vqcodec.train.config import TRAIN_PRESETS, parse_setting, train_config
from vqcodec.train.loop import TrainConfig, lr_at, sample_stages, train, unpack_init, val_score
from vqcodec.net.model import get_config

from conftest import synthetic_video


@pytest.fixture
def clip_folder(tmp_path) -> Path:
    d = tmp_path / "clips"
    d.mkdir()
    for i in range(4):
        np.save(d / f"c{i}.npy", synthetic_video(12, 24, 24, seed=i))
    return d


def _tc(tmp_path, data, **kw) -> TrainConfig:
    base = dict(config="tiny", data=f"folder:{data}", out=str(tmp_path / "run"), steps=6, batch_size=2,
                crop_frames=8, crop_size=16, val_every=3, ckpt_every=3, cache_dir=str(tmp_path / "cache"),
                threads=1, progress=False, warmup=2, samples_per_epoch=64)
    base.update(kw)
    return TrainConfig(**base)


def test_train_writes_checkpoint_metrics_and_validation(tmp_path, clip_folder):
    res = train(_tc(tmp_path, clip_folder))
    assert res["step"] == 6
    ck = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 6 and ck["model_config"]["name"] == "tiny"
    recs = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    vals = [r for r in recs if r["kind"] == "val"]
    assert [v["step"] for v in vals] == [3, 6]
    point = vals[-1]["points"]["1"]
    assert 0 < point["psnr"] < 100 and -1 <= point["ssim"] <= 1 and point["bpp_entropy"] > 0


def test_resume_continues_the_same_run(tmp_path, clip_folder):
    train(_tc(tmp_path, clip_folder, steps=4))
    first = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    with pytest.raises(FileExistsError):
        train(_tc(tmp_path, clip_folder, steps=8))   # refuses to clobber a run without --resume
    res = train(_tc(tmp_path, clip_folder, steps=8, resume=True))
    assert res["step"] == 8
    second = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert second["step"] == 8 and second["train_seconds"] >= first["train_seconds"]
    # the optimiser state carried over (Adam's step counter keeps counting)
    s1 = next(iter(first["optimizer"]["state"].values()))["step"]
    s2 = next(iter(second["optimizer"]["state"].values()))["step"]
    assert float(s2) == float(s1) + 4


def test_best_checkpoint_follows_validation_across_resume(tmp_path, clip_folder):
    from vqcodec.weights import net_from_checkpoint
    run = tmp_path / "run"
    res = train(_tc(tmp_path, clip_folder, steps=6))
    best = torch.load(run / "best.pt", weights_only=True)
    assert "optimizer" not in best and best["best"]["metric"] == "mean_psnr"
    train(_tc(tmp_path, clip_folder, steps=9, resume=True))
    vals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    vals = [v for v in vals if v["kind"] == "val"]
    assert [v["step"] for v in vals] == [3, 6, 9]
    scores = {v["step"]: val_score(v["points"]) for v in vals}
    best = torch.load(run / "best.pt", weights_only=True)
    want = max(scores, key=scores.get)
    assert best["step"] == best["best"]["step"] == want == vals[-1]["best_step"]
    assert best["best"]["score"] == pytest.approx(scores[want])
    assert res["best_step"] in (3, 6)
    net_from_checkpoint(run / "best.pt")      # loads as a checkpoint (what `vqv ship` reads)


# ------------------------------------------------------------------------------- settings and presets

# The `cpu-hq` run as scripts/train_hq.py (now `vqv train --preset cpu-hq`) wrote it, its HQ settings.
TRAIN_HQ = dict(config="cpu-hq", data="corpus:data/corpus", cache_dir="data/cache", out="runs/hq", steps=4000,
                lr=4e-4, warmup=100, commit_weight=0.0, bypass_prob=0.3, batch_size=8, crop_frames=16, crop_size=64,
                threads=1, val_every=250, ckpt_every=100, progress=False)


def test_presets_round_trip_into_train_config():
    for name, fields_ in TRAIN_PRESETS.items():
        tc = train_config(name)
        assert tc == TrainConfig(**fields_)
        assert {k: v for k, v in asdict(tc).items() if k in fields_} == fields_
        # every value survives being written as --set KEY=VALUE and read back
        assert train_config("cpu", settings=[f"{k}={v}" for k, v in asdict(tc).items()]) == tc
    assert train_config("cpu") == TrainConfig() == train_config()   # cpu: the defaults


def test_cpu_hq_preset_is_the_train_hq_run():
    assert train_config("cpu-hq") == TrainConfig(**TRAIN_HQ)
    # the ablation arms, as train_hq.py ran them: --out runs/commit-cpu --steps 5000 --set config=cpu
    # --set lr=0.0001 --set commit_weight=0.25 (and --set config=single-scale, --out runs/commit-single)
    arm = dict(TRAIN_HQ, out="runs/commit-cpu", steps=5000, config="cpu", lr=0.0001, commit_weight=0.25)
    assert train_config("commit-cpu") == TrainConfig(**arm)
    assert train_config("commit-single") == TrainConfig(**dict(arm, config="single-scale", out="runs/commit-single"))


def test_set_parses_each_field_by_its_type():
    assert parse_setting("lr=0.0001") == ("lr", 0.0001)
    key, steps = parse_setting("steps=5000")
    assert (key, steps) == ("steps", 5000) and type(steps) is int
    _, minutes = parse_setting("max_minutes=90")
    assert minutes == 90.0 and type(minutes) is float
    assert parse_setting("max_minutes=none") == ("max_minutes", None)
    assert parse_setting("init_fit_rows=null") == ("init_fit_rows", None)
    assert parse_setting("progress=false") == ("progress", False) and parse_setting("resume=yes") == ("resume", True)
    assert parse_setting("init=vqcodec/weights/vqv-cpu-hq.pt") == ("init", "vqcodec/weights/vqv-cpu-hq.pt")
    assert parse_setting("config=single-scale") == ("config", "single-scale")
    assert parse_setting("data=folder:a=b") == ("data", "folder:a=b")       # the first "=" splits
    assert parse_setting("perceptual=none") == ("perceptual", "none")       # a str field: "none" is a value
    # the preset, then the options, then --set (the last word)
    tc = train_config("cpu-hq", {"steps": 10, "seed": 3}, ["lr=0.0001", "steps=20"])
    assert tc == replace(train_config("cpu-hq"), steps=20, seed=3, lr=0.0001)


def test_set_errors_are_one_line_option_errors():
    for item, words in [("lrr=1", "no TrainConfig field 'lrr' (did you mean lr?)"),
                        ("zzz=1", "no TrainConfig field 'zzz'"),
                        ("steps=1.5", "steps takes an integer"), ("lr=fast", "lr takes a number"),
                        ("threads=two", "threads takes an integer"), ("progress=maybe", "true or false"),
                        ("perceptual=lpips", "one of ssim, vgg, none"), ("lr", "expected KEY=VALUE")]:
        with pytest.raises(OptionError) as e:
            parse_setting(item)
        assert words in str(e.value) and "\n" not in str(e.value), item
    with pytest.raises(OptionError, match="unknown training preset 'nope'"):
        train_config("nope")


def _vqv_train(*args):
    from click.testing import CliRunner

    from vqcodec.cli.main import main
    r = CliRunner().invoke(main, ["train", *map(str, args)])
    return r.exit_code, r.output


def test_vqv_train_options_apply_onto_the_preset(tmp_path, monkeypatch):
    import vqcodec.train.loop as loop
    got = []
    monkeypatch.setattr(loop, "train", lambda tc: got.append(tc) or {"step": tc.steps})
    # every option as before: the same TrainConfig the command wrote out by hand
    code, out = _vqv_train(
        "--config", "tiny", "--data", "folder:d", "--out", tmp_path / "r", "--steps", 7, "--max-minutes", 1.5,
        "--batch-size", 2, "--crop", "8x16", "--lr", 0.002, "--commit-weight", 0.1, "--bypass-prob", 0.3,
        "--perceptual", "none", "--perceptual-weight", 0.2, "--vgg-weights", "v.pth", "--recon", "l1", "--seed", 3,
        "--threads", 1, "--workers", 2, "--val-every", 5, "--ckpt-every", 4, "--cache-dir", "c", "--ucf-split", 2,
        "--resume", "--init", "w.pt", "-q")
    assert code == 0, out
    assert got[-1] == TrainConfig(
        config="tiny", data="folder:d", out=str(tmp_path / "r"), steps=7, max_minutes=1.5, batch_size=2,
        crop_frames=8, crop_size=16, lr=0.002, commit_weight=0.1, bypass_prob=0.3, perceptual="none",
        perceptual_weight=0.2, vgg_weights="v.pth", recon="l1", seed=3, threads=1, workers=2, val_every=5,
        ckpt_every=4, cache_dir="c", ucf_split=2, resume=True, init="w.pt", progress=False)
    # no --preset: the cpu settings, --data and --out given
    code, out = _vqv_train("--data", "folder:d", "--out", "r")
    assert code == 0 and got[-1] == TrainConfig(data="folder:d", out="r")
    assert "stopped at step 20000; checkpoint in r" in out
    # a preset, an option onto it, then --set
    code, out = _vqv_train("--preset", "cpu-hq", "--steps", 10, "--set", "lr=0.0001", "--set", "seed=2", "--resume")
    assert code == 0, out
    assert got[-1] == replace(train_config("cpu-hq"), steps=10, lr=0.0001, seed=2, resume=True)
    code, out = _vqv_train("--preset", "cpu-hq", "--steps", 10, "--set", "steps=12")
    assert got[-1].steps == 12
    assert len(got) == 4


def test_vqv_train_usage_errors(monkeypatch):
    import vqcodec.train.loop as loop
    monkeypatch.setattr(loop, "train", lambda tc: pytest.fail("ran"))
    for args, words in [(("--preset", "cpu-hq", "--set", "lrr=1"), "--set lrr=1: no TrainConfig field 'lrr'"),
                        (("--preset", "cpu-hq", "--set", "steps=x"), "--set steps=x: steps takes an integer"),
                        (("--preset", "cpu-hq", "--set", "lr"), "--set lr: expected KEY=VALUE"),
                        (("--preset", "nope"), "'nope' is not one of"),
                        (("--data", "folder:d"), "Missing option '--out'"),
                        (("--out", "r"), "Missing option '--data'"),
                        (("--preset", "cpu", "--crop", "8x"), "expected FRAMESxSIZE")]:
        code, out = _vqv_train(*args)
        assert code == 2 and words in out.strip().splitlines()[-1], (args, out)


def test_vqv_train_help_names_every_preset():
    code, out = _vqv_train("--help")
    assert code == 0 and "--set KEY=VALUE" in out
    for name in TRAIN_PRESETS:
        assert name in out


def test_a_zstd_compressed_init_is_unpacked_into_the_run(tmp_path):
    import zstandard
    packed = tmp_path / "w.pt.zst"
    packed.write_bytes(zstandard.ZstdCompressor().compress(b"weights" * 100))
    tc = unpack_init(TrainConfig(out=str(tmp_path / "run"), init=str(packed)))
    assert tc.init == str(tmp_path / "run" / "w.pt") and Path(tc.init).read_bytes() == b"weights" * 100
    plain = TrainConfig(out=str(tmp_path / "run2"), init="w.pt")
    assert unpack_init(plain) is plain and not (tmp_path / "run2").exists()


def test_val_score():
    pts = {1: {"psnr": 20.0}, 2: {"psnr": 30.0}}
    assert val_score(pts) == 25.0 and val_score(pts, "top_psnr") == 30.0
    assert val_score({"1": {"psnr": 20.0}, "10": {"psnr": 31.0}, "2": {"psnr": 25.0}}, "top_psnr") == 31.0
    with pytest.raises(ValueError, match="best_metric"):
        val_score(pts, "nope")


def test_resume_without_checkpoint_is_an_error(tmp_path, clip_folder):
    with pytest.raises(FileNotFoundError):
        train(_tc(tmp_path, clip_folder, resume=True))


def test_schedule_and_quantiser_dropout():
    tc = TrainConfig(steps=1000, warmup=100, lr=1e-3)
    assert lr_at(0, tc) < lr_at(99, tc) <= 1e-3
    assert lr_at(999, tc) == pytest.approx(1e-4, rel=0.05)
    import random
    cfg = get_config("cpu")
    seen = {sample_stages(cfg, random.Random(i)) for i in range(400)}
    assert (4, 0) in seen and (1, 0) in seen and (4, 6) in seen
    assert all(nt == cfg.top_stages for nt, nb in seen if nb > 0)
    hq = get_config("cpu-hq")          # 14 bottom stages: the top-only steps keep their 1/7 share
    draws = [sample_stages(hq, random.Random(i)) for i in range(2000)]
    assert {nb for _, nb in draws} == set(range(hq.bottom_stages + 1))
    assert 0.11 < sum(nb == 0 for _, nb in draws) / len(draws) < 0.18


def test_ddp_gloo_two_processes(tmp_path, clip_folder):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "vqcodec.cli.main", "train", "--config", "tiny", "--data", f"folder:{clip_folder}",
           "--out", str(out), "--steps", "4", "--batch-size", "2", "--crop", "8x16", "--threads", "1",
           "--val-every", "2", "--ckpt-every", "2", "--cache-dir", str(tmp_path / "cache"), "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 4


def test_sigterm_stops_with_a_checkpoint(tmp_path, clip_folder):
    """A session ending (SIGTERM) must not lose the run: training stops at a step and checkpoints."""
    import signal
    import time
    script = (
        "import sys; from vqcodec.train.loop import TrainConfig, train;"
        f"train(TrainConfig(config='tiny', data='folder:{clip_folder}', out='{tmp_path / 'sig'}', steps=100000,"
        " batch_size=2, crop_frames=8, crop_size=16, val_every=100000, ckpt_every=100000,"
        f" cache_dir='{tmp_path / 'cache'}', threads=1, progress=False))"
    )
    p = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "OMP_NUM_THREADS": "1"})
    ck = tmp_path / "sig" / "metrics.jsonl"
    deadline = time.time() + 120
    while not ck.exists() and time.time() < deadline:   # first log line at step 50
        time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=120) == 0
    state = torch.load(tmp_path / "sig" / "checkpoint.pt", weights_only=True)
    assert state["step"] >= 50


def test_a_crash_in_training_restores_the_signal_handlers(tmp_path, clip_folder, monkeypatch):
    """train() catches SIGINT/SIGTERM to stop with a checkpoint; an exception must hand them back."""
    import signal
    import vqcodec.train.loop as train_mod

    def broken(*a, **k):
        raise RuntimeError("validation broke")
    monkeypatch.setattr(train_mod, "evaluate", broken)
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(RuntimeError, match="validation broke"):
        train(_tc(tmp_path, clip_folder, steps=4, val_every=2))
    assert {s: signal.getsignal(s) for s in before} == before


def test_warm_start_from_a_weights_file(tmp_path, clip_folder, tiny_weights):
    from vqcodec.weights import load_model
    res = train(_tc(tmp_path, clip_folder, steps=2, init=str(tiny_weights)))
    assert res["step"] == 2
    ck = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    start = load_model(tiny_weights).net.state_dict()
    # the run started from those weights (a couple of small steps away, not a fresh init)
    w = "decoder.0.weight"
    assert torch.allclose(ck["model"][w], start[w], atol=0.05)


def test_fresh_linear_path_model_starts_as_a_pca_code(tmp_path, clip_folder):
    from vqcodec.net.linear_init import init_linear_code, pixel_blocks
    from vqcodec.net.model import MSVQVAE, uint8_to_input
    torch.manual_seed(0)
    net = MSVQVAE(get_config("tiny-linear")).eval()
    clips = uint8_to_input(torch.from_numpy(np.stack([synthetic_video(8, 16, 16, seed=i) for i in range(6)])))
    rep = init_linear_code(net, clips, kmeans_iters=3)
    left = rep["residual_left_after_stage"]
    assert len(left) == 2 and 0 <= left[1] <= left[0] < 1
    # unquantised, the network is now exactly a PCA of its bottom-grid pixel blocks
    rows = pixel_blocks(clips.double(), net.cfg.bottom_factor)
    mu = rows.mean(0)
    basis = torch.linalg.svd(rows - mu, full_matrices=False).Vh[:net.cfg.latent_dim]
    pca = ((rows - mu) @ basis.T @ basis + mu).float()
    with torch.no_grad():
        out = pixel_blocks(net(clips, bypass=True).recon, net.cfg.bottom_factor)
    assert torch.allclose(out, pca, atol=1e-4)
    # quantised, more stages code the clips better
    with torch.no_grad():
        err = [float((net(clips, 1, s).recon - clips).pow(2).mean()) for s in (0, 1, 2)]
    assert err[2] < err[1] < err[0]
    with pytest.raises(ValueError, match="linear_path"):
        init_linear_code(MSVQVAE(get_config("tiny")), clips)


def test_linear_start_with_fresh_kmeans_subsets_per_stage():
    from vqcodec.net.linear_init import init_linear_code, pixel_blocks
    from vqcodec.net.model import MSVQVAE, uint8_to_input
    torch.manual_seed(0)
    net = MSVQVAE(get_config("tiny-linear")).eval()
    clips = uint8_to_input(torch.from_numpy(np.stack([synthetic_video(8, 16, 16, seed=i) for i in range(6)])))
    rep = init_linear_code(net, clips, kmeans_iters=3, fit_rows=200)
    assert rep["kmeans_rows"] == 200 and rep["pca_rows"] == 6 * 4 * 4 * 4   # every block of the 4x4x4 grid
    rows = pixel_blocks(clips.double(), net.cfg.bottom_factor)
    mu = rows.mean(0)
    basis = torch.linalg.svd(rows - mu, full_matrices=False).Vh[:net.cfg.latent_dim]
    pca = ((rows - mu) @ basis.T @ basis + mu).float()     # the same PCA, from the covariance
    with torch.no_grad():
        out = pixel_blocks(net(clips, bypass=True).recon, net.cfg.bottom_factor)
    assert torch.allclose(out, pca, atol=1e-4)


def test_train_initialises_a_fresh_linear_path_model(tmp_path, clip_folder):
    train(_tc(tmp_path, clip_folder, config="tiny-linear", steps=2, val_every=2, ckpt_every=2))
    recs = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert recs[0]["kind"] == "init" and len(recs[0]["linear_code"]["residual_left_after_stage"]) == 2
    assert recs[0]["linear_code"]["clips"]["random"] == 512   # augmented crops beside the centre crops
    ck = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert float(ck["model"]["lin_dec.weight"].abs().sum()) > 0


def test_added_bottom_stages_keep_the_ladder_and_extend_it():
    """linear_init.add_bottom_stages: k-means stages on top of a trained model leave every existing
    operating point's codes and frames as they were, and each new stage brings the frames closer."""
    from dataclasses import replace

    from vqcodec.net.linear_init import add_bottom_stages
    from vqcodec.metrics import psnr
    from vqcodec.net.model import MSVQVAE

    from vqcodec.net.linear_init import init_linear_code
    from vqcodec.net.model import uint8_to_input

    torch.manual_seed(0)
    net = MSVQVAE(get_config("tiny-linear"))
    clips = np.stack([synthetic_video(8, 32, 32, seed=s) for s in range(6)])
    init_linear_code(net, uint8_to_input(torch.from_numpy(clips)), kmeans_iters=5)   # the linear code: a decoder
    net.eval()                                                                       # that follows its latent
    new, rep = add_bottom_stages(net, torch.from_numpy(clips), 2, kmeans_iters=5, fit_rows=None)
    assert new.cfg.bottom_stages == net.cfg.bottom_stages + 2 and len(rep["residual_left_after_new_stage"]) == 2
    assert rep["residual_left_after_new_stage"][1] < rep["residual_left_after_new_stage"][0] < 1
    for st in net.cfg.operating_points:
        a, b = net.encode(clips[:2], stages=st), new.encode(clips[:2], stages=st)
        for la, lb in zip(a.levels, b.levels):
            assert torch.equal(torch.as_tensor(la.indices), torch.as_tensor(lb.indices))
        assert np.array_equal(net.decode(a), new.decode(b))
    top = net.cfg.operating_points[-1]
    new.cfg = replace(new.cfg, operating_points=net.cfg.operating_points + ((top[0], top[1] + 1), (top[0], top[1] + 2)))
    err = [psnr(clips[0], new.decode(new.encode(clips[0], stages=st))) for st in new.cfg.operating_points[-3:]]
    assert err[0] < err[1] < err[2], err
