"""Building a cortical-column network over a timeline, and collecting what a simulation gives.

:func:`build_column_network` turns a :class:`~networks.column.ColumnClassifier`'s
hyperparameters and a :class:`~networks.timeline.Timeline` into Brian2 objects: the
column of :func:`cortex.columns.build_column` fed by the timeline's input, the
clip-boundary resets of its groups, a *teacher* generator that spikes at the last
step of every clip of a reward phase (its neuron = the clip's class), and monitors.
Each timeline phase has a kind:

``stdp``     input STDP and homeostasis on, R-STDP off (unsupervised layer learning)
``reward``   R-STDP on, the layer frozen (input STDP and homeostasis off)
``extract``  everything frozen (features and class votes)

:func:`phase_switches` sets the learning switches of a kind before its run, so on a
standalone device the whole sequence is one program whose weights pass from phase to
phase.  :func:`collect_column` reads the monitors back into a
:class:`~networks.simulation.SimulationResult`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from brian2 import Network, SpikeGeneratorGroup, SpikeMonitor, StateMonitor, defaultclock, ms, mV

from cortex.columns import ColumnNetwork, build_column, set_column_learning
from stimuli.timebase import from_brian, to_brian

from .features import binned_counts, first_spike_steps, reduce_spikes
from .simulation import SimulationResult, spike_arrays
from .timeline import Timeline, clip_reset_synapses, count_in_windows

if TYPE_CHECKING:
    from .column import ColumnClassifier

__all__ = ["PHASE_KINDS", "ColumnRun", "build_column_network", "phase_switches", "collect_column"]

#: Kinds of timeline phases and what learns in each (input STDP, R-STDP, homeostasis).
PHASE_KINDS = {
    "stdp": {"input_stdp": True, "rstdp": False, "homeostasis": True},
    "reward": {"input_stdp": False, "rstdp": True, "homeostasis": False},
    "extract": {"input_stdp": False, "rstdp": False, "homeostasis": False},
}
#: Plastic pathways of the column.
PLASTIC = ("input", "class")


@dataclass
class ColumnRun:
    """The Brian2 objects of one column simulation.

    Attributes
    ----------
    network : brian2.Network
    column : cortex.columns.ColumnNetwork
    monitors : dict of str -> Monitor
        ``spikes_layer``, ``spikes_classes``, ``markers``; ``w_input``/``w_class``
        (weight snapshots while learning).
    kinds : list of str
        Kind of each timeline phase (:data:`PHASE_KINDS`).
    labels : dict of int -> ndarray
        Class index of every clip of each reward phase (by phase index).
    """

    network: Network
    column: ColumnNetwork
    monitors: dict
    kinds: list[str]
    labels: dict[int, np.ndarray]


def _teacher(timeline: Timeline, kinds: list[str], labels: dict[int, np.ndarray], n_classes: int):
    """A generator of ``n_classes`` neurons spiking at the last step of every reward clip."""
    idx, steps = [], []
    for k, (windows, _) in enumerate(timeline.phase_windows()):
        if kinds[k] == "reward":
            idx.append(np.asarray(labels[k], dtype=np.int64))
            steps.append(windows[:, 1] - 1)
    if not idx:
        return None
    idx, steps = np.concatenate(idx), np.concatenate(steps)
    return SpikeGeneratorGroup(n_classes, idx, to_brian(steps * timeline.dt), name="teacher")


def build_column_network(
    model: ColumnClassifier,
    timeline: Timeline,
    kinds: list[str],
    *,
    wiring: dict,
    seed: int,
    labels: dict[int, np.ndarray] | None = None,
    state: dict | None = None,
) -> ColumnRun:
    """Brian2 objects of the column ``model`` describes, fed by ``timeline``.

    Parameters
    ----------
    model : ColumnClassifier
        Whose hyperparameters are read (validated beforehand).
    timeline : Timeline
        The clips to present; its ``dt`` is the simulation step.
    kinds : list of str
        Kind of each phase of ``timeline`` (:data:`PHASE_KINDS`).
    wiring : dict
        ``n_input``, ``input`` (the ``(i, j)`` input synapses), ``columns`` (column of
        each layer neuron) and ``n_classes``.
    seed : int
        Draws the column (:func:`cortex.columns.build_column`).
    labels : dict of int -> ndarray, optional
        Class index of every clip of each reward phase.
    state : dict, optional
        Learned ``weights`` (``input``, ``class``) and ``theta`` (mV) to load.
    """
    dt = to_brian(timeline.dt)
    defaultclock.dt = dt
    labels = labels or {}
    n_classes = int(wiring["n_classes"])
    source = timeline.input_group(int(wiring["n_input"]))
    teacher = _teacher(timeline, kinds, labels, n_classes)
    column = build_column(
        source,
        len(wiring["columns"]),
        n_classes,
        int(model.n_per_class),
        model.column_params(),
        input_connect=wiring["input"],
        columns=wiring["columns"],
        teacher=teacher,
        seed=seed,
        dt=dt,
        name="column",
    )
    if state is not None:
        for name in PLASTIC:
            column.synapses[name].w = state["weights"][name]
        column.layer.theta = np.asarray(state["theta"]) * mV
    reset = timeline.reset_group()
    resets = [
        clip_reset_synapses(reset, group, column.reset_code(part), name=f"reset_{part}")
        for part, group in column.groups().items()
    ]
    monitors = {
        "spikes_layer": SpikeMonitor(column.layer, name="spikes_layer"),
        "spikes_classes": SpikeMonitor(column.classes, name="spikes_classes"),
        "markers": SpikeMonitor(reset, name="markers"),
    }
    if timeline.train_steps and int(model.snapshots) > 0:
        period = timeline.snapshot_period(int(model.snapshots)) * dt
        for name in PLASTIC:
            syn = column.synapses[name]
            if len(syn):
                monitors[f"w_{name}"] = StateMonitor(syn, "w", record=True, dt=period, name=f"w_{name}")
    extra = [g for g in (teacher,) if g is not None]
    network = Network(*column.objects, source, *extra, reset, *resets, *monitors.values())
    return ColumnRun(network, column, monitors, list(kinds), labels)


def phase_switches(run: ColumnRun):
    """``before_phase`` callback of :func:`networks.simulation.run_phases`: each kind's switches."""

    def before_phase(k: int, learning: bool) -> None:
        set_column_learning(run.column, **PHASE_KINDS[run.kinds[k]])

    return before_phase


