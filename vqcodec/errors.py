"""The exceptions a user can cause with bad input, and how to tell them from bugs.

A user error (bad file, bad option, missing path, full disk) is reported as one line; anything else
is a bug and must surface as one, with its traceback (:func:`is_user_error` decides).
"""
from __future__ import annotations

import errno


class VqvError(Exception):
    """Base for codec-level errors (model mismatch, bad options, unusable input)."""


class OptionError(VqvError):
    """A value given for an option is invalid (the CLI exits with the usage status, 2)."""


class ModelMismatchError(VqvError):
    """The .vqv file was made with other weights than the ones given for decoding."""


#: OS errors about the user's own paths: reported as one line, never as a bug.
PATH_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)
#: Other OS errors that are the user's machine, not vqv: a full disk or quota, a read-only file system,
#: a file name too long for it.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.ENAMETOOLONG})


def describe_error(e: BaseException) -> str:
    """One line for an exception: an OS error's own words (``strerror``), a missing key named as such,
    otherwise its message, else its type's name."""
    from vqcodec.formats.errors import one_line  # noqa: PLC0415
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
