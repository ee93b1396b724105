"""One-call helpers: a whole .vqv file written or read at once (the streaming writer and random-access
reader are in container.py)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import BinaryIO

from .chunk import GopChunk
from .container import FORMAT_VERSION, PathOrFile, VqvReader, VqvWriter, _check_writable_version
from .header import Header, validate_header


def _write_to(f: BinaryIO, header: Header, chunks: Iterable[GopChunk], version: tuple[int, int]) -> None:
    with VqvWriter(f, version) as w:
        for c in chunks:
            w.write_chunk(c)
        w.finish(header)


def write_vqv(path_or_file: PathOrFile, header: Header, chunks: Iterable[GopChunk],
              version: tuple[int, int] = FORMAT_VERSION) -> None:
    """Write a whole .vqv file (``version`` as for VqvWriter). A path is removed again if writing fails."""
    validate_header(header)
    version = _check_writable_version(version)
    if isinstance(path_or_file, (str, os.PathLike)):
        path = os.fspath(path_or_file)
        try:
            with open(path, "wb") as f:
                _write_to(f, header, chunks, version)
        except BaseException:
            try:
                os.unlink(path)
            except OSError:
                pass
            raise
    else:
        _write_to(path_or_file, header, chunks, version)


def read_vqv(path_or_file: PathOrFile) -> tuple[Header, list[GopChunk]]:
    """Read and verify a whole .vqv file: its header and every chunk."""
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(os.fspath(path_or_file), "rb") as f:
            r = VqvReader(f)
            return r.header, list(r)
    r = VqvReader(path_or_file)
    return r.header, list(r)
