"""`vqv` as a Unix tool, with ffmpeg habits: `-` for stdin/stdout (real pipes, slow ones too), -y/-n/-f,
progress on coded frames (silent off a terminal), usage mistakes (exit 2) before an existing output (exit 1),
one version, help texts that say what an option does."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import synthetic_video

from vqcodec.cli.main import main

VQV = [sys.executable, "-m", "vqcodec.cli.main"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def invoke(*args, input: bytes | None = None):
    """(exit status, stdout bytes, stderr text) of the command run in this process."""
    r = CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
    return r.exit_code, r.stdout_bytes, r.stderr


def y4m_bytes(frames: np.ndarray, fps: int = 16) -> bytes:
    """A YUV4MPEG2 stream of ``frames`` as ffmpeg's `-f yuv4mpegpipe` writes one (via vqv's own writer)."""
    from vqcodec.io.writer import VideoWriter

    buf = io.BytesIO()
    with VideoWriter(buf, frames.shape[2], frames.shape[1], Fraction(fps)) as w:
        for f in frames:
            w.write(f)
    return buf.getvalue()


def y4m_frame_offsets(data: bytes) -> list[int]:
    return [m.start() for m in re.finditer(rb"FRAME\n", data)]


@pytest.fixture
def encoded(tiny_weights, tmp_path, video_npy) -> Path:
    out = tmp_path / "clip.vqv"
    assert invoke("encode", video_npy, out, "--model", tiny_weights, "-q")[0] == 0
    return out


# ------------------------------------------------------------------------------------ pipes

def test_real_pipes_slow_stdin_to_stdout_and_back(tiny_weights, tmp_path):
    """`ffmpeg ... -f yuv4mpegpipe - | vqv encode - -` and `vqv decode - - | ...` through real pipes, the
    input arriving in small pieces: the bytes are those of the same files named on the command line, the
    report is on stderr and nothing else is on stdout, and no file or folder named '-' appears."""
    y4m = tmp_path / "in.y4m"
    y4m.write_bytes(y4m_bytes(synthetic_video(40, 32, 32)))
    ref = tmp_path / "ref.vqv"
    assert invoke("encode", y4m, ref, "--model", tiny_weights, "-q")[0] == 0
    assert invoke("decode", ref, tmp_path / "ref.y4m", "--model", tiny_weights, "-q")[0] == 0

    p = subprocess.Popen([*VQV, "encode", "-", "-", "--model", str(tiny_weights), "--network-float", "float32"],
                         cwd=tmp_path, env=ENV,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def feed_slowly():
        data = y4m.read_bytes()
        for i in range(0, len(data), 4093):
            p.stdin.write(data[i:i + 4093])
            p.stdin.flush()
            time.sleep(0.002)
        p.stdin.close()
    feeder = threading.Thread(target=feed_slowly)
    feeder.start()
    out = p.stdout.read()
    err = p.stderr.read().decode()
    feeder.join()
    assert p.wait(timeout=120) == 0, err
    assert out == ref.read_bytes()
    assert "<stdout>: 40 frames" in err and "bpp" in err and "Traceback" not in err

    r = subprocess.run([*VQV, "decode", "-", "-", "--model", str(tiny_weights), "--json"], check=False, cwd=tmp_path, env=ENV,
                       input=out, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (tmp_path / "ref.y4m").read_bytes() and r.stdout.startswith(b"YUV4MPEG2 ")
    assert '"frames": 40' in r.stderr.decode() and '"output": "<stdout>"' in r.stderr.decode()
    assert not (tmp_path / "-").exists()


def test_encode_streams_frames_as_they_arrive(tiny_weights, tmp_path):
    """A piped input is coded while it is still arriving (memory holds a round of GOPs, not the video):
    the progress file counts coded frames before the writer has closed the pipe."""
    frames = synthetic_video(200, 32, 32, seed=4)
    data = y4m_bytes(frames)
    cut = y4m_frame_offsets(data)[160]            # five GOPs first: the first round of four is coded
    progress = tmp_path / "progress.txt"
    p = subprocess.Popen([*VQV, "encode", "-", str(tmp_path / "o.vqv"), "--model", str(tiny_weights), "-q",
                          "--progress", str(progress)], env=ENV, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(data[:cut])
    p.stdin.flush()
    coded_early = 0
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None and coded_early == 0:
        time.sleep(0.1)
        counts = re.findall(r"^frame=(\d+)$", progress.read_text() if progress.exists() else "", re.MULTILINE)
        coded_early = max(map(int, counts), default=0)
    p.stdin.write(data[cut:])
    p.stdin.close()
    assert p.wait(timeout=120) == 0, p.stderr.read()
    assert 32 <= coded_early <= 160 and coded_early % 32 == 0      # whole GOPs, coded before the input ended
    last = progress.read_text().strip().split("progress=continue")[-1]
    assert "frame=200" in last and "status=ok" in last and last.endswith("progress=end")
    assert invoke("info", tmp_path / "o.vqv", "--json")[1].count(b'"frames": 200') == 1


def test_a_long_piped_stream_is_read_in_constant_memory():
    """The reader takes a pipe frame by frame: 160 MB of y4m through a real pipe, memory grows by far less."""
    statm = Path("/proc/self/statm")
    if not statm.exists():
        pytest.skip("needs /proc")
    from vqcodec.io.reader import open_video

    w, h, n = 192, 192, 1_500
    r, wfd = os.pipe()

    def write():
        with os.fdopen(wfd, "wb") as out:
            out.write(f"YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 C444\n".encode())
            plane = np.arange(w * h * 3, dtype=np.uint8)
            for i in range(n):
                out.write(b"FRAME\n" + (plane + np.uint8(i % 251)).tobytes())
    writer = threading.Thread(target=write)
    writer.start()
    rss = []
    with os.fdopen(r, "rb") as stream:
        info, frames = open_video(stream)
        for i, f in enumerate(frames):
            if i % 100 == 0:
                rss.append(int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
    writer.join()
    assert info.frame_count is None and i + 1 == n and f.shape == (h, w, 3)
    assert max(rss) - rss[1] < 40 << 20, [x >> 20 for x in rss]


def test_vqv_files_on_stdin_and_stdout_in_process(encoded, tiny_weights, tmp_path, video_npy):
    code, out, err = invoke("encode", video_npy, "-", "--model", tiny_weights, "--json")
    assert code == 0 and out == encoded.read_bytes() and '"output": "<stdout>"' in err
    code, out, _ = invoke("info", "-", "--json", input=encoded.read_bytes())
    assert code == 0 and b'"file": "<stdin>"' in out and b'"frames": 40' in out
    code, out, _ = invoke("codes", "-", tmp_path / "c.npz", "--model", tiny_weights, input=encoded.read_bytes())
    assert code == 0 and list(np.load(tmp_path / "c.npz")["frame_counts"]) == [32, 8]
    code, _, err = invoke("decode", "-", tmp_path / "back.npy", "--model", tiny_weights, input=encoded.read_bytes())
    assert code == 0 and np.load(tmp_path / "back.npy").shape == (40, 48, 40, 3)


def test_dash_is_refused_on_a_terminal(tmp_path):
    """Video data is never read from nor written to a terminal: a usage error, before anything is loaded."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    try:
        r = subprocess.run([*VQV, "encode", "-", str(tmp_path / "o.vqv")], check=False, stdin=slave, capture_output=True,
                           text=True, env=ENV, timeout=120)
        assert r.returncode == 2 and "standard input is a terminal" in r.stderr
        r = subprocess.run([*VQV, "decode", str(tmp_path / "x.vqv"), "-"], check=False, stdout=slave, stderr=subprocess.PIPE,
                           text=True, env=ENV, timeout=120)
        assert r.returncode == 2 and "standard output is a terminal" in r.stderr
    finally:
        os.close(master)
        os.close(slave)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------ not a .vqv file

