"""The decoded-frame cache of training and evaluation.

Every source is decoded ONCE into ``<cache_dir>/<sha256>_<fps>_<short side>_v<version>.npy``
(uint8 ``(T, H, W, 3)``, later opened with ``np.load(mmap_mode="r")``) by the codec's own reader
and resizer, so training sees the frames that ``vqv encode --fps <clip rate>`` codes:
:func:`vqcodec.io.reader.open_video` resamples a video to the clip rate by timestamp (``.npy``
frames are taken to be at that rate already) and :func:`vqcodec.io.reader.resize_frames` scales
each frame so that its short side is the cache's.

Cache files are written to a temporary name and moved into place (``fsutil.atomic_path``), and a
per-file lock (``O_EXCL``) lets several processes (DDP ranks) share the work of building the cache: each
decodes the files nobody else is decoding and then waits for the rest.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from vqcodec.train.data_specs import DataError, VideoSource
from vqcodec.io.files import atomic_path, atomic_write_bytes, sha256_file
from vqcodec.io.reader import VideoError, open_video, resize_frames

__all__ = ["FrameCache", "read_frames", "CACHE_VERSION"]

#: Part of every cache file's name: bump it when what a source caches to changes, so that no
#: stale frames are read. 2: the codec's reader and resizer (1: a reader and resizers of its own).
CACHE_VERSION = 2


def _cache_size(width: int, height: int, short: int) -> tuple[int, int]:
    """(width, height) scaled so that the short side is ``short``, aspect kept."""
    if width >= height:
        return max(short, int(round(width * short / height))), short
    return short, max(short, int(round(height * short / width)))


def read_frames(source: VideoSource, fps: float, short: int) -> np.ndarray:
    """What the cache holds for ``source``: uint8 (T, H, W, 3), at ``fps`` (a ``.npy`` source's
    frames as they are), short side ``short``. Raises :class:`DataError`."""
    try:
        info, frames = open_video(source.path, fps=None if source.kind == "frames" else fps)
        width, height = _cache_size(info.width, info.height, short)
        return np.stack([resize_frames(f[None], width, height)[0] for f in frames])
    except VideoError as e:
        raise DataError(str(e)) from None


def _atomic_save_npy(final: Path, arr: np.ndarray) -> None:
    with atomic_path(final) as tmp, open(tmp, "wb") as f:
        np.save(f, arr, allow_pickle=False)


def _try_lock(lock: Path) -> bool:
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(f"{socket.gethostname()} {os.getpid()}\n")
    return True


def _lock_is_stale(lock: Path, max_age: float = 3600.0) -> bool:
    try:
        owner = lock.read_text().split()
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if len(owner) == 2 and owner[0] == socket.gethostname():
        try:
            os.kill(int(owner[1]), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, ValueError):
            pass
        else:
            return False
    return age > max_age


class FrameCache:
    """Decoded-frame cache in ``cache_dir`` (see the module docstring)."""

    INDEX = "sha_index.json"

    def __init__(self, cache_dir: Path | str) -> None:
        self.dir = Path(cache_dir)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DataError(f"cannot create cache dir {self.dir}: {e}") from e
        self._index: dict[str, str] = self._read_index()
        self._index_dirty = False
        self.decoded = 0  # files decoded by this object (the rest came from the cache)

    def _read_index(self) -> dict[str, str]:
        try:
            return dict(json.loads((self.dir / self.INDEX).read_text()))
        except Exception:  # noqa: BLE001
            return {}

    def _save_index(self) -> None:
        if not self._index_dirty:
            return
        merged = self._read_index()
        merged.update(self._index)
        atomic_write_bytes(self.dir / self.INDEX, json.dumps(merged).encode())
        self._index_dirty = False

    def sha(self, path: Path) -> str:
        """Content SHA-256, memoised by (absolute path, size, mtime)."""
        st = path.stat()
        key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        h = self._index.get(key)
        if h is None:
            h = sha256_file(path)
            self._index[key] = h
            self._index_dirty = True
        return h

    def path_for(self, sha: str, kind: str, fps: float, short: int) -> Path:
        tag = "npy" if kind == "frames" else f"{fps:g}"
        return self.dir / f"{sha}_{tag}_{short}_v{CACHE_VERSION}.npy"

    def _produce(self, src: VideoSource, fps: float, short: int) -> np.ndarray:
        self.decoded += 1
        return read_frames(src, fps, short)

    def _produce_locked(self, final: Path, src: VideoSource, fps: float, short: int) -> bool:
        """Decode ``src`` into ``final`` under its lock file; False if another process holds the lock."""
        lock = final.with_name(final.name + ".lock")
        if not _try_lock(lock):
            return False
        try:
            if not final.exists():
                _atomic_save_npy(final, self._produce(src, fps, short))
        finally:
            lock.unlink(missing_ok=True)
        return True

    def ensure(self, sources: Sequence[VideoSource], fps: float, short: int, *,
               progress: bool = True, poll: float = 0.5) -> list[Path]:
        """Cache file for every source, decoding the missing ones (shared safely between
        processes: lock per file, atomic writes)."""
        finals = []
        for s in sources:
            if not s.path.is_file():
                raise DataError(f"video not found: {s.path}")
            sha = s.sha256 or self.sha(s.path)
            finals.append(self.path_for(sha, s.kind, fps, short))
        self._save_index()
        todo = [j for j, f in enumerate(finals) if not f.exists()]
        if not todo:
            return finals
        it: Iterable[int] = todo
        bar = None
        if progress and len(todo) > 1:
            try:
                from tqdm import tqdm
                bar = tqdm(todo, desc=f"decoding videos -> {self.dir}", unit="video", leave=False)
                it = bar
            except Exception:  # noqa: BLE001
                pass
        deferred = []
        for j in it:
            final = finals[j]
            if final.exists():
                continue
            if not self._produce_locked(final, sources[j], fps, short):
                deferred.append(j)
        if bar is not None:
            bar.close()
        while deferred:  # files another process is decoding: wait, or take over a stale lock
            waiting = []
            for j in deferred:
                final = finals[j]
                if final.exists():
                    continue
                lock = final.with_name(final.name + ".lock")
                if _lock_is_stale(lock):
                    lock.unlink(missing_ok=True)
                    if self._produce_locked(final, sources[j], fps, short):
                        continue
                waiting.append(j)
            deferred = waiting
            if deferred:
                time.sleep(poll)
        return finals
