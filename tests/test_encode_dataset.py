"""`vqv encode-dataset`: a mirrored tree, a manifest of outcomes, bad files recorded and skipped,
resumption after kill -9 with nothing lost or duplicated, and the same code path on Ray (local Ray
started by the test)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import synthetic_video
from vqcodec.batch import MANIFEST
from vqcodec.cli.main import main
from vqcodec.formats import VqvReader

TINY = str(Path(__file__).parent / "golden" / "tiny.pt")


def make_tree(root: Path, n: int = 4, frames: int = 20, bad: bool = True) -> Path:
    """UCF101-like: clips in two class folders, and one file that is not a video."""
    for i in range(n):
        d = root / ("left", "right")[i % 2]
        d.mkdir(parents=True, exist_ok=True)
        np.save(d / f"c{i}.npy", synthetic_video(frames + 4 * i, 32, 32, seed=i))
    if bad:
        (root / "right" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    return root


def records(dst: Path) -> list[dict]:
    return [json.loads(line) for line in (dst / MANIFEST).read_text().splitlines()]


def _wait_for_group_to_end(pgid: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)      # (a zombie answers too: the sweep itself treats zombies as gone)


def run(*args):
    return CliRunner().invoke(main, ["encode-dataset", *map(str, args), "--model", TINY, "--prior", "uniform"])


def test_mirrors_the_tree_records_a_bad_file_and_goes_on(tmp_path):
    src, dst = make_tree(tmp_path / "src"), tmp_path / "dst"
    r = run(src, dst)
    assert r.exit_code == 1, r.output
    assert "4 of 5 files encoded" in r.output and "1 FAILED" in r.output and "Traceback" not in r.output
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*.vqv")) == \
        ["left/c0.vqv", "left/c2.vqv", "right/c1.vqv", "right/c3.vqv"]
    recs = {r["source"]: r for r in records(dst)}
    assert recs["right/broken.mp4"]["status"] == "error" and "broken.mp4" in recs["right/broken.mp4"]["error"]
    assert recs["left/c2.npy"] == {**recs["left/c2.npy"], "status": "ok", "frames": 28, "output": "left/c2.vqv"}
    with open(dst / "left" / "c2.vqv", "rb") as f:
        assert VqvReader(f).header.frame_count == 28
    # a rerun does nothing new but retry the bad file; -y re-encodes everything
    r = run(src, dst)
    assert r.exit_code == 1 and "0 of 5 files encoded, 4 already done" in r.output
    assert len(records(dst)) == 6
    (src / "right" / "broken.mp4").unlink()
    r = run(src, dst, "-y", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["encoded"] == 4


def test_glob_manifest_collisions_and_usage_errors(tmp_path):
    src = make_tree(tmp_path / "src", bad=False)
    np.save(src / "left" / "c0.y4m.npy", synthetic_video(8, 32, 32))   # not matched by the glob below
    r = run(f"{src}/*/c[01].npy", tmp_path / "g")
    assert r.exit_code == 0 and sorted(p.name for p in (tmp_path / "g").rglob("*.vqv")) == ["c0.vqv", "c1.vqv"]
    (tmp_path / "m.csv").write_text("path,label\nsrc/left/c0.npy,left\nsrc/right/c3.npy,right\n")
    r = run(tmp_path / "m.csv", tmp_path / "m")
    assert r.exit_code == 0 and (tmp_path / "m" / "src" / "right" / "c3.vqv").exists()
    np.save(src / "left" / "c2.avi.npy", synthetic_video(8, 32, 32))
    (src / "left" / "c0.avi").write_bytes(b"")                    # the same output as c0.npy
    r = run(src, tmp_path / "c")
    assert r.exit_code == 1 and any("same name" in x.get("error", "") for x in records(tmp_path / "c"))
    for args in (("--quality", "9"), ("--address", "1.2.3.4:6379"), ("--workers", "0")):
        r = run(src, tmp_path / "u", *args)
        assert r.exit_code == 2 and "Traceback" not in r.output, args
    r = run(tmp_path / "nothing", tmp_path / "u")
    assert r.exit_code == 1 and "no such folder" in r.output and not (tmp_path / "u").exists()


def test_resumes_after_kill_9_with_nothing_lost_or_duplicated(tmp_path):
    src, dst = make_tree(tmp_path / "src", n=8, frames=96, bad=False), tmp_path / "dst"
    cmd = [sys.executable, "-m", "vqcodec.cli.main", "encode-dataset", str(src), str(dst), "--model", TINY,
           "--prior", "uniform", "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (dst / MANIFEST).exists() and (dst / MANIFEST).read_text().count("\n") >= 1:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)             # the driver and its workers, mid-run
    proc.wait()
    _wait_for_group_to_end(proc.pid)                 # a worker not yet dead still owns its temporary
    before = len(records(dst))
    assert 1 <= before < 8, "the kill landed after the run had finished: nothing to resume"
    with open(dst / MANIFEST, "a") as f:
        f.write('{"source": "left/c0.npy", "sta')        # a line torn by a crash
    r = run(src, dst)
    assert r.exit_code == 0, r.output
    recs = records(dst)
    ok = [x["source"] for x in recs if x["status"] == "ok"]
    assert sorted(ok) == sorted(f"{c}/c{i}.npy" for i, c in zip(range(8), ["left", "right"] * 4))   # once each
    for i in range(8):
        with open(dst / ("left", "right")[i % 2] / f"c{i}.vqv", "rb") as f:
            assert VqvReader(f).header.frame_count == 96 + 4 * i                # complete, never half-written
    assert not [p for p in dst.rglob(".*")], "a temporary of the killed run is left"


def test_ray_engine_runs_the_same_function_in_local_mode(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'vqv[cluster]')")
    src = make_tree(tmp_path / "src", n=2)
    r = run(src, tmp_path / "local")
    assert r.exit_code == 1
    r = run(src, tmp_path / "ray", "--engine", "ray", "--workers", "1", "--json")
    assert r.exit_code == 1, r.output
    summary = json.loads(r.output[r.output.index("{"):])
    assert summary["engine"] == "ray" and summary["encoded"] == 2 and summary["failed"] == 1
    for name in ("left/c0.vqv", "right/c1.vqv"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert {x["source"]: x["status"] for x in records(tmp_path / "ray")}["right/broken.mp4"] == "error"


def test_a_killed_worker_costs_nothing(tmp_path):
    """One worker process killed mid-run: the files it held are tried again in a new pool, each file is
    encoded and recorded once, no temporary is left."""
    import multiprocessing
    import threading

    from vqcodec.batch import encode_dataset

    src, dst = make_tree(tmp_path / "src", n=6, frames=96, bad=False), tmp_path / "dst"
    out = {}
    t = threading.Thread(target=lambda: out.update(encode_dataset(src, dst, workers=2, model_path=TINY,
                                                                  prior="uniform", progress=False)))
    t.start()
    killed, deadline = None, time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and t.is_alive():
        if (dst / MANIFEST).exists() and (dst / MANIFEST).read_text().count("\n") >= 1:
            victims = multiprocessing.active_children()
            if victims:
                killed = victims[0].pid
                os.kill(killed, signal.SIGKILL)
        time.sleep(0.02)
    t.join(300)
    assert killed is not None and out["failed"] == 0 and out["encoded"] == 6, (dst / MANIFEST).read_text()
    ok = [x["source"] for x in records(dst) if x["status"] == "ok"]
    assert len(ok) == len(set(ok)) == 6
    assert not [p for p in dst.rglob(".*")]


def test_a_stop_signal_stops_the_workers_too(tmp_path):
    """SIGTERM to the driver mid-run: it exits 143 promptly, its workers stop with it (no output
    appears afterwards), nothing half-written is left, and a rerun completes the set."""
    src, dst = make_tree(tmp_path / "src", n=6, frames=160, bad=False), tmp_path / "dst"
    cmd = [sys.executable, "-m", "vqcodec.cli.main", "encode-dataset", str(src), str(dst), "--model", TINY,
           "--prior", "uniform", "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (dst / MANIFEST).exists() and (dst / MANIFEST).read_text().count("\n") >= 1:
            break
        time.sleep(0.02)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    stopped_after = time.monotonic() - t0
    assert proc.returncode == 143, err
    assert stopped_after < 20, stopped_after              # loose: the machine may be busy; typically ~1 s
    outputs = sorted(dst.rglob("*.vqv"))
    time.sleep(1.5)
    assert sorted(dst.rglob("*.vqv")) == outputs, "a worker went on encoding after the run was stopped"
    assert len(outputs) < 6, "the signal landed after the run had finished"
    assert not [p for p in dst.rglob(".*")], "a temporary of the stopped run is left"
    r = run(src, dst, "--workers", "2")
    assert r.exit_code == 0, r.output
    ok = [x["source"] for x in records(dst) if x["status"] == "ok"]
    assert sorted(ok) == sorted(set(ok)) and len(ok) == 6


def test_a_pool_that_breaks_between_two_submits_loses_no_file(monkeypatch, tmp_path):
    """The pool can break (a worker killed) after one file's submit and before the next: the file whose submit
    was refused stays queued for the next pool, and every file is recorded exactly once (the killed-worker
    test above hit this by chance: 5 of 6 files recorded, none failed)."""
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from vqcodec import batch

    class Pool:                             # runs each job at once; the first pool breaks at its 3rd submit
        made = 0

        def __init__(self, *a, **k):
            Pool.made += 1
            self.first, self.submits = Pool.made == 1, 0

        def submit(self, fn, job):
            self.submits += 1
            fut = Future()
            if self.first and self.submits == 3:
                raise BrokenProcessPool("a worker was killed")
            fut.set_result(fn(job))
            return fut

        def shutdown(self, wait=True, cancel_futures=False):
            pass

    monkeypatch.setattr(batch, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(batch, "encode_one", lambda job: {"source": job.rel, "status": "ok"})
    jobs = [batch.Job(str(tmp_path / f"c{i}.npy"), str(tmp_path / f"c{i}.vqv"), f"c{i}.npy", f"c{i}.vqv")
            for i in range(6)]
    got = []
    batch.run_local(jobs, 2, got.append)
    assert sorted(r["source"] for r in got) == [f"c{i}.npy" for i in range(6)] and Pool.made == 2
