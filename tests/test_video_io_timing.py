"""vqcodec.io.reader beyond plain round trips: the one resizer, timing (variable frame rates, broken
timestamps), files that end early and oversized images.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from video_helpers import H, W, _expect_error, make_clip, read, write

from vqcodec.metrics import psnr
from vqcodec.io.reader import VideoWarning


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
