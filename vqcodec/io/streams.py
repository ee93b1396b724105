"""Standard input and output as vqv's files (``-`` on the command line), and what a file that is not a
.vqv file looks like.

The library takes a binary stream (a file object with ``read`` or ``write``) wherever it takes a path
of an input or output that can be a pipe: :func:`is_stream` tells the two apart, :func:`display_name`
names either in messages and reports. :func:`read_head` reads a stream's first bytes (for a pipe, as
they arrive) and :class:`PrefixedStream` puts them back in front of the rest. :func:`looks_like`
names a file's kind from its first bytes, for the error that refuses it.
"""
from __future__ import annotations

import io
import os
from typing import BinaryIO

__all__ = ["SNIFF_BYTES", "PrefixedStream", "display_name", "is_stream", "is_terminal", "looks_like", "not_vqv_message",
           "read_head"]

#: Bytes enough to recognise the kinds :func:`looks_like` knows (an MPEG-TS packet and the next sync byte).
SNIFF_BYTES = 192


def is_stream(x) -> bool:
    """A file object (stdin, stdout, a pipe, BytesIO) rather than a path."""
    return not isinstance(x, (str, os.PathLike))


def display_name(x, default: str) -> str:
    """A path as the user wrote it; a stream as its own name when it has a string one ("<stdin>")."""
    if not is_stream(x):
        return str(x)
    name = getattr(x, "name", None)
    return name if isinstance(name, str) and name.startswith("<") else default


def is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):     # no isatty, or closed
        return False


def read_head(stream: BinaryIO, n: int, need: int | None = None) -> bytes:
    """The first bytes of ``stream``: at least ``need`` (default ``n``; fewer only at its end), then as many
    of ``n`` as have already arrived: a pipe whose writer stays open is not waited on past ``need``."""
    need = n if need is None else need
    head = b""
    read = getattr(stream, "read1", None) or stream.read
    while len(head) < need:
        b = read(n - len(head))
        if not b:
            break
        head += bytes(b)
    return head


class PrefixedStream(io.RawIOBase):
    """``head`` then the rest of ``stream``, read as it arrives; closing it leaves ``stream`` open."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        super().__init__()
        self._head = memoryview(bytes(head))
        self._stream = stream
        self._read = getattr(stream, "read1", None) or stream.read

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if len(self._head):
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._read(len(b))
        n = len(data)
        b[:n] = data
        return n


# (first bytes, offset, what the file looks like, whether `vqv encode` reads it)
_SIGNATURES: tuple[tuple[bytes, int, str, bool], ...] = (
    (b"ftypqt", 4, "a QuickTime (.mov) video", True),
    (b"ftyp", 4, "an MP4 video", True),
    (b"\x1a\x45\xdf\xa3", 0, "a Matroska or WebM video", True),
    (b"YUV4MPEG2", 0, "a YUV4MPEG2 (.y4m) video", True),
    (b"FLV", 0, "an FLV video", True),
    (b"OggS", 0, "an Ogg file", True),
    (b"\x00\x00\x01\xba", 0, "an MPEG program stream video", True),
    (b"\x00\x00\x01\xb3", 0, "an MPEG video", True),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", 0, "a Windows Media (ASF) file", True),
    (b"\x89PNG\r\n\x1a\n", 0, "a PNG image", True),
    (b"\x93NUMPY", 0, "a NumPy .npy array", True),
    (b"\xff\xd8\xff", 0, "a JPEG image", False),
    (b"GIF8", 0, "a GIF image", True),
    (b"PK\x03\x04", 0, "a zip archive (an .npz of codes?)", False),
    (b"\x1f\x8b", 0, "a gzip archive", False),
    (b"\x28\xb5\x2f\xfd", 0, "a zstd archive", False),
    (b"ID3", 0, "an MP3 audio file", False),
)


def looks_like(head: bytes) -> tuple[str, bool] | None:
    """What a file starting with ``head`` looks like, and whether ``vqv encode`` reads that kind; None
    when it is not one of the kinds known here."""
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"WAVE"):
        return ("an AVI video", True) if head[8:12] == b"AVI " else ("a WAV audio file", False)
    for magic, offset, what, video in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return what, video
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "an MPEG transport stream video", True
    text = head.decode("utf-8", errors="replace").rstrip("\ufffd")     # a character cut at the end
    if text and "\ufffd" not in text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return "a text file", False
    return None



def not_vqv_message(name: str, head: bytes) -> str:
    """The one line that refuses a file that is not a .vqv file, saying what it looks like."""
    kind = looks_like(head)
    if kind is None:
        return f"{name}: not a .vqv file (it does not start with the bytes 'VQV' of one)"
    what, video = kind
    return f"{name}: not a .vqv file (it looks like {what}{'; encode it with `vqv encode`' if video else ''})"
