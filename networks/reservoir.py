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

from cortex.neurons import draw_lif_values, lif_group, lif_reset_code
from cortex.seeds import make_rng
from cortex.synapses import STDPParams, draw_synapse_values, static_synapses, stdp_synapses
from stimuli.timebase import from_brian, to_brian

from .features import reduce_spikes
from .simulation import SimulationResult, check_finite, spike_arrays
from .timeline import Timeline, clip_reset_synapses, count_in_windows
from .topology import (
    PATHWAYS,
    fan_out,
    reservoir_connectivity,
    tile_receptive_fields,
    topographic_input_connectivity,
)

if TYPE_CHECKING:
    from .hrsnn import HRSNN

__all__ = [
    "ReservoirDraws",
    "ReservoirNetwork",
    "assemble_result",
    "build_reservoir",
    "collect",
    "draw_reservoir",
    "pathway_J",
]


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


@dataclass
class ReservoirDraws:
    """Every random choice of a reservoir for one seed, drawn in NumPy.

    Attributes
    ----------
    neurons : dict of str -> dict of str -> Quantity
        ``exc``/``inh`` -> per-neuron values (:func:`cortex.neurons.draw_lif_values`).
    structure : dict of str -> (i, j)
        Connectivity of every pathway.
    weights_init : dict of str -> ndarray
        Initial weights of every pathway.
    synapse_values : dict of str -> dict of str -> Quantity
        Plastic pathway -> per-synapse STDP parameters.
    """

    neurons: dict
    structure: dict
    weights_init: dict
    synapse_values: dict


def _probabilities(model: HRSNN, prefix: str) -> dict[str, float]:
    names = {"in_exc": "in", "in_inh": "in", "ee": "ee", "ei": "ei", "ie": "ie", "ii": "ii"}
    return {pw: float(getattr(model, f"{prefix}_{names[pw]}")) for pw in PATHWAYS}


def draw_reservoir(model: HRSNN, *, n_input: int, seed: int) -> ReservoirDraws:
    """Draw neurons, connectivity, initial weights and STDP parameters of ``model`` for ``seed``.

    Independent child streams of the seed (neurons, wiring, weights, STDP) keep all
    heterogeneity variants on the same connectivity and initial weights.
    :func:`build_reservoir` and the compiled program
    (:mod:`networks.compiled_reservoir`) build the same network from these draws.
    """
    dt = to_brian(model.dt)
    neuron_rng_e, neuron_rng_i, wiring_rng, weight_rng, stdp_rng, field_rng = make_rng(seed).spawn(6)
    params = model.neuron_params()
    neurons = {
        pop: draw_lif_values(n, params, synapse=model.synapse, seed=rng, dt=dt)
        for pop, n, rng in (("exc", model.n_exc, neuron_rng_e), ("inh", model.n_inh, neuron_rng_i))
    }
    structure = reservoir_connectivity(
        n_input,
        model.n_exc,
        model.n_inh,
        _probabilities(model, "p"),
        scheme=model.connect,
        lam=model.lam,
        seed=wiring_rng,
    )
    if model.input_wiring == "topographic":  # the random input draws above keep the recurrent ones identical
        structure.update(_topographic_input(model, n_input, field_rng))
    w_means = _probabilities(model, "w")
    weights_init = {
        pw: np.minimum(weight_rng.uniform(0, 2 * w_means[pw], size=len(structure[pw][0])), model.w_max)
        for pw in PATHWAYS
    }
    specs = model.stdp_params().validate(dt)
    per_synapse = {k: specs[k] for k in STDPParams._per_synapse}
    synapse_values = {
        pw: draw_synapse_values(per_synapse, len(structure[pw][0]), stdp_rng)
        for pw in PATHWAYS
        if pw in model.plastic_pathways()
    }
    return ReservoirDraws(neurons, structure, weights_init, synapse_values)


