"""The log of a run: ``out/log.txt`` (and the console), with timed phases."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from pathlib import Path

from .. import interrupts

__all__ = ["run_logger", "close_logger", "timed", "FILE_ONLY"]


def run_logger(out: Path, *, console: bool = True) -> logging.Logger:
    """A logger writing to ``out/log.txt`` (and to stderr with ``console=True``).

    Parallel study workers use ``console=False`` so their lines do not interleave.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = logging.getLogger(f"spikevid.run.{out.resolve()}")
    log.setLevel(logging.INFO)
    log.propagate = False
    close_logger(log)
    fh = logging.FileHandler(out / "log.txt", encoding="utf-8", errors="backslashreplace")
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(fh)
    if console:
        sh = logging.StreamHandler()
        sh.setFormatter(logging.Formatter("%(message)s"))
        sh.addFilter(_not_file_only)
        log.addHandler(sh)
    return log


#: ``extra=FILE_ONLY`` keeps a record out of the console (a failure's traceback: the
#: command line prints its own one-line error).
FILE_ONLY = {"file_only": True}


def _not_file_only(record: logging.LogRecord) -> bool:
    return not getattr(record, "file_only", False)


def close_logger(log: logging.Logger) -> None:
    """Detach and close every handler of ``log``."""
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()


@contextmanager
def timed(seconds: dict, name: str, log: logging.Logger):
    """Log the start and end of phase ``name``; add its wall time to ``seconds[name]``."""
    interrupts.check()
    t0 = time.perf_counter()
    log.info(f"[{name}] started")
    yield
    interrupts.check()  # an interruption Python dropped stops the run here, the phase's work kept
    seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0
    log.info(f"[{name}] done in {seconds[name]:.1f} s")
