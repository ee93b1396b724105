"""Exceptions raised when reading a .vqv file. Every message is a single line."""

from __future__ import annotations

import re

#: The longest message vqv prints: past it a message is cut with "..." (a list of 4096 streams would
#: otherwise make one 12 KB line).
MAX_MESSAGE_CHARS = 400


# C0 and C1 control characters, DEL, and the lone surrogates a file name that is not UTF-8 decodes to
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match) -> str:
    c = m.group()
    return _ESCAPES.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def printable(text: object) -> str:
    """``text`` with every control character escaped as in a Python literal (``\\x1b``, ``\\n``), so that
    a name from the file system (or from a file) printed in a message or report cannot move the
    cursor, recolour the terminal or start a new line; a name that is not UTF-8 prints too."""
    return _UNPRINTABLE.sub(_escape, str(text))


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` on one line (whitespace runs become one space, other control characters are escaped:
    :func:`printable`), at most ``limit`` characters."""
    flat = printable(" ".join(str(text).split()))
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


class VqvFormatError(Exception):
    """Base class: the bytes are not a valid .vqv file. ``str(e)`` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class NotVqvError(VqvFormatError):
    """The file does not start with the .vqv magic bytes."""


class TruncatedError(VqvFormatError):
    """The file ends before the structure it announces is complete."""


class CrcError(VqvFormatError):
    """A CRC32 check failed; ``where`` names the part ("header", "index", "GOP 3")."""

    def __init__(self, where: str, detail: str = "") -> None:
        self.where = where
        msg = f"CRC mismatch in {where}: the file is corrupted"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class UnsupportedVersionError(VqvFormatError):
    """The file's major format version is not one this reader knows."""
