"""Round trips and error handling of vqcodec.io.reader on tiny synthetic videos."""
from __future__ import annotations

import os
import tracemalloc
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from vqcodec.metrics import psnr
from vqcodec.errors import VqvError
from vqcodec.io.writer import MP4_CRF, VideoWriter
from vqcodec.io.reader import VideoError, VideoInfo, VideoWarning, open_video, probe_frames

T, H, W = 12, 37, 51  # odd on purpose


def make_clip(t: int = T, h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    """Smooth moving colour pattern plus a little noise (codec-friendly, not trivial)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    frames = []
    for i in range(t):
        r = 128 + 90 * np.sin((xx + 2 * i) / 7.0)
        g = 128 + 80 * np.cos((yy - i) / 5.0)
        b = (xx * 3 + yy * 2 + 5 * i) % 200 + 20
        f = np.stack([r, g, b], -1) + rng.normal(0, 1, (h, w, 3))
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
    return np.stack(frames)


def write(path, clip, fps=Fraction(24), frame_count=None):
    with VideoWriter(path, clip.shape[2], clip.shape[1], fps, frame_count=frame_count) as w:
        for f in clip:
            w.write(f)


def read(path, **kw) -> tuple[VideoInfo, np.ndarray]:
    info, it = open_video(path, **kw)
    return info, np.stack(list(it))


def leftovers(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith("."))


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


def test_h264_420_fallback_pads_odd_sizes(tmp_path, monkeypatch):
    import vqcodec.io.writer as vw

    monkeypatch.setattr(vw, "_h264_pix_fmt", lambda: "yuv420p")
    clip = make_clip()
    p = tmp_path / "v.mp4"
    write(p, clip)
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


def _expect_error(path, match, **kw):
    with pytest.raises(VideoError) as ei:
        info, it = open_video(path, **kw)
        for _ in it:
            pass
    msg = str(ei.value)
    assert "\n" not in msg and msg
    assert isinstance(ei.value, VqvError)
    assert match in msg, msg
    return msg


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


# ----------------------------------------------------------------------------------------------
# resizing, timing and odd inputs


def test_resize_frames_is_the_codecs():
    """One resizer for coding and training: bicubic, antialiased when shrinking (the codec's bytes
    depend on it, so it is pinned to torch's filter here)."""
    import torch
    import torch.nn.functional as F

    from vqcodec.io.reader import resize_frames

    clip = make_clip(t=3)
    for w, h in [(20, 16), (80, 64), (64, 30)]:
        got = resize_frames(clip, w, h)
        assert got.dtype == np.uint8 and got.shape == (3, h, w, 3)
        x = torch.from_numpy(clip).permute(0, 3, 1, 2).float()
        want = F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False,
                             antialias=h < H or w < W).round().clamp(0, 255).to(torch.uint8)
        np.testing.assert_array_equal(got, want.permute(0, 2, 3, 1).numpy())
    assert resize_frames(clip, W, H) is clip
    # shrinking a one-pixel checkerboard by 2 gives its mean grey (no aliasing); enlarging keeps it
    board = np.repeat((np.indices((16, 16)).sum(0) % 2 * 255).astype(np.uint8)[None, ..., None], 3, -1)
    assert np.abs(resize_frames(board, 8, 8)[:, 2:-2, 2:-2].astype(int) - 128).max() <= 1
    assert resize_frames(board, 32, 32).min() == 0 and resize_frames(board, 32, 32).max() == 255


def write_timed(path: Path, times: list[Fraction], rate: int = 30) -> None:
    """Frame i (grey level 4 * i) shown at ``times[i]`` seconds: the container's rate is ``rate``."""
    import av

    tb = Fraction(1, 90000)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=rate)
        s.width, s.height, s.pix_fmt = 16, 16, "yuv420p"
        s.time_base = s.codec_context.time_base = tb
        for i, t in enumerate(times):
            fr = av.VideoFrame.from_ndarray(np.full((16, 16, 3), 4 * i, np.uint8), format="rgb24")
            fr.pts, fr.time_base = int(t / tb), tb
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def read_warned(path, **kw):
    """(info, frames, warning messages) of one read."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info, frames = read(path, **kw)
    return info, frames, [str(w.message) for w in caught if issubclass(w.category, VideoWarning)]


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_variable_frame_rate_keeps_its_timing_with_one_warning(tmp_path, ext):
    # 1 s at 30 fps, then 6 s at 5 fps: kept frame for frame at one rate, it plays far too fast
    times = [Fraction(i, 30) for i in range(30)] + [1 + Fraction(i, 5) for i in range(30)]
    p = tmp_path / f"vfr{ext}"
    write_timed(p, times)
    info, got, warned = read_warned(p)
    assert len(warned) == 1
    rate = f"{float(info.fps):.3f}".rstrip("0").rstrip(".")
    assert "variable frame rate" in warned[0] and f"coded at a constant {rate} fps" in warned[0]
    assert "\n" not in warned[0]
    # it lasts as long as the source: its last frame's time plus one frame
    assert abs(len(got) / info.fps - (times[-1] + 1 / info.fps)) <= 1 / info.fps
    shown = [int(round(f.mean() / 4)) for f in got]
    assert shown[0] == 0 and shown[-1] == 59 and shown == sorted(shown)
    # output frame k (at k / fps) shows the source frame of that time, give or take a frame
    ends = times[1:] + [times[-1] + 1 / info.fps]
    assert all(times[i] - 1 / info.fps <= Fraction(k) / info.fps < ends[i] + 1 / info.fps
               for k, i in enumerate(shown))
    # the same frames 1/30 s apart throughout: constant rate, every frame once, no warning
    write_timed(p, [Fraction(i, 30) for i in range(60)])
    info, got, warned = read_warned(p)
    assert warned == [] and info.fps == 30
    assert [int(round(f.mean() / 4)) for f in got] == list(range(60))


def patch_decoded_frames(monkeypatch, change) -> None:
    """Make every PyAV container pass its i-th decoded frame through ``change(i, frame)``."""
    import av

    real_open = av.open

    class Changed:
        def __init__(self, container):
            self._c = container

        def __getattr__(self, name):
            return getattr(self._c, name)

        def decode(self, *a, **k):
            for i, fr in enumerate(self._c.decode(*a, **k)):
                yield change(i, fr)

    monkeypatch.setattr(av, "open", lambda *a, **k: Changed(real_open(*a, **k)))


def test_broken_timestamps_are_timed_by_count(tmp_path, monkeypatch):
    """Timestamps that go backwards (AVI files with packed B-frames: 1, 3, 2, 5, 4, ...) are
    ignored: frames one source period apart, no frame dropped or repeated, no warning."""
    clip = np.stack([np.full((16, 16, 3), 10 * i, np.uint8) for i in range(20)])
    p = tmp_path / "b.mp4"
    write(p, clip, fps=Fraction(25))
    scrambled = [1, 3, 2, 5, 4] + list(range(6, 21))
    def scramble(i, fr):
        fr.pts = scrambled[i]
        return fr

    patch_decoded_frames(monkeypatch, scramble)
    _, got, warned = read_warned(p)
    assert warned == [] and [int(round(f.mean() / 10)) for f in got] == list(range(20))
    _, got, warned = read_warned(p, fps=16)
    assert warned == [] and [int(round(f.mean() / 10)) for f in got] == [k * 25 // 16 for k in range(13)]


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_truncated_file_keeps_what_is_readable_with_one_warning(tmp_path, ext):
    clip = make_clip(t=96, h=48, w=64)
    p = tmp_path / f"v{ext}"
    write(p, clip)
    info, got, warned = read_warned(p)
    assert len(got) == 96 and warned == []
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(p.read_bytes()[: p.stat().st_size * 2 // 5])
    info, got, warned = read_warned(cut)
    assert 10 < len(got) < 60
    # the video's first frames, in order (the last ones may be damaged where the file was cut)
    assert psnr(clip[:len(got) // 2], got[:len(got) // 2]) > 30
    # mp4 declares its frame count; mkv only its duration
    read = f"{len(got)} of 96 frames" if ext == ".mp4" else f"{len(got) / 24:.1f} of 4.0 s"
    assert warned == [f"{cut}: input ends early: {read} readable (file truncated?)"]


def test_decoding_failure_mid_stream_keeps_what_decoded_with_one_warning(tmp_path, monkeypatch):
    import av

    p = tmp_path / "v.mkv"
    write(p, make_clip())
    def fail_at_5(i, fr):
        if i == 5:
            raise av.InvalidDataError(1094995529, "Invalid data found when processing input")
        return fr

    patch_decoded_frames(monkeypatch, fail_at_5)
    _, got, warned = read_warned(p)
    assert len(got) == 5 and len(warned) == 1
    assert warned[0].startswith(f"{p}: input ends early: ") and "decoding failed: Invalid data" in warned[0]


def test_oversized_images_are_one_line_errors(tmp_path):
    """A 12000x12000 PNG: our bound, in one line; Pillow's multi-line bomb warning never shows."""
    import warnings

    from PIL import Image

    from vqcodec.io.reader import MAX_SOURCE_SIDE

    for side in (12000, 14000):  # Pillow warns above 89 Mpixels and refuses above 179
        p = tmp_path / f"{side}.png"
        Image.new("1", (side, side)).save(p)  # 1 bit a pixel: cheap to make, a few KB on disk
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            msg = _expect_error(p, f"{MAX_SOURCE_SIDE} pixels per side")
        assert "12000x12000" in msg or side != 12000
    np.save(tmp_path / "wide.npy", np.zeros((1, 2, MAX_SOURCE_SIDE + 1, 3), np.uint8))
    _expect_error(tmp_path / "wide.npy", f"{MAX_SOURCE_SIDE} pixels per side")
