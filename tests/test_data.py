"""Tests for the training data: the frame cache (vqcodec.train.frame_cache), folder / UCF101 specs
(vqcodec.train.data_specs) and clip sampling (vqcodec.train.data)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import vqcodec.train.frame_cache as frame_cache
from vqcodec.train.data import ClipSpec, DataError, VideoClipDataset, VideoSource, build_dataset, list_sources
from vqcodec.train.frame_cache import FrameCache, read_frames
from vqcodec.io.reader import open_video, resize_frames

torch.set_num_threads(1)


def level(i: int) -> int:
    return 20 + 3 * i


def write_video(path: Path, n: int = 40, fps: int = 25, w: int = 96, h: int = 80,
                codec: str = "mpeg4", pts: list[int] | None = None,
                tb: Fraction | None = None, pattern: bool = False) -> Path:
    """Frame i is uniform grey level(i) (or a moving pattern if ``pattern``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.bit_rate = 2_000_000
        if tb is not None:
            s.codec_context.time_base = tb
            s.time_base = tb
        yy, xx = np.mgrid[0:h, 0:w]
        for i in range(n):
            if pattern:
                img = np.stack([(xx * 2 + i * 3) % 256, (yy * 3) % 256,
                                np.full_like(xx, level(i) % 256)], -1).astype(np.uint8)
            else:
                img = np.full((h, w, 3), level(i), np.uint8)
            fr = av.VideoFrame.from_ndarray(img, format="rgb24")
            if pts is not None:
                fr.pts = pts[i]
                fr.time_base = tb
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def grey_levels(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(a.shape[0], -1).mean(1)


def frames_of(levels: np.ndarray) -> np.ndarray:
    return np.round((levels - 20) / 3).astype(int)


def decode_video(path: Path, fps: float, short: int) -> np.ndarray:
    return read_frames(VideoSource(path, path.name), fps, short)


# ------------------------------------------------------------------------------------------
# the frame cache: the codec's reader and resizer
# ------------------------------------------------------------------------------------------

def test_cache_resamples_by_timestamp(tmp_path):
    p = write_video(tmp_path / "a.avi", n=40, fps=25)
    a = decode_video(p, 16, 96)
    assert a.dtype == np.uint8 and a.ndim == 4 and a.shape[-1] == 3
    assert a.shape[0] == 26 and min(a.shape[1:3]) == 96
    assert a.shape[2] == round(96 * 96 / 80)
    got = frames_of(grey_levels(a))
    assert list(got) == [k * 25 // 16 for k in range(26)]


def test_cache_holds_what_the_codec_reads(tmp_path):
    """Training sees the frames coding sees: video_io's reader at the clip rate, its resizer."""
    p = write_video(tmp_path / "p.mp4", n=30, pattern=True, codec="libx264")
    a = decode_video(p, 16, 48)
    _, frames = open_video(p, fps=16)
    want = np.stack([resize_frames(f[None], 58, 48)[0] for f in frames])  # 96x80 -> 58x48
    np.testing.assert_array_equal(a, want)


def test_cache_of_a_variable_frame_rate_video(tmp_path):
    times = [0, 40, 80, 120, 500, 540, 580, 1000, 1040, 1080]  # ms, with two long gaps
    p = write_video(tmp_path / "vfr.mkv", n=len(times), pts=times, tb=Fraction(1, 1000))
    a = decode_video(p, 16, 96)
    # output frame k (at k / 16 s): the latest frame shown by then; the last one lasts one
    # source period (40 ms at the stream's 25 fps): 1120 ms at 16 fps
    want = [max(i for i, t in enumerate(times) if t <= k * 1000 / 16) for k in range(18)]
    assert list(frames_of(grey_levels(a))) == want
    assert want[2] == 3 and want[8] == 4 and want[16] == 7


def test_unreadable_and_missing(tmp_path):
    bad = tmp_path / "vids" / "bad.mp4"
    bad.parent.mkdir()
    bad.write_bytes(b"this is not a video" * 10)
    with pytest.raises(DataError, match="not a video or unreadable"):
        decode_video(bad, 16, 96)
    with pytest.raises(DataError, match="not a video or unreadable"):
        build_dataset(f"folder:{bad.parent}", "train", ClipSpec(frames=4), tmp_path / "c",
                      train=True, progress=False)
    with pytest.raises(DataError, match="not found"):
        list_sources(f"folder:{tmp_path / 'nope'}", "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no videos found"):
        list_sources(f"folder:{tmp_path / 'empty'}", "train")
    with pytest.raises(DataError, match="bad data spec"):
        list_sources("nocolon", "train")
    with pytest.raises(DataError, match="unknown data spec"):
        list_sources(f"imagenet:{tmp_path}", "train")
    with pytest.raises(DataError, match="unknown split"):
        list_sources(f"folder:{tmp_path}", "dev")
    from vqcodec.errors import is_user_error
    assert is_user_error(DataError("x"))
    assert "\n" not in str(DataError("a\nb"))


# ------------------------------------------------------------------------------------------
# folder spec, cache, items
# ------------------------------------------------------------------------------------------

@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "videos"
    write_video(d / "a.avi", n=40, pattern=True)
    write_video(d / "sub" / "b.mp4", n=60, pattern=True, codec="libx264")
    write_video(d / "c.avi", n=30)
    arr = np.random.default_rng(0).integers(0, 256, (20, 72, 100, 3), dtype=np.uint8)
    np.save(d / "sub" / "d.npy", arr)
    return d


def test_folder_split_is_deterministic_partition(folder):
    tr = [s.name for s in list_sources(f"folder:{folder}", "train")]
    va = [s.name for s in list_sources(f"folder:{folder}", "val")]
    assert len(va) == 1 and len(tr) == 3
    assert set(tr) | set(va) == {"a.avi", "sub/b.mp4", "c.avi", "sub/d.npy"}
    assert not set(tr) & set(va)
    assert [s.name for s in list_sources(f"folder:{folder}", "test")] == va
    kinds = {s.name: s.kind for s in list_sources(f"folder:{folder}", "train") +
             list_sources(f"folder:{folder}", "val")}
    assert kinds["sub/d.npy"] == "frames" and kinds["a.avi"] == "video"


def test_train_items_and_cache_reuse(folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    spec = ClipSpec(frames=8, size=32, fps=16)
    srcs = list_sources(f"folder:{folder}", "train") + list_sources(f"folder:{folder}", "val")
    ds = VideoClipDataset(srcs, spec, cache, train=True, samples_per_epoch=12, seed=3,
                          fresh=False, progress=False)
    assert len(ds) == 12 and ds.cache.decoded == 4
    for i in range(len(ds)):
        x = ds[i]
        assert x.dtype == torch.uint8 and tuple(x.shape) == (8, 32, 32, 3)
    # cache: short side 48 (= 1.5 * 32), npy taken as already at the target fps
    shapes = {s.name: shp for s, shp in zip(ds.sources, ds.shapes)}
    assert shapes["sub/d.npy"][:3] == (20, 48, 67)
    assert shapes["a.avi"][0] == 26 and shapes["sub/b.mp4"][0] == 39
    files = sorted(cache.glob("*.npy"))
    assert len(files) == 4 and all(f.name.endswith(f"_v{frame_cache.CACHE_VERSION}.npy") for f in files)
    # deterministic per (seed, epoch, index); set_epoch changes the draw
    assert torch.equal(ds[5], ds[5])
    before = ds[5].clone()
    ds.set_epoch(1)
    assert not torch.equal(ds[5], before)
    # second build: nothing is decoded again
    mtimes = [f.stat().st_mtime_ns for f in files]

    def boom(*a, **k):
        raise AssertionError("decoded again")

    monkeypatch.setattr(frame_cache, "read_frames", boom)
    ds2 = VideoClipDataset(srcs, spec, cache, train=True, samples_per_epoch=12, seed=3,
                           fresh=False, progress=False)
    assert ds2.cache.decoded == 0
    assert torch.equal(ds2[5], before)
    assert [f.stat().st_mtime_ns for f in sorted(cache.glob("*.npy"))] == mtimes
    # fresh=True (default): every access is a new draw, reproducible under torch.manual_seed
    ds3 = VideoClipDataset(srcs, spec, cache, train=True, samples_per_epoch=12, seed=3,
                           progress=False)
    torch.manual_seed(0)
    a = [ds3[5] for _ in range(4)]
    torch.manual_seed(0)
    b = [ds3[5] for _ in range(4)]
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert len({hash(x.numpy().tobytes()) for x in a}) > 1


def test_train_augmentation_varies(folder, tmp_path):
    spec = ClipSpec(frames=8, size=32, fps=16)
    srcs = [s for s in list_sources(f"folder:{folder}", "train")
            + list_sources(f"folder:{folder}", "val") if s.name == "a.avi"]
    ds = VideoClipDataset(srcs, spec, tmp_path / "cache", train=True, samples_per_epoch=40,
                          seed=0, progress=False)
    items = [ds[i] for i in range(40)]
    distinct = {hash(x.numpy().tobytes()) for x in items}
    assert len(distinct) > 30  # random start / crop scale / flip
    # a clip is temporally consecutive: frames within a clip differ (the pattern moves)
    assert all((x[1:].float() - x[:-1].float()).abs().mean() > 0 for x in items[:5])


def test_eval_clips_deterministic_and_padded(tmp_path):
    d = tmp_path / "v"
    write_video(d / "short.avi", n=40)           # 26 frames at 16 fps
    write_video(d / "long.avi", n=78)            # 50 frames at 16 fps
    cache = tmp_path / "cache"
    spec = ClipSpec(frames=32, size=32, fps=16)
    srcs = [VideoSource(d / "short.avi", "short.avi"), VideoSource(d / "long.avi", "long.avi")]
    ds = VideoClipDataset(srcs, spec, cache, train=False, progress=False)
    # short: one clip padded with its last frame; long: one full clip, tail of 18 dropped
    assert len(ds) == 2 and ds.num_clips == 2
    x = ds[0]
    assert tuple(x.shape) == (32, 32, 32, 3) and x.dtype == torch.uint8
    lv = frames_of(grey_levels(x))
    assert list(lv[:26]) == [k * 25 // 16 for k in range(26)]
    assert (x[26:] == x[25]).all()
    assert list(frames_of(grey_levels(ds[1]))) == [k * 25 // 16 for k in range(32)]
    # several non-overlapping clips when frames is smaller
    ds8 = VideoClipDataset(srcs, ClipSpec(frames=8, size=32, fps=16), cache, train=False,
                           progress=False)
    assert [c[1] for c in ds8.clips] == [0, 8, 16, 0, 8, 16, 24, 32, 40]
    ds8b = VideoClipDataset(srcs, ClipSpec(frames=8, size=32, fps=16), cache, train=False,
                            progress=False)
    assert all(torch.equal(ds8[i], ds8b[i]) for i in range(len(ds8)))
    assert ds8.num_frames == 26 + 50


def test_ranges_select_frames(tmp_path):
    p = write_video(tmp_path / "r.avi", n=50)    # 32 frames at 16 fps
    spec = ClipSpec(frames=4, size=16, fps=16)
    tr = VideoClipDataset([VideoSource(p, "r", ranges=[(0.0, 0.75)])], spec, tmp_path / "c",
                          train=False, progress=False)
    va = VideoClipDataset([VideoSource(p, "r", ranges=[(0.75, 1.0)])], spec, tmp_path / "c",
                          train=False, progress=False)
    assert tr.segments == [(0, 0, 24)] and va.segments == [(0, 24, 32)]
    seen_tr = {int(v) for i in range(len(tr)) for v in frames_of(grey_levels(tr[i]))}
    seen_va = {int(v) for i in range(len(va)) for v in frames_of(grey_levels(va[i]))}
    assert not seen_tr & seen_va


def test_stale_lock_is_taken_over(tmp_path):
    p = write_video(tmp_path / "s.avi", n=10)
    cache = FrameCache(tmp_path / "cache")
    final = cache.path_for(cache.sha(p), "video", 16, 24)
    lock = final.with_name(final.name + ".lock")
    import socket
    lock.write_text(f"{socket.gethostname()} 999999999\n")  # a process that does not exist
    out = cache.ensure([VideoSource(p, "s")], 16, 24, progress=False, poll=0.01)
    assert out == [final] and final.exists() and not lock.exists()
    assert np.load(final).shape[0] == 7
    assert not list((tmp_path / "cache").glob("*.tmp"))


# ------------------------------------------------------------------------------------------
# UCF101 spec
# ------------------------------------------------------------------------------------------

def make_ucf(root: Path) -> None:
    for cls in ("ApplyEyeMakeup", "Basketball"):
        for g in (1, 2, 3):
            write_video(root / "UCF-101" / cls / f"v_{cls}_g0{g}_c01.avi", n=20, w=64, h=48)
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 Basketball\n")
    (lists / "trainlist01.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 1\n"
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi 1\n"
        "Basketball/v_Basketball_g01_c01.avi 2\n"
        "BASKETBALL/v_Basketball_g02_c01.avi 2\n")  # case mismatch, as in the real lists
    (lists / "testlist01.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g03_c01.avi\r\n"
        "Basketball/v_Basketball_g03_c01.avi\r\n")


def test_ucf101_loader(tmp_path):
    root = tmp_path / "ucf"
    make_ucf(root)
    tr = list_sources(f"ucf101:{root}", "train", ucf_split=1)
    te = list_sources(f"ucf101:{root}", "test", ucf_split=1)
    assert [s.name for s in te] == [s.name for s in list_sources(f"ucf101:{root}", "val")]
    assert len(tr) == 4 and len(te) == 2
    assert all("g03" in s.path.name for s in te) and not any("g03" in s.path.name for s in tr)
    assert all(s.path.is_file() for s in tr + te)
    spec = ClipSpec(frames=8, size=32, fps=16)
    ds = build_dataset(f"ucf101:{root}", "train", spec, tmp_path / "cache", train=True,
                       samples_per_epoch=6, progress=False)
    assert len(ds) == 6 and tuple(ds[0].shape) == (8, 32, 32, 3) and ds[0].dtype == torch.uint8
    ev = build_dataset(f"ucf101:{root}", "val", spec, tmp_path / "cache", train=False,
                       progress=False)
    assert len(ev) == 2  # 20 frames @25 fps -> 13 @16 fps -> one full 8-frame clip per video
    with pytest.raises(DataError, match="split list not found"):
        list_sources(f"ucf101:{root}", "train", ucf_split=2)
    with pytest.raises(DataError, match="ucf_split"):
        list_sources(f"ucf101:{root}", "train", ucf_split=4)
    with pytest.raises(DataError, match="not found"):
        list_sources(f"ucf101:{tmp_path / 'nothing'}", "train")


def test_loader_batches_are_reproducible(folder, tmp_path):
    """What training iterates: uint8 batches of whole clips, the same for the same seed and epoch,
    with or without worker processes."""
    spec = ClipSpec(frames=8, size=32, fps=16)
    ds = build_dataset(f"folder:{folder}", "train", spec, tmp_path / "cache", train=True,
                       samples_per_epoch=8, seed=5, fresh=False, progress=False)

    def batches(workers: int) -> list[torch.Tensor]:
        return list(DataLoader(ds, batch_size=4, num_workers=workers))

    b0, b1 = batches(0), batches(1)
    assert [tuple(b.shape) for b in b0] == [(4, 8, 32, 32, 3)] * 2
    assert all(b.dtype == torch.uint8 for b in b0)
    assert all(torch.equal(x, y) for x, y in zip(b0, b1))
    assert all(torch.equal(b0[0][i], ds[i]) for i in range(4))
    assert not torch.equal(b0[0][0], b0[0][1])


def test_segment_weighting(tmp_path):
    a = write_video(tmp_path / "long.avi", n=78, pattern=True)  # 50 frames @16 fps: 43 starts
    b = write_video(tmp_path / "short.avi", n=13)                # 9 frames: 2 starts, uniform grey
    srcs = [VideoSource(a, "long"), VideoSource(b, "short")]
    spec = ClipSpec(frames=8, size=16, fps=16)

    def share_short(weighting):
        ds = VideoClipDataset(srcs, spec, tmp_path / "c", train=True, samples_per_epoch=300,
                              fresh=False, weighting=weighting, progress=False)
        return np.mean([ds[i][0].float().std().item() < 3 for i in range(300)])

    assert share_short("clips") < 0.12        # 2 / 45 expected
    assert 0.35 < share_short("video") < 0.65
    assert share_short("clips") < share_short("sqrt") < share_short("video")
    with pytest.raises(DataError, match="weighting"):
        VideoClipDataset(srcs, spec, tmp_path / "c", train=True, weighting="nope", progress=False)
