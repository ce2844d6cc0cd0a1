"""The ``spikevid`` command line.

Each command group lives in its own module that exposes ``register(subparsers)``;
this module only assembles them.  It sits in ``analysis`` because that is the end
of the one-way flow stimuli -> cortex/networks -> analysis and may import all three.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: Modules that contribute sub-commands (each has ``register(subparsers)``).
COMMAND_MODULES = (
    "analysis.commands_stimuli",
    "analysis.commands_run",
    "analysis.commands_plot",
    "analysis.commands_ablate",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spikevid",
        description="Video to spikes to classes with heterogeneous spiking networks (Brian2).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod_name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name == mod_name:  # command group not written yet
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        # Bad input: one clear line, no traceback (set SPIKEVID_DEBUG=1 for it).
        import os
        if os.environ.get("SPIKEVID_DEBUG"):
            raise
        print(f"spikevid: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
