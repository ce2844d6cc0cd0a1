"""Data types shared by readers, encoders, datasets and networks.

Three things flow through ``stimuli``:

* a **clip**: ``numpy.ndarray`` of shape ``(frames, height, width)``, ``float32``
  grey levels in ``[0, 1]``;
* an **event array**: a structured array with fields ``x, y, t, p`` (``EVENT_DTYPE``;
  ``t`` in microseconds, ``p`` in ``{0, 1}`` for OFF/ON), time-sorted;
* a :class:`SpikeStimulus`: what an encoder produces and a network consumes.

Datasets yield :class:`Sample` objects holding either a clip or an event array.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "EVENT_DTYPE",
    "StimulusError",
    "make_events",
    "Sample",
    "SpikeStimulus",
    "check_stimuli",
    "channel_positions",
]

#: Structured dtype of an event array: pixel column ``x``, pixel row ``y``,
#: timestamp ``t`` (microseconds) and polarity ``p`` (1 = ON, 0 = OFF).
EVENT_DTYPE = np.dtype([("x", "<u2"), ("y", "<u2"), ("t", "<i8"), ("p", "u1")])


class StimulusError(ValueError):
    """Bad input data: an unreadable, empty or malformed file, or an invalid spike train.

    The message always names the file (or the offending argument).
    """


def make_events(x, y, t, p) -> np.ndarray:
    """Build a time-sorted event array (``EVENT_DTYPE``) from four equal-length sequences."""
    x, y, t, p = (np.asarray(a) for a in (x, y, t, p))
    if not (x.shape == y.shape == t.shape == p.shape) or x.ndim != 1:
        raise StimulusError("make_events: x, y, t and p must be 1-D arrays of equal length")
    ev = np.empty(x.shape[0], dtype=EVENT_DTYPE)
    ev["x"], ev["y"], ev["t"], ev["p"] = x, y, t, p
    order = np.argsort(ev["t"], kind="stable")
    return ev[order]


@dataclass
class Sample:
    """One labelled item of a dataset.

    Attributes
    ----------
    data : ndarray
        A clip ``(frames, height, width)`` float32 in ``[0, 1]`` or an event array
        (``EVENT_DTYPE``).
    label : int
        Class index into the dataset's ``classes``.
    meta : dict
        At least ``"path"`` (source file or folder) and ``"id"`` (a stable string id);
        datasets add ``"subject"``, ``"group"``, ``"scenario"``, ``"sensor_size"``
        (``(width, height, polarities)`` for events), ``"fps"`` where known.
    """

    data: np.ndarray
    label: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_events(self) -> bool:
        return self.data.dtype.names is not None


@dataclass(frozen=True, eq=False)
class SpikeStimulus:
    """A spike train on ``n_channels`` input neurons, on a time grid of step ``dt``.

    Attributes
    ----------
    indices : ndarray, shape (n_spikes,), int32
        Input channel of each spike, in ``[0, n_channels)``.
    steps : ndarray, shape (n_spikes,), int64
        Time step of each spike, in ``[0, n_steps)``; spike time is ``steps * dt``.
        Sorted by time; no ``(index, step)`` pair occurs twice.
    n_channels : int
        Number of input neurons.
    n_steps : int
        Duration in time steps.
    dt : float
        Time step, ms (the package's time convention, :mod:`stimuli.timebase`).
    label : int or None
        Class index of the source sample, if known.
    meta : dict
        Free-form provenance (encoder name and parameters, sample id, ...).
    """

    indices: np.ndarray
    steps: np.ndarray
    n_channels: int
    n_steps: int
    dt: float
    label: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        for field_name in ("indices", "steps"):
            raw = np.asarray(getattr(self, field_name))
            if raw.size and not np.issubdtype(raw.dtype, np.integer):
                if raw.dtype == bool or not np.issubdtype(raw.dtype, np.number) or np.any(raw != np.round(raw)):
                    raise StimulusError(
                        f"{self.meta.get('id', 'stimulus') if isinstance(self.meta, dict) else 'stimulus'}: "
                        f"{field_name} must be integers (channel numbers, time steps), got {raw.dtype} values "
                        f"such as {raw.reshape(-1)[0]!r}"
                    )
        idx = np.ascontiguousarray(self.indices, dtype=np.int32)
        stp = np.ascontiguousarray(self.steps, dtype=np.int64)
        object.__setattr__(self, "indices", idx)
        object.__setattr__(self, "steps", stp)
        self.validate()

    # -- derived ------------------------------------------------------------------
    @property
    def times(self) -> np.ndarray:
        """Spike times in ms, shape ``(n_spikes,)``."""
        return self.steps * self.dt

    @property
    def duration(self) -> float:
        """Duration in ms (``n_steps * dt``)."""
        return self.n_steps * self.dt

    @property
    def n_spikes(self) -> int:
        return int(self.indices.shape[0])

    def counts(self) -> np.ndarray:
        """Spike count per channel, shape ``(n_channels,)``."""
        return np.bincount(self.indices, minlength=self.n_channels)

    def validate(self) -> None:
        """Raise :class:`StimulusError` unless the invariants in the class docstring hold."""
        name = self.meta.get("id", "stimulus")
        if self.indices.shape != self.steps.shape or self.indices.ndim != 1:
            raise StimulusError(f"{name}: indices and steps must be 1-D arrays of equal length")
        if not (isinstance(self.dt, numbers.Real) and math.isfinite(self.dt) and self.dt > 0):
            raise StimulusError(f"{name}: dt must be a positive finite number of ms, got {self.dt!r}")
        for field_name in ("n_channels", "n_steps"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
                raise StimulusError(f"{name}: {field_name} must be a positive integer, got {value!r}")
        if self.n_spikes == 0:
            return
        if self.indices.min() < 0 or self.indices.max() >= self.n_channels:
            raise StimulusError(
                f"{name}: spike channel out of range [0, {self.n_channels}): "
                f"min {self.indices.min()}, max {self.indices.max()}"
            )
        if self.steps.min() < 0 or self.steps.max() >= self.n_steps:
            raise StimulusError(
                f"{name}: spike step out of the window [0, {self.n_steps}): "
                f"min {self.steps.min()}, max {self.steps.max()}"
            )
        if np.any(np.diff(self.steps) < 0):
            raise StimulusError(f"{name}: spikes must be sorted by time step")
        key = np.sort(self.steps * self.n_channels + self.indices)  # sort: much faster than np.unique
        if np.any(key[1:] == key[:-1]):
            raise StimulusError(
                f"{name}: duplicate (channel, step) pairs; Brian2's SpikeGeneratorGroup "
                "rejects them (deduplicate with stimuli.encoders.unique_spikes)"
            )


def check_stimuli(X, n_channels: int | None = None) -> list[SpikeStimulus]:
    """Validate a sequence of stimuli for a network: non-empty, all ``SpikeStimulus``, one channel count.

    Parameters
    ----------
    X : sequence of SpikeStimulus
    n_channels : int, optional
        Required channel count (default: that of ``X[0]``).

    Returns
    -------
    list of SpikeStimulus, or the :class:`~stimuli.sequence.StoredStimuli` given
        A ``StoredStimuli`` is checked from its headers and returned as it is (no clip
        is read).

    Raises
    ------
    ValueError, TypeError, StimulusError
        Naming the offending items.
    """
    if callable(getattr(X, "checked", None)):  # stimuli.sequence.StoredStimuli: from its headers
        return X.checked(n_channels)
    X = list(X)
    if not X:
        raise ValueError("X: no stimuli given")
    for k, s in enumerate(X):
        if not isinstance(s, SpikeStimulus):
            raise TypeError(f"X[{k}]: expected a stimuli.types.SpikeStimulus, got {type(s).__name__}")
    n = X[0].n_channels if n_channels is None else n_channels
    bad = [k for k, s in enumerate(X) if s.n_channels != n]
    if bad:
        names = ", ".join(
            f"{s.meta.get('path') or s.meta.get('id', f'X[{k}]')} ({s.n_channels})"
            for k, s in ((k, X[k]) for k in bad[:3])
        )
        raise StimulusError(
            f"X: {len(bad)} stimuli have another number of input channels than {n}: {names}"
            + (" ..." if len(bad) > 3 else "")
            + "; frames of different sizes need a common size (dataset option size)"
        )
    return X


def channel_positions(stim: SpikeStimulus) -> np.ndarray:
    """Where each input channel sits on the (pooled) frame: ``(map, row, col)`` per channel.

    Encoders that know their frame geometry record it in ``meta["channel_shape"]``
    ``(n_maps, height, width)`` (maps: polarities, Gaussian fields, signs) and
    ``meta["channel_order"]``: ``"myx"`` for ``channel = (map * height + row) * width + col``
    or ``"yxm"`` for ``channel = (row * width + col) * n_maps + map``.

    Returns
    -------
    ndarray of int64, shape (n_channels, 3)

    Raises
    ------
    StimulusError
        The stimulus carries no frame geometry, or it does not match its channel count.
    """
    shape, order = stim.meta.get("channel_shape"), stim.meta.get("channel_order")
    name = stim.meta.get("id", "stimulus")
    if shape is None or order not in ("myx", "yxm"):
        raise StimulusError(
            f"{name}: its encoder gives no frame geometry (meta channel_shape); "
            "topographic wiring needs a frame or event encoder"
        )
    m, h, w = (int(v) for v in shape)
    if m * h * w != stim.n_channels:
        raise StimulusError(f"{name}: channel_shape {tuple(shape)} does not match {stim.n_channels} channels")
    c = np.arange(stim.n_channels, dtype=np.int64)
    if order == "myx":
        return np.stack([c // (h * w), (c // w) % h, c % w], axis=1)
    return np.stack([c % m, (c // m) // w, (c // m) % w], axis=1)
