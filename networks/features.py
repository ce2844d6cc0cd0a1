"""Sequence-to-vector reductions: from spikes in a clip's window to a feature vector.

Classification needs one vector per clip, so the reduction of a spike sequence is
an explicit, named step.  Both the reservoir and the non-spiking baseline use the
same functions, so their numbers are comparable.

``binned_counts``
    Each clip window ``[start, end)`` is cut into ``bins`` equal parts; the
    feature of neuron ``k`` in bin ``b`` is its spike count there.  Output shape
    ``(n_clips, bins * n_neurons)``, ordered bin-major (all neurons of bin 0,
    then bin 1, ...).  ``bins=1`` gives total spike counts per neuron.
``binned_rates``
    The same counts divided by the bin length (Hz): clips of different lengths
    become comparable.
``traces``
    The liquid-state readout: each neuron's spike train filtered by an exponential of
    time constant ``tau`` (``x(t) = sum over spikes at t_s <= t of exp(-(t - t_s) / tau)``,
    one per ``tau`` in ``taus``), sampled at the end of each bin; a spike counts from
    the bin it falls in (the spikes of the counts up to that bin).  Output shape
    ``(n_clips, bins * len(taus) * n_neurons)``, bin-major, then ``tau``, then neuron.

For sequence readouts (attention over time bins), :func:`as_tokens` reshapes either
reduction to ``(n_clips, bins, n_neurons)``: one token per bin.  For decisions by
population, :func:`first_spike_steps` gives each group's first spike in each window.
"""

from __future__ import annotations

import numpy as np

from stimuli.timebase import ms_to_seconds

__all__ = [
    "MAX_BINS",
    "REDUCTIONS",
    "COUNT_REDUCTIONS",
    "DEFAULT_TAUS",
    "binned_counts",
    "binned_traces",
    "reduce_spikes",
    "features_per_neuron",
    "check_taus",
    "as_tokens",
    "first_spike_steps",
    "NO_SPIKE",
]

#: Most time bins per clip a reduction takes (features grow as bins x neurons).
MAX_BINS = 10_000
#: Trace time constants (ms) of the ``traces`` reduction unless given.
DEFAULT_TAUS = (10.0, 50.0)


def _by_window(indices, steps, windows, bins: int):
    """Checked inputs of a binned reduction: spikes sorted by step, windows, and each window's spike range.

    Returns ``(indices, steps, windows, lo, hi)``; the spikes of window ``c`` are
    ``[lo[c], hi[c])`` of the sorted arrays.
    """
    if bins < 1:
        raise ValueError(f"bins: must be >= 1, got {bins}")
    windows = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
    if np.any(windows[:, 1] <= windows[:, 0]):
        raise ValueError("windows: every window needs end > start")
    indices = np.asarray(indices, dtype=np.int64)
    steps = np.asarray(steps, dtype=np.int64)
    order = np.argsort(steps, kind="stable")
    steps, indices = steps[order], indices[order]
    lo = np.searchsorted(steps, windows[:, 0], side="left")
    hi = np.searchsorted(steps, windows[:, 1], side="left")
    return indices, steps, windows, lo, hi


def binned_counts(
    indices: np.ndarray, steps: np.ndarray, windows: np.ndarray, n_neurons: int, bins: int = 1
) -> np.ndarray:
    """Spike counts per neuron in ``bins`` equal sub-windows of each window.

    Parameters
    ----------
    indices : ndarray, shape (n_spikes,)
        Neuron index of each spike.
    steps : ndarray, shape (n_spikes,)
        Time step of each spike (integer steps: exact bin edges).
    windows : ndarray, shape (n_clips, 2)
        ``[start, end)`` of each clip in time steps.
    n_neurons : int
        Number of neurons (feature columns per bin).
    bins : int
        Sub-windows per clip.

    Returns
    -------
    ndarray, shape (n_clips, bins * n_neurons), float64
    """
    indices, steps, windows, lo, hi = _by_window(indices, steps, windows, bins)
    out = np.zeros((len(windows), bins * n_neurons))
    for c, (a, b) in enumerate(zip(lo, hi, strict=True)):
        if b <= a:
            continue
        start, length = windows[c, 0], windows[c, 1] - windows[c, 0]
        # bin of each spike: floor(bins * offset / length), exact in integers
        b_idx = (bins * (steps[a:b] - start)) // length
        np.add.at(out[c], b_idx * n_neurons + indices[a:b], 1.0)
    return out


