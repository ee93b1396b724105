"""The smoke path of benchmarks/rd.py on two tiny synthetic clips (peers real, vqv mocked)."""
from __future__ import annotations

import csv
import importlib.util
import json
import math
import sys
import types
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

RD_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "rd.py"


@pytest.fixture(scope="module")
def rd():
    spec = importlib.util.spec_from_file_location("vqv_bench_rd", RD_PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["vqv_bench_rd"] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop("vqv_bench_rd", None)


def synthetic_clip(seed: int, t: int = 32, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    frames = []
    for i in range(t):
        r = 128 + 90 * np.sin((xx + (2 + seed) * i) / 9.0) * np.cos(yy / 11.0)
        g = 128 + 70 * np.sin((yy - i) / 6.0 + seed)
        b = 100 + 60 * np.cos((xx + yy + 3 * i) / 13.0)
        f = np.stack([r, g, b], -1) + rng.normal(0, 3, (size, size, 3))
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
    return np.stack(frames)


def fake_vqv_modules():
    """A stand-in for vqcodec.codec / vqcodec.weights: uniform quantisation + zlib."""
    steps = {1: 64, 2: 32, 3: 16, 4: 8}

    class Model:
        qualities = [1, 2, 3, 4]

    def encode_frames(frames, fps, *, model, quality, prior):
        if prior == "learned":
            raise NotImplementedError("no learned prior in this model")
        step = steps[quality]
        t, h, w, _ = frames.shape
        payload = zlib.compress((frames // step).astype(np.uint8).tobytes(), 9 if prior != "uniform" else 1)
        return np.array([t, h, w, step], np.uint16).tobytes() + payload

    def decode_bytes(data, *, model):
        t, h, w, step = np.frombuffer(data[:8], np.uint16).astype(int)
        q = np.frombuffer(zlib.decompress(data[8:]), np.uint8).reshape(t, h, w, 3).astype(np.int32)
        return np.clip(q * step + step // 2, 0, 255).astype(np.uint8)

    codec = types.ModuleType("vqcodec.codec")
    codec.encode_frames = encode_frames
    codec.decode_bytes = decode_bytes
    weights = types.ModuleType("vqcodec.weights")
    weights.load_model = lambda path=None: Model()
    return codec, weights


def test_strip_sei(rd):
    sps = b"\x00\x00\x00\x01\x67\x64\x00\x0a"
    sei = b"\x00\x00\x01\x06\x05\x10" + b"x264 - core 999" * 4 + b"\x80"
    idr = b"\x00\x00\x01\x65\x88\x84\x00\x10"
    assert rd.strip_sei(sps + sei + idr, "h264") == sps + idr
    assert rd.strip_sei(sps + idr, "h264") == sps + idr
    # HEVC: only the x265 banner (prefix SEI, type 39) goes
    vps = b"\x00\x00\x00\x01\x40\x01\x0c\x01"
    banner = b"\x00\x00\x01\x4e\x01\x05\x20" + b"x265 (build 199)" * 2 + b"\x80"
    other_sei = b"\x00\x00\x01\x4e\x01\x81\x01\x00\x80"
    assert rd.strip_sei(vps + banner + other_sei, "hevc") == vps + other_sei
    # AVCC (4-byte lengths)
    nal_sei = b"\x06\x05\x02ab\x80"
    nal_idr = b"\x65\x88\x84"
    avcc = len(nal_sei).to_bytes(4, "big") + nal_sei + len(nal_idr).to_bytes(4, "big") + nal_idr
    assert rd.strip_sei(avcc, "h264") == len(nal_idr).to_bytes(4, "big") + nal_idr


def test_bd_numbers(rd):
    rates = [0.05, 0.1, 0.2, 0.4]
    anchor = (rates, [28.0, 31.0, 34.0, 37.0])
    better = ([r * 0.8 for r in rates], [28.0, 31.0, 34.0, 37.0])  # same quality, 20 % fewer bits
    d = rd.bd_numbers(anchor, better, "psnr")
    assert d["bd_rate"] == pytest.approx(-20.0, abs=0.5)
    assert d["bd_psnr"] > 0
    far = ([0.001, 0.002], [10.0, 12.0])  # no overlap at all
    d = rd.bd_numbers(anchor, far, "psnr")
    assert d["bd_rate"] is None and d["bd_psnr"] is None and "overlap" in d["reason"]
    d = rd.bd_numbers(anchor, ([0.1], [30.0]), "psnr")
    assert d["bd_rate"] is None and "points" in d["reason"]
    # non-monotone points are dropped, not fatal
    x, y = rd.pareto([0.1, 0.2, 0.15, 0.3], [30, 29, 31, 33])
    assert list(x) == [0.1, 0.15, 0.3] and list(y) == [30, 31, 33]
    assert rd.interp_at([0.1, 0.2], [30.0, 32.0], 0.5)[0] is None


def test_smoke_run(rd, tmp_path, monkeypatch):
    clips = tmp_path / "clips"
    clips.mkdir()
    for k in range(3):  # --smoke keeps 2
        np.save(clips / f"clip{k}.npy", synthetic_clip(k))
    codec, weights = fake_vqv_modules()
    monkeypatch.setitem(sys.modules, "vqcodec.codec", codec)
    monkeypatch.setitem(sys.modules, "vqcodec.weights", weights)
    out = tmp_path / "out"
    res = CliRunner().invoke(rd.main, ["--input", f"npy:{clips}", "--out", str(out), "--smoke", "--quiet",
                                       "--priors", "uniform,empirical-static,learned"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    for name in ("points.csv", "summary.json", "summary.md", "rd_psnr.png", "rd_ssim.png"):
        assert (out / name).stat().st_size > 0, name

    rows = list(csv.DictReader(open(out / "points.csv")))
    peers = [c for c in ("x264", "x265", "vp9", "av1") if any(r["codec"] == c for r in rows)]
    assert {"x264", "x265", "vp9"} <= set(peers)  # AV1 only where PyAV can encode and decode it
    for c in peers:
        rs = [r for r in rows if r["codec"] == c]
        assert len(rs) == 2 * 2  # 2 clips x 2 rates
        assert {r["clip"] for r in rs} == {"clip0", "clip1"}
    for r in rows:
        assert float(r["bpp"]) > 0 and float(r["kbps"]) > 0
        assert 10 < float(r["psnr"]) < 100 and 0 < float(r["ssim"]) <= 1
        assert float(r["enc_fps"]) > 0 and float(r["dec_fps"]) > 0
        assert int(r["frames"]) == 32 and int(r["width"]) == 64
    x264 = [r for r in rows if r["codec"] == "x264"]
    assert all(int(r["bytes"]) < int(r["raw_bytes"]) for r in x264)  # SEI banner stripped
    # vqv mocked: two priors work, "learned" is skipped with a reason
    assert {r["codec"] for r in rows if r["codec"].startswith("vqv")} == {"vqv-uniform", "vqv-empirical-static"}
    assert {r["setting"] for r in rows if r["codec"] == "vqv-uniform"} == {"q=1", "q=4"}

    s = json.load(open(out / "summary.json"))
    assert s["threads"]["peers"] == 1 and s["protocol"]["frames"] == 32
    assert "learned" in s["codecs"]["vqv"]["priors_skipped"]
    assert s["codecs"]["x264"]["peak_rss_mb"] > 0
    assert "vqv-best" in s["curves"] and len(s["curves"]["vqv-best"]) == 2
    for peer in peers:
        d = s["bd"]["vqv-best"][peer]["psnr"]
        assert set(d) >= {"bd_rate", "bd_psnr"}
        for k in ("bd_rate", "bd_psnr"):
            assert d[k] is None and d.get("reason") or math.isfinite(d[k])
    assert 0 < s["yuv420_ceiling"]["psnr"] < 100
    assert s["matched_vqv"] and "x264" in s["matched_vqv"][0]["peers"]


def test_vqv_missing_is_skipped(rd, tmp_path, monkeypatch):
    clips = tmp_path / "clips"
    clips.mkdir()
    np.save(clips / "a.npy", synthetic_clip(0, t=4, size=64))
    monkeypatch.setitem(sys.modules, "vqcodec.codec", None)  # import fails
    msgs = []
    s = rd.run_benchmark(rd.load_clips(f"npy:{clips}", None, tmp_path, msgs.append), tmp_path / "o",
                         codecs=["x264", "vqv"], smoke=True, log=msgs.append, progress=False)
    assert "skipped" in s["codecs"]["vqv"]
    assert any("vqv skipped" in m for m in msgs)
    assert list(s["curves"]) == ["x264"]


def test_summary_markdown_lists_every_codec(rd):
    summary_markdown = rd.summary_markdown
    s = {"protocol": {"clips": ["a", "b"]}, "threads": {"torch": 1, "peers": 1},
         "matched_bpp": {"0.05": {"x264": {"psnr": 21.0, "ssim": 0.6}, "vqv-best": {"psnr": None, "ssim": None}}},
         "bd": {"vqv-best": {"x264": {"psnr": {"bd_rate": -12.5, "bd_psnr": 0.8}}}},
         "speed": {"x264": {"enc_fps": 300.0, "dec_fps": 4000.0}}, "codecs": {"x264": {"peak_rss_mb": 310.0}}}
    md = summary_markdown(s)
    assert "| x264 | 21.00 / 0.600 |" in md and "| vqv-best | – / – |" in md
    assert "-12.5%" in md and "| x264 | 300 | 4000 | 310 |" in md


def test_compare_baseline_numbers(rd):
    rates = [0.05, 0.1, 0.2, 0.4]
    old = {"vqv-best": [{"setting": f"q={i + 1}", "bpp": r, "psnr": p, "ssim": s}
                        for i, (r, p, s) in enumerate(zip(rates, [20.0, 22.0, 24.0, 26.0], [0.5, 0.6, 0.7, 0.8]))]}
    # the same qualities with 30 % fewer bits, and q=4 losing 0.3 dB at its own rate
    new_rows = [dict(r, bpp=r["bpp"] * 0.7) for r in old["vqv-best"]]
    new_rows[3]["psnr"] = 26.0 - 0.3 - 0.0  # at 0.28 bpp the old curve gives ~25.03 dB: still a gain
    new_rows[1]["bpp"] = 0.1  # q=2 keeps its rate and PSNR: no loss, no gain
    new_rows[1]["psnr"] = 21.8  # ... except 0.2 dB
    res = rd.compare_baseline({"vqv-best": new_rows, "x264": old["vqv-best"]}, old)
    assert list(res) == ["vqv-best"]  # peers are not compared with the baseline
    d = res["vqv-best"]
    assert d["psnr"]["bd_rate"] < -10
    m = d["max_psnr_loss"]
    assert m["setting"] == "q=2" and m["db"] == pytest.approx(0.2)
    assert m["points_outside_baseline_range"] == ["q=1"]  # 0.035 bpp is below the old curve
    assert m["extrapolated_outside_range"]["setting"] == "q=1"
    q1 = d["points"][0]
    assert q1["setting"] == "q=1" and q1["delta_psnr_at_rate"] is None and q1["delta_psnr_extrapolated"] > 0
    assert q1["bpp_change_pct"] == pytest.approx(-30.0)
    same = rd.compare_baseline(old, old)["vqv-best"]
    assert same["psnr"]["bd_rate"] == pytest.approx(0.0, abs=1e-6)
    assert same["max_psnr_loss"]["db"] == pytest.approx(0.0, abs=1e-9)


def test_bd_partial_overlap(rd):
    anchor = ([0.05, 0.1, 0.2, 0.4, 0.8], [20.0, 24.0, 28.0, 32.0, 36.0])
    test = ([0.02, 0.04, 0.08], [18.0, 21.0, 23.0])  # shares 20..23 dB of 18..36 dB
    d = rd.bd_numbers(anchor, test, "psnr")
    assert d["bd_rate"] is None and "overlap" in d["reason"]
    assert d["bd_rate_partial"] < 0 and d["partial_psnr_range"] == [20.0, 23.0]


def _fake_with_options():
    codec, weights = fake_vqv_modules()
    base_encode = codec.encode_frames

    def encode_frames(frames, fps, *, model, quality, prior, rdo_strength=1.0, refresh=8):
        # a stronger "rdo" quantises the second half of the clip to the first half's last frame
        if rdo_strength > 1:
            frames = frames.copy()
            frames[len(frames) // 2:] = frames[len(frames) // 2 - 1]
        return base_encode(frames, fps, model=model, quality=quality, prior=prior)

    codec.encode_frames = encode_frames
    return codec, weights


def test_baseline_run(rd, tmp_path, monkeypatch):
    clips = tmp_path / "clips"
    clips.mkdir()
    for k in range(2):
        np.save(clips / f"clip{k}.npy", synthetic_clip(k, t=8))
    codec, weights = _fake_with_options()
    monkeypatch.setitem(sys.modules, "vqcodec.codec", codec)
    monkeypatch.setitem(sys.modules, "vqcodec.weights", weights)
    before, after = tmp_path / "before", tmp_path / "after"
    args = ["--input", f"npy:{clips}", "--smoke", "--quiet", "--priors", "uniform,empirical-static",
            "--frames", "8"]
    res = CliRunner().invoke(rd.main, args + ["--out", str(before), "--codecs", "x264,vqv", "--vqv-label", "old"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    sb = json.load(open(before / "summary.json"))
    assert sb["protocol"]["frames"] == 8 and sb["codecs"]["vqv"]["label"] == "old"
    assert sb["codecs"]["vqv"]["encoder_options"] == {"rdo_strength": 1.0, "refresh": 8}
    assert sb["codecs"]["vqv"]["options"] == {}
    # the same encoder against itself: zero BD, zero loss; peers come from the baseline
    res = CliRunner().invoke(rd.main, args + ["--out", str(after), "--codecs", "vqv", "--baseline", str(before)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    s = json.load(open(after / "summary.json"))
    assert s["baseline"]["label"] == "old"
    assert s["codecs"]["x264"]["from_baseline"].endswith("summary.json")
    assert "x264" in s["bd"]["vqv-best"]
    d = s["baseline"]["vs"]["vqv-best"]
    assert d["psnr"]["bd_rate"] == pytest.approx(0.0, abs=1e-6)
    assert d["max_psnr_loss"]["db"] == pytest.approx(0.0, abs=1e-9)
    assert "Against old" in (after / "summary.md").read_text()
    # an encoder option is passed through and changes the file; the baseline can be the points.csv
    res = CliRunner().invoke(rd.main, args + ["--out", str(after), "--codecs", "vqv", "--rdo-strength", "2",
                                              "--refresh", "0", "--vqv-label", "new",
                                              "--baseline", str(before / "points.csv"), "--baseline-label", "old"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    s = json.load(open(after / "summary.json"))
    assert s["codecs"]["vqv"]["options"] == {"rdo_strength": 2.0, "refresh": 0}
    assert s["codecs"]["vqv"]["encoder_options"] == {"rdo_strength": 2.0, "refresh": 0}
    assert s["codecs"]["x264"]["from_baseline"].endswith("points.csv") and "x264" in s["curves"]
    d = s["baseline"]["vs"]["vqv-best"]
    assert all(p["bpp"] < p["before"]["bpp"] for p in d["points"])
    md = (after / "summary.md").read_text()
    assert "| q=1 |" in md and "new" in md


def test_baseline_must_match(rd, tmp_path):
    clips = [rd.Clip("a", synthetic_clip(0, t=4))]
    base = {"path": "b/summary.json", "frames": 4, "clips": ["b"], "curves": {}, "codecs": {}, "speed": {}}
    with pytest.raises(Exception, match="other clips"):
        rd.check_baseline(base, clips, 4)
    with pytest.raises(Exception, match="32-frame"):
        rd.check_baseline(dict(base, frames=32, clips=["a"]), clips, 4)
    rd.check_baseline(dict(base, clips=["a"]), clips, 4)


def test_unknown_encoder_option_is_an_error(rd, monkeypatch):
    codec, weights = fake_vqv_modules()  # encode_frames without rdo_strength (like the first release)
    monkeypatch.setitem(sys.modules, "vqcodec.codec", codec)
    monkeypatch.setitem(sys.modules, "vqcodec.weights", weights)
    with pytest.raises(Exception, match="rdo_strength"):
        rd.load_vqv(None, ["uniform"], 1, print, {"rdo_strength": 0.0})
    hook = rd.load_vqv(None, ["uniform"], 1, print, {"rdo_strength": None})  # not set: not passed
    assert hook.options == {} and hook.describe["encoder_defaults"] == {}


def test_padded_clip_frames(rd):
    class DS:  # vqcodec.data's eval layout: segments (source, start, stop), clips (segment, start)
        segments = [(0, 128, 160), (1, 0, 65)]
        clips = [(0, 128), (1, 0)]
    assert rd._dataset_real_frames(DS(), 128) == [32, 65]
    assert rd._dataset_real_frames(DS(), 32) == [32, 32]
