"""Executors: one interface for running independent tasks here, in local processes, or on a Dask cluster.

Feature extraction (chunks of clips) and studies (cells) are lists of independent
tasks.  An executor runs ``fn(shared, item)`` for every item and yields the results as
they finish, so the caller can save each one (a resume point) and move a progress bar::

    with make_executor("processes", workers=4) as ex:
        for index, value in ex.map(simulate_chunk, chunks, shared=model):
            save(index, value)

``serial``     in this process, in order (the reference every other executor equals);
``processes``  local worker processes (``concurrent.futures`` with ``spawn``: a clean
               interpreter each, no inherited Brian2 state);
``dask``       Dask ``distributed`` (:class:`spikevid.dask_executor.DaskExecutor`): a cluster
               at ``scheduler`` (``tcp://host:8786``), or a ``LocalCluster`` of ``workers``
               single-threaded processes without one.

Results do not depend on the executor: every task is a pure function of its
arguments (seeds travel inside them).  A worker knows its number through
:func:`worker_slot` (Brian2 standalone build folders are kept per worker).  Ctrl-C
stops the workers (processes: each gets SIGINT and kills its compiled simulation;
Dask: the futures are cancelled and a local cluster is closed).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass

__all__ = [
    "EXECUTORS",
    "Executor",
    "SerialExecutor",
    "ProcessExecutor",
    "TaskFailed",
    "make_executor",
    "worker_count",
    "worker_slot",
]

#: Names accepted by :func:`make_executor` (and ``--executor``).
EXECUTORS = ("serial", "processes", "dask")

# The number of the worker this process is (set by each executor's worker start-up), and in a
# ProcessExecutor worker whether a task is running ("busy", for its SIGINT handler).
_SLOT: dict = {"slot": 0}


def worker_slot() -> int | str:
    """The number (Dask: the name) of the worker running the current task; 0 in the main process."""
    if "distributed" in sys.modules:  # in a Dask worker, its name
        try:
            return sys.modules["distributed"].get_worker().name
        except ValueError:  # not in a Dask worker
            pass
    return _SLOT["slot"]


@dataclass(frozen=True)
class TaskFailed:
    """A task's exception, yielded in place of its value by ``map(..., errors="yield")``."""

    error: BaseException

    def __str__(self) -> str:
        return f"{type(self.error).__name__}: {self.error}"


class Executor:
    """Runs ``fn(shared, item)`` for many items; subclasses decide where.

    Attributes
    ----------
    kind : str
        One of :data:`EXECUTORS`.
    workers : int
        Tasks that run at once.
    local : bool
        Every worker runs on this machine and reads its files (a stimulus cache, say).
    """

    kind = "serial"
    workers = 1
    local = True

    def map(self, fn: Callable, items: Iterable, *, shared=None, errors: str = "raise") -> Iterator[tuple[int, object]]:
        """Yield ``(index, fn(shared, items[index]))`` as tasks finish (serial: in order).

        Parameters
        ----------
        fn : callable
            A module-level function (it is pickled by reference for other processes).
        items : iterable
            One task argument each.
        shared : object, optional
            Passed to every task (sent to each worker once where the executor can).
        errors : {"raise", "yield"}
            ``raise``: the first failure cancels the remaining tasks and is raised;
            ``yield``: a failure is yielded as :class:`TaskFailed` and the others go on.
        """
        raise NotImplementedError

    @staticmethod
    def _check_errors(errors: str) -> None:
        if errors not in ("raise", "yield"):
            raise ValueError(f"errors: must be 'raise' or 'yield', got {errors!r}")

    def close(self) -> None:
        """Release the workers (waiting for running tasks)."""

    def interrupt(self) -> None:
        """Stop the workers now, running tasks and all (on Ctrl-C)."""
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.interrupt()
        else:
            self.close()
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workers={self.workers})"


