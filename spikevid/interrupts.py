"""Ctrl-C and SIGTERM that cannot get lost.

Python runs a signal handler between two bytecodes of the main thread, wherever that
is, including inside a finaliser or a weak-reference callback during garbage
collection, where the ``KeyboardInterrupt`` it raises is printed as "Exception
ignored" and dropped: the run would go on as if nothing was pressed.  Within
:class:`handling` every SIGINT and SIGTERM is also *recorded*, and :func:`check`
(called by the runner at phase boundaries and after every feature chunk) raises it
again, so an interruption stops the run at the next safe point at the latest.  A
:class:`Gate` lets signals raise only inside its :meth:`Gate.open` blocks, for code
whose bookkeeping between them must not be cut in two.  Such a
dropped interrupt is not printed either (``sys.unraisablehook``): the run's own
"interrupted" message says what happened, without a traceback that looks like a bug.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager

__all__ = ["handling", "check", "requested", "Gate"]

_REQUESTED = threading.Event()
_DEPTH = 0  # handling blocks entered in the main thread


def requested() -> bool:
    """Whether a SIGINT or SIGTERM arrived within :class:`handling`."""
    return _REQUESTED.is_set()


def check() -> None:
    """Raise ``KeyboardInterrupt`` if an interruption was recorded (a no-op otherwise)."""
    if _REQUESTED.is_set():
        raise KeyboardInterrupt("interrupted (the signal arrived while Python ignored exceptions)")


class handling:
    """Within the block, SIGINT and SIGTERM raise ``KeyboardInterrupt`` and are recorded (main thread only).

    Blocks nest: the outermost one forgets earlier interruptions on entry and on exit, an
    inner one keeps them (an interruption recorded inside it is still the outer one's).
    """

    def __enter__(self):
        self.previous = {}
        self.previous_hook = None
        if threading.current_thread() is threading.main_thread():
            global _DEPTH
            if _DEPTH == 0:
                _REQUESTED.clear()
            _DEPTH += 1
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._signal)
            self.previous_hook = sys.unraisablehook
            sys.unraisablehook = self._unraisable
        return self

    def _signal(self, signum, frame):
        _REQUESTED.set()
        raise KeyboardInterrupt(f"signal {signum}")

    def _unraisable(self, info) -> None:
        """Drop an interrupt Python could not raise (it is recorded); pass anything else on."""
        if isinstance(info.exc_value, KeyboardInterrupt) and _REQUESTED.is_set():
            return
        (self.previous_hook or sys.__unraisablehook__)(info)

    def __exit__(self, *exc):
        if not self.previous:  # not the main thread: nothing was installed
            return False
        global _DEPTH
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        sys.unraisablehook = self.previous_hook
        _DEPTH -= 1
        if _DEPTH == 0:
            _REQUESTED.clear()
        return False


class Gate(handling):
    """Within the block, SIGINT and SIGTERM raise ``KeyboardInterrupt`` only inside :meth:`open` blocks.

    Elsewhere a signal is recorded (:attr:`pending`, and :func:`requested`), said on stderr
    (the first), and raised on entering the next :meth:`open` block.  A second signal waits
    too: a worker process of :class:`~spikevid.executors.ProcessExecutor` gets a terminal's
    Ctrl-C twice (from the terminal, and passed on by its parent), so a second signal is no
    sign that the user insists.  For a loop whose steps are interruptible but whose
    bookkeeping between steps is not (Optuna asking for a trial and recording its result: cut
    there, a trial would stay "running" in the study).  The caller checks :attr:`pending`
    after a step to stop.  Main thread only, and one thread: elsewhere (a Dask worker's
    thread) the block changes nothing and :meth:`open` is a plain block.
    """

    def __init__(self):
        self.pending = False
        self._depth = 0  # open() blocks entered

    def __enter__(self):
        self.pending = False
        return super().__enter__()

    def _signal(self, signum, frame):
        _REQUESTED.set()
        first, self.pending = not self.pending, True
        if self._depth:
            raise KeyboardInterrupt(f"signal {signum}")
        if first:  # os.write, not print: a handler may run while print is writing to the same stream
            os.write(2, b"spikevid: interrupt received; stopping once the current bookkeeping step is done\n")

    @contextmanager
    def open(self):
        """A step that a signal may interrupt (at once, or on entry where one is pending); blocks nest."""
        self._depth += 1
        try:
            if self.pending:
                raise KeyboardInterrupt("interrupted before this step began")
            yield
        finally:
            self._depth -= 1
