"""The exceptions a user can cause with bad input, gathered so the CLI reports them in one line."""
from __future__ import annotations


class VqvError(Exception):
    """Base for codec-level errors (model mismatch, bad options, unusable input)."""


class OptionError(VqvError):
    """A value given for an option is invalid (the CLI exits with the usage status, 2)."""


class ModelMismatchError(VqvError):
    """The .vqv file was made with other weights than the ones given for decoding."""


def describe_error(e: BaseException) -> str:
    """One line for an exception: an OS error's own words (``strerror``), a missing key named as such,
    otherwise its message, else its type's name."""
    from vqcodec.formats.errors import one_line  # noqa: PLC0415
    text = getattr(e, "strerror", None) or str(e).strip() or type(e).__name__
    if isinstance(e, KeyError):
        text = f"missing key {text}"
    return one_line(text)


def expected_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean bad input or options, not a bug: reported as one line, exit 1."""
    from vqcodec.formats import VqvFormatError  # noqa: PLC0415
    from .entropy import EntropyError  # noqa: PLC0415
    from .data import DataError  # noqa: PLC0415
    from .video_io import VideoError  # noqa: PLC0415
    return (VqvError, VqvFormatError, EntropyError, DataError, VideoError, ValueError, FileNotFoundError,
            FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError, OSError)