def test_decoding_something_else_names_it_and_says_what_it_looks_like(tiny_weights, tmp_path):
    from vqcodec.io.writer import VideoWriter

    mp4 = tmp_path / "x.mp4"
    with VideoWriter(mp4, 32, 32, Fraction(16)) as w:
        for f in synthetic_video(4, 32, 32):
            w.write(f)
    hint = "; encode it with `vqv encode`)"
    for args, input, expected in (
            ((mp4,), None, f"{mp4}: not a .vqv file (it looks like an MP4 video{hint}"),
            (("-",), mp4.read_bytes(), f"<stdin>: not a .vqv file (it looks like an MP4 video{hint}"),
            (("-",), y4m_bytes(synthetic_video(2, 8, 8)), f"<stdin>: not a .vqv file (it looks like a YUV4MPEG2 (.y4m) video{hint}"),
            (("-",), bytes(range(256)), "<stdin>: not a .vqv file (it does not start with the bytes 'VQV' of one)")):
        code, out, err = invoke("decode", *args, tmp_path / "o.npy", input=input)
        lines = err.strip().splitlines()
        assert code == 1 and lines == [f"vqv: error: {expected}"] and out == b"", err
    assert not (tmp_path / "o.npy").exists()


def test_a_pipe_of_something_else_is_refused_without_waiting_for_its_end(tmp_path):
    """A real pipe whose writer stays open: `vqv decode -` refuses it from its first bytes."""
    p = subprocess.Popen([*VQV, "decode", "-", str(tmp_path / "o.npy")], env=ENV, stdin=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        p.stdin.write(b"\x1a\x45\xdf\xa3 and then more of a Matroska file")
        p.stdin.flush()
        assert p.wait(timeout=120) == 1, "vqv is still waiting for the pipe to end"
        err = p.stderr.read().decode()
        assert err.strip() == "vqv: error: <stdin>: not a .vqv file (it looks like a Matroska or WebM video; " \
                              "encode it with `vqv encode`)"
    finally:
        p.stdin.close()
        p.kill()
        p.wait()


def test_looks_like_knows_the_usual_files():
    from vqcodec.io.streams import looks_like

    assert looks_like(b"\x1a\x45\xdf\xa3" + bytes(40))[0] == "a Matroska or WebM video"
    assert looks_like(b"RIFF\x00\x00\x00\x00AVI LIST")[0] == "an AVI video"
    assert looks_like(b"\x93NUMPY\x01\x00")[0] == "a NumPy .npy array"
    assert looks_like(b"PK\x03\x04")[1] is False
    assert looks_like("a note, café\n".encode()[:-2]) == ("a text file", False)     # a character cut at the end
    assert looks_like(bytes([0x47] + [0] * 187 + [0x47] + [0] * 3))[0] == "an MPEG transport stream video"
    assert looks_like(b"\x00\x01\x02\xff\xfe") is None


# ------------------------------------------------------------------------------------ overwriting and usage

def test_y_f_and_n(encoded, tiny_weights, tmp_path, video_npy):
    """-y and -f overwrite; -n and the default never do (exit 1, one line, the file untouched); -y with -n
    is a usage error — for encode, decode and codes alike."""
    npy = tmp_path / "back.npy"
    npz = tmp_path / "c.npz"
    for path in (npy, npz):
        path.write_bytes(b"mine")
    commands = {encoded: ("encode", video_npy, encoded, "-Q", "1"), npy: ("decode", encoded, npy),
                npz: ("codes", encoded, npz)}
    for target, cmd in commands.items():
        before = target.read_bytes()
        for flags, status in (((), 1), (("-n",), 1), (("-y", "-n"), 2), (("-f", "--no-overwrite"), 2)):
            code, _, err = invoke(*cmd, "--model", tiny_weights, *flags)
            assert code == status and target.read_bytes() == before, (cmd, flags, err)
            if status == 1:
                assert err.strip() == f"vqv: error: {target} exists (use -y or -f to overwrite it)"
            else:
                assert "contradict" in err
        assert invoke(*cmd, "--model", tiny_weights, "-y")[0] == 0 and target.read_bytes() != before
        after_y = target.read_bytes()
        target.write_bytes(b"mine again")
        assert invoke(*cmd, "--model", tiny_weights, "-f")[0] == 0 and target.read_bytes() == after_y


def test_usage_mistakes_exit_2_before_an_existing_output_is_reported(encoded, tiny_weights, tmp_path, video_npy):
    (tmp_path / "x.mp4").write_bytes(b"someone's video")
    (tmp_path / "o.avi").write_bytes(b"someone's video")
    (tmp_path / "c.txt").write_bytes(b"notes")
    before = encoded.read_bytes()
    for args in (("encode", video_npy, encoded, "--size", "abc"), ("encode", video_npy, encoded, "--quality", "99"),
                 ("encode", video_npy, encoded, "--fps", "0"), ("encode", video_npy, encoded, "--threads", "0"),
                 ("encode", video_npy, tmp_path / "x.mp4"), ("decode", encoded, tmp_path / "o.avi"),
                 ("decode", encoded, tmp_path / "o.avi", "--threads", "0"), ("codes", encoded, tmp_path / "c.txt")):
        code, _, err = invoke(*args, "--model", tiny_weights, "-q")
        assert code == 2 and "Traceback" not in err and "exists" not in err, (args, err)
    assert encoded.read_bytes() == before and (tmp_path / "x.mp4").read_bytes() == b"someone's video"
    code, _, err = invoke("encode", video_npy, tmp_path / "new.mp4", "--model", tiny_weights)
    assert code == 2 and "does not end in .vqv" in err and not (tmp_path / "new.mp4").exists()


# ------------------------------------------------------------------------------------ progress

def test_progress_counts_coded_frames_and_is_silent_off_a_terminal(tiny_weights, tmp_path, video_npy, monkeypatch):
    """The progress file counts frames as their GOP is coded (32, then 8), not as frames are read, and
    decoded frames as they are written; without a terminal no bar is drawn; on one, not with -q or --json."""
    from vqcodec.io import progress as progress_module

    monkeypatch.setattr(progress_module, "LOG_PERIOD", 0.0)
    log = tmp_path / "p.txt"
    code, out, err = invoke("encode", video_npy, tmp_path / "o.vqv", "--model", tiny_weights, "--progress", log)
    assert code == 0 and err == "" and b"bpp" in out           # CliRunner's stderr is not a terminal
    text = log.read_text()
    assert [int(n) for n in re.findall(r"^frame=(\d+)$", text, re.MULTILINE)] == [0, 32, 40, 40]
    assert "total_frames=40" in text and text.rstrip().endswith("status=ok\nprogress=end")
    log.unlink()
    code, _, err = invoke("decode", tmp_path / "o.vqv", tmp_path / "o.npy", "--model", tiny_weights, "-q",
                          "--progress", log)
    assert code == 0 and err == ""
    assert [int(n) for n in re.findall(r"^frame=(\d+)$", log.read_text(), re.MULTILINE)] == [*range(41), 40]

    monkeypatch.setattr(progress_module, "is_terminal", lambda stream: True)
    code, _, err = invoke("encode", video_npy, tmp_path / "o.vqv", "--model", tiny_weights, "-y")
    assert code == 0 and "encode" in err and "frame" in err        # the bar, on a "terminal"
    for flag in ("-q", "--json"):
        code, _, err = invoke("encode", video_npy, tmp_path / "o.vqv", "--model", tiny_weights, "-y", flag)
        assert code == 0 and err == "", flag


def test_a_progress_file_that_cannot_be_written_fails_before_the_work(tiny_weights, tmp_path, video_npy):
    code, _, err = invoke("encode", video_npy, tmp_path / "o.vqv", "--model", tiny_weights,
                          "--progress", tmp_path / "typo" / "p.txt")
    assert code == 1 and len(err.strip().splitlines()) == 1 and not (tmp_path / "o.vqv").exists()


# ------------------------------------------------------------------------------------ version and help

def test_version_comes_from_one_place():
    import tomllib

    import vqcodec

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "vqcodec.__version__"}
    code, out, _ = invoke("--version")
    assert code == 0 and out.decode().strip() == f"vqv {vqcodec.__version__}"
    in_progress = re.search(r"^## Release (\d+\.\d+) \(in progress\)", (root / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert in_progress and vqcodec.__version__.startswith(in_progress.group(1) + ".")


def test_help_says_what_quality_and_threads_are():
    from vqcodec.cli.options import QUALITY_HELP

    for command in ("encode", "decode"):
        _, out, _ = invoke(command, "--help")
        text = " ".join(out.decode().split())
        assert "GOPs coded at once" in text and "torch CPU threads" not in text
        assert all(flag in text for flag in ("-y, -f, --force", "-n, --no-overwrite", "--progress FILE"))
    _, out, _ = invoke("encode", "--help")
    assert "Q1..Q12, default Q4" in QUALITY_HELP and "middle point" not in out.decode()


def test_the_quality_help_matches_the_shipped_ladder():
    import json

    from vqcodec.cli.options import QUALITY_HELP

    code, out, _ = invoke("model-info", "--json")
    points = json.loads(out)["operating_points"]
    default = next(p["quality"] for p in points if p["default"])
    assert code == 0 and f"Q1..Q{len(points)}, default Q{default}" in QUALITY_HELP


def test_help_loads_no_torch():
    # `vqv --help` and an option's usage error answer at once: the command's module and the settings' defaults
    # load no network (torch takes a second or two to import)
    code = ("import sys; from click.testing import CliRunner; from vqcodec.cli.main import main; "
            "r = [CliRunner().invoke(main, a) for a in (['--help'], ['encode', '--help'], ['encode', '-Q', 'x', 'a', 'b'])]; "
            "assert [x.exit_code for x in r] == [0, 0, 2], [x.output for x in r]; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
