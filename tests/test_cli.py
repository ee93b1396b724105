"""The `vqv` command as a user meets it: reports, exit codes, one-line errors, no clobbering."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vqcodec.cli.main import main


def run(*args):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return r.exit_code, r.output, r.stderr if hasattr(r, "stderr") else ""


@pytest.fixture
def encoded(tiny_weights, tmp_path, video_npy) -> Path:
    out = tmp_path / "clip.vqv"
    code, _, _ = run("encode", video_npy, out, "--model", tiny_weights, "-q")
    assert code == 0
    return out


def test_encode_prints_the_bitrate_report(tiny_weights, tmp_path, video_npy):
    code, out, _ = run("encode", video_npy, tmp_path / "o.vqv", "--model", tiny_weights, "--psnr")
    assert code == 0
    for word in ("frames", "bpp", "kbps", "ratio", "vs raw RGB24", "PSNR", "SSIM", "frames/s", "top", "bottom"):
        assert word in out


def test_encode_json_report(tiny_weights, tmp_path, video_npy):
    code, out, _ = run("encode", video_npy, tmp_path / "o.vqv", "--model", tiny_weights, "--json", "--quality", "1")
    rep = json.loads(out[out.index("{"):])
    assert code == 0 and rep["quality"] == 1 and rep["frames"] == 40
    assert rep["bytes"] == (tmp_path / "o.vqv").stat().st_size


def test_decode_info_codes(encoded, tiny_weights, tmp_path):
    code, out, _ = run("decode", encoded, tmp_path / "back.npy", "--model", tiny_weights)
    assert code == 0 and np.load(tmp_path / "back.npy").shape == (40, 48, 40, 3)
    code, out, _ = run("info", encoded)
    assert code == 0 and "overhead" in out and "GOP    1" in out
    code, out, _ = run("info", encoded, "--json")
    assert json.loads(out)["frames"] == 40
    code, out, _ = run("codes", encoded, tmp_path / "c.npz", "--model", tiny_weights)
    z = np.load(tmp_path / "c.npz")
    assert code == 0 and z["bottom"].ndim == 5 and list(z["frame_counts"]) == [32, 8]


def test_read_codes_api(encoded, tiny_weights):
    import vqcodec
    cf = vqcodec.read_codes(encoded, tiny_weights)
    assert len(cf) == 2 and cf.level("top").shape[0] == 2 and cf.level("bottom").dtype == np.int32


def test_refuses_to_overwrite_without_force(encoded, tiny_weights, video_npy):
    before = encoded.read_bytes()
    code, out, _ = run("encode", video_npy, encoded, "--model", tiny_weights, "--quality", "1")
    assert code == 1 and "exists" in out and encoded.read_bytes() == before
    code, _, _ = run("encode", video_npy, encoded, "--model", tiny_weights, "--quality", "1", "-f", "-q")
    assert code == 0 and encoded.read_bytes() != before


def test_outputs_into_a_missing_folder_are_refused_not_created(encoded, tiny_weights, tmp_path, video_npy):
    for args in (("encode", video_npy, tmp_path / "typo" / "o.vqv"), ("codes", encoded, tmp_path / "typo" / "c.npz"),
                 ("decode", encoded, tmp_path / "typo" / "o.npy")):
        code, out, _ = run(*args, "--model", tiny_weights)
        assert code == 1 and "does not exist" in out and len(out.strip().splitlines()) == 1, out
        assert not (tmp_path / "typo").exists()


def test_decode_into_an_existing_folder_needs_force_only_when_it_holds_something(encoded, tiny_weights, tmp_path):
    empty = tmp_path / "frames"
    empty.mkdir()
    code, out, _ = run("decode", encoded, empty, "--model", tiny_weights, "-q")
    assert code == 0 and len(sorted(empty.glob("*.png"))) == 40
    full = tmp_path / "kept"
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    code, out, _ = run("decode", encoded, full, "--model", tiny_weights, "-q")
    assert code == 1 and "exists" in out and [p.name for p in full.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("make,needle", [
    (lambda d: d / "missing.mp4", "no such file"),
    (lambda d: (d / "junk.mp4").write_bytes(b"not a video at all" * 10) or d / "junk.mp4", ""),
    (lambda d: (d / "empty.mp4").write_bytes(b"") or d / "empty.mp4", "empty"),
    (lambda d: np.save(d / "bad.npy", np.zeros((4, 8, 8), np.float32)) or d / "bad.npy", ""),
    (lambda d: np.save(d / "none.npy", np.zeros((0, 8, 8, 3), np.uint8)) or d / "none.npy", ""),
])
def test_bad_inputs_are_one_line_errors(tiny_weights, tmp_path, make, needle):
    src = make(tmp_path)
    code, out, _ = run("encode", src, tmp_path / "o.vqv", "--model", tiny_weights, "-q")
    assert code == 1
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vqv: error:") and needle in lines[0].lower()
    assert not (tmp_path / "o.vqv").exists()


def test_bad_option_values_are_usage_errors(tiny_weights, tmp_path, video_npy):
    """An invalid option value exits with the usage status 2 and one clear error line; no output is
    written and nothing crashes (``--threads 100000`` once ended in a segmentation fault)."""
    out_file = tmp_path / "o.vqv"
    for args, word in ((("--quality", "9"), "quality"), (("--size", "wide"), "--size"), (("--fps", "0"), "frame rate"),
                       (("--fps", "nan"), "frame rate"), (("--threads", "0"), "--threads"),
                       (("--threads", "100000"), "--threads"), (("--rdo-strength", "-1"), "rdo-strength"),
                       (("--refresh", "-2"), "refresh"), (("--prior", "magic"), "prior")):
        code, out, _ = run("encode", video_npy, out_file, "--model", tiny_weights, *args)
        assert code == 2 and word in out and "Traceback" not in out, (args, out)
        assert not out_file.exists()
    for threads in ("0", "100000"):     # train-prior sets threads before any work, checked alike
        code, out, _ = run("train-prior", "--model", tiny_weights, "--data", f"folder:{tmp_path}", "--threads", threads)
        assert code == 2 and "--threads" in out and "Traceback" not in out, out


def test_an_npz_named_npy_is_a_clear_error(tiny_weights, tmp_path):
    fake = tmp_path / "frames.npy"
    with open(fake, "wb") as f:
        np.savez(f, a=np.zeros((4, 16, 16, 3), np.uint8))
    code, out, _ = run("encode", fake, tmp_path / "o.vqv", "--model", tiny_weights)
    assert code == 1 and ".npz archive" in out


def test_decode_errors(encoded, tiny_weights, tmp_path):
    not_vqv = tmp_path / "x.vqv"
    not_vqv.write_bytes(b"hello world, not a vqv file")
    code, out, _ = run("decode", not_vqv, tmp_path / "o.npy", "--model", tiny_weights)
    assert code == 1 and f"{not_vqv}: not a .vqv file (it looks like a text file)" in out
    trunc = tmp_path / "t.vqv"
    trunc.write_bytes(encoded.read_bytes()[:-20])
    code, out, _ = run("decode", trunc, tmp_path / "o.npy", "--model", tiny_weights)
    assert code == 1 and len(out.strip().splitlines()) == 1
    code, out, _ = run("decode", encoded, tmp_path / "o.avi", "--model", tiny_weights)
    assert code == 2 and "unsupported output" in out      # a usage mistake
    assert not (tmp_path / "o.npy").exists()


def test_console_script_exit_codes(tmp_path):
    r = subprocess.run([sys.executable, "-m", "vqcodec.cli.main", "info", str(tmp_path / "nope.vqv")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.strip().startswith("vqv: error:") and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "vqcodec.cli.main", "encode"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2


def test_user_errors_and_bugs_are_told_apart():
    from vqcodec.entropy.rans import EntropyError
    from vqcodec.errors import OptionError, VqvError, is_user_error
    from vqcodec.formats import NotVqvError
    from vqcodec.io.reader import VideoError
    from vqcodec.train.corpus import CorpusError
    from vqcodec.train.data import DataError
    from vqcodec.weights import WeightsError

    user = [VqvError("x"), OptionError("x"), WeightsError("x"), CorpusError("x"), VideoError("x"), DataError("x"),
            EntropyError("x"), NotVqvError("x"), FileNotFoundError(errno.ENOENT, "No such file or directory"),
            FileExistsError("x exists"), IsADirectoryError("x"), NotADirectoryError("x"), PermissionError("x"),
            OSError(errno.ENOSPC, "No space left on device"), OSError(errno.EROFS, "Read-only file system")]
    bugs = [ValueError("x"), TypeError("x"), KeyError("x"), IndexError("x"), AttributeError("x"), RuntimeError("x"),
            ZeroDivisionError(), OSError("x"), OSError(errno.EIO, "Input/output error"), OSError(errno.EBADF, "x")]
    assert all(is_user_error(e) for e in user), [e for e in user if not is_user_error(e)]
    assert not any(is_user_error(e) for e in bugs), [e for e in bugs if is_user_error(e)]


@pytest.mark.parametrize("bug", [ValueError("operands could not be broadcast"), TypeError("unhashable"),
                                 OSError(errno.EIO, "Input/output error")])
def test_a_bug_is_not_reported_as_a_user_error(monkeypatch, tmp_path, video_npy, bug):
    """A library function failing with a plain exception is a bug: no tidy one-line "error", but a
    request to report it, the exception itself (the traceback) and exit status 1."""
    from vqcodec import pipeline

    def broken(*args, **kwargs):
        raise bug
    monkeypatch.setattr(pipeline, "encode_file", broken)
    r = CliRunner().invoke(main, ["encode", str(video_npy), str(tmp_path / "o.vqv")])
    assert r.exit_code == 1 and r.exception is bug
    assert "internal error, please report" in r.output and "vqv: error:" not in r.output


def test_a_bug_shows_its_traceback(tmp_path, video_npy):
    code = ("import sys; from vqcodec import pipeline\n"
            "def broken(*a, **k): raise ValueError('a bug, not bad input')\n"
            "pipeline.encode_file = broken\n"
            "from vqcodec.cli.main import main\n"
            "main(sys.argv[1:])")
    r = subprocess.run([sys.executable, "-c", code, "encode", str(video_npy), str(tmp_path / "o.vqv")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "internal error" in r.stderr
    assert "Traceback" in r.stderr and r.stderr.strip().endswith("ValueError: a bug, not bad input")


def test_the_cli_offers_the_weight_precisions_the_library_knows():
    from vqcodec.cli.main import WEIGHT_PRECISIONS
    from vqcodec.weights import PRECISIONS
    assert WEIGHT_PRECISIONS == PRECISIONS


def test_model_info_presets():
    code, out, _ = run("model-info", "--config", "cpu")
    assert code == 0 and "parameters" in out and "Q1" in out and "bpp" in out
    code, out, _ = run("model-info", "--config", "paper", "--json")
    rep = json.loads(out)
    assert rep["latent_grids"] == {"top": [4, 8, 8], "bottom": [8, 16, 16]}
    code, out, _ = run("model-info", "--config", "nope")
    assert code == 2 and "cpu-hq" in out                  # a usage mistake, the presets listed
    code, out, _ = run("model-info", "--help")
    from vqcodec.net.config import PRESETS
    assert all(name in out for name in PRESETS)


def test_ship_points_option_is_parsed_and_checked(tmp_path):
    from vqcodec.cli.main import parse_points
    assert parse_points("2,0 4,1  4,6") == [(2, 0), (4, 1), (4, 6)]
    for bad in ("4", "4,x", "1,2,3", ""):
        with pytest.raises(ValueError):
            parse_points(bad)
    code, out, _ = run("ship", tmp_path / "none.pt", "--out", tmp_path / "w.pt", "--data", f"folder:{tmp_path}",
                       "--points", "4;x")
    assert code == 2 and "--points" in out and "Traceback" not in out


def test_sigterm_during_a_decode_leaves_nothing_behind(tiny_weights, tmp_path):
    import os
    import signal
    import time

    from conftest import synthetic_video

    from vqcodec.coding.encoder import encode_frames
    from vqcodec.weights import load_model

    src = tmp_path / "long.vqv"
    src.write_bytes(encode_frames(synthetic_video(32 * 24, 32, 32, seed=1), 16, model=load_model(tiny_weights)))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    p = subprocess.Popen([sys.executable, "-m", "vqcodec.cli.main", "decode", str(src), str(out_dir / "v.npy"),
                          "--model", str(tiny_weights), "-q"], stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 60
    while time.time() < deadline and not any(out_dir.iterdir()):   # wait until the decode writes
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    if p.returncode == 0:
        pytest.skip("the decode finished before the signal arrived")
    assert p.returncode == 128 + signal.SIGTERM and "stopped by signal SIGTERM" in err and "Traceback" not in err
    assert list(out_dir.iterdir()) == []


def test_an_input_read_not_as_stored_is_one_warning_line(tiny_weights, tmp_path):
    """A truncated video is coded as far as it is readable, with one `vqv: warning:` line."""
    from fractions import Fraction

    from conftest import synthetic_video

    from vqcodec.io.writer import VideoWriter

    whole = tmp_path / "v.mp4"
    with VideoWriter(whole, 32, 32, Fraction(16), frame_count=96) as w:
        for f in synthetic_video(96, 32, 32):
            w.write(f)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 5])
    r = subprocess.run([sys.executable, "-m", "vqcodec.cli.main", "encode", str(cut), str(tmp_path / "o.vqv"),
                        "--model", str(tiny_weights), "-q"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and (tmp_path / "o.vqv").is_file()
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vqv: warning: ") and "ends early" in lines[0]


def test_files_made_by_an_earlier_default_model_decode_without_model(tmp_path, video_npy, monkeypatch):
    """Shipping a new default keeps the old one listed; decode/info/codes pick the model a file names."""
    from conftest import make_tiny_weights

    from vqcodec import weights

    wdir = tmp_path / "weights"
    wdir.mkdir()
    monkeypatch.setattr(weights, "WEIGHTS_DIR", wdir)
    monkeypatch.setattr(weights, "MANIFEST", wdir / "manifest.json")
    old, new = make_tiny_weights(wdir / "old.pt", seed=1), make_tiny_weights(wdir / "new.pt", seed=2)
    weights.record_in_manifest(old, weights.sha256_file(old), "default")
    assert run("encode", video_npy, tmp_path / "old.vqv", "-q")[0] == 0          # made by the default of then
    weights.record_in_manifest(new, weights.sha256_file(new), "default")          # a new default ships
    assert set(weights.shipped_models()) == {"default", "old"}
    assert run("encode", video_npy, tmp_path / "new.vqv", "-q")[0] == 0
    for name in ("old", "new"):
        code, out, _ = run("decode", tmp_path / f"{name}.vqv", tmp_path / f"{name}.npy", "--json")
        assert code == 0, out
        code, out, _ = run("info", tmp_path / f"{name}.vqv", "--json")
        assert code == 0 and json.loads(out)["model"] == weights.load_model(wdir / f"{name}.pt").digest.hex()
    back_old, back_new = np.load(tmp_path / "old.npy"), np.load(tmp_path / "new.npy")
    assert back_old.shape == back_new.shape and not np.array_equal(back_old, back_new)   # two networks
    # the file's own model, named explicitly, gives the same frames; the other model refuses it
    assert run("decode", tmp_path / "old.vqv", tmp_path / "o2.npy", "--model", old, "-q")[0] == 0
    assert np.array_equal(np.load(tmp_path / "o2.npy"), back_old)
    code, out, _ = run("decode", tmp_path / "old.vqv", tmp_path / "o3.npy", "--model", new, "-q")
    assert code != 0 and "encoded with model" in out


def test_every_operating_point_of_the_shipped_model_round_trips_through_the_cli(tmp_path):
    """model-info lists each shipped point with its raw bits (a VQ point) or its steps (a scalar point,
    and its enhancement layer's) and measured numbers; each one encodes and decodes through the CLI, and higher qualities cost
    more bytes and give back closer frames."""
    from vqcodec.metrics import psnr

    code, out, _ = run("model-info", "--json")
    info = json.loads(out)
    points = info["operating_points"]
    assert code == 0 and len(points) >= 8 and [p["quality"] for p in points] == list(range(1, len(points) + 1))
    vq = [p for p in points if "scalar_step" not in p]          # VQ points have a raw size ...
    raw = [p["raw_bits_per_clip"] for p in vq]
    assert vq == points[:len(vq)] and raw == sorted(set(raw)) and all(p["bpp"] > 0 and p["psnr"] > 0 for p in points)
    # ... scalar points a step, finer up the ladder; at equal steps a finer enhancement layer (none = coarsest)
    steps = [(p["scalar_step"], p.get("enhancement_step", float("inf"))) for p in points[len(vq):]]
    assert steps == sorted(set(steps), reverse=True)
    measured = [p["bpp"] for p in points]
    assert measured == sorted(set(measured))
    assert sum(p["default"] for p in points) == 1
    from conftest import synthetic_video
    frames = synthetic_video(16, 32, 32, seed=3)
    np.save(tmp_path / "in.npy", frames)
    sizes, quality = [], []
    for p in points:
        q = p["quality"]
        code, out, _ = run("encode", tmp_path / "in.npy", tmp_path / f"q{q}.vqv", "-Q", q, "--json", "--threads", 1)
        assert code == 0, out
        code, out, _ = run("decode", tmp_path / f"q{q}.vqv", tmp_path / f"q{q}.npy", "-q", "--threads", 1)
        assert code == 0, out
        back = np.load(tmp_path / f"q{q}.npy")
        assert back.shape == frames.shape
        sizes.append((tmp_path / f"q{q}.vqv").stat().st_size)
        quality.append(psnr(frames, back))
    assert sizes == sorted(sizes) and sizes[-1] > 3 * sizes[0]
    assert quality[-1] > quality[0] + 3


def test_the_command_puts_large_tensors_on_huge_pages_unless_told_otherwise():
    script = "import os, vqcodec.cli.main, torch; torch.zeros(1 << 20); print(os.environ['THP_MEM_ALLOC_ENABLE'])"
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "1", out.stderr[-500:]
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**env, "THP_MEM_ALLOC_ENABLE": "0"})
    assert out.returncode == 0 and out.stdout.strip() == "0", out.stderr[-500:]
