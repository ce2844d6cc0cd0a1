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

import signal
import sys
import threading
from contextlib import contextmanager

__all__ = ["handling", "check", "requested", "Gate"]

_REQUESTED = threading.Event()


def requested() -> bool:
    """Whether a SIGINT or SIGTERM arrived within :class:`handling`."""
    return _REQUESTED.is_set()


def check() -> None:
    """Raise ``KeyboardInterrupt`` if an interruption was recorded (a no-op otherwise)."""
    if _REQUESTED.is_set():
        raise KeyboardInterrupt("interrupted (the signal arrived while Python ignored exceptions)")


class handling:
    """Within the block, SIGINT and SIGTERM raise ``KeyboardInterrupt`` and are recorded (main thread only)."""

    #: Whether entering and leaving the block forgets earlier interruptions (a nested block keeps them).
    _fresh = True

    def __enter__(self):
        if self._fresh:
            _REQUESTED.clear()
        self.previous = {}
        self.previous_hook = None
        if threading.current_thread() is threading.main_thread():
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
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        if self.previous_hook is not None:
            sys.unraisablehook = self.previous_hook
        if self._fresh:
            _REQUESTED.clear()
        return False


class Gate(handling):
    """Within the block, SIGINT and SIGTERM raise ``KeyboardInterrupt`` only inside :meth:`open` blocks.

    Elsewhere a signal is recorded (:attr:`pending`, and :func:`requested`) and raised on
    entering the next :meth:`open` block: for a loop whose steps are interruptible but whose
    bookkeeping between steps is not (Optuna asking for a trial and recording its result: cut
    there, a trial would stay "running" in the study).  The caller checks :attr:`pending` after
    a step to stop.  Main thread only; elsewhere (a Dask worker's thread) the block changes nothing.
    """

    _fresh = False

    def __init__(self):
        self.pending = False
        self._inside = False

    def __enter__(self):
        self.pending = False
        return super().__enter__()

    def _signal(self, signum, frame):
        _REQUESTED.set()
        self.pending = True
        if self._inside:
            raise KeyboardInterrupt(f"signal {signum}")

    @contextmanager
    def open(self):
        """A step that a signal may interrupt (at once, or on entry where one is pending)."""
        self._inside = True
        try:
            if self.pending:
                raise KeyboardInterrupt("interrupted before this step began")
            yield
        finally:
            self._inside = False
