"""The .vqv file: preamble + header + GOP chunks + sections (4.x to 8.x) + index + tail (the last two: index.py).
Streaming writer, random-access reader; the versions: versions.py."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from typing import BinaryIO, Union

from .chunk import (ChunkFields, GopChunk, decode_chunk, encode_chunk, parse_chunk_fields, scan_chunk,
                    validate_chunk)
from .errors import CrcError, NotVqvError, TruncatedError, UnsupportedVersionError, VqvFormatError
from .header import Header, decode_header, encode_header, validate_header
from .index import TAIL_BYTES, decode_index, encode_index, index_entry
from .sections import check_sections, frame_section, section_body, section_name
from .versions import SUPPORTED_MAJORS, FORMAT_VERSION, check_header_for_version, check_writable_version, known_majors_text
from .versions import (MOTION_VERSION as MOTION_VERSION, RESIDUAL_VERSION as RESIDUAL_VERSION,  # re-exported: the
                       SECTIONS_VERSION as SECTIONS_VERSION, WRITABLE_VERSIONS as WRITABLE_VERSIONS,  # names of before
                       version_for as version_for)
from .wire import (MAX_CHUNK_FRAMING_BYTES, MAX_HEADER_BYTES, MAX_INDEX_BYTES, MAX_VARINT_BYTES, Cursor, ShortBuffer,
                   crc32, encode_varint, pack_u32, unpack_u32, varint_len)

MAGIC = b"VQV"
PREAMBLE_BYTES = len(MAGIC) + 2
SPOOL_MEMORY_BYTES = 8 << 20  # bytes kept in RAM before a spool spills to a temp file (writer, piped reader)
MAX_SPOOL_BYTES = 1 << 30  # the longest .vqv stream a reader spools from a pipe (a file has no limit)

PathOrFile = Union[str, "os.PathLike[str]", BinaryIO]


def _preamble(version: tuple[int, int]) -> bytes:
    return MAGIC + bytes(version)


_check_writable_version = check_writable_version  # the name formats.files imports


# --------------------------------------------------------------------------- writer


class VqvWriter:
    """Streaming writer: ``write_chunk`` each GOP in order, then ``finish(header)``.

    Chunk bytes are buffered in a SpooledTemporaryFile (RAM up to 8 MiB, then disk), because the
    header, which comes first in the file, is only known at the end. ``fileobj`` need not be seekable.
    ``version`` is (2, 0) (the default), (1, 0), or one of (3, 0) to (11, 0); 1.0 files cannot carry
    ``copy_mode`` or ``refresh_interval``. The index's refresh bits (2.x) are ``not chunk.predicted``. A 4.0 to
    7.0 file may carry sections (``add_section``), and says in ``header.motion_layer`` whether its payloads end
    with the motion layer; the writer fills in ``header.sections``. A 5.0 file has a non-empty
    ``header.motion_residual``, a 6.0 or 7.0 file may; a 6.0 file has the rank prior, a 7.0 file may; a 7.0
    file, and only it, has ``header.motion_bends`` (see ``version_for``); a 10.0 file a bfloat16 network_float.
    """

    def __init__(self, fileobj: BinaryIO, version: tuple[int, int] = FORMAT_VERSION) -> None:
        self.version = _check_writable_version(version)
        self._out = fileobj
        self._spool: tempfile.SpooledTemporaryFile | None = tempfile.SpooledTemporaryFile(
            max_size=SPOOL_MEMORY_BYTES
        )
        self._sizes: list[int] = []
        self._frames: list[int] = []
        self._refresh: list[bool] = []
        self._sections: list[tuple[int, bytes]] = []

    def add_section(self, kind: int, body: bytes) -> None:
        """A section to write after the last chunk (version 4.0 or 5.0 only), in the order added."""
        if self.version[0] < 4:
            raise ValueError(f"a version {self.version[0]}.{self.version[1]} file cannot carry sections")
        data = frame_section(bytes(body))
        check_sections([*((k, len(d)) for k, d in self._sections), (kind, len(data))])
        self._sections.append((kind, data))

    def write_chunk(self, chunk: GopChunk) -> None:
        """Append the next GOP; ``chunk.index`` must equal the number of chunks written so far."""
        if self._spool is None:
            raise ValueError("VqvWriter is finished or closed")
        validate_chunk(chunk)
        if chunk.index != len(self._sizes):
            raise ValueError(f"chunk index {chunk.index} written at position {len(self._sizes)}")
        data = encode_chunk(chunk)
        self._spool.write(data)
        self._sizes.append(len(data))
        self._frames.append(chunk.frame_count)
        self._refresh.append(not chunk.predicted)

    def _check_consistency(self, header: Header) -> None:
        validate_header(header)
        n, g = len(self._sizes), header.gop_length
        if n != header.gop_count:
            raise ValueError(
                f"{n} chunks written but frame_count={header.frame_count}, gop_length={g} need {header.gop_count}"
            )
        for i, fc in enumerate(self._frames):
            want = header.gop_frames(i)
            if fc != want:
                raise ValueError(f"GOP {i} has {fc} frames, expected {want}")
        if self._refresh and not self._refresh[0]:
            raise ValueError("GOP 0 cannot be predicted from a previous GOP")
        if not all(self._refresh) and not header.gop_prediction:
            raise ValueError("a chunk is predicted but header.gop_prediction is False")
        check_header_for_version(self.version, header)

    def finish(self, header: Header) -> None:
        """Write preamble, header, all chunks, index and tail to the file object."""
        if self._spool is None:
            raise ValueError("VqvWriter is finished or closed")
        if self.version[0] >= 4:
            header = replace(header, sections=tuple((k, len(d)) for k, d in self._sections))
        self._check_consistency(header)
        hmap = encode_header(header)
        if len(hmap) > MAX_HEADER_BYTES:
            raise ValueError(f"header is {len(hmap)} bytes, limit {MAX_HEADER_BYTES}")
        head = _preamble(self.version) + encode_varint(len(hmap)) + hmap
        self._out.write(head + pack_u32(crc32(head)))
        self._spool.seek(0)
        shutil.copyfileobj(self._spool, self._out, 1 << 20)
        for _, data in self._sections:
            self._out.write(data)
        self._out.write(encode_index(self.version[0], self._sizes, self._refresh))
        self.close()

    def close(self) -> None:
        """Discard buffered chunks (called by ``finish``)."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        self._sections = []

    def __enter__(self) -> "VqvWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- reader


