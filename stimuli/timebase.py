"""The package's one time convention, and the only place where times are converted.

Every time a user types or reads as a plain number -- encoder parameters, model
hyperparameters, YAML configs, command-line values, :class:`~stimuli.types.SpikeStimulus`
fields, run files (``raster.npz``, ``model.npz``) -- is in **milliseconds**, and its
name or docstring says so.  Two documented exceptions:

* event timestamps ``t`` of an event array are in **microseconds** (the format of
  event cameras and of Tonic, see :data:`stimuli.types.EVENT_DTYPE`);
* wall-clock durations of runs are in **seconds** and named so (``seconds``,
  ``fit_seconds_``).

:mod:`cortex` works with Brian2 quantities (``20*ms``); :func:`to_brian` and
:func:`from_brian` cross that boundary.  Rates stay in Hz, so the probability of a
spike in one step of ``dt`` ms at ``rate`` Hz is ``rate * ms_to_seconds(dt)``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MS_PER_SECOND",
    "US_PER_MS",
    "ms_to_seconds",
    "seconds_to_ms",
    "us_to_ms",
    "ms_to_us",
    "to_brian",
    "from_brian",
]

#: Milliseconds in one second.
MS_PER_SECOND = 1000.0
#: Microseconds in one millisecond.
US_PER_MS = 1000.0


def ms_to_seconds(t_ms):
    """Milliseconds (float or array) -> seconds."""
    return np.asarray(t_ms, dtype=float) / MS_PER_SECOND if np.ndim(t_ms) else float(t_ms) / MS_PER_SECOND


def seconds_to_ms(t_s):
    """Seconds (float or array) -> milliseconds."""
    return np.asarray(t_s, dtype=float) * MS_PER_SECOND if np.ndim(t_s) else float(t_s) * MS_PER_SECOND


def us_to_ms(t_us):
    """Microseconds (float or array) -> milliseconds."""
    return np.asarray(t_us, dtype=float) / US_PER_MS if np.ndim(t_us) else float(t_us) / US_PER_MS


def ms_to_us(t_ms):
    """Milliseconds (float or array) -> microseconds."""
    return np.asarray(t_ms, dtype=float) * US_PER_MS if np.ndim(t_ms) else float(t_ms) * US_PER_MS


def to_brian(t_ms):
    """Milliseconds (float or array) -> a Brian2 quantity of time."""
    from brian2 import ms  # noqa: PLC0415 -- heavy; stimuli works without Brian2 loaded

    return np.asarray(t_ms, dtype=float) * ms if np.ndim(t_ms) else float(t_ms) * ms


def from_brian(quantity):
    """A Brian2 quantity of time (scalar or array) -> milliseconds."""
    from brian2 import ms  # noqa: PLC0415 -- heavy; stimuli works without Brian2 loaded
    from brian2.units.fundamentalunits import fail_for_dimension_mismatch  # noqa: PLC0415

    fail_for_dimension_mismatch(quantity, ms, "expected a time")
    value = np.asarray(quantity / ms, dtype=float)
    return value if value.ndim else float(value)
