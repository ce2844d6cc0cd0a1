"""On-disk cache of encoded stimuli.

:class:`StimulusCache` stores one ``.npz`` per (sample, encoder) under
``root/<key[:2]>/<key>.npz``.  The key is a SHA-256 over

* :data:`CACHE_FORMAT_VERSION`;
* the sample's **file identity**: ``meta["path"]`` resolved, its size and
  ``mtime_ns`` (for a folder of frames: every file's name, size and ``mtime_ns``);
  for samples without an existing path, the data's dtype, shape and bytes;
* ``meta["id"]``;
* the data's dtype and shape and, with ``hash_data=True`` (default), a digest of its
  bytes too, so that a loader that reads the same file with other options (crop,
  resize, frame step) never meets a stale entry;
* the encoder's ``name`` and ``params()``.

Stimulus ``meta`` is stored as JSON (tuples come back as lists, other non-JSON
values as their ``repr``) plus its NumPy arrays (e.g. ``key_frames``) as arrays.

Entries are written atomically (a temporary file in the same folder, then
``os.replace``), so a crash never leaves a half-written entry under a final name.  An
entry that fails to load or does not match its key is re-encoded and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .io import atomic_savez
from .types import Sample, SpikeStimulus

__all__ = ["StimulusCache", "CACHE_FORMAT_VERSION", "stimulus_key"]

#: Bump when the stored layout or the meaning of encoder parameters changes
#: (2: times in ms, see :mod:`stimuli.timebase`; 3: channel geometry in meta).
CACHE_FORMAT_VERSION = 3

_META_ARRAY_PREFIX = "meta_array__"


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=_json_default, separators=(",", ":"))


def _file_identity(path) -> dict | None:
    """Resolved path, size and mtime_ns of a file, or of every file in a folder."""
    try:
        p = Path(path).resolve()
        if p.is_file():
            st = p.stat()
            return {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        if p.is_dir():
            entries = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(p) if e.is_file())
            return {"path": str(p), "files": entries}
    except OSError:
        return None
    return None


def _data_digest(data: np.ndarray) -> str:
    arr = np.ascontiguousarray(data).reshape(-1)
    return hashlib.sha256(arr.view(np.uint8)).hexdigest()


def stimulus_key(sample: Sample, encoder, *, hash_data: bool = True) -> str:
    """Hex SHA-256 identifying the encoding of ``sample`` by ``encoder`` (see module docstring).

    Two samples get the same key only if their file identity, id, data (with
    ``hash_data``) and encoder parameters agree, so the key is also a fingerprint of
    the input: runs record it to notice changed data.
    """
    data = np.asarray(sample.data)
    meta = sample.meta or {}
    ident = _file_identity(meta["path"]) if meta.get("path") is not None else None
    parts: dict[str, Any] = {
        "version": CACHE_FORMAT_VERSION,
        "file": ident,
        "id": meta.get("id"),
        "dtype": data.dtype.descr if data.dtype.names else data.dtype.str,
        "shape": list(data.shape),
        "encoder": encoder.name,
        "params": encoder.params(),
    }
    if ident is None or hash_data:
        parts["data"] = _data_digest(data)
    return hashlib.sha256(_canonical(parts).encode("utf-8")).hexdigest()


class StimulusCache:
    """Cache of :class:`~stimuli.types.SpikeStimulus` objects keyed by sample and encoder.

    Parameters
    ----------
    root : str or path
        Cache folder (created on demand).
    hash_data : bool
        Include a SHA-256 of the sample data in the key (default True; costs one pass
        over the data, far less than encoding).  With False the key relies on file
        identity, id, dtype and shape.

    Attributes
    ----------
    hits, misses, repairs : int
        Entries served from disk, encoded, and found corrupt (then re-encoded).
    """

    def __init__(self, root, *, hash_data: bool = True):
        self.root = Path(root)
        self.hash_data = bool(hash_data)
        self.hits = 0
        self.misses = 0
        self.repairs = 0

    # -- keys -------------------------------------------------------------------------
    def key(self, sample: Sample, encoder) -> str:
        """Hex SHA-256 identifying the encoding of ``sample`` by ``encoder`` (:func:`stimulus_key`)."""
        return stimulus_key(sample, encoder, hash_data=self.hash_data)

    def path_for(self, key: str) -> Path:
        """File of the entry ``key``."""
        return self.root / key[:2] / f"{key}.npz"

    # -- main entry point -------------------------------------------------------------
    def get_or_encode(self, sample: Sample, encoder) -> SpikeStimulus:
        """Return the cached stimulus of ``sample`` under ``encoder``, encoding it on a miss.

        The returned stimulus carries ``sample.label`` (the label is not part of the
        key) and ``meta["cache_key"]``.
        """
        key = self.key(sample, encoder)
        path = self.path_for(key)
        if path.exists():
            try:
                stim = self.load(path, key, sample.label)
                self.hits += 1
                return stim
            except Exception as exc:  # noqa: BLE001 - any unreadable entry is re-encoded
                warnings.warn(
                    f"stimulus cache: corrupt entry {path} ({exc!r}); re-encoding", RuntimeWarning, stacklevel=2
                )
                self.repairs += 1
                try:
                    path.unlink()
                except OSError:
                    pass
        self.misses += 1
        stim = encoder(sample.data, label=sample.label, meta=sample.meta)
        stim.meta["cache_key"] = key
        self._store(path, key, stim)
        return stim

    def put(self, key: str, stim: SpikeStimulus) -> SpikeStimulus:
        """Store ``stim`` (spikes made elsewhere: a simulation, a benchmark) under ``key``.

        ``key`` is any hex string naming the clip's content; returns ``stim`` with
        ``meta["cache_key"] = key``, ready for :meth:`stimuli.sequence.StoredStimuli.collect`.
        """
        key = str(key)
        if len(key) < 3 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"cache key {key!r}: expected a lower-case hex string of 3 or more digits")
        stim.meta["cache_key"] = key
        self._store(self.path_for(key), key, stim)
        return stim

    # -- storage ----------------------------------------------------------------------
    def _store(self, path: Path, key: str, stim: SpikeStimulus) -> None:
        arrays = {k: v for k, v in stim.meta.items() if isinstance(v, np.ndarray)}
        plain = {k: v for k, v in stim.meta.items() if k not in arrays}
        payload = {
            "key": np.array(key),
            "indices": stim.indices,
            "steps": stim.steps,
            "shape": np.array([stim.n_channels, stim.n_steps], dtype=np.int64),
            "dt": np.array(stim.dt, dtype=np.float64),
            "meta_json": np.array(_canonical(plain)),
        }
        payload.update({_META_ARRAY_PREFIX + k: v for k, v in arrays.items()})
        atomic_savez(path, compressed=False, **payload)

    @staticmethod
    def load(path: Path, key: str, label) -> SpikeStimulus:
        """The stimulus stored in ``path`` under ``key``, with ``label``; ``ValueError`` if it holds another key."""
        with np.load(path, allow_pickle=False) as z:
            stored_key = str(z["key"])
            if stored_key != key:
                raise ValueError(f"entry holds key {stored_key[:12]}..., expected {key[:12]}...")
            n_channels, n_steps = (int(v) for v in z["shape"])
            meta = json.loads(str(z["meta_json"]))
            for name in z.files:
                if name.startswith(_META_ARRAY_PREFIX):
                    meta[name[len(_META_ARRAY_PREFIX) :]] = z[name]
            return SpikeStimulus(z["indices"], z["steps"], n_channels, n_steps, float(z["dt"]), label=label, meta=meta)
