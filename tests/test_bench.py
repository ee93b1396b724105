"""benchmarks/: SEI stripping, curve maths, the clip cut, the report, and rd.py end to end on tiny
synthetic clips (real peers, the real codec with the tiny test model)."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from benchmarks import baseline, bd, clips, peers, rd, report, vqv_runner
from conftest import synthetic_video
from vqcodec import metrics as M
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames


RATES = [0.05, 0.1, 0.2, 0.4]
PSNRS = [28.0, 31.0, 34.0, 37.0]


def units_of(packets: list[bytes], codec: str) -> list[tuple[int, bytes]]:
    """(NAL type, NAL unit from its header on) of every unit of every packet, in order."""
    return [(peers.nal_type(codec, p[hdr]), p[hdr:end]) for p in packets for _, hdr, end in peers.nal_units(p)]


# ------------------------------------------------------------------------------------------------
# peers


def test_strip_sei_removes_exactly_x264s_sei_and_the_stream_still_decodes():
    clip = synthetic_video(8, 64, 64)
    packets = peers.encode_packets(peers.PEERS["x264"], clip, Fraction(16), 30)
    stripped = [s for s in (peers.strip_sei(p, "h264") for p in packets) if s]
    before, after = units_of(packets, "h264"), units_of(stripped, "h264")
    assert any(t == 6 for t, _ in before)  # x264 writes its settings banner as SEI
    assert after == [(t, u) for t, u in before if t != 6]
    decoded = np.stack(peers.decode_packets("h264", stripped))
    assert decoded.shape == clip.shape
    assert M.psnr(clip, decoded) > 25


def test_strip_sei_hevc_drops_only_the_x265_banner_and_reads_avcc():
    vps = b"\x00\x00\x00\x01\x40\x01\x0c\x01"
    banner = b"\x00\x00\x01\x4e\x01\x05\x20" + b"x265 (build 199)" * 2 + b"\x80"
    other_sei = b"\x00\x00\x01\x4e\x01\x81\x01\x00\x80"
    assert peers.strip_sei(vps + banner + other_sei, "hevc") == vps + other_sei
    nal_sei, nal_idr = b"\x06\x05\x02ab\x80", b"\x65\x88\x84"
    avcc = len(nal_sei).to_bytes(4, "big") + nal_sei + len(nal_idr).to_bytes(4, "big") + nal_idr
    assert peers.strip_sei(avcc, "h264") == len(nal_idr).to_bytes(4, "big") + nal_idr
    vp9_like = b"\x82\x49\x83\x42\x00"  # neither Annex-B nor a length-prefixed stream: left alone
    assert peers.strip_sei(vp9_like, "h264") == vp9_like


# ------------------------------------------------------------------------------------------------
# curve maths


def test_bd_rate_of_a_curve_against_itself_is_zero_and_at_half_the_rate_minus_50():
    same = bd.bd_numbers((RATES, PSNRS), (RATES, PSNRS), "psnr")
    assert same["bd_rate"] == pytest.approx(0.0, abs=1e-9) and same["bd_psnr"] == pytest.approx(0.0, abs=1e-9)
    half = bd.bd_numbers((RATES, PSNRS), ([r / 2 for r in RATES], PSNRS), "psnr")
    assert half["bd_rate"] == pytest.approx(-50.0, abs=1e-6)
    assert half["bd_psnr"] == pytest.approx(3.0, abs=1e-6)  # 3 dB per octave of rate on this curve
    assert "reason" not in half


def test_bd_numbers_without_enough_overlap_or_points_say_why():
    far = bd.bd_numbers((RATES, PSNRS), ([0.001, 0.002], [10.0, 12.0]), "psnr")
    assert far["bd_rate"] is None and far["bd_psnr"] is None
    assert "psnr ranges overlap 0%" in far["reason"] and "rate ranges overlap 0%" in far["reason"]
    one = bd.bd_numbers((RATES, PSNRS), ([0.1], [30.0]), "psnr")
    assert one["bd_rate"] is None and one["reason"].startswith("need >= 2 monotone points")
    anchor = ([0.05, 0.1, 0.2, 0.4, 0.8], [20.0, 24.0, 28.0, 32.0, 36.0])
    part = bd.bd_numbers(anchor, ([0.02, 0.04, 0.08], [18.0, 21.0, 23.0]), "psnr")  # shares 20..23 of 18..36 dB
    assert part["bd_rate"] is None and part["overlap_psnr"] == pytest.approx(3 / 18, abs=1e-3)
    assert part["bd_rate_partial"] < 0 and part["partial_psnr_range"] == [20.0, 23.0]


def test_pareto_interpolation_and_extrapolation():
    x, y = bd.pareto([0.1, 0.2, 0.15, 0.3, -1.0], [30, 29, 31, 33, 40])  # 0.2 is dominated, -1 not a rate
    assert list(x) == [0.1, 0.15, 0.3] and list(y) == [30, 31, 33]
    assert bd.interp_at(RATES, PSNRS, 0.2) == (34.0, None)
    assert bd.interp_at(RATES, PSNRS, 0.2 * 2 ** 0.5)[0] == pytest.approx(35.5)  # halfway in log-rate
    at, why = bd.interp_at(RATES, PSNRS, 0.8)
    assert at is None and "outside the curve's range 0.05..0.4 bpp" in why
    assert bd.extrapolate_log(RATES, PSNRS, 0.8) == pytest.approx(40.0)
    assert bd.extrapolate_log(RATES, PSNRS, 0.025) == pytest.approx(25.0)


def test_compare_baseline_finds_the_worst_point_at_its_own_rate():
    old = [{"setting": f"q={i + 1}", "bpp": r, "psnr": p, "ssim": p / 40} for i, (r, p) in enumerate(zip(RATES, PSNRS))]
    new = [dict(r, bpp=r["bpp"] * 0.7) for r in old]  # 30 % fewer bits at every quality
    new[1] = dict(old[1], psnr=30.8)  # q=2 at its old rate, 0.2 dB lower
    d = baseline.compare_baseline({"vqv-best": new, "x264": old}, {"vqv-best": old})
    assert list(d) == ["vqv-best"]  # peers are not compared with the baseline
    m = d["vqv-best"]["max_psnr_loss"]
    assert m["setting"] == "q=2" and m["db"] == pytest.approx(0.2)
    assert m["points_outside_baseline_range"] == ["q=1"]  # 0.035 bpp is below the old curve
    q1 = d["vqv-best"]["points"][0]
    assert q1["bpp_change_pct"] == pytest.approx(-30.0)
    assert q1["delta_psnr_extrapolated"] == pytest.approx(28.0 - bd.extrapolate_log(RATES, PSNRS, 0.035))
    same = baseline.compare_baseline({"vqv-best": old}, {"vqv-best": old})["vqv-best"]
    assert same["psnr"]["bd_rate"] == pytest.approx(0.0, abs=1e-9) and same["max_psnr_loss"]["db"] == 0.0


# ------------------------------------------------------------------------------------------------
# report


def test_summary_markdown_lists_every_point_and_codec():
    best = [{"setting": f"q={i + 1}", "prior": "uniform", "bpp": r, "psnr": p, "ssim": p / 40}
            for i, (r, p) in enumerate(zip(RATES, PSNRS))]
    s = {"protocol": {"clips": ["a", "b"], "frames": 32}, "threads": {"torch": 1, "peers": 1},
         "curves": {"vqv-best": best[::-1]},
         "matched_bpp": {"0.05": {"x264": {"psnr": 21.0, "ssim": 0.6}, "vqv-best": {"psnr": None, "ssim": None}}},
         "bd": {"vqv-best": {"x264": {"psnr": {"bd_rate": -12.5, "bd_psnr": 0.8}}}},
         "speed": {"x264": {"enc_fps": 300.0, "dec_fps": 4000.0}}, "codecs": {"x264": {"peak_rss_mb": 310.0}}}
    md = report.summary_markdown(s)
    rows = [line for line in md.splitlines() if line.startswith("| q=")]
    assert rows == [f"| q={i + 1} | uniform | {r:.4f} | {p:.2f} | {p / 40:.4f} |"
                    for i, (r, p) in enumerate(zip(RATES, PSNRS))]  # every point, in quality order
    assert "| x264 | 21.00 / 0.600 |" in md and "| vqv-best | – / – |" in md
    assert "| vqv-best | x264 | -12.5% | +0.80 dB |  |" in md
    assert "| x264 | 300 | 4000 | 310 |" in md


def test_points_csv_round_trip(tmp_path):
    pt = {"codec": "x264", "setting": "crf=24", "clip": "a", "frames": 8, "width": 64, "height": 64, "bytes": 300,
          "raw_bytes": 900, "bpp": 0.0732421875, "kbps": 4.8, "psnr": 31.234567891, "ssim": 0.9, "enc_fps": 100.0,
          "dec_fps": 2000.0}
    report.write_points_csv([pt], tmp_path / "points.csv")
    (back,) = report.read_points_csv(tmp_path / "points.csv")
    assert back == dict(pt, bpp=0.0732422, psnr=31.2346)  # floats kept to 6 significant digits


# ------------------------------------------------------------------------------------------------
# clips


def test_load_clips_cuts_the_validation_split_and_marks_padding(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for k, t in enumerate((21, 40)):
        np.save(videos / f"v{k}.npy", synthetic_video(t, 72, 96, seed=k))
    from vqcodec.train.data import list_sources
    (val,) = list_sources(f"folder:{videos}", "val")  # one of the two videos is the validation split
    t_val = len(np.load(val.path))
    msgs: list[str] = []
    cut = clips.load_clips(f"folder:{videos}", None, tmp_path / "cache", msgs.append, frames=8)
    assert [c.name for c in cut] == [f"{val.name}@{s}" for s in range(0, t_val - 7, 8)]
    assert all(c.frames.shape == (8, 64, 64, 3) and c.frames.dtype == np.uint8 and c.real_frames == 8 for c in cut)
    assert not msgs
    (long,) = clips.load_clips(f"folder:{videos}", 1, tmp_path / "cache", msgs.append, frames=64)
    assert long.name == f"{val.name}@0" and long.real_frames == t_val and len(long.frames) == 64
    assert (long.frames[t_val:] == long.frames[t_val - 1]).all()  # the tail repeats the last real frame
    assert len(msgs) == 1 and f"only {t_val} frames of video" in msgs[0]
    with pytest.raises(click.ClickException, match="cannot load"):
        clips.load_clips(f"corpus:{tmp_path / 'nowhere'}", None, tmp_path / "cache", msgs.append)


# ------------------------------------------------------------------------------------------------
# vqv and the whole run


def test_unknown_encoder_option_is_an_error(tiny_weights, monkeypatch):
    def first_release_encode(frames, fps, *, model, quality=None, prior="auto", gop_context=True):
        raise AssertionError("not called")

    monkeypatch.setattr(vqv_runner, "encode_frames", first_release_encode)
    with pytest.raises(click.ClickException, match="takes no rdo_strength"):
        vqv_runner.load_vqv(str(tiny_weights), ["uniform"], {"rdo_strength": 0.0})
    hook = vqv_runner.load_vqv(str(tiny_weights), ["uniform"], {"rdo_strength": None})  # not set: not passed
    assert hook.options == {} and hook.describe["encoder_defaults"] == {"gop_context": True}


def npy_clips(folder: Path, n: int, t: int = 8) -> Path:
    folder.mkdir()
    for k in range(n):
        np.save(folder / f"clip{k}.npy", synthetic_video(t, 64, 64, seed=k))
    return folder


def read_points(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_smoke_run_measures_every_codec_at_every_setting(tiny_weights, tiny_model, tmp_path):
    src, out = npy_clips(tmp_path / "clips", 3), tmp_path / "out"  # --smoke keeps 2 clips
    res = CliRunner().invoke(rd.main, ["--input", f"npy:{src}", "--out", str(out), "--smoke", "--quiet",
                                       "--codecs", "x264,vqv", "--weights", str(tiny_weights),
                                       "--priors", "uniform,empirical-static,learned"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    for name in ("points.csv", "summary.json", "summary.md", "rd_psnr.png", "rd_ssim.png"):
        assert (out / name).stat().st_size > 0, name
    rows = read_points(out / "points.csv")
    grid = {(r["codec"], r["setting"], r["clip"]) for r in rows}
    assert grid == {(c, s, k) for k in ("clip0", "clip1") for c, ss in
                    (("x264", ("crf=24", "crf=42")), ("vqv-uniform", ("q=1", "q=3")),
                     ("vqv-empirical-static", ("q=1", "q=3"))) for s in ss}  # the tiny model has no learned prior
    assert len(rows) == len(grid)
    assert all(int(r["bytes"]) < int(r["raw_bytes"]) for r in rows if r["codec"] == "x264")  # banner stripped

    # a vqv point is the whole file of encode_frames and the PSNR of its decoded frames
    clip = np.load(src / "clip1.npy")
    data = encode_frames(clip, Fraction(16), model=tiny_model, quality=3, prior="empirical-static")
    (pt,) = [r for r in rows if (r["codec"], r["setting"], r["clip"]) == ("vqv-empirical-static", "q=3", "clip1")]
    assert int(pt["bytes"]) == int(pt["raw_bytes"]) == len(data)
    assert float(pt["bpp"]) == pytest.approx(8 * len(data) / (8 * 64 * 64), rel=1e-5)
    assert float(pt["psnr"]) == pytest.approx(M.psnr(clip, decode_bytes(data, model=tiny_model)), rel=1e-5)

    s = json.loads((out / "summary.json").read_text())
    assert s["codecs"]["vqv"]["priors"] == ["uniform", "empirical-static"]
    assert "learned prior" in s["codecs"]["vqv"]["priors_skipped"]["learned"]
    x264 = {r["setting"]: r for r in s["curves"]["x264"]}
    for setting, r in x264.items():  # curves are the means over the clips
        pts = [float(p["psnr"]) for p in rows if (p["codec"], p["setting"]) == ("x264", setting)]
        assert r["clips"] == 2 and r["psnr"] == pytest.approx(np.mean(pts), rel=1e-5)
    best = s["curves"]["vqv-best"]
    assert [r["setting"] for r in best] == ["q=1", "q=3"]
    for r in best:  # at each quality the prior with fewer bits
        assert r["bpp"] == min(c["bpp"] for k in ("vqv-uniform", "vqv-empirical-static")
                               for c in s["curves"][k] if c["setting"] == r["setting"])
    assert set(s["bd"]) == {"vqv-uniform", "vqv-empirical-static", "vqv-best"} and "x264" in s["bd"]["vqv-best"]
    md = (out / "summary.md").read_text()
    assert all(f"| {r['setting']} | {r['prior']} | {r['bpp']:.4f} |" in md for r in best)


def test_baseline_run_against_itself_and_with_encoder_options(tiny_weights, tiny_model, tmp_path):
    src = npy_clips(tmp_path / "clips", 2)
    before, after = tmp_path / "before", tmp_path / "after"
    args = ["--input", f"npy:{src}", "--smoke", "--quiet", "--priors", "uniform", "--frames", "8",
            "--weights", str(tiny_weights)]
    res = CliRunner().invoke(rd.main, args + ["--out", str(before), "--codecs", "x264,vqv", "--vqv-label", "old"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    sb = json.loads((before / "summary.json").read_text())
    assert sb["codecs"]["vqv"]["label"] == "old" and sb["codecs"]["vqv"]["options"] == {}
    assert sb["codecs"]["vqv"]["encoder_options"] == sb["codecs"]["vqv"]["encoder_defaults"]

    # the same encoder against itself: zero BD, zero loss; the peer comes from the baseline
    res = CliRunner().invoke(rd.main, args + ["--out", str(after), "--codecs", "vqv", "--baseline", str(before)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    s = json.loads((after / "summary.json").read_text())
    assert s["baseline"]["label"] == "old"
    assert s["codecs"]["x264"]["from_baseline"].endswith("summary.json")
    assert s["curves"]["x264"] == sb["curves"]["x264"] and "x264" in s["bd"]["vqv-best"]
    d = s["baseline"]["vs"]["vqv-best"]
    assert d["psnr"]["bd_rate"] == pytest.approx(0.0, abs=1e-9) and d["max_psnr_loss"]["db"] == 0.0
    assert "Against old" in (after / "summary.md").read_text()

    # encoder options reach encode_frames; the baseline can be a points.csv
    res = CliRunner().invoke(rd.main, args + ["--out", str(after), "--codecs", "vqv", "--rdo-strength", "0",
                                              "--refresh", "0", "--baseline", str(before / "points.csv")],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    s = json.loads((after / "summary.json").read_text())
    assert s["codecs"]["vqv"]["options"] == {"rdo_strength": 0.0, "refresh": 0}
    assert s["codecs"]["x264"]["from_baseline"].endswith("points.csv")
    clip = np.load(src / "clip0.npy")
    (pt,) = [r for r in read_points(after / "points.csv") if (r["setting"], r["clip"]) == ("q=3", "clip0")]
    assert int(pt["bytes"]) == len(encode_frames(clip, Fraction(16), model=tiny_model, quality=3, prior="uniform",
                                                 rdo_strength=0.0, refresh=0))


def test_baseline_must_match(tmp_path):
    cut = [clips.Clip("a", synthetic_video(4, 64, 64))]
    base = {"path": "b/summary.json", "frames": 4, "clips": ["b"], "curves": {}, "codecs": {}, "speed": {}}
    with pytest.raises(click.ClickException, match="other clips"):
        baseline.check_baseline(base, cut, 4)
    with pytest.raises(click.ClickException, match="used 32-frame clips, this run 4"):
        baseline.check_baseline(dict(base, frames=32, clips=["a"]), cut, 4)
    baseline.check_baseline(dict(base, clips=["a"]), cut, 4)
    with pytest.raises(click.ClickException, match="no summary.json or points.csv"):
        baseline.load_baseline(tmp_path)


def test_speed_peers_end_to_end_on_a_tiny_clip(tiny_weights, tmp_path):
    """benchmarks.speed_peers: vqv and x264 on the same small clip, ratios in the JSON."""
    from benchmarks import speed_peers

    assert speed_peers.parse_sizes("64x64, 320x240") == [(64, 64), (320, 240)]
    assert speed_peers.make_clip(None, 48, 32, 3).shape == (3, 32, 48, 3)
    with pytest.raises(click.BadParameter):
        speed_peers.parse_sizes("64")
    res = CliRunner().invoke(speed_peers.main, ["--sizes", "48x32", "--frames", "8", "--native-frames", "8",
                                                "--repeats", "1", "--threads", "1", "--weights", str(tiny_weights),
                                                "--peers", "x264 veryslow", "--crfs", "30,40",
                                                "--json", str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    row = json.loads((tmp_path / "s.json").read_text())["rows"][0]
    assert row["size"] == "48x32" and row["vqv"]["enc_fps"] > 0
    assert set(row["peers"]["x264 veryslow"]["ratios"]) == {"enc_vs_roundtrip", "dec_vs_roundtrip", "enc_vs_enc",
                                                            "dec_vs_dec"}


def test_compat_takes_an_older_flat_release_first_on_the_path(tmp_path):
    """An older release (one flat package: codec.py, data.py, fsutil.py) put first on PYTHONPATH is what the
    benchmark imports, not the working tree's modules of the same names."""
    old = tmp_path / "vqcodec"
    old.mkdir()
    (old / "__init__.py").write_text("")
    (old / "codec.py").write_text("PRIOR_CHOICES = ('auto', 'uniform')\ndef encode_frames(): pass\n"
                                  "def decode_bytes(): pass\n")
    (old / "data.py").write_text("class ClipSpec: pass\nclass VideoClipDataset: pass\n"
                                 "def build_dataset(): pass\ndef list_sources(): pass\n")
    (old / "fsutil.py").write_text("def sha256_file(): pass\n")
    root = Path(__file__).resolve().parents[1]
    probe = ("import benchmarks.compat as c; print(c.encoder_module.__file__); print(c.PRIOR_CHOICES); "
             "print(c.build_dataset.__module__)")
    out = subprocess.run([sys.executable, "-P", "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": f"{tmp_path}:{root}"}, timeout=60)
    assert out.returncode == 0, out.stderr
    module, priors, data = out.stdout.split("\n")[:3]
    assert Path(module) == old / "codec.py"
    assert priors == "('auto', 'uniform')" and data == "vqcodec.data"
    # and today's layout, as the working tree is
    from benchmarks import compat
    assert compat.encode_frames is encode_frames and compat.decode_bytes is decode_bytes
