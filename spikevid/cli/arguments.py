"""Argument types shared by the command groups."""

from __future__ import annotations

import argparse
import os

__all__ = ["folder_path", "positive_int", "add_executor_arguments", "executor_from_args"]

#: Executor names (kept here so ``--help`` does not import the executors' dependencies).
EXECUTOR_CHOICES = ("serial", "processes", "dask")


def folder_path(text: str) -> str:
    """An ``--out`` argument: a non-empty path, ``~`` expanded (an argparse ``type``)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a folder name")
    return os.path.expanduser(text)


def positive_int(text: str) -> int:
    """A whole number >= 1 (an argparse ``type``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_set_argument(p: argparse.ArgumentParser, *, scope: str = "") -> None:
    """``--set KEY=VALUE`` (repeatable) into ``args.overrides``; ``scope`` ends the help (" for every cell")."""
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config entry{scope}, e.g. --set model.n=500 (repeatable)",
    )


def add_executor_arguments(p: argparse.ArgumentParser, *, default: str, what: str, jobs: int | None = None) -> None:
    """``--executor``, ``--jobs`` and ``--scheduler``: where ``what`` runs (results do not depend on it).

    ``jobs``: the default of ``--jobs`` (None: the CPU cores); ``processes`` with one
    job runs here, serially.
    """
    p.add_argument(
        "--executor",
        choices=EXECUTOR_CHOICES,
        default=None,
        help=f"where {what} run: here one after another, local processes, or Dask (default: {default}; "
        "dask with --scheduler)",
    )
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=jobs or os.cpu_count() or 1,
        help="worker processes for --executor processes or a local Dask cluster "
        f"(default: {jobs if jobs else 'CPU cores'})",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="a running Dask scheduler (tcp://host:8786); without it --executor dask starts a LocalCluster",
    )
    p.set_defaults(default_executor=default)


def executor_from_args(args):
    """The executor the command line asks for (the caller closes it)."""
    from spikevid.executors import make_executor  # noqa: PLC0415 -- Dask only when asked for

    kind = args.executor or ("dask" if args.scheduler else args.default_executor)
    if kind == "processes" and args.jobs == 1:
        kind = "serial"
    return make_executor(kind, workers=args.jobs, scheduler=args.scheduler)
