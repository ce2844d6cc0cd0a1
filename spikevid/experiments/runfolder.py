"""A run's result folder: one process at a time, one configuration, readable by colleagues.

:func:`locked` holds an exclusive lock on ``DIR/.lock`` for the whole run; a second
process on the same folder stops at once with an error naming the holder (pid, host,
command, start time).  The lock is released when the process ends, however it ends
(``flock``), so a killed run never leaves a stale lock behind.

:func:`claim_config` writes ``config.yaml``: a folder that holds results of another
configuration is refused (naming the differing keys); one that holds no result yet
(a run that failed early) is taken over.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import yaml

from stimuli.io import atomic_write_text

from .config import ConfigError, dump_config
from .provenance import digest

__all__ = [
    "RunFolderBusy",
    "locked",
    "claim_config",
    "has_results",
    "RESULT_FILES",
    "VOLATILE",
    "CONFIG_HEADER",
    "config_diff",
]

#: Files and folders that hold results (their presence makes a folder a run's).
RESULT_FILES = ("model.npz", "features", "features.npz", "raster.npz", "metrics.json")
#: Config entries that may change between a run and its resumption.
VOLATILE = (
    ("run", "progress"),
    ("run", "cache"),
    ("run", "chunk"),
    ("run", "memory_mb"),
    ("readout", "cv"),
    ("model", "build_dir"),
)


class RunFolderBusy(RuntimeError):
    """Another process is running in this folder."""


@contextmanager
def locked(folder, what: str = "run"):
    """Hold the exclusive lock of ``folder`` (created if needed) for the body of the ``with``.

    Raises
    ------
    NotADirectoryError
        ``folder`` exists and is a file.
    RunFolderBusy
        Another process holds the lock (the message names it).
    OSError
        The folder cannot be created or written (read-only, no space); names the path.
    """
    if not str(folder).strip():
        raise ConfigError("the output folder is an empty path; give a folder name (--out DIR)")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder}: exists and is not a folder; choose another --out")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunFolderBusy(
                f"{folder} is in use by another spikevid {what} ({_holder(path)}); wait for it to finish "
                "or choose another folder"
            ) from None
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join(sys.argv),
        }
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(holder, ensure_ascii=True).encode("ascii"))
        yield folder
    finally:
        os.close(fd)  # closing releases the lock


def _holder(path: Path) -> str:
    try:
        h = json.loads(path.read_text())
        return f"pid {h['pid']} on {h['host']}, since {h['started']}: {h['command']}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"


def has_results(folder) -> bool:
    """Whether ``folder`` holds any result file of a run."""
    folder = Path(folder)
    return any((folder / name).exists() for name in RESULT_FILES)


def stripped(cfg: dict) -> dict:
    """``cfg`` as plain YAML data without the :data:`VOLATILE` entries."""
    out = yaml.safe_load(dump_config(cfg))
    for section, key in VOLATILE:
        (out.get(section) or {}).pop(key, None)
    return out


#: First line of every ``config.yaml`` spikevid writes: a folder's config without it is
#: someone else's file and is never replaced.
CONFIG_HEADER = "# spikevid run configuration (written by spikevid; rerun with --set to change it)\n"
#: Files only a spikevid run writes (a folder with one of them is a run folder).
RUN_MARKERS = ("fingerprint.json", "log.txt", ".lock")


def claim_config(folder, cfg: dict) -> str | None:
    """Write ``config.yaml`` into ``folder`` unless it holds results of another configuration.

    Returns
    -------
    str or None
        A note when an earlier configuration without results was replaced.

    Raises
    ------
    ConfigError
        The folder holds results of a different configuration (the message names the
        keys); it holds results but no ``config.yaml`` and its ``fingerprint.json``
        does not show the same configuration; or its ``config.yaml`` was not written
        by spikevid (never overwritten).
    """
    folder = Path(folder)
    path = folder / "config.yaml"
    note = None
    if path.exists():
        text = _read_text(path)
        if not text.startswith(CONFIG_HEADER) and not any((folder / m).exists() for m in RUN_MARKERS[:2]):
            raise ConfigError(
                f"{path} was not written by spikevid; refusing to overwrite it: choose another --out (an empty "
                "or new folder)"
            )
        try:
            old = yaml.safe_load(text) or {}
            diff = _diff(stripped(old), stripped(cfg)) if isinstance(old, dict) else ["(whole file)"]
        except yaml.YAMLError:
            diff = ["(config.yaml unreadable)"]
        if diff and has_results(folder):
            raise ConfigError(
                f"{folder} holds results of a different configuration (differs in: {', '.join(diff)}); "
                "choose another --out or delete it"
            )
        if diff:
            note = f"{folder} held a configuration without results (differs in: {', '.join(diff)}); replaced it"
    elif has_results(folder) and not _fingerprint_matches(folder, cfg):
        raise ConfigError(
            f"{folder} holds results but no config.yaml, and its fingerprint.json does not show this "
            "configuration; choose another --out or delete the folder"
        )
    atomic_write_text(path, CONFIG_HEADER + dump_config(cfg))
    return note


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return ""


def _fingerprint_matches(folder: Path, cfg: dict) -> bool:
    """Whether ``folder/fingerprint.json`` records the digest of ``cfg`` (see the runner)."""
    try:
        return json.loads((folder / "fingerprint.json").read_text())["config"] == digest(stripped(cfg))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def config_diff(old: dict, new: dict) -> list[str]:
    """Dotted keys whose values differ between two configs (volatile entries left out)."""
    return _diff(stripped(old), stripped(new))


def _diff(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in _diff(a.get(k), b.get(k), f"{path}.{k}" if path else k)]
    return [] if a == b else [path]
