"""The source's audio through the codec (issue 22): synthetic clips with a sine tone made with PyAV,
encoded and decoded; the packets come back byte for byte, at their times, in .mp4 and .mkv outputs;
outputs without audio say so; ``--no-audio``; ``--pix-fmt``. The container's side: test_formats_sections.py."""
from __future__ import annotations

import io
import json
import warnings
from fractions import Fraction

import av
import numpy as np
import pytest
from click.testing import CliRunner

from vqcodec import pipeline
from vqcodec.cli.main import main
from vqcodec.formats import VqvReader, read_vqv
from vqcodec.formats.audio import read_audio
from vqcodec.io.reader import VideoWarning

pytestmark = pytest.mark.usefixtures("padded_gops")   # files of before 13.0: pinned bytes and versions

FPS = 16


def make_clip(path, fmt: str, acodec: str, *, frames: int = 20, seconds: float | None = None,
              rate: int = 48000, layout: str = "stereo", size=(32, 32)) -> None:
    """``frames`` of video (H.264) and ``seconds`` (default: as long as the video) of a 440 Hz tone."""
    w, h = size
    seconds = frames / FPS if seconds is None else seconds
    out = av.open(str(path), "w", format=fmt)
    v = out.add_stream("libx264", rate=FPS)
    v.width, v.height, v.pix_fmt = w, h, "yuv420p"
    a = out.add_stream(acodec, rate=rate)
    a.layout = layout
    for i in range(frames):
        img = np.full((h, w, 3), (i * 11) % 256, np.uint8)
        img[:, : w // 2, 1] = 200
        f = av.VideoFrame.from_ndarray(img, format="rgb24")
        f.pts = i
        out.mux(v.encode(f))
    cc = a.codec_context
    step, t = cc.frame_size or 1024, 0
    while t < seconds * rate:
        x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(t, t + step) / rate)).astype(np.float32)
        arr = np.tile(x, (cc.layout.nb_channels, 1))
        if not cc.format.is_planar:
            arr = arr.T.reshape(1, -1)
        if cc.format.name.startswith("s16"):
            arr = (arr * 32767).astype(np.int16)
        af = av.AudioFrame.from_ndarray(arr, format=cc.format.name, layout=layout)
        af.sample_rate, af.pts = rate, t
        out.mux(a.encode(af))
        t += step
    out.mux(v.encode(None))
    out.mux(a.encode(None))
    out.close()


def packets(path):
    """(codec, [(bytes, seconds from the first video frame)], video pixel format, video profile) of a file."""
    with av.open(str(path)) as c:
        video = c.streams.video[0]
        start = min(p.pts * p.time_base for p in c.demux(video) if p.size)
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None, [], c.streams.video[0].codec_context.pix_fmt, None
        a = c.streams.audio[0]
        got = [(bytes(p), p.pts * p.time_base - start) for p in c.demux(a) if p.size]
        vcc = c.streams.video[0].codec_context
        return a.codec_context.name, got, vcc.pix_fmt, vcc.profile


def _encode(tiny_model, src, out, **kw):
    return pipeline.encode_file(src, out, model=tiny_model, progress=False, **kw)


def _decode(tiny_model, src, out, **kw):
    return pipeline.decode_file(src, out, model=tiny_model, progress=False, **kw)


@pytest.mark.parametrize("src_name,fmt,acodec,outputs", [
    ("aac.mp4", "mp4", "aac", ("o.mp4", "o.mkv")),
    ("opus.mkv", "matroska", "libopus", ("o.mkv", "o.mp4")),
    ("flac.mkv", "matroska", "flac", ("o.mkv",)),
])
def test_audio_round_trip(tmp_path, tiny_model, src_name, fmt, acodec, outputs):
    src = tmp_path / src_name
    make_clip(src, fmt, acodec, rate=44100 if acodec == "flac" else 48000, layout="mono" if acodec == "flac" else "stereo")
    codec, want, _, _ = packets(src)
    want = [w for w in want if w[1] < Fraction(20, FPS)]       # a packet that starts after the video is dropped
    rep = _encode(tiny_model, src, tmp_path / "a.vqv")
    assert rep["audio"]["codec"] == codec and rep["audio"]["packets"] == len(want)
    assert rep["audio"]["bytes"] == sum(len(b) for b, _ in want) < rep["audio"]["section_bytes"]
    r = VqvReader(open(tmp_path / "a.vqv", "rb"))
    assert r.version == (4, 0) and read_audio(r).codec == codec
    for name in outputs:
        with warnings.catch_warnings():
            warnings.simplefilter("error", VideoWarning)          # no warning: the audio is written
            rep = _decode(tiny_model, tmp_path / "a.vqv", tmp_path / name)
        assert rep["audio"]["codec"] == codec
        got_codec, got, pix, _ = packets(tmp_path / name)
        assert got_codec == codec
        assert [b for b, _ in got] == [b for b, _ in want]        # the same packets, byte for byte
        tol = Fraction(1, 1000) if name.endswith(".mkv") else 0   # Matroska keeps milliseconds
        assert max(abs(g - w) for (_, g), (_, w) in zip(got, want)) <= tol
        assert pix == "yuv420p"


