"""The .vqv container: header, GOP chunks and index to bytes and back (no torch).

Byte layout: SPEC.md beside this file. Typical use::

    write_vqv("clip.vqv", header, chunks)
    header, chunks = read_vqv("clip.vqv")
    with open("clip.vqv", "rb") as f:
        r = VqvReader(f); gop3 = r.read_chunk(3); start = r.refresh_point(3)

Writers write version 2.0, 3.0 when payloads carry the motion layer, 4.0 when the file carries sections
(the source's audio track: ``formats.audio``), 5.0 when the motion layer carries a residual (header key 18,
``Header.motion_residual``), 6.0 when the payloads are coded with the rank prior (``Header.prior``), 7.0
when the motion layer's predicted blocks carry bent paths (header key 19, ``Header.motion_bends``), or 8.0
when they may take a conditional coder (header key 20, ``Header.conditional_coder``), or 9.0 when the
blocks of each refresh GOP's first slice may take one too, or 10.0 (any of these) when the networks compute
in bfloat16 (header key 21, ``Header.network_float``), see ``version_for`` (``formats.versions``);
``VqvWriter(f, version=(1, 0))`` still writes 1.0. Readers read 1.x to 10.x.
"""

from .chunk import GopChunk, check_payload_present
from .container import MAGIC, VqvReader, VqvWriter
from .files import read_vqv, write_vqv
from .errors import CrcError, NotVqvError, TruncatedError, UnsupportedVersionError, VqvFormatError
from .header import PRIOR_KINDS, Header, check_motion_residual
from .versions import (BENDS_VERSION, BFLOAT16_VERSION, CODER_VERSION, FORMAT_VERSION, INTRA_CODER_VERSION, MOTION_VERSION, RANK_VERSION, RESIDUAL_VERSION, SECTIONS_VERSION, SUPPORTED_MAJORS,
                       WRITABLE_VERSIONS, version_for)

__all__ = [
    "BENDS_VERSION",
    "BFLOAT16_VERSION",
    "CODER_VERSION",
    "INTRA_CODER_VERSION",
    "FORMAT_VERSION",
    "MOTION_VERSION",
    "SECTIONS_VERSION",
    "RANK_VERSION",
    "RESIDUAL_VERSION",
    "MAGIC",
    "PRIOR_KINDS",
    "SUPPORTED_MAJORS",
    "WRITABLE_VERSIONS",
    "CrcError",
    "GopChunk",
    "Header",
    "NotVqvError",
    "TruncatedError",
    "UnsupportedVersionError",
    "VqvFormatError",
    "VqvReader",
    "VqvWriter",
    "check_motion_residual",
    "check_payload_present",
    "read_vqv",
    "version_for",
    "write_vqv",
]