def binned_traces(
    indices: np.ndarray,
    steps: np.ndarray,
    windows: np.ndarray,
    n_neurons: int,
    bins: int = 1,
    taus=DEFAULT_TAUS,
    dt: float = 1.0,
) -> np.ndarray:
    """Exponentially filtered spike traces sampled at the end of each bin (module docstring).

    Parameters
    ----------
    indices, steps, windows, n_neurons, bins
        As :func:`binned_counts`.
    taus : sequence of float
        Trace time constants, ms (each > 0).
    dt : float
        Time step, ms.

    Returns
    -------
    ndarray, shape (n_clips, bins * len(taus) * n_neurons), float64
        Bin ``b`` of a window ``[start, end)`` ends ``(b + 1) * (end - start) / bins``
        steps after ``start``.
    """
    taus = np.asarray(check_taus(taus))
    indices, steps, windows, lo, hi = _by_window(indices, steps, windows, bins)
    n_t = taus.size
    out = np.zeros((len(windows), bins, n_t, n_neurons))
    for c, (a, b) in enumerate(zip(lo, hi, strict=True)):
        if b <= a:
            continue
        start, length = windows[c, 0], windows[c, 1] - windows[c, 0]
        offset, neuron = steps[a:b] - start, indices[a:b]
        first_bin = (bins * offset) // length  # the bin each spike falls in (as binned_counts)
        for k in range(bins):
            seen = first_bin <= k
            age = ((k + 1) * length / bins - offset[seen]) * dt  # ms from the spike to the bin's end
            for t in range(n_t):
                np.add.at(out[c, k, t], neuron[seen], np.exp(-age / taus[t]))
    return out.reshape(len(windows), -1)


def check_taus(taus) -> tuple[float, ...]:
    """``taus`` as a tuple of positive finite time constants (ms); ``ValueError`` naming ``taus`` otherwise."""
    if isinstance(taus, (str, bytes)) or not isinstance(taus, (tuple, list, np.ndarray)):
        raise ValueError(f"taus: expected a list of trace time constants in ms, got {taus!r}")
    try:
        values = np.asarray(taus, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"taus: expected a list of trace time constants in ms, got {taus!r}") from None
    if values.size == 0 or np.any(~np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"taus: expected one or more positive time constants (ms), got {list(taus)!r}")
    return tuple(float(v) for v in values)


def features_per_neuron(reduction: str, bins: int, taus=DEFAULT_TAUS) -> int:
    """Feature columns per neuron of a reduction: ``bins``, times ``len(taus)`` for ``traces``."""
    return int(bins) * (len(np.asarray(taus).reshape(-1)) if reduction == "traces" else 1)


def reduce_spikes(indices, steps, windows, n_neurons, *, reduction="binned_counts", bins=1, dt=1.0, taus=DEFAULT_TAUS):
    """Apply a named reduction (see module docstring); ``dt`` is the step in ms, ``taus`` in ms (traces)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: unknown {reduction!r}; choose one of {sorted(REDUCTIONS)}")
    if reduction == "traces":
        return binned_traces(indices, steps, windows, n_neurons, bins, taus, dt)
    counts = binned_counts(indices, steps, windows, n_neurons, bins)
    if reduction == "binned_rates":
        windows = np.asarray(windows).reshape(-1, 2)
        bin_seconds = ms_to_seconds((windows[:, 1] - windows[:, 0]) * dt / bins)
        counts /= bin_seconds[:, None]
    return counts


#: Names accepted by :func:`reduce_spikes` (and the ``reduction`` hyperparameter).
REDUCTIONS = ("binned_counts", "binned_rates", "traces")
#: The reductions that count spikes (one column per neuron and bin).
COUNT_REDUCTIONS = ("binned_counts", "binned_rates")


def as_tokens(features: np.ndarray, bins: int) -> np.ndarray:
    """Bin-major features ``(n_clips, bins * n_neurons)`` as tokens ``(n_clips, bins, n_neurons)``.

    Token ``b`` of a clip holds every neuron's value in time bin ``b`` (a view, no copy).
    """
    features = np.asarray(features)
    if features.ndim != 2 or bins < 1 or features.shape[1] % bins:
        raise ValueError(f"features: shape {features.shape} is not (n_clips, bins * n_neurons) with bins={bins}")
    return features.reshape(features.shape[0], bins, features.shape[1] // bins)


#: :func:`first_spike_steps` of a group that did not spike in a window.
NO_SPIKE = np.iinfo(np.int64).max


def first_spike_steps(groups: np.ndarray, steps: np.ndarray, windows: np.ndarray, n_groups: int) -> np.ndarray:
    """Step of each group's first spike in each window, counted from the window's start.

    Parameters
    ----------
    groups : ndarray of int, shape (n_spikes,)
        Group (e.g. class population) of each spike.
    steps : ndarray of int, shape (n_spikes,)
    windows : ndarray, shape (n_clips, 2)
        ``[start, end)`` steps.
    n_groups : int

    Returns
    -------
    ndarray of int64, shape (n_clips, n_groups)
        :data:`NO_SPIKE` where a group did not spike.
    """
    windows = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
    groups, steps = np.asarray(groups, dtype=np.int64), np.asarray(steps, dtype=np.int64)
    order = np.argsort(steps, kind="stable")
    groups, steps = groups[order], steps[order]
    out = np.full((len(windows), n_groups), NO_SPIKE, dtype=np.int64)
    lo = np.searchsorted(steps, windows[:, 0], side="left")
    hi = np.searchsorted(steps, windows[:, 1], side="left")
    for c, (a, b) in enumerate(zip(lo, hi, strict=True)):
        np.minimum.at(out[c], groups[a:b], steps[a:b] - windows[c, 0])
    return out
