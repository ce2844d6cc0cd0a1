"""The Dask executor: tasks on a ``distributed`` cluster (``--executor dask [--scheduler ADDRESS]``).

Kept apart from :mod:`spikevid.executors` because it needs ``distributed`` (the
``dask`` extra: ``pip install -e '.[dask]'``).
"""

from __future__ import annotations

import logging
import os

from distributed import Client, LocalCluster, WorkerPlugin, as_completed

from .executors import Executor, TaskFailed, worker_count

__all__ = ["DaskExecutor"]


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
        self.scheduler = scheduler
        self._cluster = None
        if scheduler:
            try:
                self._client = Client(scheduler, timeout=f"{float(timeout)}s")
            except OSError as exc:
                raise OSError(f"--scheduler {scheduler}: no Dask scheduler answers there ({exc})") from exc
        else:
            self._cluster = LocalCluster(
                n_workers=worker_count(workers),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)
        self._client.register_plugin(_ImportFirst(), name="spikevid-import-first")
        self.workers = max(1, sum(w.get("nthreads", 1) for w in self._client.scheduler_info()["workers"].values()))
        #: Workers of a scheduler may run on other machines: they get clips, not paths to them.
        self.local = not scheduler

    @property
    def client(self):
        """The ``distributed.Client``."""
        return self._client

    def map(self, fn, items, *, shared=None, errors="raise"):
        self._check_errors(errors)
        shared_future = self._client.scatter(shared, broadcast=True, hash=False) if shared is not None else None
        futures = {self._client.submit(fn, shared_future, item, pure=False): i for i, item in enumerate(items)}
        finished = set()
        try:
            for fut in as_completed(list(futures)):
                finished.add(fut)
                index = futures[fut]
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
                self._client.cancel([f for f in futures if f not in finished])

    def close(self) -> None:
        """Close the client; a local cluster's worker processes are stopped with it (also on Ctrl-C)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __repr__(self) -> str:
        where = self.scheduler or "LocalCluster"
        return f"DaskExecutor({where}, workers={self.workers})"


class _ImportFirst(WorkerPlugin):
    """Import Brian2 and spikevid on each worker's main thread before its first task.

    Dask unpickles large task arguments (a fitted network) in a helper thread, and
    Brian2's import installs a signal handler, which only the main thread may do.
    """

    idempotent = True

    def setup(self, worker):
        os.environ.setdefault("MPLBACKEND", "Agg")
        import brian2  # noqa: F401, PLC0415 -- the point of the plugin

        import spikevid.experiments.runner  # noqa: F401, PLC0415
