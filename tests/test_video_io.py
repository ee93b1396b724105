"""Round trips and error handling of vqcodec.io.reader on tiny synthetic videos. Resizing, timing and
odd inputs: test_video_io_timing.py."""
from __future__ import annotations

import tracemalloc
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from video_helpers import H, T, W, _expect_error, leftovers, make_clip, read, write

from vqcodec.metrics import psnr
from vqcodec.io.writer import MP4_CRF, VideoWriter
from vqcodec.io.reader import VideoError, open_video, probe_frames


# ----------------------------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize("frame_count", [T, None])
def test_npy_exact(tmp_path, frame_count):
    clip = make_clip()
    p = tmp_path / "v.npy"
    write(p, clip, frame_count=frame_count)
    assert np.array_equal(np.load(p), clip)
    info, got = read(p)
    assert np.array_equal(got, clip)
    assert (info.width, info.height, info.fps, info.frame_count) == (W, H, Fraction(16), T)
    assert info.source_bytes == p.stat().st_size
    assert probe_frames(p) == T
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("target", ["folder", "folder/", "pat/%06d.png", "existing"])
def test_png_exact(tmp_path, target):
    clip = make_clip()
    if target == "existing":
        (tmp_path / "existing").mkdir()
    if target.startswith("pat"):
        (tmp_path / "pat").mkdir()
    out = str(tmp_path / target) if not target.endswith("/") else str(tmp_path / target.rstrip("/")) + "/"
    write(out, clip)
    info, got = read(out)
    assert np.array_equal(got, clip)
    assert info.fps == Fraction(16) and info.frame_count == T
    folder = Path(out).parent if "%" in out else Path(out)
    assert len(list(folder.glob("*.png"))) == T
    assert leftovers(folder) == [] and leftovers(tmp_path) == []
    assert probe_frames(out) == T


def test_png_source_fps_and_numeric_order(tmp_path):
    from PIL import Image

    clip = make_clip(t=11)
    d = tmp_path / "frames"
    d.mkdir()
    for i, f in enumerate(clip):  # unpadded numbers: 10 must come after 9
        Image.fromarray(f).save(d / f"f{i}.png")
    info, got = read(d, source_fps=Fraction(25))
    assert info.fps == 25
    assert np.array_equal(got, clip)
    info, got = read(str(d / "f%d.png"))
    assert np.array_equal(got, clip)


def test_y4m_near_exact(tmp_path):
    clip = make_clip()
    p = tmp_path / "v.y4m"
    write(p, clip, fps=Fraction(30000, 1001))
    info, got = read(p)
    assert got.shape == clip.shape
    assert psnr(clip, got) > 45
    assert info.fps == Fraction(30000, 1001)
    assert probe_frames(p) == T


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_h264_near_lossless(tmp_path, ext):
    assert MP4_CRF <= 18
    clip = make_clip()
    p = tmp_path / f"v{ext}"
    write(p, clip, fps=Fraction(25))
    info, got = read(p)
    assert got.shape == clip.shape  # odd size kept
    assert psnr(clip, got) > 40
    assert (info.width, info.height, info.fps) == (W, H, Fraction(25))
    assert probe_frames(p) == T
    assert p.stat().st_size < clip.nbytes
    assert leftovers(tmp_path) == []


def test_h264_default_420_pads_odd_sizes(tmp_path):
    clip = make_clip()
    p = tmp_path / "v.mp4"
    with VideoWriter(p, W, H, Fraction(24)) as w:      # the default: 4:2:0, what browsers play
        for f in clip:
            w.write(f)
    info, got = read(p)
    assert (info.width, info.height) == (W + 1, H + 1)
    assert psnr(clip, got[:, :H, :W]) > 25  # 4:2:0 chroma on saturated synthetic colours


