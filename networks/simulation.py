"""Running a network over a :class:`~networks.timeline.Timeline` on any Brian2 device.

* :func:`device_session` -- the device for one simulation (a standalone project that
  is built once, after every phase has been declared);
* :func:`run_phases` -- one ``run`` per phase, plasticity switched on in learning
  phases and off in feature phases, progress shown; on standalone devices the whole
  simulation then runs as one compiled program;
* :func:`spike_arrays` -- a ``SpikeMonitor``'s spikes as integer steps;
* :class:`SimulationResult` -- what a simulation of a clip-presenting network returns.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from brian2 import BrianLogger, Network, prefs, second
from tqdm.auto import tqdm

from cortex.devices import STANDALONE_DEVICES, build, current_device, device_scope
from stimuli.timebase import from_brian, to_brian

from .timeline import Timeline

__all__ = [
    "SimulationResult",
    "UnstableSimulation",
    "check_finite",
    "device_session",
    "run_phases",
    "spike_arrays",
    "ProgressBar",
]


class UnstableSimulation(ValueError):
    """A state variable became NaN or infinite: the results would be meaningless."""


def check_finite(values: dict, hint: str = "") -> None:
    """Raise :class:`UnstableSimulation` naming every entry of ``values`` that is not finite.

    Parameters
    ----------
    values : dict of str -> array_like
        Name (``"exc.v"``) -> the state variable's values after a simulation.
    hint : str
        What to change, appended to the message.
    """
    bad = [name for name, v in values.items() if not np.all(np.isfinite(np.asarray(v, dtype=float)))]
    if bad:
        raise UnstableSimulation(
            f"the simulation diverged: {', '.join(bad)} became NaN or infinite" + (f"; {hint}" if hint else "")
        )


@dataclass
class SimulationResult:
    """One simulation of a clip-presenting network.  Times are steps of ``dt`` unless named.

    Attributes
    ----------
    features : list of ndarray
        Per feature (non-plastic) phase, ``(n_clips, n_features)``.
    windows : list of ndarray
        Per phase, ``(n_clips, 2)`` ``[start, end)`` steps of every clip.
    spikes : dict of str -> (indices, steps)
        Spikes of each population, int64 arrays.
    weights, weights_init : dict of str -> ndarray
        Plastic pathway -> weights after / before the simulation.
    snapshots : dict of str -> ndarray, shape (n_snapshots, n_synapses)
        Weights recorded during learning.
    snapshot_times : ndarray
        Times of the snapshots, ms.
    structure : dict of str -> (i, j)
        Connectivity of every pathway.
    neuron_params : dict of str -> dict of str -> ndarray
        Population -> per-neuron ``tau_m`` (ms), ``v_th`` (mV), ``tau_ref`` (ms).
    dt : float
        Network time step, ms.
    seconds : float
        Wall time of the simulation (build included).
    extra : dict
        ``spikes_per_neuron`` (per clip, over the feature phases), ``synaptic_events``
        (total), ``n_clips``; ``v`` (mV, recorded neurons x steps) and ``v_i`` when
        membranes were recorded.
    """

    features: list[np.ndarray]
    windows: list[np.ndarray]
    spikes: dict[str, tuple[np.ndarray, np.ndarray]]
    weights: dict[str, np.ndarray]
    weights_init: dict[str, np.ndarray]
    snapshots: dict[str, np.ndarray]
    snapshot_times: np.ndarray
    structure: dict[str, tuple[np.ndarray, np.ndarray]]
    neuron_params: dict[str, dict[str, np.ndarray]]
    dt: float = 0.0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


@contextmanager
def device_session(device: str, build_dir=None):
    """The Brian2 device for one simulation (restored afterwards).

    On standalone devices the project is built only when :func:`run_phases` has
    declared every phase (``build_on_run=False``), into ``build_dir`` if given.
    Objects of an earlier simulation are collected first so their fixed names are free.

    Ctrl-C raises ``KeyboardInterrupt`` at once instead of Brian2's default of quietly
    ending the current ``run`` early (which would hand back a partial phase as if it
    were finished); a compiled program running at that moment is killed with it.
    """
    gc.collect()
    options = dict(directory=build_dir, build_on_run=False) if device in STANDALONE_DEVICES else {}
    stop_pref = prefs.core.stop_on_keyboard_interrupt
    prefs.core.stop_on_keyboard_interrupt = False
    try:
        with device_scope(device, **options):
            yield
    except BaseException:
        # objects of an interrupted build are dropped on purpose: no warnings about them
        BrianLogger.suppress_name("unused_brian_object")
        raise
    finally:
        prefs.core.stop_on_keyboard_interrupt = stop_pref
        gc.collect()


def run_phases(
    network: Network,
    timeline: Timeline,
    plastic: Iterable,
    *,
    learning_only: Iterable = (),
    progress: bool = True,
    before_phase: Callable[[int, bool], None] | None = None,
) -> None:
    """Run each phase of ``timeline`` on ``network`` (then build and run, on standalone devices).

    Parameters
    ----------
    network : brian2.Network
    timeline : Timeline
    plastic : iterable of Synapses
        Synapses with a ``plastic`` switch: 1 in learning phases, 0 otherwise.
    learning_only : iterable of BrianObject
        Objects (weight monitors) switched off once a non-learning phase begins.
    progress : bool
        A progress bar over simulated time (runtime devices) or the compiled
        program's progress lines (standalone devices).
    before_phase : callable, optional
        ``before_phase(k, learning)`` runs before phase ``k``'s ``run`` (after the
        switches above): finer per-phase settings, such as which of several plastic
        pathways learn.  On standalone devices what it sets is recorded between runs.
    """
    plastic, learning_only = list(plastic), list(learning_only)
    standalone = current_device() in STANDALONE_DEVICES
    dt = to_brian(timeline.dt)
    for k, (n_steps, learning) in enumerate(timeline.phase_runs()):
        for syn in plastic:
            syn.plastic = 1 if learning else 0
        if not learning:
            for obj in learning_only:
                obj.active = False
        if before_phase is not None:
            before_phase(k, learning)
        if not n_steps:
            continue
        if standalone:  # the compiled program prints its own progress lines
            report, period = ("text" if progress else None), 10 * second
        else:
            report = ProgressBar(f"{'train' if learning else 'extract'} phase {k + 1}") if progress else None
            period = 1 * second
        # an explicit (empty) namespace: nothing leaks in from local variables
        network.run(n_steps * dt, report=report, report_period=period, namespace={})
        if isinstance(report, ProgressBar):
            report.close()
    if standalone:
        build(run=True)


def spike_arrays(monitor, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, steps)`` of a ``SpikeMonitor`` on a grid of ``dt`` ms, int64."""
    steps = np.rint(from_brian(monitor.t[:]) / dt).astype(np.int64)
    return np.asarray(monitor.i[:], dtype=np.int64), steps


class ProgressBar:
    """A Brian2 ``report`` callable that drives a tqdm bar over simulated time."""

    def __init__(self, desc: str):
        self.desc, self.bar = desc, None

    def __call__(self, elapsed, completed, start, duration):
        if self.bar is None:
            self.bar = tqdm(
                total=round(float(duration), 3),
                desc=self.desc,
                unit="sim s",
                bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} sim s [{elapsed}<{remaining}]",
            )
        self.bar.n = round(float(completed) * float(duration), 3)
        self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()
