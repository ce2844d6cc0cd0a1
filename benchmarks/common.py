"""What every benchmark records: the machine it ran on, and its JSON result file."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np
import threadpoolctl

__all__ = ["machine", "write_result"]


def machine() -> dict:
    """Python, NumPy and Brian2 versions, processor, CPUs usable, load and BLAS threads of this machine."""
    import brian2  # noqa: PLC0415 -- only benchmarks that simulate need it loaded early

    blas = [{k: p.get(k) for k in ("internal_api", "num_threads", "version")} for p in threadpoolctl.threadpool_info()]
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "brian2": brian2.__version__,
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "load_average": os.getloadavg(),
        "blas": blas,
    }


def write_result(path: Path, result: dict) -> dict:
    """Write ``result`` (with :func:`machine` under ``"machine"``) to ``path`` as JSON; say where."""
    result = {**result, "machine": machine()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return result
