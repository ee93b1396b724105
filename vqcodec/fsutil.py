"""Atomic file writes: a temporary sibling that replaces the target only when writing succeeded."""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


def commit_file(tmp: str | Path, path: str | Path, *, overwrite: bool = True) -> None:
    """Move a finished temporary file to ``path``. With ``overwrite=False`` a file that appeared at
    ``path`` meanwhile (after the caller checked) is not replaced: :class:`FileExistsError`, and the
    temporary stays for the caller to remove. The hard link makes check-and-create one step."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} appeared while vqv was writing it; not replaced (use -f)") from None
    except OSError:               # a filesystem without hard links: check, then rename
        if os.path.lexists(path):
            raise FileExistsError(f"{path} appeared while vqv was writing it; not replaced (use -f)") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


@contextlib.contextmanager
def atomic_path(path: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it becomes ``path``, on error it is removed.

    A crash or a failed write never leaves a half-written file where the user's (or a cache's)
    file was, and concurrent writers of the same file each produce a complete one. With
    ``overwrite=False`` an existing ``path`` is never replaced (see :func:`commit_file`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
        commit_file(tmp, path, overwrite=overwrite)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
