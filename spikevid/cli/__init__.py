"""The ``spikevid`` command line: ``stimuli``, ``run``, ``plot``, ``ablate`` and ``tune``.

Each command group lives in its own module with ``register(subparsers)``; this module
assembles them.  Handlers import the library lazily, so ``spikevid --help`` answers
without loading Brian2.

Exit codes: 0 done; 2 bad input (one line on stderr naming the file, key or folder;
``SPIKEVID_DEBUG=1`` shows the traceback); 130 interrupted by Ctrl-C or SIGTERM (the
run stops at once, a compiled simulation with it; rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import interrupts
from . import ablate, plot, run, stimuli, tune

__all__ = ["build_parser", "exit_process", "main"]


#: Modules that contribute sub-commands (each has ``register(subparsers)``).
COMMAND_MODULES = (stimuli, run, plot, ablate, tune)


def build_parser() -> argparse.ArgumentParser:
    """The ``spikevid`` argument parser with every command group."""
    parser = argparse.ArgumentParser(
        prog="spikevid", description="Video to spikes to classes with heterogeneous spiking networks (Brian2)."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


#: Exit code of an interrupted command (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # Brian2 writes sys.argv into its log as UTF-8 when it is imported: keep a printable
    # copy there (the arguments themselves were parsed above, undecodable bytes and all).
    sys.argv = [a.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace") for a in sys.argv]
    with interrupts.handling():
        try:
            return int(args.func(args) or 0)
        except KeyboardInterrupt:
            print("spikevid: interrupted -- rerun the same command to resume", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Exception as exc:  # noqa: BLE001 -- user-facing errors become one line, others re-raise
            message = user_error(exc)
            if message is None or os.environ.get("SPIKEVID_DEBUG"):
                raise
            print(f"spikevid: error: {message}", file=sys.stderr)
            return 2


def exit_process(code: int) -> None:
    """Leave the interpreter with ``code`` (what ``python -m spikevid`` ends with).

    CPython (3.10 to 3.13, measured) marks the interpreter as "killed by Ctrl-C" whenever a
    KeyboardInterrupt ends a *string* ``exec``/``eval`` (Brian2 and SymPy evaluate strings
    while a network is built), even when the exception is caught later; under ``python -m``
    it then exits by SIGINT (status -2) instead of ``code``.  A string evaluation clears the mark.
    """
    exec("")  # noqa: S102 -- clears the mark; evaluates nothing
    sys.exit(code)


def user_error(exc: BaseException) -> str | None:
    """One line for an error caused by the input or the machine (None for a bug).

    Bad values (``ValueError`` and its kinds: ``ConfigError``, ``StimulusError``,
    ``StateFileError``), missing keys, a busy or half-written run folder, and
    file-system failures (not found, not a folder, permission, read-only, no space),
    named with their path.
    """
    from networks.timeline import IncompleteSimulation  # noqa: PLC0415 -- heavy (Brian2)
    from spikevid.experiments.runfolder import RunFolderBusy  # noqa: PLC0415

    if isinstance(exc, OSError):
        text, path = exc.strerror or str(exc), exc.filename
        return f"{path}: {text}" if path and str(path) not in text else text
    if isinstance(exc, (ValueError, KeyError, RunFolderBusy, IncompleteSimulation, UnicodeError)):
        return str(exc).strip("'\"") if isinstance(exc, KeyError) else str(exc)
    return None
