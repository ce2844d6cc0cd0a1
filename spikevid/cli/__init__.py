"""The ``spikevid`` command line: ``stimuli``, ``run``, ``plot`` and ``ablate``.

Each command group lives in its own module with ``register(subparsers)``; this module
assembles them.  Handlers import the library lazily, so ``spikevid --help`` answers
without loading Brian2.  Bad input ends in one line on stderr and exit code 2
(``SPIKEVID_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys

from . import ablate, plot, run, stimuli

__all__ = ["build_parser", "main"]

#: Modules that contribute sub-commands (each has ``register(subparsers)``).
COMMAND_MODULES = (stimuli, run, plot, ablate)


def build_parser() -> argparse.ArgumentParser:
    """The ``spikevid`` argument parser with every command group."""
    parser = argparse.ArgumentParser(
        prog="spikevid", description="Video to spikes to classes with heterogeneous spiking networks (Brian2)."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        # Bad input: one clear line, no traceback (set SPIKEVID_DEBUG=1 for it).
        if os.environ.get("SPIKEVID_DEBUG"):
            raise
        print(f"spikevid: error: {exc}", file=sys.stderr)
        return 2
