"""Atomic file writes: a crash never leaves a half-written result behind.

Lives in ``stimuli`` (the start of the one-way flow stimuli -> networks -> analysis)
so that the stimulus cache, the runner and the studies all share it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "atomic_savez", "locked"]


def _atomic(path, write) -> Path:
    """Write through a temporary file in the same folder, then ``os.replace``.

    The file gets the permissions a plain ``open`` would give (``0o666`` less the
    umask), so a shared results folder stays readable.  An ``OSError`` (read-only
    folder, no space left) is raised again naming ``path``.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(exc, OSError) and exc.errno is not None:
            reason = exc.strerror
            blocker = _file_in_the_way(path.parent)
            if blocker is not None:  # mkdir says "File exists" when a parent is a file
                reason = f"{blocker} is a file, not a folder"
            raise type(exc)(exc.errno, f"cannot write: {reason}", str(path)) from exc
        raise
    return path


def _file_in_the_way(folder: Path) -> Path | None:
    """The first ancestor of ``folder`` (itself included) that exists and is not a folder."""
    for p in reversed((folder, *folder.parents)):
        if p.exists() and not p.is_dir():
            return p
    return None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive ``flock`` on the file ``path`` (created, with its folder) for the block.

    Processes on one machine take turns; the lock goes with the process, so a killed
    holder leaves none behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``."""
    return _atomic(path, lambda fh: fh.write(data))


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace``."""
    return _atomic(path, lambda fh: fh.write(text.encode()))


def atomic_write_json(path, obj) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, default=_jsonable) + "\n")


def atomic_savez(path, *, compressed: bool = True, **arrays) -> Path:
    """``numpy.savez_compressed`` (or plain ``savez``) to ``path``, atomically."""
    save = np.savez_compressed if compressed else np.savez
    return _atomic(path, lambda fh: save(fh, **arrays))


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