class SerialExecutor(Executor):
    """Every task in this process, in order."""

    kind = "serial"

    def map(self, fn, items, *, shared=None, errors="raise"):
        self._check_errors(errors)
        for index, item in enumerate(items):
            try:
                value = fn(shared, item)
            except Exception as exc:
                if errors == "raise":
                    raise
                value = TaskFailed(exc)
            yield index, value


def _start_worker(slots) -> None:
    """Worker start-up: take a worker number; figures without a display; Ctrl-C stops tasks only."""
    _SLOT["slot"] = slots.get()
    os.environ.setdefault("MPLBACKEND", "Agg")
    signal.signal(signal.SIGINT, _worker_interrupt)


def _worker_interrupt(signum, frame) -> None:
    """A worker's SIGINT: stops the running task; an idle worker has none and waits to be shut down.

    (Raised in an idle worker, the ``KeyboardInterrupt`` would end it with a traceback on the
    terminal: a terminal's Ctrl-C reaches every worker, the parent then stops the pool.)
    """
    if _SLOT.get("busy"):
        raise KeyboardInterrupt(f"signal {signum}")


def _run_task(fn: Callable, shared, item):
    """A worker's task: ``fn(shared, item)``, marked as running for :func:`_worker_interrupt`."""
    _SLOT["busy"] = True
    try:
        return fn(shared, item)
    finally:
        _SLOT["busy"] = False


class ProcessExecutor(Executor):
    """Tasks in ``workers`` local processes (started with ``spawn``), kept for the executor's lifetime.

    Parameters
    ----------
    workers : int, optional
        Default: the CPU cores.
    """

    kind = "processes"

    def __init__(self, workers: int | None = None):
        self.workers = worker_count(workers)
        self._pool = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = mp.get_context("spawn")
            slots = ctx.Queue()
            for k in range(self.workers):
                slots.put(k)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=_start_worker, initargs=(slots,)
            )
        return self._pool

    def map(self, fn, items, *, shared=None, errors="raise"):
        self._check_errors(errors)
        pool = self._get_pool()
        futures = {pool.submit(_run_task, fn, shared, item): index for index, item in enumerate(items)}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=futures.get):
                    try:
                        value = fut.result()
                    except Exception as exc:
                        if errors == "raise":
                            raise
                        value = TaskFailed(exc)
                    yield futures[fut], value
        except KeyboardInterrupt:
            self.interrupt()
            raise
        finally:  # the caller stopped early (an error, a break): tasks not yet started are dropped
            for fut in pending:
                fut.cancel()

    def interrupt(self) -> None:
        """Pass Ctrl-C on to the workers (each kills its compiled simulation) and stop the pool."""
        if self._pool is None:
            return
        for proc in list((getattr(self._pool, "_processes", None) or {}).values()):  # no public API lists them
            try:
                os.kill(proc.pid, signal.SIGINT)
            except (ProcessLookupError, AttributeError):
                pass
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def worker_count(value=None, what: str = "workers") -> int:
    """``value`` as a number of workers (None: the CPU cores); ``ValueError`` naming ``what`` unless positive."""
    if value is None:
        return os.cpu_count() or 1
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise ValueError(f"{what}: must be a positive integer, got {value!r}")
    return n


def make_executor(kind: str = "serial", *, workers: int | None = None, scheduler: str | None = None) -> Executor:
    """The executor named ``kind`` (one of :data:`EXECUTORS`).

    ``scheduler`` implies ``dask``; ``workers`` sizes ``processes`` and a local Dask
    cluster (default: the CPU cores).
    """
    if scheduler and kind not in ("dask", None):
        raise ValueError(f"--scheduler {scheduler}: a scheduler address needs --executor dask, not {kind!r}")
    if kind == "serial":
        return SerialExecutor()
    if kind == "processes":
        return ProcessExecutor(workers)
    if kind == "dask":
        from .dask_executor import DaskExecutor  # noqa: PLC0415 -- optional dependency, only when asked for

        return DaskExecutor(scheduler, workers)
    raise ValueError(f"executor: unknown {kind!r}; choose one of {', '.join(EXECUTORS)}")
