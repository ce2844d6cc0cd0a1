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

For sequence readouts (attention over time bins), :func:`as_tokens` reshapes either
reduction to ``(n_clips, bins, n_neurons)``: one token per bin.  For decisions by
population, :func:`first_spike_steps` gives each group's first spike in each window.
"""

from __future__ import annotations

import numpy as np

from stimuli.timebase import ms_to_seconds

__all__ = ["MAX_BINS", "REDUCTIONS", "binned_counts", "reduce_spikes", "as_tokens", "first_spike_steps", "NO_SPIKE"]

#: Most time bins per clip a reduction takes (features grow as bins x neurons).
MAX_BINS = 10_000


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
    if bins < 1:
        raise ValueError(f"bins: must be >= 1, got {bins}")
    windows = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
    if np.any(windows[:, 1] <= windows[:, 0]):
        raise ValueError("windows: every window needs end > start")
    indices = np.asarray(indices, dtype=np.int64)
    steps = np.asarray(steps, dtype=np.int64)
    order = np.argsort(steps, kind="stable")
    steps, indices = steps[order], indices[order]
    out = np.zeros((len(windows), bins * n_neurons))
    lo = np.searchsorted(steps, windows[:, 0], side="left")
    hi = np.searchsorted(steps, windows[:, 1], side="left")
    for c, (a, b) in enumerate(zip(lo, hi, strict=True)):
        if b <= a:
            continue
        start, length = windows[c, 0], windows[c, 1] - windows[c, 0]
        # bin of each spike: floor(bins * offset / length), exact in integers
        b_idx = (bins * (steps[a:b] - start)) // length
        np.add.at(out[c], b_idx * n_neurons + indices[a:b], 1.0)
    return out


def reduce_spikes(indices, steps, windows, n_neurons, *, reduction="binned_counts", bins=1, dt=1.0):
    """Apply a named reduction (see module docstring); ``dt`` is the step in ms (for rates in Hz)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: unknown {reduction!r}; choose one of {sorted(REDUCTIONS)}")
    counts = binned_counts(indices, steps, windows, n_neurons, bins)
    if reduction == "binned_rates":
        windows = np.asarray(windows).reshape(-1, 2)
        bin_seconds = ms_to_seconds((windows[:, 1] - windows[:, 0]) * dt / bins)
        counts /= bin_seconds[:, None]
    return counts


#: Names accepted by :func:`reduce_spikes` (and the ``reduction`` hyperparameter).
REDUCTIONS = ("binned_counts", "binned_rates")


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
