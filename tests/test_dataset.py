"""VqvDataset: GOPs of a folder, a glob or a manifest of .vqv files as latents, codes or frames, with
DataLoader workers, and the file sets it shares with `vqv encode-dataset`."""
from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from conftest import pan_video, synthetic_video
from vqcodec.coding.decoder import decode_bytes
from vqcodec.coding.encoder import encode_frames
from vqcodec.dataset import VqvDataset
from vqcodec.errors import VqvError
from vqcodec.file_sets import list_files
from vqcodec.weights import load_model

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def emodel():
    return load_model(GOLDEN / "tiny_enhanced.pt")


@pytest.fixture(scope="module")
def folder(emodel, tmp_path_factory):
    """UCF101 layout: two classes, files at three qualities (VQ, scalar, enhanced), 1 or 2 GOPs each."""
    root = tmp_path_factory.mktemp("ds")
    specs = [("left", "a", pan_video(40, 32, 32, dx=-1), 1), ("left", "b", pan_video(20, 32, 32, dx=-2), 2),
             ("right", "c", pan_video(36, 32, 32, dx=1), 3), ("right", "d", synthetic_video(12, 32, 32), 1)]
    for label, name, clip, q in specs:
        (root / label).mkdir(exist_ok=True)
        (root / label / f"{name}.vqv").write_bytes(encode_frames(clip, 16, model=emodel, quality=q,
                                                                 prior="empirical-static"))
    (root / "right" / "notes.txt").write_text("not a video")
    return root


def test_items_are_gops_with_labels_from_the_folder(folder, emodel):
    ds = VqvDataset(folder, labels="folder", model_path=emodel.path)
    assert len(ds) == 6 and list(ds.gop_counts) == [2, 1, 2, 1] and ds.classes == ["left", "right"]
    assert ds.locate(2) == (1, 0) and ds.locate(-1) == (3, 0)
    item = ds[1]
    assert item["file"] == 0 and item["gop"] == 1 and item["label"] == 0 and item["frame_count"] == 8
    assert item["bottom"].shape == (8, 16, 8, 8) and item["valid"].sum() == 4      # 8 frames, 2 per slice
    assert ds[4]["label"] == 1 and "6 GOPs" in repr(ds)
    with pytest.raises(IndexError):
        ds[6]


def test_latents_of_every_quality_batch_together(folder, emodel):
    ds = VqvDataset(folder, model_path=emodel.path)
    batch = next(iter(DataLoader(ds, batch_size=6)))
    assert batch["bottom"].shape == (6, 8, 16, 8, 8) and batch["top"].shape == (6, 8, 8, 4, 4)
    assert batch["bottom"].dtype == torch.float32 and list(batch["frame_count"]) == [32, 8, 20, 32, 4, 12]


def test_two_workers_yield_the_same_items_as_none(folder, emodel):
    ds = VqvDataset(folder, kind="latents", labels="folder", model_path=emodel.path)
    ds[0]                                            # a loaded model must not travel to the workers
    assert b"MSVQVAE" not in pickle.dumps(ds)
    one = list(DataLoader(ds, batch_size=2, num_workers=0))
    two = list(DataLoader(ds, batch_size=2, num_workers=2))
    assert len(one) == len(two) == 3
    for a, b in zip(one, two):
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), k


def test_frames_are_the_decoded_gop(folder, emodel):
    ds = VqvDataset(folder, kind="frames", model_path=emodel.path)
    want = decode_bytes((folder / "left" / "a.vqv").read_bytes(), model=emodel)
    item = ds[1]
    assert item["frames"].shape == (32, 32, 32, 3) and item["valid"].sum() == 8
    np.testing.assert_array_equal(item["frames"][:8].numpy(), want[32:])


def test_frames_of_a_predicted_motion_gop(emodel, tmp_path):
    shutil.copy(GOLDEN / "golden_motion.vqv", tmp_path / "m.vqv")
    ds = VqvDataset(tmp_path, kind="frames", model_path=emodel.path)
    want = np.load(GOLDEN / "golden_motion_frames.npy")
    np.testing.assert_array_equal(ds[1]["frames"][:8].numpy(), want[32:])


def test_codes_follow_the_quality(folder, emodel):
    ds = VqvDataset(folder, kind="codes", model_path=emodel.path)
    assert ds[0]["bottom"].shape == (1, 16, 8, 8) and ds[0]["bottom"].dtype == torch.int64
    assert ds[2]["bottom"].shape[0] == 0 and ds[2]["bottom_scalar"].shape == (8, 16, 8, 8)


def test_glob_and_manifest_sources(folder, emodel, tmp_path):
    assert len(VqvDataset(f"{folder}/right/*.vqv", model_path=emodel.path)) == 3
    (tmp_path / "list.csv").write_text(f"path,label\n{folder}/left/b.vqv,x\n{folder}/right/c.vqv,y\n")
    ds = VqvDataset(tmp_path / "list.csv", labels="folder", model_path=emodel.path)
    assert len(ds) == 3 and ds.classes == ["left", "right"]
    (folder / "list.txt").write_text("# clips\nleft/a.vqv\n\nright/d.vqv\n")
    root, files = list_files(folder / "list.txt")
    assert root == folder and [f.rel.as_posix() for f in files] == ["left/a.vqv", "right/d.vqv"]
    (folder / "list.txt").unlink()


def test_bad_sources_are_one_line_errors(folder, tmp_path):
    for spec, msg in ((tmp_path / "missing", "no such folder"), (f"{tmp_path}/*.vqv", "matches no file")):
        with pytest.raises(VqvError, match=msg):
            VqvDataset(spec)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "bad.vqv").write_bytes(b"not a vqv file at all")
    with pytest.raises(VqvError, match="bad.vqv"):
        VqvDataset(tmp_path / "x")
    with pytest.raises(ValueError, match="kind"):
        VqvDataset(folder, kind="pixels")