def test_outputs_without_audio_say_so(tmp_path, tiny_model):
    make_clip(tmp_path / "a.mp4", "mp4", "aac")
    _encode(tiny_model, tmp_path / "a.mp4", tmp_path / "a.vqv")
    for name, what in (("o.y4m", "a .y4m output has no audio"), ("o.npy", "a .npy output has no audio"),
                       ("frames/", "PNG frames have no audio")):
        with pytest.warns(VideoWarning, match=f"audio \\(aac, 48000 Hz, stereo\\) not written: {what}") as w:
            rep = _decode(tiny_model, tmp_path / "a.vqv", tmp_path / name)
        assert len(w) == 1 and "\n" not in str(w[0].message) and rep["audio"].startswith("not written")


def test_a_container_that_cannot_take_the_codec_says_so(tmp_path, tiny_model):
    make_clip(tmp_path / "a.mkv", "matroska", "pcm_s16le")            # PCM: into .mkv, not into .mp4
    _encode(tiny_model, tmp_path / "a.mkv", tmp_path / "a.vqv")
    with pytest.warns(VideoWarning, match="audio \\(pcm_s16le, 48000 Hz, [^)]*\\) not written: the mp4 muxer refuses") as w:
        rep = _decode(tiny_model, tmp_path / "a.vqv", tmp_path / "o.mp4")
    assert len(w) == 1 and rep["audio"].startswith("not written") and packets(tmp_path / "o.mp4")[0] is None
    _decode(tiny_model, tmp_path / "a.vqv", tmp_path / "o.mkv")
    assert packets(tmp_path / "o.mkv")[0] == "pcm_s16le"


def test_audio_too_large_is_dropped_with_one_warning(tmp_path, tiny_model, monkeypatch):
    import vqcodec.io.audio as audio_mod

    monkeypatch.setattr(audio_mod, "MAX_AUDIO_BYTES", 5000)
    make_clip(tmp_path / "a.mp4", "mp4", "aac")
    with pytest.warns(VideoWarning, match="audio track not carried \\(it is longer than 5000 bytes\\)") as w:
        rep = _encode(tiny_model, tmp_path / "a.mp4", tmp_path / "a.vqv")
    assert len(w) == 1 and "audio" not in rep and (tmp_path / "a.vqv").read_bytes()[3] == 2


def test_no_audio_and_the_video_bytes(tmp_path, tiny_model):
    make_clip(tmp_path / "a.mp4", "mp4", "aac")
    with warnings.catch_warnings():
        warnings.simplefilter("error", VideoWarning)
        rep = _encode(tiny_model, tmp_path / "a.mp4", tmp_path / "plain.vqv", audio=False)
    assert "audio" not in rep
    _encode(tiny_model, tmp_path / "a.mp4", tmp_path / "a.vqv")
    plain, with_audio = (tmp_path / "plain.vqv").read_bytes(), (tmp_path / "a.vqv").read_bytes()
    assert plain[3:5] == b"\x02\x00" and with_audio[3:5] == b"\x04\x00"
    assert read_vqv(io.BytesIO(plain))[1] == read_vqv(io.BytesIO(with_audio))[1]   # the same GOPs
    _decode(tiny_model, tmp_path / "plain.vqv", tmp_path / "o.mp4")
    assert packets(tmp_path / "o.mp4")[0] is None


