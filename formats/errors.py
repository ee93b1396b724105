"""Exceptions raised when reading a .vqv file. Every message is a single line."""

from __future__ import annotations


#: The longest message vqv prints: past it a message is cut with "..." (a list of 4096 streams would
#: otherwise make one 12 KB line).
MAX_MESSAGE_CHARS = 400


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` on one line (whitespace runs become one space), at most ``limit`` characters."""
    flat = " ".join(str(text).split())
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
