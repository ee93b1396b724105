"""The exceptions a user can cause with bad input, and how to tell them from bugs.

A user error (bad file, bad option, missing path, full disk) is reported as one line; anything else
is a bug and must surface as one, with its traceback (:func:`is_user_error` decides).

:func:`one_line` (every message on one line, capped, control characters escaped) and :func:`printable`
(a name from the file system with its control characters escaped, for reports) are defined with the container's errors in
:mod:`vqcodec.formats.errors`, which must stay importable without the rest of vqcodec; library code
imports it from here.
"""
from __future__ import annotations

import contextlib
import errno

from vqcodec.formats.errors import one_line, printable

__all__ = ["VqvError", "OptionError", "ModelMismatchError", "ModelDataError", "one_line", "printable", "describe_error",
           "is_user_error", "naming_the_file", "PATH_ERRORS", "DISK_ERRNOS"]


class VqvError(Exception):
    """Base for codec-level errors (model mismatch, bad options, unusable input)."""


class OptionError(VqvError):
    """A value given for an option is invalid (the CLI exits with the usage status, 2)."""


class ModelMismatchError(VqvError):
    """The .vqv file was made with other weights than the ones given for decoding."""


class ModelDataError(VqvError, ValueError):
    """A model's own data is malformed or does not fit its network: a quality ladder, a pixel basis or
    scalar tables (read from a weights file, or built by a tool). Not an entropy-coding failure of a
    file (:class:`~vqcodec.entropy.rans.EntropyError`). A ``ValueError`` as well, as those raised
    before it was introduced were. ``str(e)`` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


#: OS errors about the user's own paths: reported as one line, never as a bug.
PATH_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)
#: Other OS errors that are the user's machine, not vqv: a full disk or quota, a read-only file system,
#: a file name too long for it.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.ENAMETOOLONG})


def describe_error(e: BaseException) -> str:
    """One line for an exception: an OS error's own words (``strerror``), a missing key named as such,
    otherwise its message, else its type's name."""
    text = getattr(e, "strerror", None) or str(e).strip() or type(e).__name__
    if isinstance(e, KeyError):
        text = f"missing key {text}"
    return one_line(text)


def is_user_error(e: BaseException) -> bool:
    """Whether ``e`` means bad input, options or paths (one line for the user) rather than a bug:
    the project's own error classes and the OS errors of :data:`PATH_ERRORS` / :data:`DISK_ERRNOS`.
    A plain ``ValueError``, ``TypeError``, ``OSError`` ... is a bug."""
    if isinstance(e, (VqvError, *PATH_ERRORS)):
        return True
    if isinstance(e, OSError):
        return e.errno in DISK_ERRNOS
    # imported at error time only: the modules that define these are heavy (torch)
    from vqcodec.formats import VqvFormatError  # noqa: PLC0415
    from vqcodec.entropy.rans import EntropyError  # noqa: PLC0415
    return isinstance(e, (VqvFormatError, EntropyError))


@contextlib.contextmanager
def naming_the_file(name: str):
    """In the block, an error about a file's contents (its container, payloads or priors, a model or
    quality it asks for) starts with the file's name, escaped (``name: message``), unless it already
    does. Errors about anything else (options, a weights file, an output, a video) are left as they are."""
    shown = printable(name)
    try:
        yield
    except Exception as e:
        from vqcodec.formats import VqvFormatError  # noqa: PLC0415 - heavy, as in is_user_error
        from vqcodec.entropy.rans import EntropyError  # noqa: PLC0415
        about_the_file = isinstance(e, (VqvFormatError, EntropyError)) or type(e) in (VqvError, ModelMismatchError)
        if about_the_file and not str(e).startswith(f"{shown}:"):
            e.args = (one_line(f"{shown}: {e}"),)
        raise