@pytest.mark.filterwarnings("ignore:.*input ends early")   # the file's duration is the audio's
def test_audio_kept_within_the_video(tmp_path, tiny_model):
    """Audio longer than the video: only the packets that start before the video ends are kept; with
    --fps the video's duration is the resampled one."""
    make_clip(tmp_path / "a.mkv", "matroska", "aac", frames=20, seconds=2.5)        # 1.25 s of video
    _, src, _, _ = packets(tmp_path / "a.mkv")
    assert src[-1][1] > 2
    for fps, frames, end in ((None, 20, Fraction(5, 4)), ("6", 8, Fraction(4, 3))):
        rep = _encode(tiny_model, tmp_path / "a.mkv", tmp_path / "a.vqv", fps=fps)
        assert rep["frames"] == frames
        t = read_audio(VqvReader(open(tmp_path / "a.vqv", "rb")))
        last = max(p.pts * Fraction(*t.time_base) for p in t.packets)
        assert last < end <= last + Fraction(1024, 48000) + Fraction(1, 1000)   # Matroska: milliseconds
        assert [p.data for p in t.packets] == [b for b, _ in src[:len(t.packets)]]


def test_info_shows_the_audio(tmp_path, tiny_model, tiny_weights):
    make_clip(tmp_path / "a.mkv", "matroska", "libopus")
    _encode(tiny_model, tmp_path / "a.mkv", tmp_path / "a.vqv")
    r = CliRunner().invoke(main, ["info", str(tmp_path / "a.vqv"), "--json", "--model", str(tiny_weights)])
    assert r.exit_code == 0, r.output
    audio = json.loads(r.stdout)["audio"]
    assert audio["codec"] == "opus" and audio["sample_rate"] == 48000 and audio["channels"] == 2
    assert audio["bytes"] < audio["section_bytes"] and 1.1 < audio["duration_s"] < 1.4
    r = CliRunner().invoke(main, ["info", str(tmp_path / "a.vqv"), "--no-gops", "--model", str(tiny_weights)])
    assert "  audio     opus 48000 Hz stereo" in r.stdout


def test_hostile_audio_section_is_one_line(tmp_path, tiny_model, tiny_weights):
    make_clip(tmp_path / "a.mp4", "mp4", "aac")
    _encode(tiny_model, tmp_path / "a.mp4", tmp_path / "a.vqv")
    data = bytearray((tmp_path / "a.vqv").read_bytes())
    _, start, size = VqvReader(io.BytesIO(bytes(data))).sections[0]
    data[start + 1:start + 6] = b"\xce\xff\xff\xff\xff"   # inside the track map: CRC now wrong
    (tmp_path / "bad.vqv").write_bytes(bytes(data))
    for args in (["info", tmp_path / "bad.vqv"], ["decode", tmp_path / "bad.vqv", tmp_path / "o.mp4"]):
        r = CliRunner().invoke(main, [str(a) for a in args] + ["--model", str(tiny_weights)])
        assert r.exit_code == 1 and r.stderr.count("\n") == 1, r.stderr
        assert r.stderr.startswith("vqv: error: ") and "CRC mismatch in section 0 (audio)" in r.stderr
    assert not (tmp_path / "o.mp4").exists()
    with pytest.warns(VideoWarning, match="audio track skipped"):       # --skip-damaged: video only
        rep = _decode(tiny_model, tmp_path / "bad.vqv", tmp_path / "o.mp4", skip_damaged=True)
    assert "audio" not in rep and packets(tmp_path / "o.mp4")[0] is None


# ------------------------------------------------------------------------------------- --pix-fmt


def test_pix_fmt(tmp_path, tiny_model, tiny_weights):
    make_clip(tmp_path / "a.mp4", "mp4", "aac", size=(34, 32))
    _encode(tiny_model, tmp_path / "a.mp4", tmp_path / "a.vqv", size="33x31")    # odd: 4:2:0 pads to even
    _decode(tiny_model, tmp_path / "a.vqv", tmp_path / "d.mp4")
    _decode(tiny_model, tmp_path / "a.vqv", tmp_path / "f.mkv", pix_fmt="yuv444p")
    _, _, pix, profile = packets(tmp_path / "d.mp4")
    assert (pix, profile) == ("yuv420p", "High")
    with av.open(str(tmp_path / "d.mp4")) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (34, 32)
    _, _, pix, profile = packets(tmp_path / "f.mkv")
    assert (pix, profile) == ("yuv444p", "High 4:4:4 Predictive")
    with av.open(str(tmp_path / "f.mkv")) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (33, 31)
    for bad, msg in (("yuv422p", "Invalid value"), ("yuv444p", "not a .y4m output")):
        out = tmp_path / ("o.mp4" if bad == "yuv422p" else "o.y4m")
        r = CliRunner().invoke(main, ["decode", str(tmp_path / "a.vqv"), str(out), "--pix-fmt", bad,
                                      "--model", str(tiny_weights)])
        assert r.exit_code == 2 and msg in r.stderr and not out.exists(), r.stderr
