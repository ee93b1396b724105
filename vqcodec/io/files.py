"""Atomic file writes: a temporary sibling that replaces the target only when writing succeeded.

Temporaries are named ``.<label>.vqv-tmp-<scope>-<pid>-<random><suffix>`` (see :func:`make_temp`): a
process killed with SIGKILL cannot remove its own, so the next vqv writer in the same folder removes
those whose process is gone (:func:`sweep_stale_temps`). Nothing else is ever removed.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Iterator

_TEMP_TAG = "vqv-tmp"
#: vqv's temporaries: an optional label, the tag, the owner's pid and where it is valid (see
#: :func:`_pid_scope`), mkstemp's random part and an optional suffix
_TEMP_NAME = re.compile(rf"\.(?:.*\.)?{_TEMP_TAG}-(?P<scope>[0-9a-f]{{8}})-(?P<pid>[0-9]+)-[a-z0-9_]+(?:\.[^.]+)*")


def commit_file(tmp: str | Path, path: str | Path, *, overwrite: bool = True) -> None:
    """Move a finished temporary file to ``path``. With ``overwrite=False`` a file that appeared at
    ``path`` meanwhile (after the caller checked) is not replaced: :class:`FileExistsError`, and the
    temporary stays for the caller to remove. The hard link makes check-and-create one step."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} appeared while vqv was writing it; not replaced (use -y to overwrite)") from None
    except OSError:               # a filesystem without hard links: check, then rename
        if os.path.lexists(path):
            raise FileExistsError(f"{path} appeared while vqv was writing it; not replaced (use -y to overwrite)") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def _pid_scope() -> str:
    """A short hash of the machine and PID namespace: a folder may be shared between machines (NFS)
    or containers, and only the pids of this scope can be checked for life."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:       # not Linux
        namespace = ""
    return hashlib.blake2s(f"{socket.gethostname()} {namespace}".encode(), digest_size=4).hexdigest()


def _process_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):   # PermissionError: alive, someone else's
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A process that has ended but not been reaped (its parent was killed too and the container's init
    does not reap orphans) still answers ``kill(pid, 0)``; it will never remove its temporaries."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:        # not Linux, or gone meanwhile
        return False
    return stat[stat.rfind(")") + 2:].startswith("Z")


def sweep_stale_temps(folder: str | Path) -> None:
    """Remove the temporaries of :func:`make_temp` in ``folder`` whose process (of this machine) no
    longer exists, e.g. one killed with SIGKILL mid-write."""
    if os.name != "posix":   # os.kill(pid, 0) probes a process only on POSIX
        return
    scope = _pid_scope()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        m = _TEMP_NAME.fullmatch(entry.name)
        if m is None or m["scope"] != scope or not _process_is_gone(int(m["pid"])):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:    # another sweeper got there first, or not ours to remove
            pass


_hold_depth = 0                        # holding_stops() sections the main thread is in
_held_stop: BaseException | None = None    # the stop that arrived meanwhile


def stops_held() -> bool:
    """Whether the main thread is creating a temporary and handing it over (see :func:`holding_stops`)."""
    return _hold_depth > 0


def hold_stop(stop: BaseException) -> None:
    """What the stop signals' handler (``cli.signals``) does instead of raising ``stop`` while
    :func:`stops_held`: :func:`holding_stops` raises it once the temporary has its owner."""
    global _held_stop
    if _held_stop is None:
        _held_stop = stop


@contextlib.contextmanager
def holding_stops() -> Iterator[None]:
    """Create a temporary and hand it to whoever removes it in here: a stop signal's exception raised
    between the two (after the file exists, before its owner knows it) would leave it behind, so the
    handler holds it (:func:`hold_stop`) and it is raised on the way out. Main thread only (the only one
    a signal's exception reaches)."""
    global _hold_depth, _held_stop
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _hold_depth += 1
    try:
        yield
    except BaseException:
        if _hold_depth == 1:
            _held_stop = None         # another error goes up first; the handler has the signal noted
        raise
    finally:
        _hold_depth -= 1
    if _hold_depth == 0 and _held_stop is not None:
        stop, _held_stop = _held_stop, None
        raise stop


def make_temp(folder: str | Path, label: str = "", *, suffix: str = "", directory: bool = False) -> Path:
    """Create an empty temporary file (or folder) in ``folder`` named as vqv's own, after sweeping the
    stale ones there. ``label`` (e.g. the target's name) says what it is for."""
    sweep_stale_temps(folder)
    prefix = f".{label + '.' if label else ''}{_TEMP_TAG}-{_pid_scope()}-{os.getpid()}-"
    if directory:
        return Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=folder))
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    os.close(fd)
    return Path(name)


def check_output_folder(path: str | Path) -> None:
    """A user's output goes into a folder that exists: a mistyped path must not make new folders
    (as ffmpeg, and ``vqv decode``, refuse it)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"{path}: folder {str(parent)!r} does not exist", str(path))


def refuse_existing(path: str | Path, overwrite: bool, *, empty_folder_ok: bool = False) -> None:
    """Refuse (:class:`FileExistsError`, one line) to write over an existing ``path`` unless ``overwrite``;
    with ``empty_folder_ok`` an empty folder holds nothing to lose (frames can be decoded into it)."""
    path = Path(path)
    if overwrite or not os.path.lexists(path):
        return
    if empty_folder_ok and path.is_dir() and not any(path.iterdir()):
        return
    raise FileExistsError(errno.EEXIST, f"{path} exists (use -y or -f to overwrite it)", str(path))


@contextlib.contextmanager
def atomic_path(path: str | Path, *, overwrite: bool = True, make_parents: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it becomes ``path``, on error it is removed.

    A crash or a failed write never leaves a half-written file where the user's (or a cache's)
    file was, and concurrent writers of the same file each produce a complete one. With
    ``overwrite=False`` an existing ``path`` is never replaced (see :func:`commit_file`).
    ``make_parents=False`` (a user's output): a missing folder is an error, not created.
    """
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        check_output_folder(path)
    tmp = None
    try:
        with holding_stops():
            tmp = make_temp(path.parent, path.name, suffix=".tmp")
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
        commit_file(tmp, path, overwrite=overwrite)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_npz_output(output, overwrite: bool, command: str) -> None:
    """Before any work: an ``.npz`` path whose folder exists and that is free (or ``overwrite``); a
    stream (``-``) is written as it is."""
    if hasattr(output, "write"):
        return
    from vqcodec.errors import OptionError
    output = Path(output)
    if output.suffix != ".npz":
        raise OptionError(f"the output of {command} is an .npz file (or - for standard output): "
                          f"{output} does not end in .npz")
    check_output_folder(output)
    refuse_existing(output, overwrite)


def save_npz(output, arrays: dict, *, overwrite: bool) -> None:
    """``arrays`` as a compressed ``.npz``: to a stream as it is (a zip written without seeking), or
    to a path atomically (an existing file kept without ``overwrite``)."""
    import numpy as np
    if hasattr(output, "write"):
        np.savez_compressed(output, **arrays)
        output.flush()
        return
    with atomic_path(output, overwrite=overwrite, make_parents=False) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
