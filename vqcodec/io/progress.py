"""Progress of an encode or a decode, counted in frames coded (or decoded), not frames read.

Two outputs, each optional: a bar on standard error, drawn only when standard error is a terminal
(never into a log or a pipe), with the ETA from the average rate since the start (stable, where a
moving average jumps with every round of GOPs); and key=value lines appended to a file, a block
every :data:`LOG_PERIOD` seconds (from a thread of its own, so a block comes while the input is
awaited or a round of GOPs is coded) and one at the end, as ffmpeg's ``-progress`` writes them::

    task=encode
    frame=128
    total_frames=300          (N/A when the input does not say)
    fps=21.4                  (frames coded per second of wall time)
    elapsed_s=5.98
    eta_s=8.04                (N/A until the first frames are done, or without a total)
    progress=continue         (the last block: status=ok|failed, then progress=end)

The file is opened for appending (a log, a named pipe or /dev/stderr work; nothing in it is lost).
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from vqcodec.io.streams import is_terminal

__all__ = ["LOG_PERIOD", "Progress"]

#: Seconds between two blocks of the key=value progress file (ffmpeg's -stats_period is 0.5 s); 0: a
#: block at every update instead (tests).
LOG_PERIOD = 0.5


class Progress:
    """Counts frames done; see the module docstring. Use as a context manager, then :meth:`start`
    once the total is known (or not), :meth:`update` per frame or GOP done."""

    def __init__(self, task: str, *, bar: bool = True, log: str | Path | None = None,
                 stream: TextIO | None = None) -> None:
        self.task = task
        self.total: int | None = None
        self.frames = 0
        self._t0 = time.monotonic()
        self._stream = stream if stream is not None else sys.stderr
        self._want_bar = bar and is_terminal(self._stream)
        self._bar = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        # opened first: a progress file that cannot be written fails before any work is done
        self._log = open(log, "a", encoding="utf-8", buffering=1) if log is not None else None  # noqa: SIM115

    def start(self, total: int | None) -> None:
        self.total = total if total and total > 0 else None
        self._t0 = time.monotonic()
        if self._want_bar:
            from tqdm import tqdm
            self._bar = tqdm(total=self.total, desc=self.task, unit="frame", leave=False, dynamic_ncols=True,
                             smoothing=0, mininterval=0.5, file=self._stream)
        if self._log is not None:
            self._write_log("continue")
            if LOG_PERIOD > 0:
                self._ticker = threading.Thread(target=self._tick, name="vqv-progress", daemon=True)
                self._ticker.start()

    def update(self, n: int = 1) -> None:
        with self._lock:
            self.frames += n
            if self.total is not None and self.frames > self.total:    # the input's count was an estimate
                self.total = None
                if self._bar is not None:
                    self._bar.total = None
        if self._bar is not None:
            self._bar.update(n)
        if LOG_PERIOD <= 0:
            self._write_log("continue")

    def note(self, text: str) -> None:
        """What is happening now (e.g. writing the file after the last frame), beside the bar."""
        if self._bar is not None:
            self._bar.set_postfix_str(text)

    def close(self, ok: bool = True) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        if self._log is not None:
            self._write_log("end", status="ok" if ok else "failed")
            with self._lock:
                if self._log is not None:
                    self._log.close()
                    self._log = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)

    def _tick(self) -> None:
        while not self._stop.wait(LOG_PERIOD):
            self._write_log("continue")

    def _write_log(self, state: str, *, status: str | None = None) -> None:
        with self._lock:
            if self._log is None:
                return
            elapsed = time.monotonic() - self._t0
            rate = self.frames / elapsed if elapsed > 0 else 0.0
            eta = "N/A"
            if self.total is not None and self.frames and rate > 0:
                eta = f"{max(0, self.total - self.frames) / rate:.2f}"
            lines = [f"task={self.task}", f"frame={self.frames}",
                     f"total_frames={self.total if self.total is not None else 'N/A'}", f"fps={rate:.2f}",
                     f"elapsed_s={elapsed:.2f}", f"eta_s={eta}"]
            if status is not None:
                lines.append(f"status={status}")
            lines.append(f"progress={state}")
            try:
                self._log.write("\n".join(lines) + "\n")
                self._log.flush()
            except (OSError, ValueError):      # a reader of a named pipe went away: progress is not the work
                log, self._log = self._log, None
                try:
                    log.close()
                except OSError:
                    pass