def _class_votes(spikes, windows, n_classes: int, n_per_class: int):
    """Spike counts and first-spike steps of every class population in every window."""
    idx, steps = spikes
    population = idx // n_per_class
    return binned_counts(population, steps, windows, n_classes, 1), first_spike_steps(
        population, steps, windows, n_classes
    )


def collect_column(run: ColumnRun, model: ColumnClassifier, timeline: Timeline, vote) -> SimulationResult:
    """Read a simulated column back: features, class votes, spikes, weights, thresholds.

    Parameters
    ----------
    run : ColumnRun
    model : ColumnClassifier
    timeline : Timeline
    vote : callable
        ``vote(counts, first_steps) -> class indices`` (the classifier's decision rule),
        applied to the reward phases to record how often the rewarded class won.

    Returns
    -------
    SimulationResult
        ``features``: layer features of every extract phase; ``extra``:
        ``class_counts`` and ``first_spikes`` of every extract phase,
        ``reward_accuracy`` (per reward phase, the fraction of clips whose class won),
        ``theta`` (mV), ``spikes_per_neuron``, ``n_clips``.

    Raises
    ------
    IncompleteSimulation
        The simulation did not reach the end of the timeline.
    """
    dt, column = timeline.dt, run.column
    timeline.check_complete(spike_arrays(run.monitors["markers"], dt)[1])
    spikes = {"layer": spike_arrays(run.monitors["spikes_layer"], dt)}
    spikes["classes"] = spike_arrays(run.monitors["spikes_classes"], dt)
    n_layer, n_classes, n_per_class = column.n_layer, column.n_classes, column.n_per_class
    features, windows, counts, firsts, reward_accuracy = [], [], [], [], []
    for k, (w, _) in enumerate(timeline.phase_windows()):
        windows.append(w)
        kind = run.kinds[k]
        if kind == "extract":
            layer_idx, layer_steps = spikes["layer"]
            reduction, bins = model.reduction, int(model.bins)
            features.append(reduce_spikes(layer_idx, layer_steps, w, n_layer, reduction=reduction, bins=bins, dt=dt))
            c, f = _class_votes(spikes["classes"], w, n_classes, n_per_class)
            counts.append(c)
            firsts.append(f)
        elif kind == "reward":
            c, f = _class_votes(spikes["classes"], w, n_classes, n_per_class)
            reward_accuracy.append(float(np.mean(vote(c, f) == run.labels[k])) if len(w) else np.nan)
    weights = {name: np.asarray(column.synapses[name].w[:]).copy() for name in PLASTIC}
    snapshots, snap_t = {}, np.zeros(0)
    for name in PLASTIC:
        mon = run.monitors.get(f"w_{name}")
        if mon is not None:
            snapshots[name] = np.asarray(mon.w[:]).T.copy()  # (n_snapshots, n_synapses)
            snap_t = from_brian(mon.t[:])
    counted = timeline.feature_windows()
    total = count_in_windows(spikes["layer"][1], counted)
    neuron_params = {
        part: {
            "tau_m": np.asarray(group.tau_m[:] / ms).copy(),
            "v_th": np.asarray(group.v_th[:] / mV).copy(),
            "tau_ref": np.asarray(group.tau_ref[:] / ms).copy(),
        }
        for part, group in column.groups().items()
    }
    extra = {
        "class_counts": counts,
        "first_spikes": firsts,
        "reward_accuracy": np.asarray(reward_accuracy, dtype=float),
        "theta": np.asarray(column.layer.theta[:] / mV).copy(),
        "spikes_per_neuron": total / (n_layer * max(len(counted), 1)),
        "n_clips": int(timeline.n_clips),
    }
    return SimulationResult(
        features=features,
        windows=windows,
        spikes=spikes,
        weights=weights,
        weights_init=dict(column.weights_init),
        snapshots=snapshots,
        snapshot_times=snap_t,
        structure=dict(column.structure),
        neuron_params=neuron_params,
        dt=dt,
        extra=extra,
    )
