"""Run every benchmark: ``python -m benchmarks [--quick]`` (``make bench``).

Each ``bench_*.py`` module has ``main(argv)``; results go to ``benchmarks/results/``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    here = Path(__file__).resolve().parent
    for path in sorted(here.glob("bench_*.py")):
        name = f"benchmarks.{path.stem}"
        print(f"== {name}", flush=True)
        importlib.import_module(name).main(argv)
    return 0


if __name__ == "__main__":
    from spikevid.cli import exit_process

    exit_process(main())
