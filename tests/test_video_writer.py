"""Interrupted and concurrent writes of vqcodec.io.writer: nothing the user had is overwritten or
lost without ``overwrite=True`` (the CLI's ``-f``), and no temporary is left behind."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from vqcodec.io.files import atomic_path, make_temp
from vqcodec.io.reader import VideoError, open_video
from vqcodec.io.writer import VideoWriter

T, H, W = 3, 16, 16
FPS = Fraction(16)


def clip(n: int = T) -> np.ndarray:
    return (np.arange(n * H * W * 3) % 251).astype(np.uint8).reshape(n, H, W, 3)


def write(path, n: int = T, *, frame_count: int | None = T, overwrite: bool = False) -> None:
    with VideoWriter(path, W, H, FPS, frame_count=frame_count, overwrite=overwrite) as w:
        for f in clip(n):
            w.write(f)


def contents(folder: Path) -> dict[str, bytes]:
    """Every entry of ``folder`` (hidden ones included, so debris shows) with a file's bytes."""
    return {p.name: p.read_bytes() if p.is_file() else b"<dir>" for p in folder.iterdir()}


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def as_owned_by(tmp: Path, pid: int) -> Path:
    """A vqv temporary renamed as if process ``pid`` of this machine had made it."""
    return tmp.rename(tmp.with_name(tmp.name.replace(f"-{os.getpid()}-", f"-{pid}-")))


# ------------------------------------------------------------------------------------------------
# existing frame files

@pytest.mark.parametrize("frame_count", [T, None])
@pytest.mark.parametrize("pattern", ["", "f%03d.png"])
def test_existing_frame_files_are_kept_without_overwrite(tmp_path, frame_count, pattern):
    folder = tmp_path / "frames"
    folder.mkdir()
    clash = "f001.png" if pattern else "000001.png"
    (folder / clash).write_bytes(b"theirs")
    (folder / "notes.txt").write_bytes(b"notes")
    before = contents(folder)
    with pytest.raises(VideoError, match=f"{clash} exists") as ei:
        write(folder / pattern, frame_count=frame_count)
    assert "\n" not in str(ei.value)
    assert contents(folder) == before and contents(tmp_path).keys() == {"frames"}


def test_known_frame_count_refuses_before_any_frame(tmp_path):
    (tmp_path / "000002.png").write_bytes(b"theirs")
    with pytest.raises(VideoError, match="000002.png exists"):
        VideoWriter(tmp_path, W, H, FPS, frame_count=T, overwrite=False)
    assert contents(tmp_path) == {"000002.png": b"theirs"}


def test_existing_frame_files_are_replaced_with_overwrite(tmp_path):
    (tmp_path / "000001.png").write_bytes(b"theirs")
    (tmp_path / "notes.txt").write_bytes(b"notes")
    write(tmp_path, overwrite=True)
    assert sorted(contents(tmp_path)) == ["000000.png", "000001.png", "000002.png", "notes.txt"]
    _, frames = open_video(tmp_path / "%06d.png")
    assert np.array_equal(np.stack(list(frames)), clip())


# ------------------------------------------------------------------------------------------------
# a file that appears while writing

@pytest.mark.parametrize("target, appears", [
    ("v.npy", "v.npy"), ("v.mp4", "v.mp4"),
    ("frames/", "frames/000001.png"),          # an existing folder
    ("new/%06d.png", "new/000001.png"),        # a folder created meanwhile, holding a clashing frame
])
def test_a_file_that_appears_meanwhile_is_kept(tmp_path, target, appears):
    if target.startswith("frames"):
        (tmp_path / "frames").mkdir()
    w = VideoWriter(tmp_path / target, W, H, FPS, frame_count=T, overwrite=False)
    for f in clip():
        w.write(f)
    (tmp_path / appears).parent.mkdir(exist_ok=True)
    (tmp_path / appears).write_bytes(b"theirs")
    before = {k: v for k, v in contents(tmp_path).items() if not k.startswith(".")}
    with pytest.raises(VideoError, match="appeared") as ei:
        w.close()
    assert "\n" not in str(ei.value)
    assert contents(tmp_path) == before                  # no debris beside the output
    folder = (tmp_path / appears).parent
    assert contents(folder) == {Path(appears).name: b"theirs"}   # none of our frames, no staging folder


# ------------------------------------------------------------------------------------------------
# a full disk

def test_npy_on_a_full_disk_fails_at_the_start_and_leaves_nothing(tmp_path, monkeypatch):
    (tmp_path / "v.npy").write_bytes(b"precious")
    reserved = []

    def full(fd, offset, length):
        reserved.append(length)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full, raising=False)
    with pytest.raises(VideoError, match="no space left on device.*needs 1 MB") as ei:
        VideoWriter(tmp_path / "v.npy", W, H, FPS, frame_count=1000, overwrite=True)
    assert "\n" not in str(ei.value)
    assert reserved[0] > 1000 * H * W * 3                # header and every frame
    assert contents(tmp_path) == {"v.npy": b"precious"}


