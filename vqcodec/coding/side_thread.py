"""The motion decisions' second thread: where a slice is large enough, independent pieces of a decision (its bent
paths, the lookahead's slices) run on it beside the encoder's main thread. Each piece computes the same numbers
whichever thread runs it, so the bytes do not depend on it."""
from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

#: Slices of at least this many blocks use the second thread (at 64x64, 64 blocks, numpy's calls are too short to
#: gain).
SIDE_THREAD_BLOCKS = 256
_side: ThreadPoolExecutor | None = None


def side_pool() -> ThreadPoolExecutor:
    """The second thread, made on first use (only the encoder's main thread decides)."""
    global _side
    if _side is None:
        _side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vqv-decide")
    return _side


class InTurn:
    """Independent tasks that any thread calling :meth:`take` runs, each taking the first not yet taken
    (``itertools.count`` is atomic under the interpreter lock); ``results`` in the tasks' order."""

    def __init__(self, tasks: Sequence[Callable]) -> None:
        self.tasks = list(tasks)
        self.results: list = [None] * len(self.tasks)
        self._next = itertools.count()

    def take(self) -> None:
        for k in iter(self._next.__next__, None):
            if k >= len(self.tasks):
                return
            self.results[k] = self.tasks[k]()


def in_turn(tasks: Sequence[Callable], beside: bool) -> list:
    """The tasks' results in order: run by this thread and, where ``beside``, the second thread, in turn."""
    shared = InTurn(tasks)
    job = side_pool().submit(shared.take) if beside else None
    shared.take()
    if job is not None:
        job.result()
    return shared.results
