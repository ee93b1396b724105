"""Exceptions raised when reading a .vqv file. Every message is a single line."""

from __future__ import annotations


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class VqvFormatError(Exception):
    """Base class: the bytes are not a valid .vqv file. ``str(e)`` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(_one_line(message))


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