def _topographic_input(model: HRSNN, n_input: int, rng) -> dict:
    """``in_exc`` and ``in_inh`` through receptive fields (``model.rf_tiles``, ``model.rf_overlap``)."""
    positions = getattr(model, "channel_positions_", None)
    if positions is None or len(positions) != n_input:
        raise ValueError(
            f"input_wiring: 'topographic' needs the positions of the {n_input} input channels "
            "(set by fit from the stimuli's frame geometry)"
        )
    fields = tile_receptive_fields(positions, tuple(model.rf_tiles), int(model.rf_overlap))
    i, j, _ = topographic_input_connectivity(fields, n_input, model.n_exc, model.p_in, seed=rng)
    out = {"in_exc": (i, j)}
    i, j, _ = topographic_input_connectivity(fields, n_input, model.n_inh, model.p_in, first_tile=model.n_exc, seed=rng)
    out["in_inh"] = (i, j)
    return out


def pathway_J(model: HRSNN, pathway: str):
    """Input per unit weight of ``pathway``: nA for current-based synapses, relative conductance otherwise."""
    src, _, excitatory = PATHWAYS[pathway]
    J = model.J_in if src == "input" else model.J_e if excitatory else model.J_i
    return J * nA if model.synapse == "current" else float(J)


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
    draws = draw_reservoir(model, n_input=n_input, seed=seed)
    groups = {
        pop: lif_group(n, synapse=model.synapse, name=pop, dt=dt)
        for pop, n in (("exc", model.n_exc), ("inh", model.n_inh))
    }
    for pop, values in draws.neurons.items():
        for name, value in values.items():
            setattr(groups[pop], name, value)
    groups["input"] = timeline.input_group(n_input)
    reset = timeline.reset_group()
    code = lif_reset_code(model.synapse, suffix="_post")
    resets = [clip_reset_synapses(reset, groups[p], code, name=f"reset_{p}") for p in ("exc", "inh")]
    structure, plastic = draws.structure, model.plastic_pathways()
    stdp = model.stdp_params()
    synapses, weights_init = {}, {}
    for name, (src, tgt, excitatory) in PATHWAYS.items():
        common = dict(
            target="e" if excitatory else "i",
            J=pathway_J(model, name),
            connect=structure[name],
            w_init=draws.weights_init[name],
            name=name,
        )
        if name in plastic:
            weights_init[name] = draws.weights_init[name]
            synapses[name] = stdp_synapses(groups[src], groups[tgt], stdp, rule=model.rule, dt=dt, **common)
            if len(structure[name][0]):  # the seed's STDP parameters replace the builder's own draw
                for var, values in draws.synapse_values[name].items():
                    setattr(synapses[name], var, values)
        else:
            synapses[name] = static_synapses(groups[src], groups[tgt], **common)
    monitors = _monitors(model, timeline, groups, synapses, reset, plastic)
    if weights is not None and not timeline.train_steps:
        for name, w in weights.items():
            synapses[name].w = w
    network = Network(*groups.values(), reset, *resets, *synapses.values(), *monitors.values())
    return ReservoirNetwork(network, groups, synapses, monitors, structure, plastic, weights_init)


def _monitors(model: HRSNN, timeline: Timeline, groups: dict, synapses: dict, reset, plastic) -> dict:
    """Spike monitors, the timeline's markers, and the membrane or weight monitors asked for."""
    dt = to_brian(timeline.dt)
    monitors = {f"spikes_{p}": SpikeMonitor(groups[p], name=f"spikes_{p}") for p in ("exc", "inh")}
    monitors["markers"] = SpikeMonitor(reset, name="markers")  # proves the run reached its end
    if int(model.record_v) > 0 and not timeline.train_steps:
        monitors["v_exc"] = StateMonitor(groups["exc"], "v", record=np.arange(int(model.record_v)), name="v_exc")
    if timeline.train_steps and int(model.snapshots) > 0:
        period = timeline.snapshot_period(int(model.snapshots)) * dt
        for name in plastic:
            if len(synapses[name]):
                monitors[f"w_{name}"] = StateMonitor(synapses[name], "w", record=True, dt=period, name=f"w_{name}")
    return monitors


