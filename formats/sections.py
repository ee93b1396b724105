"""Sections of a version-4 .vqv file (SPEC.md, "Sections"): data that is not video, such as the source's
audio track, stored between the last GOP chunk and the index.

The header's key 17 lists them as ``[kind, size]`` pairs in file order; each section is its body
followed by the CRC32 of the body. A reader skips kinds it does not know (a later minor version may add
some), after checking that they fit in the file.
"""

from __future__ import annotations

from .errors import CrcError, VqvFormatError
from .wire import crc32, int_pair, pack_u32, unpack_u32

#: kind of the section that holds an audio track (formats/audio.py)
SECTION_AUDIO = 0
#: section kinds this reader knows, by name (for messages and reports)
SECTION_NAMES = {SECTION_AUDIO: "audio"}
MAX_SECTIONS = 64
MIN_SECTION_BYTES = 4  # an empty body and its CRC32
MAX_SECTION_BYTES = (256 << 20) + 4  # 256 MiB of body and its CRC32
MAX_SECTION_KIND = (1 << 32) - 1



def check_sections(sections: object) -> tuple[tuple[int, int], ...]:
    """``sections`` (the header's key 17, or what a writer was given) as a tuple of ``(kind, size)``;
    raises ValueError when a pair, a kind or a size is out of range."""
    if not isinstance(sections, (list, tuple)) or len(sections) > MAX_SECTIONS:
        raise ValueError(f"sections must be a list of at most {MAX_SECTIONS} [kind, size] pairs")
    out = []
    for s in sections:
        if int_pair(s) is None:
            raise ValueError(f"a section must be a [kind, size] pair of ints, got {s!r}")
        kind, size = int_pair(s)
        if not 0 <= kind <= MAX_SECTION_KIND:
            raise ValueError(f"section kind {kind} out of range 0..{MAX_SECTION_KIND}")
        if not MIN_SECTION_BYTES <= size <= MAX_SECTION_BYTES:
            raise ValueError(f"section size {size} out of range {MIN_SECTION_BYTES}..{MAX_SECTION_BYTES}")
        out.append((kind, size))
    return tuple(out)


def section_name(kind: int) -> str:
    return SECTION_NAMES.get(kind, f"kind {kind}")


def frame_section(body: bytes) -> bytes:
    """A section's bytes: ``body`` and its CRC32."""
    if len(body) + 4 > MAX_SECTION_BYTES:
        raise ValueError(f"a section body of {len(body)} bytes exceeds the {MAX_SECTION_BYTES - 4}-byte limit")
    return body + pack_u32(crc32(body))


def section_body(region: bytes, what: str) -> bytes:
    """The body of a section's bytes (exactly its size), after checking its CRC32."""
    if len(region) < MIN_SECTION_BYTES:
        raise VqvFormatError(f"{what}: {len(region)} bytes is too short for a section")
    body = region[:-4]
    if crc32(body) != unpack_u32(region, len(region) - 4):
        raise CrcError(what)
    return body