def test_npy_is_written_where_space_cannot_be_reserved(tmp_path, monkeypatch):
    def unsupported(fd, offset, length):
        raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))

    monkeypatch.setattr(os, "posix_fallocate", unsupported, raising=False)
    write(tmp_path / "v.npy")
    assert np.array_equal(np.load(tmp_path / "v.npy"), clip())


# ------------------------------------------------------------------------------------------------
# debris of killed processes

def test_stale_temporaries_of_dead_processes_are_swept(tmp_path):
    dead = dead_pid()
    stale_file = as_owned_by(make_temp(tmp_path, "v.npy", suffix=".npy"), dead)
    stale_dir = as_owned_by(make_temp(tmp_path, directory=True), dead)
    (stale_dir / "000000.png").write_bytes(b"partial")
    stale_cache = as_owned_by(make_temp(tmp_path, "o.vqv", suffix=".tmp"), dead)
    live = [as_owned_by(make_temp(tmp_path, "a.mp4", suffix=".mp4"), os.getppid()),   # another live process
            make_temp(tmp_path, "b.mp4", suffix=".mp4")]                               # this one
    other_machine = tmp_path / f".c.mp4.vqv-tmp-00000000-{dead}-abcdefgh.mp4"   # its pids cannot be checked
    users = [other_machine, tmp_path / f".vqv-tmp-{dead}", tmp_path / "notes.vqv-tmp.txt"]
    for p in users:
        p.write_bytes(b"keep")
    write(tmp_path / "out.npy")
    assert sorted(contents(tmp_path)) == sorted(p.name for p in [*live, *users, tmp_path / "out.npy"])
    assert not stale_file.exists() and not stale_dir.exists() and not stale_cache.exists()
    # atomic_path (.vqv outputs, caches) names and sweeps its temporaries the same way
    stale_cache = as_owned_by(make_temp(tmp_path, "o.vqv", suffix=".tmp"), dead)
    with atomic_path(tmp_path / "o.vqv") as tmp:
        assert f"-{os.getpid()}-" in tmp.name
        tmp.write_bytes(b"vqv")
    assert not stale_cache.exists() and (tmp_path / "o.vqv").read_bytes() == b"vqv"


_WRITE_THEN_WAIT = textwrap.dedent("""
    import sys, time
    from fractions import Fraction
    import numpy as np
    from vqcodec.io.writer import VideoWriter
    writers = [VideoWriter(p, 16, 16, Fraction(16), frame_count=3) for p in sys.argv[1:]]
    for w in writers:
        w.write(np.zeros((16, 16, 3), np.uint8))
    print("ready", flush=True)
    time.sleep(60)
""")


def test_debris_of_a_killed_write_is_swept_by_the_next_writer(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    p = subprocess.Popen([sys.executable, "-c", _WRITE_THEN_WAIT, str(tmp_path / "v.npy"), str(folder)],
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
    debris = [n for n in [*os.listdir(tmp_path), *os.listdir(folder)] if n.startswith(".")]
    assert len(debris) == 2 and all(f"-{p.pid}-" in n for n in debris)
    write(tmp_path / "v.npy")
    write(folder)
    assert sorted(contents(tmp_path)) == ["frames", "v.npy"]
    assert sorted(contents(folder)) == ["000000.png", "000001.png", "000002.png"]


# ------------------------------------------------------------------------------------------------
# SIGTERM of the CLI

_DECODE_STOPPED_AT_FIRST_FRAME = textwrap.dedent("""
    import sys, time
    from vqcodec.cli.main import main
    from vqcodec.io.writer import VideoWriter
    write = VideoWriter.write

    def write_then_wait(self, frame):   # holds the decode mid-write until the test's signal
        write(self, frame)
        print("ready", flush=True)
        time.sleep(60)

    VideoWriter.write = write_then_wait
    main(sys.argv[1:], prog_name="vqv")
""")


@pytest.mark.parametrize("output", ["v.npy", "%06d.png"])   # a sibling file; a folder inside "out"
def test_sigterm_during_a_decode_leaves_nothing(tiny_weights, tiny_model, tmp_path, output):
    from vqcodec.coding.encoder import encode_frames

    src = tmp_path / "in.vqv"
    src.write_bytes(encode_frames(clip(8), 16, model=tiny_model))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    p = subprocess.Popen([sys.executable, "-c", _DECODE_STOPPED_AT_FIRST_FRAME, "decode", str(src),
                          str(out_dir / output), "--model", str(tiny_weights), "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        assert p.stdout.readline() == "ready\n"
        assert any(out_dir.iterdir())                    # the temporary exists now
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
        p.wait()
    assert p.returncode == 128 + signal.SIGTERM
    assert "stopped by signal SIGTERM" in err and "Traceback" not in err
    assert contents(out_dir) == {}
