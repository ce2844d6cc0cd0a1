"""From :class:`~stimuli.types.SpikeStimulus` to Brian2 input.

* :func:`to_spike_generator` builds a ``SpikeGeneratorGroup`` with spike times
  ``steps * dt`` exactly on the stimulus grid; :func:`set_stimulus` swaps the spikes
  of an existing group (for ``store``/``restore`` loops instead of rebuilding
  networks).
* :func:`concatenate` lays many stimuli back to back on one time axis, so a whole
  data set can be presented in a single ``run``; ``boundaries[i] = [start, end)``
  (steps) says where stimulus ``i`` lies.

Nothing is dropped silently: a spike outside ``[0, n_steps)`` or ``[0, n_channels)``
raises :class:`~stimuli.types.StimulusError`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from brian2 import SpikeGeneratorGroup

from .timebase import from_brian, to_brian
from .types import SpikeStimulus, StimulusError

__all__ = ["to_spike_generator", "set_stimulus", "concatenate"]

#: Relative tolerance for "same dt" when concatenating stimuli.
_DT_RTOL = 1e-9


def _check_stimulus(stim: SpikeStimulus) -> None:
    """Re-check the invariants (arrays of a frozen stimulus are still mutable)."""
    name = stim.meta.get("id", "stimulus")
    if stim.n_spikes:
        if stim.indices.min() < 0 or stim.indices.max() >= stim.n_channels:
            raise StimulusError(f"{name}: spike channel outside [0, {stim.n_channels})")
        if stim.steps.min() < 0 or stim.steps.max() >= stim.n_steps:
            raise StimulusError(f"{name}: spike step outside the window [0, {stim.n_steps})")
    stim.validate()


def to_spike_generator(stim: SpikeStimulus, name: str = "input", **kwargs) -> SpikeGeneratorGroup:
    """A ``SpikeGeneratorGroup`` emitting ``stim``.

    Parameters
    ----------
    stim : SpikeStimulus
    name : str
        Brian2 object name (give stable names so ``Network.restore`` works).
    **kwargs
        Passed to ``SpikeGeneratorGroup`` (e.g. ``period``, or ``clock`` instead of the
        default ``dt=stim.dt``).

    Returns
    -------
    brian2.SpikeGeneratorGroup
        ``N = stim.n_channels`` neurons, spike times ``stim.steps * stim.dt`` ms, on its
        own clock of step ``stim.dt`` (so times are exact multiples of it).

    Raises
    ------
    StimulusError
        A spike outside the window or channel range, or a duplicate ``(channel, step)``.
    """
    _check_stimulus(stim)
    if "clock" not in kwargs:
        kwargs.setdefault("dt", to_brian(stim.dt))
    # SpikeStimulus is sorted by time, which lets Brian2 skip its own sort.
    return SpikeGeneratorGroup(
        stim.n_channels, stim.indices, to_brian(stim.steps * stim.dt), name=name, sorted=True, **kwargs
    )


def set_stimulus(group: SpikeGeneratorGroup, stim: SpikeStimulus) -> None:
    """Replace the spikes of ``group`` (built by :func:`to_spike_generator`) with ``stim``.

    ``group.N`` must equal ``stim.n_channels`` and the group's ``dt`` must equal
    ``stim.dt``.
    """
    _check_stimulus(stim)
    if group.N != stim.n_channels:
        raise StimulusError(
            f"{stim.meta.get('id', 'stimulus')}: {stim.n_channels} channels, group {group.name!r} has {group.N}"
        )
    group_dt = from_brian(group.clock.dt)
    if abs(group_dt - stim.dt) > _DT_RTOL * stim.dt:
        raise StimulusError(
            f"{stim.meta.get('id', 'stimulus')}: dt {stim.dt} ms differs from group {group.name!r} dt {group_dt} ms"
        )
    group.set_spikes(stim.indices, to_brian(stim.steps * stim.dt), sorted=True)


def concatenate(stims: Sequence[SpikeStimulus], gap_steps: int = 0) -> tuple[SpikeStimulus, np.ndarray]:
    """Place stimuli back to back on one time axis.

    Stimulus ``i`` starts at ``start_i = sum_{j < i} (n_steps_j + gap_steps)``; the
    result lasts ``start_last + n_steps_last`` steps (no gap after the last).

    Parameters
    ----------
    stims : sequence of SpikeStimulus
        Non-empty; all with the same ``dt`` and ``n_channels``.
    gap_steps : int
        Silent steps between consecutive stimuli (e.g. to let the network relax).

    Returns
    -------
    stimulus : SpikeStimulus
        ``label`` None; ``meta`` has ``labels`` (list), ``ids`` (list),
        ``boundaries`` and ``gap_steps``.
    boundaries : ndarray, shape (n, 2), int64
        ``[start_step, end_step)`` of each stimulus.

    Raises
    ------
    StimulusError
        Empty input, mismatched ``dt`` or ``n_channels``, negative ``gap_steps``.
    """
    stims = list(stims)
    if not stims:
        raise StimulusError("concatenate: no stimuli given")
    if int(gap_steps) != gap_steps or gap_steps < 0:
        raise StimulusError(f"concatenate: gap_steps must be an integer >= 0, got {gap_steps!r}")
    dt, n_ch = stims[0].dt, stims[0].n_channels
    for i, s in enumerate(stims):
        if abs(s.dt - dt) > _DT_RTOL * dt:
            raise StimulusError(f"concatenate: stimulus {i} ({s.meta.get('id', '?')}) has dt {s.dt}, expected {dt}")
        if s.n_channels != n_ch:
            raise StimulusError(
                f"concatenate: stimulus {i} ({s.meta.get('id', '?')}) has {s.n_channels} channels, expected {n_ch}"
            )
        _check_stimulus(s)
    lengths = np.array([s.n_steps for s in stims], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths[:-1] + int(gap_steps))]).astype(np.int64)
    boundaries = np.stack([starts, starts + lengths], axis=1)
    indices = np.concatenate([s.indices for s in stims])
    steps = np.concatenate([s.steps + start for s, start in zip(stims, starts, strict=True)])
    meta = {
        "labels": [s.label for s in stims],
        "ids": [s.meta.get("id") for s in stims],
        "boundaries": boundaries,
        "gap_steps": int(gap_steps),
    }
    out = SpikeStimulus(indices, steps, n_ch, int(boundaries[-1, 1]), dt, label=None, meta=meta)
    return out, boundaries
