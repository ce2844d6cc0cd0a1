"""Encoded stimuli on disk, read back one clip at a time: memory that does not grow with the data.

A :class:`StoredStimuli` is a sequence of :class:`~stimuli.types.SpikeStimulus` whose
spike arrays live in a :class:`~stimuli.cache.StimulusCache`.  It keeps what networks
and runners ask of every clip without reading it -- channels, steps, ``dt``, spike
count, label, id and cache key (:func:`stimulus_headers`) -- and holds clips in memory
only up to a byte budget: a small data set stays resident after encoding (no file is
read again), a large one is read from its cache files as it is used.  Slices are
``StoredStimuli`` too, so a chunk of clips costs nothing until it is iterated.

Anything that takes a sequence of stimuli takes one; ``list(seq)`` reads every clip.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .cache import StimulusCache
from .types import SpikeStimulus, StimulusError

__all__ = ["HEADER_DTYPE", "StoredStimuli", "stimulus_headers", "RESIDENT_MB"]

#: One row per clip: what is known of it without reading its spikes.
HEADER_DTYPE = np.dtype(
    [("n_channels", "<i8"), ("n_steps", "<i8"), ("dt", "<f8"), ("n_spikes", "<i8"), ("label", "<i8")]
)
#: Default budget (MB of spike arrays) of clips kept in memory by a :class:`StoredStimuli`.
RESIDENT_MB = 256.0
#: Bytes of one spike in memory (int32 channel + int64 step).
_SPIKE_BYTES = 12


def _header(stim: SpikeStimulus) -> tuple:
    label = -1 if stim.label is None else int(stim.label)
    return (stim.n_channels, stim.n_steps, float(stim.dt), stim.n_spikes, label)


def stimulus_headers(stims: Sequence[SpikeStimulus]) -> np.ndarray:
    """Channels, steps, ``dt``, spike count and label of every clip (:data:`HEADER_DTYPE`).

    Read from a :class:`StoredStimuli` without loading any clip; computed from the
    clips of any other sequence.  ``label`` is -1 for a clip without one.
    """
    if isinstance(stims, StoredStimuli):
        return stims.headers
    return np.array([_header(s) for s in stims], dtype=HEADER_DTYPE)


class StoredStimuli(Sequence):
    """Stimuli kept in a stimulus cache and read back when used.

    Parameters
    ----------
    root : str or path
        The :class:`~stimuli.cache.StimulusCache` folder holding the clips.
    keys : sequence of str
        Cache key of every clip, in order.
    headers : ndarray of HEADER_DTYPE, shape (n_clips,)
    ids : sequence of str
        Each clip's sample id (``meta["id"]``).
    resident : dict of int -> SpikeStimulus, optional
        Clips already in memory (position -> clip); kept and served without reading.

    Notes
    -----
    A clip read from disk is checked against its key and its header; a missing or
    altered cache file raises :class:`~stimuli.types.StimulusError` naming the file
    (rerunning the command re-encodes it).  Pickling keeps the resident clips and the
    folder, so a worker on this machine reads the rest from the same files.
    """

    def __init__(self, root, keys, headers: np.ndarray, ids, resident: dict | None = None):
        self.root = Path(root).resolve()  # absolute: a worker elsewhere in the tree reads the same files
        self.keys = [str(k) for k in keys]
        self.headers = np.asarray(headers, dtype=HEADER_DTYPE)
        self.ids = [str(i) for i in ids]
        if not (len(self.keys) == len(self.headers) == len(self.ids)):
            raise ValueError(
                f"StoredStimuli: {len(self.keys)} keys, {len(self.headers)} headers and {len(self.ids)} ids"
            )
        self._resident = dict(resident or {})

    @classmethod
    def collect(cls, root, stims: Sequence[SpikeStimulus], *, resident_mb: float = RESIDENT_MB) -> StoredStimuli:
        """A ``StoredStimuli`` of cached clips (each with ``meta["cache_key"]``) as they are encoded.

        ``stims`` may be a generator: each clip is kept in memory while the clips kept
        so far stay within ``resident_mb`` MB of spike arrays, and otherwise dropped
        (it is read from its cache file when used).
        """
        keys, rows, ids, resident = [], [], [], {}
        budget, held = float(resident_mb) * 2**20, 0
        for k, s in enumerate(stims):
            key = s.meta.get("cache_key")
            if not key:
                raise ValueError(f"clip {k} ({s.meta.get('id', '?')}): no meta['cache_key'], it is not in a cache")
            keys.append(key)
            rows.append(_header(s))
            ids.append(str(s.meta.get("id", k)))
            size = s.n_spikes * _SPIKE_BYTES
            if held + size <= budget:
                resident[k] = s
                held += size
        return cls(root, keys, np.array(rows, dtype=HEADER_DTYPE), ids, resident)

    # -- what is known without reading ---------------------------------------------
    def __len__(self) -> int:
        return len(self.keys)

    @property
    def labels(self) -> np.ndarray:
        """Class index of every clip (-1 where a clip has none), shape ``(n_clips,)``."""
        return self.headers["label"].copy()

    @property
    def n_resident(self) -> int:
        """Clips held in memory."""
        return len(self._resident)

    @property
    def resident_bytes(self) -> int:
        """Bytes of the spike arrays held in memory."""
        return int(self.headers["n_spikes"][list(self._resident)].sum()) * _SPIKE_BYTES if self._resident else 0

    def checked(self, n_channels: int | None = None) -> StoredStimuli:
        """Itself, after :func:`~stimuli.types.check_stimuli`'s checks made on the headers (no clip is read)."""
        if not len(self):
            raise ValueError("X: no stimuli given")
        channels = self.headers["n_channels"]
        n = int(channels[0]) if n_channels is None else int(n_channels)
        bad = np.flatnonzero(channels != n)
        if bad.size:
            names = ", ".join(f"{self.ids[k]} ({channels[k]})" for k in bad[:3])
            raise StimulusError(
                f"X: {bad.size} stimuli have another number of input channels than {n}: {names}"
                + (" ..." if bad.size > 3 else "")
                + "; frames of different sizes need a common size (dataset option size)"
            )
        return self

    # -- reading -------------------------------------------------------------------
    def __getitem__(self, item):
        if isinstance(item, slice):
            return self._subset(range(len(self))[item])
        if isinstance(item, (list, tuple, np.ndarray)):
            positions = np.arange(len(self))[np.asarray(item)]
            return self._subset(positions.tolist())
        k = range(len(self))[item]  # IndexError, negatives
        if k in self._resident:
            return self._resident[k]
        return self._read(k)

    def __iter__(self) -> Iterator[SpikeStimulus]:
        for k in range(len(self)):
            yield self[k]

    def _subset(self, positions) -> StoredStimuli:
        positions = list(positions)
        resident = {j: self._resident[k] for j, k in enumerate(positions) if k in self._resident}
        return StoredStimuli(
            self.root,
            [self.keys[k] for k in positions],
            self.headers[positions],
            [self.ids[k] for k in positions],
            resident,
        )

    def _read(self, k: int) -> SpikeStimulus:
        cache = StimulusCache(self.root)
        path = cache.path_for(self.keys[k])
        row = self.headers[k]
        label = None if row["label"] < 0 else int(row["label"])
        try:
            stim = cache.load(path, self.keys[k], label)
        except FileNotFoundError:
            raise StimulusError(
                f"{self.ids[k]}: its encoded spikes {path} are gone (the cache folder was cleared while in "
                "use); rerun the command to encode it again"
            ) from None
        except Exception as exc:  # noqa: BLE001 - any unreadable entry: say which
            raise StimulusError(f"{self.ids[k]}: cannot read its encoded spikes {path}: {exc}") from exc
        if _header(stim) != tuple(row.tolist()):
            raise StimulusError(
                f"{self.ids[k]}: the cache file {path} no longer matches the clip encoded into it; "
                "rerun the command to encode it again"
            )
        return stim

    def materialize(self) -> list[SpikeStimulus]:
        """Every clip in memory, as a list."""
        return list(self)

    def __repr__(self) -> str:
        return f"StoredStimuli({len(self)} clips in {self.root}, {self.n_resident} in memory)"