def collect(net: ReservoirNetwork, model: HRSNN, timeline: Timeline) -> SimulationResult:
    """Read a simulated reservoir back: features, spikes, weights, snapshots, activity.

    Raises
    ------
    IncompleteSimulation
        The simulation did not reach the end of the timeline.
    """
    dt = timeline.dt
    timeline.check_complete(spike_arrays(net.monitors["markers"], dt)[1])
    snapshots, snap_t = {}, np.zeros(0)
    for name in net.plastic:
        mon = net.monitors.get(f"w_{name}")
        if mon is not None:
            snapshots[name] = np.asarray(mon.w[:]).T.copy()  # (n_snapshots, n_synapses)
            snap_t = from_brian(mon.t[:])
    return assemble_result(
        model,
        timeline,
        spikes={pop: spike_arrays(net.monitors[f"spikes_{pop}"], dt) for pop in ("exc", "inh")},
        final_v={pop: np.asarray(net.groups[pop].v[:] / mV) for pop in ("exc", "inh")},
        weights={name: np.asarray(net.synapses[name].w[:]).copy() for name in net.plastic},
        weights_init=net.weights_init,
        snapshots=snapshots,
        snapshot_times=snap_t,
        structure=net.structure,
        neuron_params={
            pop: {
                "tau_m": np.asarray(net.groups[pop].tau_m[:] / ms).copy(),
                "v_th": np.asarray(net.groups[pop].v_th[:] / mV).copy(),
                "tau_ref": np.asarray(net.groups[pop].tau_ref[:] / ms).copy(),
            }
            for pop in ("exc", "inh")
        },
        n_input=len(net.groups["input"]),
        v=np.asarray(net.monitors["v_exc"].v[:] / mV).copy() if "v_exc" in net.monitors else None,
    )


def assemble_result(
    model: HRSNN,
    timeline: Timeline,
    *,
    spikes: dict,
    final_v: dict,
    weights: dict,
    weights_init: dict,
    snapshots: dict,
    snapshot_times: np.ndarray,
    structure: dict,
    neuron_params: dict,
    n_input: int,
    v: np.ndarray | None = None,
) -> SimulationResult:
    """A :class:`~networks.simulation.SimulationResult` from what a simulation recorded.

    Features are the reduced spikes (:func:`~networks.features.reduce_spikes`) of every
    clip of each non-plastic phase; activity counts are over the feature phases (over
    training when there is none).

    Parameters
    ----------
    spikes : dict of str -> (indices, steps)
        ``exc``/``inh`` spikes on the timeline's axis of steps.
    final_v : dict of str -> ndarray
        Membrane potentials (mV) at the end, checked for NaN.
    v : ndarray, optional
        Recorded membranes (mV), ``(model.record_v, steps)``.
    """
    dt, ne = timeline.dt, model.n_exc
    check_finite(
        {f"{pop}.v": values for pop, values in final_v.items()} | {f"{name}.w": w for name, w in weights.items()},
        hint="lower the gains (J_in, J_e, J_i) or the time step dt",
    )
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
            features.append(
                reduce_spikes(
                    idx, stp, w, n_pop, reduction=model.reduction, bins=int(model.bins), dt=dt, taus=model.taus
                )
            )
    counted = timeline.feature_windows()
    total = sum(count_in_windows(s[1], counted) for s in spikes.values())
    # synaptic events: each spike times its fan-out (input spikes included)
    fan = fan_out(structure, {"input": n_input, "exc": ne, "inh": model.n_inh})
    syn_events = float(
        fan["exc"][spikes["exc"][0]].sum() + fan["inh"][spikes["inh"][0]].sum() + fan["input"][timeline.indices].sum()
    )
    extra = {
        "spikes_per_neuron": total / (model.n * max(len(counted), 1)),
        "synaptic_events": syn_events,
        "n_clips": int(timeline.n_clips),
    }
    if v is not None:
        extra["v"] = v
        extra["v_i"] = np.arange(int(model.record_v))
    return SimulationResult(
        features=features,
        windows=windows,
        spikes=spikes,
        weights=weights,
        weights_init=weights_init,
        snapshots=snapshots,
        snapshot_times=snapshot_times,
        structure=structure,
        neuron_params=neuron_params,
        dt=dt,
        extra=extra,
    )