class _Source:
    """Bounded positional reads. A non-seekable stream is copied once into a spool (RAM, then disk)."""

    def __init__(self, fileobj: BinaryIO) -> None:
        self._f: BinaryIO = fileobj
        self._base = 0
        try:
            seekable = bool(fileobj.seekable())
        except (AttributeError, OSError, ValueError):
            seekable = False
        if seekable:
            try:
                self._base = fileobj.tell()
                self.size = fileobj.seek(0, io.SEEK_END) - self._base
                return
            except (OSError, ValueError):
                pass
        # a stream: its first bytes must be the magic before anything more is read (a pipe of
        # something else is refused at once, not read to its end), then it is spooled (RAM up to
        # SPOOL_MEMORY_BYTES, then a temporary file) so that memory does not grow with its length
        head = b""
        while len(head) < len(MAGIC):
            b = fileobj.read(len(MAGIC) - len(head))
            if not b:
                break
            head += bytes(b)
        if head != MAGIC[: len(head)]:
            raise NotVqvError(f"not a .vqv file (starts with bytes {head.hex()}, expected {MAGIC.hex()})")
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
        spool.write(head)
        total = len(head)
        while b := fileobj.read(1 << 20):
            total += len(b)
            if total > MAX_SPOOL_BYTES:       # a stream that never ends must not fill the disk
                spool.close()
                raise VqvFormatError(f"a .vqv stream longer than {MAX_SPOOL_BYTES} bytes is not read from a pipe "
                                     "(give the file itself)")
            spool.write(b)
        self._f = spool
        self._base = 0
        self.size = spool.tell()

    def read_upto(self, offset: int, n: int) -> bytes:
        n = max(0, min(n, self.size - offset))
        self._f.seek(self._base + offset)
        out = bytes(self._f.read(n))         # one read, one copy: this may be a 64 MiB index
        while len(out) < n:
            b = self._f.read(n - len(out))
            if not b:
                break
            out += b
        return out

    def read_at(self, offset: int, n: int, what: str) -> bytes:
        if offset + n > self.size:
            raise TruncatedError(
                f"file ends inside the {what}: it needs bytes {offset}..{offset + n} but the file has {self.size}"
            )
        out = self.read_upto(offset, n)
        if len(out) != n:
            raise TruncatedError(f"file ends inside the {what} (short read at byte {offset + len(out)})")
        return out