@pytest.mark.parametrize("src", ["v.npy", "v.mp4", "v.y4m"])
def test_fps_resampling(tmp_path, src):
    levels = np.arange(10) * 20
    clip = np.stack([np.full((16, 16, 3), v, np.uint8) for v in levels])
    p = tmp_path / src
    write(p, clip, fps=Fraction(30), frame_count=10)
    kw = {"source_fps": Fraction(30)}

    def idx(frames):
        return [int(round(f.mean() / 20)) for f in frames]

    info, got = read(p, **kw)
    assert idx(got) == list(range(10)) and info.fps == 30
    info, got = read(p, fps=Fraction(15), **kw)
    assert idx(got) == [0, 2, 4, 6, 8] and info.fps == 15 and info.frame_count == 5
    info, got = read(p, fps=10, **kw)
    assert idx(got) == [0, 3, 6, 9]
    info, got = read(p, fps=60, **kw)
    assert idx(got) == [i // 2 for i in range(20)]


def test_default_sequence_rate_resampled(tmp_path):
    clip = make_clip(t=8, h=8, w=8)
    p = tmp_path / "v.npy"
    np.save(p, clip)
    info, got = read(p, fps=8)  # npy is 16 fps by default: every other frame
    assert np.array_equal(got, clip[::2])


def test_reading_streams(tmp_path):
    """Memory held while iterating does not grow with the number of frames."""
    clip = np.repeat(make_clip(t=4, h=64, w=64), 50, axis=0)  # 200 frames, 2.4 MB
    p = tmp_path / "long.npy"
    np.save(p, clip)
    tracemalloc.start()
    try:
        info, it = open_video(p)
        n = 0
        for f in it:
            n += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 200
    assert peak < 20 * clip[0].nbytes


# ----------------------------------------------------------------------------------------------
# errors


def test_errors(tmp_path):
    import av
    from PIL import Image

    _expect_error(tmp_path / "missing.mp4", "no such file")
    (tmp_path / "text.mp4").write_text("not a video at all\n" * 20)
    _expect_error(tmp_path / "text.mp4", "not a video")
    (tmp_path / "zero.mp4").write_bytes(b"")
    _expect_error(tmp_path / "zero.mp4", "empty")

    np.save(tmp_path / "f.npy", np.zeros((2, 4, 4, 3), np.float32))
    _expect_error(tmp_path / "f.npy", "uint8")
    np.save(tmp_path / "s.npy", np.zeros((4, 4, 3), np.uint8))
    _expect_error(tmp_path / "s.npy", "shape")
    np.save(tmp_path / "z.npy", np.zeros((0, 4, 4, 3), np.uint8))
    _expect_error(tmp_path / "z.npy", "empty video")
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    _expect_error(tmp_path / "bad.npy", "not a readable")

    d = tmp_path / "pngs"
    d.mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(d / "0.png")
    Image.fromarray(np.zeros((5, 4, 3), np.uint8)).save(d / "1.png")
    _expect_error(d, "inconsistent")
    with pytest.raises(VideoError, match="inconsistent"):
        open_video(d)  # found at open time, before any frame is decoded
    (tmp_path / "emptydir").mkdir()
    _expect_error(tmp_path / "emptydir", "empty video")
    _expect_error(tmp_path / "nowhere" / "%06d.png", "no such folder")

    # audio only: no video stream
    c = av.open(str(tmp_path / "audio.wav"), "w")
    s = c.add_stream("pcm_s16le", rate=8000)
    fr = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
    fr.sample_rate = 8000
    for pkt in s.encode(fr):
        c.mux(pkt)
    for pkt in s.encode(None):
        c.mux(pkt)
    c.close()
    _expect_error(tmp_path / "audio.wav", "no video stream")

    # a video stream with no frames
    c = av.open(str(tmp_path / "noframes.mkv"), "w")
    s = c.add_stream("libx264", rate=16)
    s.width, s.height, s.pix_fmt = 16, 16, "yuv420p"
    c.start_encoding()
    c.close()
    _expect_error(tmp_path / "noframes.mkv", "empty")

    # truncated file
    write(tmp_path / "good.mp4", make_clip(t=6, h=16, w=16))
    data = (tmp_path / "good.mp4").read_bytes()
    (tmp_path / "trunc.mp4").write_bytes(data[: len(data) // 3])
    _expect_error(tmp_path / "trunc.mp4", "")


def test_writer_leaves_nothing_on_error(tmp_path):
    clip = make_clip(t=4)
    for name in ["a.mp4", "a.y4m", "a.npy", "frames", "pat/%06d.png"]:
        (tmp_path / "pat").mkdir(exist_ok=True)
        with pytest.raises(RuntimeError):
            with VideoWriter(tmp_path / name, W, H, Fraction(16), frame_count=4) as w:
                w.write(clip[0])
                w.write(clip[1])
                raise RuntimeError("boom")
        assert not (tmp_path / name).exists() or name.startswith("pat")
        assert list((tmp_path / "pat").iterdir()) == []
        assert leftovers(tmp_path) == [], name


def test_writer_keeps_users_file_on_error(tmp_path):
    p = tmp_path / "out.mp4"
    p.write_bytes(b"precious")
    w = VideoWriter(p, W, H, Fraction(16))
    w.write(make_clip(t=1)[0])
    with pytest.raises(VideoError) as ei:
        w.write(np.zeros((H + 1, W, 3), np.uint8))  # wrong shape
    assert "\n" not in str(ei.value)
    with pytest.raises(VideoError):
        w.close()
    assert p.read_bytes() == b"precious"
    assert leftovers(tmp_path) == []


def test_writer_errors(tmp_path):
    with pytest.raises(VideoError):
        VideoWriter(tmp_path / "a.gif", 8, 8, Fraction(16))
    with pytest.raises(VideoError):
        VideoWriter(tmp_path / "nodir" / "a.mp4", 8, 8, Fraction(16))
    # npy: too few frames for the declared count -> nothing written
    with pytest.raises(VideoError):
        with VideoWriter(tmp_path / "short.npy", 8, 8, Fraction(16), frame_count=3) as w:
            w.write(np.zeros((8, 8, 3), np.uint8))
    assert not (tmp_path / "short.npy").exists()
    # no frames at all
    with pytest.raises(VideoError):
        with VideoWriter(tmp_path / "none.mp4", 8, 8, Fraction(16)):
            pass
    assert not (tmp_path / "none.mp4").exists()
    assert leftovers(tmp_path) == []


def test_overwrite_existing_output(tmp_path):
    p = tmp_path / "v.npy"
    write(p, make_clip(seed=1), frame_count=T)
    clip = make_clip(seed=2)
    write(p, clip, frame_count=T)
    assert np.array_equal(np.load(p), clip)


def test_16_bit_png_frames_are_scaled_not_clipped(tmp_path):
    from PIL import Image

    from vqcodec.io.reader import open_video

    folder = tmp_path / "frames"
    folder.mkdir()
    ramp = (np.arange(64)[None, :] * 1024).astype(np.uint16).repeat(16, 0)   # 64 levels over 0..64512
    for i in range(3):
        Image.fromarray(ramp).save(folder / f"{i:06d}.png")
    info, frames = open_video(folder)
    f = next(iter(frames))
    assert f.dtype == np.uint8 and len(np.unique(f)) == 64          # clipping left 2 values
    np.testing.assert_array_equal(f[0, :, 0], (np.arange(64) * 1024) >> 8)


def test_an_output_that_appears_meanwhile_is_not_replaced_without_force(tmp_path):
    """The CLI checks OUT at the start; a file created there while vqv works must survive too."""
    from fractions import Fraction

    from vqcodec.io.files import atomic_path
    from vqcodec.io.reader import VideoError
    from vqcodec.io.writer import VideoWriter

    out = tmp_path / "o.vqv"
    with pytest.raises(FileExistsError, match="appeared"):
        with atomic_path(out, overwrite=False) as tmp:
            tmp.write_bytes(b"new")
            out.write_bytes(b"theirs")                 # someone else's file, mid-run
    assert out.read_bytes() == b"theirs" and [p.name for p in tmp_path.iterdir()] == ["o.vqv"]
    with atomic_path(out, overwrite=True) as tmp:      # -f: replaced
        tmp.write_bytes(b"new")
    assert out.read_bytes() == b"new"
    for name in ("v.npy", "v.mp4"):
        target = tmp_path / name
        w = VideoWriter(target, 16, 16, Fraction(16), frame_count=2, overwrite=False)
        for _ in range(2):
            w.write(np.zeros((16, 16, 3), np.uint8))
        target.write_bytes(b"theirs")
        with pytest.raises(VideoError, match="appeared"):
            w.close()
        assert target.read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.vqv", "v.mp4", "v.npy"]
