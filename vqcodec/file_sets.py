"""Sets of files named the ways datasets are: a folder tree, a glob pattern, or a manifest (a CSV with a
``path`` column, or a text list of one path a line). Shared by :class:`vqcodec.dataset.VqvDataset` and
``vqv encode-dataset`` (:mod:`vqcodec.batch`).

Each file comes with its path relative to a *root* (the folder; a glob's fixed leading folders; the
manifest's folder, or the deepest folder holding every listed file when a listed path lies outside it),
which is what a mirrored output tree and a class label (the parent folder's name, UCF101's layout) are
made from.
"""
from __future__ import annotations

import csv
import glob
import os
from dataclasses import dataclass
from pathlib import Path

from vqcodec.errors import VqvError

MANIFEST_SUFFIXES = (".csv", ".txt", ".lst")
GLOB_CHARS = "*?["


@dataclass(frozen=True)
class ListedFile:
    path: Path          # as it can be opened
    rel: Path           # relative to the set's root: mirrors the tree, names the class

    @property
    def label(self) -> str:
        """The parent folder's name (UCF101 layout: class = subfolder); ``""`` at the root."""
        return self.rel.parent.name


def list_files(spec: str | Path, suffixes: tuple[str, ...] | None = None) -> tuple[Path, list[ListedFile]]:
    """``(root, files)`` of a folder (walked, files whose suffix is in ``suffixes``, hidden ones and
    vqv's temporaries skipped), a glob pattern (``**`` recursive) or a manifest, sorted by relative path.
    A spec that names nothing is a one-line :class:`VqvError`."""
    text = str(spec)
    p = Path(text)
    if any(c in text for c in GLOB_CHARS) and not p.exists():
        return _from_glob(text, suffixes)
    if p.is_dir():
        return p, _sorted(_walk(p, suffixes), p)
    if p.is_file() and p.suffix.lower() in MANIFEST_SUFFIXES:
        return _from_manifest(p)
    if p.is_file():
        raise VqvError(f"{p}: a folder, a glob pattern or a manifest (.csv, .txt) was expected")
    raise VqvError(f"{p}: no such folder or manifest")


def _walk(root: Path, suffixes) -> list[Path]:
    out = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out += [Path(folder) / n for n in names if not n.startswith(".") and _wanted(n, suffixes)]
    return out


def _wanted(name: str, suffixes) -> bool:
    return suffixes is None or Path(name).suffix.lower() in suffixes


def _sorted(paths: list[Path], root: Path) -> list[ListedFile]:
    return sorted((ListedFile(q, q.relative_to(root)) for q in paths), key=lambda f: f.rel.as_posix())


def _from_glob(pattern: str, suffixes) -> tuple[Path, list[ListedFile]]:
    parts = Path(pattern).parts
    fixed = [s for s in parts[:next(i for i, s in enumerate(parts) if any(c in s for c in GLOB_CHARS))]]
    root = Path(*fixed) if fixed else Path(".")
    found = [Path(q) for q in glob.glob(pattern, recursive=True) if Path(q).is_file() and _wanted(q, suffixes)]
    if not found:
        raise VqvError(f"{pattern}: the pattern matches no file")
    return root, _sorted(found, root)


def _from_manifest(path: Path) -> tuple[Path, list[ListedFile]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise VqvError(f"{path}: cannot read the manifest ({e})") from None
    if path.suffix.lower() == ".csv":
        rows = list(csv.reader(text.splitlines()))
        head = [c.strip().lower() for c in rows[0]] if rows else []
        col = head.index("path") if "path" in head else 0
        names = [r[col].strip() for r in rows[1 if "path" in head else 0:] if len(r) > col and r[col].strip()]
    else:
        names = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not names:
        raise VqvError(f"{path}: the manifest lists no file")
    base = path.parent
    paths = [Path(n) if Path(n).is_absolute() else base / n for n in names]
    try:
        root = base if all(q.resolve().is_relative_to(base.resolve()) for q in paths) else \
            Path(os.path.commonpath([str(q.resolve().parent) for q in paths]))
    except ValueError:      # different drives
        raise VqvError(f"{path}: the listed files share no common folder") from None
    files = [ListedFile(q, Path(os.path.relpath(q.resolve(), root.resolve()))) for q in paths]
    return root, files
