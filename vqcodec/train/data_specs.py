"""Data specs -> the videos of a split: ``corpus:DIR``, ``ucf101:DIR`` and ``folder:DIR``.

* ``corpus:DIR``: the open corpus (``vqv corpus fetch``): its manifest says which files and which
  parts of each (fractions of its duration) are training or validation data; stills on disk but
  not in the manifest are training data.
* ``ucf101:DIR``: the official ``UCF-101/<Class>/*.avi`` and ``ucfTrainTestlist`` split lists.
* ``folder:DIR``: every video and ``.npy`` under DIR; a fixed tenth (by hash of the relative
  path) is the validation split.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from vqcodec.errors import VqvError, one_line
from vqcodec.io.reader import VIDEO_EXTS

__all__ = ["DataError", "VideoSource", "list_sources"]

log = logging.getLogger(__name__)


class DataError(VqvError):
    """Bad data spec, missing directory, no videos, unreadable video ... (one-line message)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


@dataclass
class VideoSource:
    path: Path
    name: str                                   # display name (relative path)
    ranges: list[tuple[float, float]] = field(default_factory=lambda: [(0.0, 1.0)])  # parts used, as
                                                # fractions of the cached frames
    kind: str = "video"                         # "video" (resampled to the clip rate) or "frames"
                                                # (.npy: its frames as they are)
    sha256: str | None = None                   # known content hash (skips hashing)


def _norm_split(split: str, kind: str) -> str:
    s = split.lower()
    if s == "train":
        return "train"
    if s in ("val", "valid", "validation", "test", "eval"):
        return "val"
    raise DataError(f"unknown split {split!r} for {kind}: use train, val or test")


def _need_dir(p: Path, what: str) -> Path:
    if not p.is_dir():
        raise DataError(f"{what} directory not found: {p}")
    return p


def _corpus_sources(root: Path, split: str) -> list[VideoSource]:
    from vqcodec.train.corpus import CorpusError, load_manifest

    _need_dir(root, "corpus")
    try:
        man = load_manifest(root)
    except CorpusError as e:
        raise DataError(str(e)) from e
    out = []
    seen = set()
    for f, ranges in man.select(split):
        p = root / f.file
        if not p.is_file():
            raise DataError(f"corpus file missing: {p} (re-run `vqv corpus fetch {root}`)")
        out.append(VideoSource(path=p, name=f.file, ranges=list(ranges), kind=f.kind,
                               sha256=f.sha256))
        seen.add(f.file)
    if split == "train":  # stills present on disk but not in the manifest are training data
        sd = root / "stills"
        if sd.is_dir():
            for p in sorted(sd.glob("*.npy")):
                rel = p.relative_to(root).as_posix()
                if rel not in seen:
                    out.append(VideoSource(path=p, name=rel, kind="frames"))
    return out


def _ucf_sources(root: Path, split: str, ucf_split: int) -> list[VideoSource]:
    _need_dir(root, "UCF101")
    vids = _need_dir(root / "UCF-101", "UCF101 videos (UCF-101)")
    lists = root / "ucfTrainTestlist"
    if not lists.is_dir():
        raise DataError(f"UCF101 split lists directory not found: {lists}")
    if ucf_split not in (1, 2, 3):
        raise DataError(f"ucf_split must be 1, 2 or 3, got {ucf_split}")
    lf = lists / (f"trainlist0{ucf_split}.txt" if split == "train" else f"testlist0{ucf_split}.txt")
    if not lf.is_file():
        raise DataError(f"UCF101 split list not found: {lf}")
    # case-insensitive index (the official lists and folders differ in case for some classes)
    index: dict[str, Path] = {}
    for cdir in vids.iterdir():
        if cdir.is_dir():
            for p in cdir.iterdir():
                index[f"{cdir.name}/{p.name}".lower()] = p
    out, missing = [], []
    for line in lf.read_text().splitlines():
        parts = line.strip().split()
        if not parts:
            continue
        rel = parts[0].replace("\\", "/")
        p = vids / rel
        if not p.is_file():
            p = index.get(rel.lower())
        if p is None:
            missing.append(rel)
            continue
        out.append(VideoSource(path=p, name=rel))
    if not out:
        raise DataError(f"no videos found: none of the {len(missing)} files in {lf.name} exist under {vids}")
    if missing:
        log.warning("UCF101: %d of %d videos listed in %s are missing (e.g. %s); skipped",
                    len(missing), len(missing) + len(out), lf.name, missing[0])
    return out


def _folder_sources(root: Path, split: str) -> list[VideoSource]:
    _need_dir(root, "video folder")
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and (p.suffix.lower() in VIDEO_EXTS or p.suffix.lower() == ".npy"))
    if not files:
        raise DataError(f"no videos found under {root}")
    rels = [p.relative_to(root).as_posix() for p in files]
    order = sorted(range(len(files)), key=lambda i: hashlib.sha1(rels[i].encode()).hexdigest())
    n_val = 0 if len(files) < 2 else max(1, int(round(0.1 * len(files))))
    chosen = order[:n_val] if split == "val" else order[n_val:]
    return [VideoSource(path=files[i], name=rels[i],
                        kind="frames" if files[i].suffix.lower() == ".npy" else "video")
            for i in sorted(chosen, key=lambda i: rels[i])]


def list_sources(spec: str, split: str, *, ucf_split: int = 1) -> list[VideoSource]:
    """Resolve a data spec (``corpus:DIR``, ``ucf101:DIR``, ``folder:DIR``) to its sources."""
    kind, sep, d = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or not d:
        raise DataError(f"bad data spec {spec!r}: expected corpus:DIR, ucf101:DIR or folder:DIR")
    root = Path(d).expanduser()
    split = _norm_split(split, kind)
    if kind == "corpus":
        out = _corpus_sources(root, split)
    elif kind in ("ucf101", "ucf"):
        out = _ucf_sources(root, split, ucf_split)
    elif kind == "folder":
        out = _folder_sources(root, split)
    else:
        raise DataError(f"unknown data spec kind {kind!r}: expected corpus, ucf101 or folder")
    if not out:
        raise DataError(f"no videos for split {split!r} in {spec}")
    return out
