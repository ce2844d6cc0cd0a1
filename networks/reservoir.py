"""Building the HRSNN reservoir in Brian2 and collecting what a simulation of it gives.

:func:`build_reservoir` turns an :class:`~networks.hrsnn.HRSNN`'s hyperparameters and
a :class:`~networks.timeline.Timeline` into Brian2 objects::

    input (SpikeGeneratorGroup) --in_exc*, in_inh--> exc (80 %) <--> inh (20 %)
                                        exc --ee*--> exc,  exc --ei--> inh,
                                        inh --ie--> exc,   inh --ii--> inh
    (* plastic by default: heterogeneous pair STDP)

plus the clip-boundary reset, spike monitors, optional membrane and weight monitors.
Every stochastic choice is drawn in NumPy from independent child streams of one seed
(neurons, structure, weights, STDP parameters), so all four heterogeneity variants
share connectivity and initial weights, and every device builds the same network.
:func:`collect` reads the monitors back into a :class:`~networks.simulation.SimulationResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from brian2 import Network, SpikeMonitor, StateMonitor, defaultclock, ms, mV, nA

from cortex.neurons import lif_group, lif_reset_code
from cortex.seeds import make_rng
from cortex.synapses import static_synapses, stdp_synapses
from stimuli.timebase import from_brian, to_brian

from .features import reduce_spikes
from .simulation import SimulationResult, check_finite, spike_arrays
from .timeline import Timeline, clip_reset_synapses, count_in_windows
from .topology import PATHWAYS, fan_out, reservoir_connectivity

if TYPE_CHECKING:
    from .hrsnn import HRSNN

__all__ = ["ReservoirNetwork", "build_reservoir", "collect"]


@dataclass
class ReservoirNetwork:
    """The Brian2 objects of one reservoir simulation and what was drawn to build them.

    Attributes
    ----------
    network : brian2.Network
        Every object below, ready to ``run``.
    groups : dict of str -> Group
        ``input``, ``exc``, ``inh``.
    synapses : dict of str -> Synapses
        One per pathway of :data:`~networks.topology.PATHWAYS`.
    monitors : dict of str -> Monitor
        ``spikes_exc``, ``spikes_inh``, ``markers`` (the timeline's reset and end
        markers, see :meth:`~networks.timeline.Timeline.check_complete`); ``v_exc``
        (membranes) and ``w_<pathway>`` (weight snapshots) where recorded.
    structure : dict of str -> (i, j)
        Connectivity of every pathway.
    plastic : tuple of str
        Pathways with STDP.
    weights_init : dict of str -> ndarray
        Initial weights of the plastic pathways.
    """

    network: Network
    groups: dict
    synapses: dict
    monitors: dict
    structure: dict
    plastic: tuple[str, ...]
    weights_init: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def weight_monitors(self) -> list:
        return [m for k, m in self.monitors.items() if k.startswith("w_")]


def build_reservoir(
    model: HRSNN, timeline: Timeline, *, n_input: int, seed: int, weights: dict[str, np.ndarray] | None = None
) -> ReservoirNetwork:
    """Brian2 objects of the reservoir ``model`` describes, fed by ``timeline``.

    Parameters
    ----------
    model : HRSNN
        Whose hyperparameters are read (validated beforehand).
    timeline : Timeline
        The clips to present; its ``dt`` is the simulation step.
    n_input : int
        Input channels.
    seed : int
        Draws neurons, connectivity, initial weights and STDP parameters.
    weights : dict of str -> ndarray, optional
        Learned weights to load into the plastic pathways (a fitted model).

    Returns
    -------
    ReservoirNetwork
    """
    dt = to_brian(timeline.dt)
    defaultclock.dt = dt
    params = model.neuron_params()
    # independent child streams: all variants share connectivity and initial weights for a seed
    neuron_rng_e, neuron_rng_i, wiring_rng, weight_rng, stdp_rng = make_rng(seed).spawn(5)
    groups = {
        "exc": lif_group(model.n_exc, params, synapse=model.synapse, name="exc", seed=neuron_rng_e, dt=dt),
        "inh": lif_group(model.n_inh, params, synapse=model.synapse, name="inh", seed=neuron_rng_i, dt=dt),
        "input": timeline.input_group(n_input),
    }
    reset = timeline.reset_group()
    code = lif_reset_code(model.synapse, suffix="_post")
    resets = [clip_reset_synapses(reset, groups[p], code, name=f"reset_{p}") for p in ("exc", "inh")]
    probs = {
        "in_exc": model.p_in,
        "in_inh": model.p_in,
        "ee": model.p_ee,
        "ei": model.p_ei,
        "ie": model.p_ie,
        "ii": model.p_ii,
    }
    structure = reservoir_connectivity(
        n_input, model.n_exc, model.n_inh, probs, scheme=model.connect, lam=model.lam, seed=wiring_rng
    )
    plastic = model.plastic_pathways()
    stdp = model.stdp_params()
    w_means = {
        "in_exc": model.w_in,
        "in_inh": model.w_in,
        "ee": model.w_ee,
        "ei": model.w_ei,
        "ie": model.w_ie,
        "ii": model.w_ii,
    }
    synapses, weights_init = {}, {}
    for name, (src, tgt, excitatory) in PATHWAYS.items():
        i, j = structure[name]
        J = model.J_in if src == "input" else model.J_e if excitatory else model.J_i
        J = J * nA if model.synapse == "current" else float(J)
        w0 = np.minimum(weight_rng.uniform(0, 2 * w_means[name], size=len(i)), model.w_max)
        common = dict(target="e" if excitatory else "i", J=J, connect=(i, j), w_init=w0, name=name, seed=stdp_rng)
        if name in plastic:
            weights_init[name] = w0
            synapses[name] = stdp_synapses(groups[src], groups[tgt], stdp, rule=model.rule, dt=dt, **common)
        else:
            synapses[name] = static_synapses(groups[src], groups[tgt], **common)
    monitors = {f"spikes_{p}": SpikeMonitor(groups[p], name=f"spikes_{p}") for p in ("exc", "inh")}
    monitors["markers"] = SpikeMonitor(reset, name="markers")  # proves the run reached its end
    if int(model.record_v) > 0 and not timeline.train_steps:
        monitors["v_exc"] = StateMonitor(groups["exc"], "v", record=np.arange(int(model.record_v)), name="v_exc")
    if timeline.train_steps and int(model.snapshots) > 0:
        period = timeline.snapshot_period(int(model.snapshots)) * dt
        for name in plastic:
            if len(synapses[name]):
                monitors[f"w_{name}"] = StateMonitor(synapses[name], "w", record=True, dt=period, name=f"w_{name}")
    if weights is not None and not timeline.train_steps:
        for name, w in weights.items():
            synapses[name].w = w
    network = Network(*groups.values(), reset, *resets, *synapses.values(), *monitors.values())
    return ReservoirNetwork(network, groups, synapses, monitors, structure, plastic, weights_init)


def collect(net: ReservoirNetwork, model: HRSNN, timeline: Timeline) -> SimulationResult:
    """Read a simulated reservoir back: features, spikes, weights, snapshots, activity.

    Features are the reduced spikes (:func:`~networks.features.reduce_spikes`) of every
    clip of each non-plastic phase; activity counts are over the feature phases (over
    training when there is none).

    Raises
    ------
    IncompleteSimulation
        The simulation did not reach the end of the timeline.
    """
    dt, ne = timeline.dt, model.n_exc
    timeline.check_complete(spike_arrays(net.monitors["markers"], dt)[1])
    check_finite(
        {f"{pop}.v": net.groups[pop].v[:] / mV for pop in ("exc", "inh")}
        | {f"{name}.w": net.synapses[name].w[:] for name in net.plastic},
        hint="lower the gains (J_in, J_e, J_i) or the time step dt",
    )
    spikes = {pop: spike_arrays(net.monitors[f"spikes_{pop}"], dt) for pop in ("exc", "inh")}
    if model.populations == "all":
        idx = np.concatenate([spikes["exc"][0], spikes["inh"][0] + ne])
        stp = np.concatenate([spikes["exc"][1], spikes["inh"][1]])
        n_pop = model.n
    else:
        (idx, stp), n_pop = spikes["exc"], ne
    features, windows = [], []
    for w, plastic in timeline.phase_windows():
        windows.append(w)
        if not plastic:
            features.append(reduce_spikes(idx, stp, w, n_pop, reduction=model.reduction, bins=int(model.bins), dt=dt))
    weights = {name: np.asarray(net.synapses[name].w[:]).copy() for name in net.plastic}
    snapshots, snap_t = {}, np.zeros(0)
    for name in net.plastic:
        mon = net.monitors.get(f"w_{name}")
        if mon is not None:
            snapshots[name] = np.asarray(mon.w[:]).T.copy()  # (n_snapshots, n_synapses)
            snap_t = from_brian(mon.t[:])
    counted = timeline.feature_windows()
    total = sum(count_in_windows(s[1], counted) for s in spikes.values())
    # synaptic events: each spike times its fan-out (input spikes included)
    fan = fan_out(net.structure, {"input": len(net.groups["input"]), "exc": ne, "inh": model.n_inh})
    syn_events = float(
        fan["exc"][spikes["exc"][0]].sum() + fan["inh"][spikes["inh"][0]].sum() + fan["input"][timeline.indices].sum()
    )
    extra = {
        "spikes_per_neuron": total / (model.n * max(len(counted), 1)),
        "synaptic_events": syn_events,
        "n_clips": int(timeline.n_clips),
    }
    if "v_exc" in net.monitors:
        extra["v"] = np.asarray(net.monitors["v_exc"].v[:] / mV).copy()
        extra["v_i"] = np.arange(int(model.record_v))
    neuron_params = {
        pop: {
            "tau_m": np.asarray(net.groups[pop].tau_m[:] / ms).copy(),
            "v_th": np.asarray(net.groups[pop].v_th[:] / mV).copy(),
            "tau_ref": np.asarray(net.groups[pop].tau_ref[:] / ms).copy(),
        }
        for pop in ("exc", "inh")
    }
    return SimulationResult(
        features=features,
        windows=windows,
        spikes=spikes,
        weights=weights,
        weights_init=net.weights_init,
        snapshots=snapshots,
        snapshot_times=snap_t,
        structure=net.structure,
        neuron_params=neuron_params,
        dt=dt,
        extra=extra,
    )