class VqvReader:
    """Random-access reader. The constructor reads and verifies preamble, header and index.

    The .vqv data runs from the file object's current position to its end. A non-seekable
    stream is checked for the magic bytes, then copied into a spool (RAM up to 8 MiB, then a
    temporary file) first. Reads versions 1.x to 10.x; ``version`` is the file's.
    """

    header: Header
    version: tuple[int, int]

    def __init__(self, fileobj: BinaryIO) -> None:
        self._src = _Source(fileobj)
        self.version = self._read_preamble()
        self.header, self._header_end = self._read_header()
        # start of each chunk, then the end of the last; refresh bit of each chunk (2.x only, else None)
        self._offsets, self._refresh = self._read_index()
        # (kind, offset, size) of each section (4.x), between the last chunk and the index
        self.sections: list[tuple[int, int, int]] = []
        for kind, size in self.header.sections:
            start = self.sections[-1][1] + self.sections[-1][2] if self.sections else self._offsets[-1]
            self.sections.append((kind, start, size))
        self._refresh_v1: dict[int, bool] = {}  # 1.x: is_refresh answers read from chunk framing

    # -- construction steps
    def _read_preamble(self) -> tuple[int, int]:
        head = self._src.read_upto(0, PREAMBLE_BYTES)
        if not head:
            raise TruncatedError("file is empty (expected a .vqv file)")
        if head[: len(MAGIC)] != MAGIC[: len(head)]:
            raise NotVqvError(f"not a .vqv file (starts with bytes {head[:len(MAGIC)].hex()}, expected {MAGIC.hex()})")
        if len(head) < PREAMBLE_BYTES:
            raise TruncatedError(f"file ends inside the preamble (after {len(head)} bytes)")
        major, minor = head[3], head[4]
        if major not in SUPPORTED_MAJORS:
            raise UnsupportedVersionError(
                f"unsupported .vqv version {major}.{minor} (this reader knows {known_majors_text()})"
            )
        return (major, minor)

    def _read_header(self) -> tuple[Header, int]:
        src = self._src
        lenbuf = src.read_upto(PREAMBLE_BYTES, MAX_VARINT_BYTES)
        cur = Cursor(lenbuf, "header")
        try:
            hlen = cur.varint("length")
        except ShortBuffer:
            raise TruncatedError("file ends inside the header length") from None
        if hlen > MAX_HEADER_BYTES:
            raise VqvFormatError(f"header length {hlen} exceeds the {MAX_HEADER_BYTES}-byte limit (corrupted file?)")
        start = PREAMBLE_BYTES + cur.pos
        rest = src.read_at(start, hlen + 4, "header")
        covered = src.read_upto(0, start) + rest[:hlen]
        if crc32(covered) != unpack_u32(rest, hlen):
            raise CrcError("header", "preamble or header bytes")
        return decode_header(rest[:hlen], self.version[0]), start + hlen + 4

    def _read_index(self) -> tuple[list[int], list[bool] | None]:
        src, start = self._src, self._header_end
        if src.size - start < TAIL_BYTES:
            self._diagnose("file too short for the index tail")
        tail = src.read_at(src.size - TAIL_BYTES, TAIL_BYTES, "index tail")
        ilen = unpack_u32(tail, 0)
        if ilen > min(MAX_INDEX_BYTES, src.size - TAIL_BYTES - start):
            self._diagnose(f"index length {ilen} out of range")
        istart = src.size - TAIL_BYTES - ilen
        body = src.read_at(istart, ilen, "index")
        if crc32(body, tail[:4]) != unpack_u32(tail, 4):
            self._diagnose("index or tail bytes")
        self._index_start = istart
        sections = sum(size for _, size in self.header.sections)
        if sections > istart - start:
            raise VqvFormatError(f"the header's sections take {sections} bytes but the file has {istart - start} "
                                 "between the header and the index")
        sizes, refresh = decode_index(body, self.header, self.version[0], istart - start - sections)
        offsets, pos = [], start
        for s in sizes:
            offsets.append(pos)
            pos += s
        if pos + sections != istart:
            last = f"GOP {len(sizes) - 1}" if sizes else "the header"
            where = "the sections start" if sections else "the index starts"
            raise VqvFormatError(
                self._misplaced_chunk(offsets, sizes)
                or f"index: {last} ends at byte {pos} but {where} at byte {istart - sections} "
                + ("(bytes inserted after it?)" if pos + sections < istart
                   else "(the index claims more than the file holds)"))
        offsets.append(pos)
        return offsets, refresh

    def _misplaced_chunk(self, offsets: list[int], sizes: list[int]) -> str | None:
        """Name the first GOP that does not check out where the index puts it (bytes inserted or
        removed inside it), or ``None`` if every chunk does (then the index itself is wrong)."""
        for i, (off, size) in enumerate(zip(offsets, sizes)):
            if off + size > self._src.size:
                return f"GOP {i} runs past the end of the file: bytes removed inside it or before it"
            try:
                decode_chunk(self._src.read_upto(off, size), f"GOP {i}")
            except VqvFormatError as e:
                return f"{e} (the sizes in the index do not add up: bytes inserted or removed in GOP {i}?)"
        return None

    def _fields_at(self, pos: int, end: int, what: str) -> ChunkFields:
        """Parse the framing fields of the chunk at ``pos`` (which must end by ``end``)."""
        buf = self._src.read_upto(pos, min(end - pos, 64))
        try:
            return parse_chunk_fields(buf, what)
        except ShortBuffer:
            if len(buf) == end - pos:
                raise
        buf = self._src.read_upto(pos, min(end - pos, MAX_CHUNK_FRAMING_BYTES))
        return parse_chunk_fields(buf, what)

    def _diagnose(self, problem: str) -> None:
        """The index/tail did not verify: walk the chunks to tell truncation from corruption."""
        src, pos, entry_bytes = self._src, self._header_end, 0
        for k in range(self.header.gop_count):
            what = f"GOP {k}"
            try:
                f = self._fields_at(pos, src.size, what)
            except ShortBuffer:
                raise TruncatedError(f"file ends inside GOP {k} (after {src.size} bytes)") from None
            if pos + f.chunk_len > src.size:
                raise TruncatedError(f"file ends inside GOP {k} (after {src.size} bytes)")
            decode_chunk(src.read_at(pos, f.chunk_len, what), what)
            entry_bytes += varint_len(index_entry(self.version[0], f.chunk_len, not f.predicted))
            pos += f.chunk_len
        for i, (kind, size) in enumerate(self.header.sections):
            what = f"section {i} ({section_name(kind)})"
            section_body(src.read_at(pos, size, what), what)
            pos += size
        need = entry_bytes + TAIL_BYTES
        if src.size - pos < need:
            raise TruncatedError(f"file ends inside the index (after {src.size} bytes)")
        raise CrcError("index", problem if src.size - pos == need else f"{problem}, or trailing bytes")

    def _check_prediction(self, i: int, predicted: bool) -> None:
        """Chunk ``i``'s prediction flag against the rules, the header and (2.x) the index's refresh bit."""
        what = f"GOP {i}"
        if predicted and i == 0:
            raise VqvFormatError("GOP 0 claims prediction from a previous GOP, which no file allows")
        if predicted and not self.header.gop_prediction:
            raise VqvFormatError(f"{what} claims prediction from a previous GOP, which the header does not allow")
        if self._refresh is not None and predicted == self._refresh[i]:
            said, marked = ("predicted", "a refresh point") if predicted else ("a refresh point", "predicted")
            raise VqvFormatError(f"{what} says it is {said} but the index marks it as {marked}")

    def _check_range(self, i: int) -> None:
        n = len(self)
        if not 0 <= i < n:
            raise IndexError(f"GOP {i} out of range (file has {n})")

    # -- public API
    def __len__(self) -> int:
        return len(self._offsets) - 1

    @property
    def motion_layer(self) -> bool:
        """Whether the payloads end with the motion layer: always in 3.x, as the header says from 4.x on."""
        return self.version[0] == 3 or (self.version[0] >= 4 and self.header.motion_layer)

    @property
    def motion_residual(self) -> tuple[tuple[int, int], ...]:
        """The header's ``(first, count)`` pairs of the motion layer's residual (key 18): non-empty in a 5.x
        file, possibly in a 6.x to 9.x one, empty in every other version."""
        return self.header.motion_residual if self.version[0] >= 5 else ()

    @property
    def motion_bends(self) -> bool:
        """Whether the motion layer's predicted blocks carry bent paths (header key 19): in every 7.x file."""
        return self.version[0] >= 7 and self.header.motion_bends

    @property
    def conditional_coder(self) -> bytes:
        """The conditional coders' file digest (header key 20) of an 8.x or 9.x file (or a 10.x one), else empty."""
        return self.header.conditional_coder if self.version[0] >= 8 else b""

    @property
    def intra_coder(self) -> bool:
        """Whether each refresh GOP's first slice's blocks may take a conditional coder: 9.x, or 10.x with key 22."""
        return self.header.intra_coder if self.version[0] >= 10 else self.version[0] == 9 and bool(self.header.conditional_coder)

    @property
    def network_float(self) -> str:
        """What the file's networks compute in: header key 21 in a 10.x or 11.x file, else "float32"."""
        return self.header.network_float if self.version[0] >= 10 else "float32"

    @property
    def scalar_context(self) -> bool:
        """The scalar layer's refresh first slices coded in two passes (11.x; 12.x: key 24; SPEC.md, payload item 3)."""
        return self.version[0] == 11 or self.header.scalar_context

    def read_section(self, i: int) -> bytes:
        """The body of section ``i`` (of ``sections``), its CRC32 checked."""
        kind, start, size = self.sections[i]
        what = f"section {i} ({section_name(kind)})"
        return section_body(self._src.read_at(start, size, what), what)

    def read_chunk(self, i: int) -> GopChunk:
        """Read GOP ``i`` via the index and verify its CRC and consistency with header and index."""
        self._check_range(i)
        start, end = self._offsets[i], self._offsets[i + 1]
        return self._checked(i, decode_chunk(self._src.read_at(start, end - start, f"GOP {i}"), f"GOP {i}"))

    def chunk_fields(self, i: int) -> ChunkFields:
        """GOP ``i``'s framing (symbol counts, payload length), verified as :meth:`read_chunk` verifies the
        chunk (its CRC too) but in bounded memory: the payload is read in blocks, never held."""
        self._check_range(i)
        start, end = self._offsets[i], self._offsets[i + 1]
        return self._checked(i, scan_chunk(self._src.read_at, start, end - start, f"GOP {i}"))

    def _checked(self, i: int, c):
        """``c`` (a chunk or its fields) if it is GOP ``i`` as the header and the index describe it."""
        if c.index != i:
            raise VqvFormatError(f"chunk at index position {i} says it is GOP {c.index}")
        want = self.header.gop_frames(i)
        if c.frame_count != want:
            raise VqvFormatError(f"GOP {i} has {c.frame_count} frames, expected {want}")
        self._check_prediction(i, c.predicted)
        return c

    def __iter__(self) -> Iterator[GopChunk]:
        for i in range(len(self)):
            yield self.read_chunk(i)

    def is_refresh(self, i: int) -> bool:
        """Whether GOP ``i`` is a refresh point (decodable without any earlier GOP).

        2.x: from the index, no chunk read. 1.x: from the chunk's framing fields (not its CRC,
        which ``read_chunk`` verifies when the GOP is decoded); the answer is cached.
        """
        self._check_range(i)
        if self._refresh is not None:
            return self._refresh[i]
        if i == 0 or not self.header.gop_prediction:
            return True  # nothing else is allowed (read_chunk rejects a chunk that says otherwise)
        hit = self._refresh_v1.get(i)
        if hit is None:
            what = f"GOP {i}"
            try:
                f = self._fields_at(self._offsets[i], self._offsets[i + 1], what)
            except ShortBuffer as e:
                raise VqvFormatError(f"malformed {e}") from None
            if f.index != i:
                raise VqvFormatError(f"chunk at index position {i} says it is GOP {f.index}")
            self._check_prediction(i, f.predicted)
            hit = self._refresh_v1[i] = not f.predicted
        return hit

    def refresh_point(self, i: int) -> int:
        """The refresh point GOP ``i`` is decoded from: the largest j <= i with ``is_refresh(j)``."""
        self._check_range(i)
        while not self.is_refresh(i):
            i -= 1
        return i

    def refresh_points(self) -> list[int]:
        """Every refresh point, ascending (``[0, ...]``; empty for a file with no GOP)."""
        return [i for i in range(len(self)) if self.is_refresh(i)]

    def overhead(self) -> dict[str, int]:
        """Byte accounting: preamble, header, chunk_framing, index (incl. tail), payload, overhead, total."""
        payload = 0
        for i in range(len(self)):
            try:
                payload += self._fields_at(self._offsets[i], self._offsets[i + 1], f"GOP {i}").payload_len
            except ShortBuffer as e:
                raise VqvFormatError(f"malformed {e}") from None
        total = self._src.size
        chunks = self._offsets[-1] - self._header_end
        d = {
            "preamble": PREAMBLE_BYTES,
            "header": self._header_end - PREAMBLE_BYTES,
            "chunk_framing": chunks - payload,
            "index": total - self._index_start,
            "payload": payload,
            "total": total,
        }
        sections = self._index_start - self._offsets[-1]
        if sections:            # not video: neither payload nor container overhead
            d["sections"] = sections
        d["overhead"] = total - payload - sections
        return d
