"""The .vqv container: header, GOP chunks and index to bytes and back (no torch).

Byte layout: SPEC.md beside this file. Typical use::

    write_vqv("clip.vqv", header, chunks)
    header, chunks = read_vqv("clip.vqv")
    with open("clip.vqv", "rb") as f:
        r = VqvReader(f); gop3 = r.read_chunk(3)
"""

from .chunk import GopChunk
from .container import FORMAT_VERSION, MAGIC, VqvReader, VqvWriter, read_vqv, write_vqv
from .errors import CrcError, NotVqvError, TruncatedError, UnsupportedVersionError, VqvFormatError
from .header import PRIOR_KINDS, Header

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "PRIOR_KINDS",
    "CrcError",
    "GopChunk",
    "Header",
    "NotVqvError",
    "TruncatedError",
    "UnsupportedVersionError",
    "VqvFormatError",
    "VqvReader",
    "VqvWriter",
    "read_vqv",
    "write_vqv",
]
