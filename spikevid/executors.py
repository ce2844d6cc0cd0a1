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
``dask``       Dask ``distributed``: a cluster at ``scheduler`` (``tcp://host:8786``), or a
               ``LocalCluster`` of ``workers`` single-threaded processes without one.

Results do not depend on the executor: every task is a pure function of its
arguments (seeds travel inside them).  A worker knows its number through
:func:`worker_slot` (Brian2 standalone build folders are kept per worker).  Ctrl-C
stops the workers (processes: each gets SIGINT and kills its compiled simulation;
Dask: the futures are cancelled and a local cluster is closed).
"""

from __future__ import annotations

import logging
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
    "DaskExecutor",
    "TaskFailed",
    "make_executor",
    "worker_slot",
]

#: Names accepted by :func:`make_executor` (and ``--executor``).
EXECUTORS = ("serial", "processes", "dask")

# The number of the worker this process is (set by each executor's worker start-up).
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
    """

    kind = "serial"
    workers = 1

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


def _check_errors(errors: str) -> None:
    if errors not in ("raise", "yield"):
        raise ValueError(f"errors: must be 'raise' or 'yield', got {errors!r}")


class SerialExecutor(Executor):
    """Every task in this process, in order."""

    kind = "serial"

    def map(self, fn, items, *, shared=None, errors="raise"):
        _check_errors(errors)
        for index, item in enumerate(items):
            try:
                value = fn(shared, item)
            except Exception as exc:
                if errors == "raise":
                    raise
                value = TaskFailed(exc)
            yield index, value


def _start_worker(slots) -> None:
    """Worker start-up: take a worker number; figures without a display."""
    _SLOT["slot"] = slots.get()
    os.environ.setdefault("MPLBACKEND", "Agg")


class ProcessExecutor(Executor):
    """Tasks in ``workers`` local processes (started with ``spawn``), kept for the executor's lifetime.

    Parameters
    ----------
    workers : int, optional
        Default: the CPU cores.
    """

    kind = "processes"

    def __init__(self, workers: int | None = None):
        self.workers = _positive(workers or os.cpu_count() or 1, "workers")
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
        _check_errors(errors)
        pool = self._get_pool()
        futures = {pool.submit(fn, shared, item): index for index, item in enumerate(items)}
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


class DaskExecutor(Executor):
    """Tasks on a Dask ``distributed`` cluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``; ``dask scheduler`` and
        ``dask worker ADDRESS`` start one).  Without it a ``LocalCluster`` of
        ``workers`` single-threaded processes is started here and closed with the executor.
    workers : int, optional
        Local cluster size (default: the CPU cores); ignored with ``scheduler``.
    timeout : float
        Seconds to wait for ``scheduler`` to answer.

    Notes
    -----
    The workers must import spikevid (the same version: tasks are pickled by
    reference) and, for compiled simulations, have a C++ compiler; each machine
    compiles a program once into its own ``SPIKEVID_CACHE_DIR``.
    """

    kind = "dask"

    def __init__(self, scheduler: str | None = None, workers: int | None = None, *, timeout: float = 20.0):
        try:
            from distributed import Client, LocalCluster  # noqa: PLC0415 -- optional dependency
        except ImportError as exc:
            raise ImportError(
                "the dask executor needs dask's distributed scheduler: pip install 'dask[distributed]'"
            ) from exc
        self.scheduler = scheduler
        self._cluster = None
        if scheduler:
            try:
                self._client = Client(scheduler, timeout=f"{float(timeout)}s")
            except OSError as exc:
                raise OSError(f"--scheduler {scheduler}: no Dask scheduler answers there ({exc})") from exc
        else:
            n = _positive(workers or os.cpu_count() or 1, "workers")
            self._cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)
        self.workers = max(1, sum(w.get("nthreads", 1) for w in self._client.scheduler_info()["workers"].values()))

    @property
    def client(self):
        """The ``distributed.Client``."""
        return self._client

    def map(self, fn, items, *, shared=None, errors="raise"):
        from distributed import as_completed  # noqa: PLC0415 -- optional dependency

        _check_errors(errors)
        shared_future = self._client.scatter(shared, broadcast=True, hash=False) if shared is not None else None
        futures = {}
        for index, item in enumerate(items):
            fut = self._client.submit(fn, shared_future, item, pure=False)
            futures[fut.key] = (index, fut)
        finished = set()
        try:
            for fut in as_completed([f for _, f in futures.values()]):
                finished.add(fut.key)
                index = futures[fut.key][0]
                if fut.status == "error":
                    if errors == "raise":
                        fut.result()  # raises the task's exception
                    value = TaskFailed(fut.exception())
                else:
                    value = fut.result()
                yield index, value
        except KeyboardInterrupt:
            self.interrupt()
            raise
        finally:  # the caller stopped early: the rest is cancelled
            if self._client is not None:
                self._client.cancel([f for key, (_, f) in futures.items() if key not in finished])

    def interrupt(self) -> None:
        """Cancel everything; a local cluster's worker processes are stopped with it."""
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __repr__(self) -> str:
        where = self.scheduler or "LocalCluster"
        return f"DaskExecutor({where}, workers={self.workers})"


def _positive(value, what: str) -> int:
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
        return DaskExecutor(scheduler, workers)
    raise ValueError(f"executor: unknown {kind!r}; choose one of {', '.join(EXECUTORS)}")
