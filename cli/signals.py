"""Stopping on SIGINT, SIGTERM and SIGHUP: any command ends within about a second, status 128 + signal.

The first signal raises :class:`Stopped` (a :class:`KeyboardInterrupt`, so whatever handles Ctrl-C
handles it) in the main thread, wherever it is: waiting for the network's worker threads, entropy
coding, writing. On its way up every context manager removes what it owns (temporaries, partial
outputs: :func:`vqcodec.io.files.atomic_path`, :class:`vqcodec.io.writer.VideoWriter`), so an existing
output is left as it was; while a temporary is being made and handed to its owner
(:func:`vqcodec.io.files.holding_stops`) the exception waits until the owner has it. Later signals
are only noted: a second Ctrl-C, or a supervisor's SIGTERM right after it, must not cut that
clean-up short. One more than :data:`FORCE_AFTER_SECONDS` later means
the clean-up is stuck: the process ends there and then (a temporary it leaves, named after the
process, is removed by the next vqv writer in its folder).

Once the exception has reached the top the process ends at once with ``os._exit``: the worker threads
may still be inside a GOP (a minute or more at 720p), and neither waiting for them nor tearing the
interpreter down under them (C++ ``std::terminate``, status 134) is acceptable.
"""
from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
import time

from vqcodec.io.files import hold_stop, stops_held

FORCE_AFTER_SECONDS = 3.0
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Stopped(KeyboardInterrupt):
    """Raised in the main thread by the first stop signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class SignalStop:
    """The stop signals' handler while one command runs (see the module doc)."""

    def __init__(self) -> None:
        self.signum: int | None = None       # the first signal received
        self._first_at = 0.0                  # when (time.monotonic)
        self._previous: dict[int, object] = {}
        self._previous_hook = None
        self._raise_again: threading.Thread | None = None     # see _unraisable
        self._in_hook = False
        self._finishing = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return      # only the main thread may set handlers (e.g. a command run by a test in a thread)
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        self._previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable

    def _handle(self, signum: int, frame) -> None:
        if self._raise_again is not None and not self._finishing:     # a Stopped swallowed in a finaliser
            if not self._in_hook:
                self._raise_again = None
                raise Stopped(self.signum)
            return
        if self.signum is not None:     # already stopping: the clean-up under way must run to its end...
            if not self._finishing and time.monotonic() - self._first_at > FORCE_AFTER_SECONDS:
                exit_now(exit_status(self.signum))      # ...unless it is stuck
            return
        self.signum, self._first_at = signum, time.monotonic()
        if not self._finishing:
            if stops_held():            # a temporary is being handed to its owner: raised right after
                hold_stop(Stopped(signum))
                return
            raise Stopped(signum)

    def _unraisable(self, unraisable) -> None:
        """A :class:`Stopped` raised while the main thread ran a finaliser (a weakref callback, a
        ``__del__``) cannot leave it: Python would print "Exception ignored" and go on. Raise it again
        once the main thread is out of it, silently: a helper thread signals the main thread until
        the handler has raised outside this hook."""
        if isinstance(unraisable.exc_value, Stopped) and not self._finishing:
            if self._raise_again is None:
                self._in_hook = True
                try:
                    self._raise_again = threading.Thread(target=self._poke, args=(unraisable.exc_value.signum,),
                                                         name="vqv-stop", daemon=True)
                    self._raise_again.start()
                finally:
                    self._in_hook = False
            return
        (self._previous_hook or sys.__unraisablehook__)(unraisable)

    def _poke(self, signum: int) -> None:
        while self._raise_again is not None and not self._finishing:
            _thread.interrupt_main(signum)
            time.sleep(0.01)

    def uninstall(self) -> None:
        """Put back the handlers (and the unraisable hook) that were there before :meth:`install`."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
        if self._previous_hook is not None:
            sys.unraisablehook, self._previous_hook = self._previous_hook, None

    def finish(self) -> None:
        """After the command: end the process now if a signal stopped it, else put the old handlers back."""
        self._finishing = True      # a signal from here on is noted, not raised
        if self.signum is None:
            self.uninstall()
        if self.signum is not None:     # received during the command, or while its handlers were put back
            if not _reported:           # the stop surfaced as another exception (e.g. a Rust extension's
                print(stop_message(Stopped(self.signum)), file=sys.stderr)     # panic around it): say it
            exit_now(exit_status(self.signum))


def exit_status(signum: int) -> int:
    return 128 + signum


_reported = False       # the stop message was printed (by the command's error handler)


def report_stop(e: KeyboardInterrupt) -> int:
    """Print the stop message once; the exit status."""
    global _reported
    _reported = True
    print(stop_message(e), file=sys.stderr)
    return stopped_status(e)


def stop_message(e: KeyboardInterrupt) -> str:
    """What the command says when stopped: Ctrl-C (or SIGINT) is "interrupted", other signals are named."""
    signum = e.signum if isinstance(e, Stopped) else signal.SIGINT
    if signum == signal.SIGINT:
        return "vqv: interrupted"
    return f"vqv: stopped by signal {signal.Signals(signum).name}"


def stopped_status(e: KeyboardInterrupt) -> int:
    return exit_status(e.signum if isinstance(e, Stopped) else signal.SIGINT)


def exit_now(status: int) -> None:
    """Flush what was printed and end the process without waiting for other threads."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:       # a closed pipe or stream, or one this handler interrupted: nothing more to say
            pass
    os._exit(status)
