"""Heterogeneous recurrent spiking reservoir (HRSNN) as a scikit-learn transformer.

The network (Chakraborty & Mukhopadhyay 2022)::

    input (SpikeGeneratorGroup) --in_exc*, in_inh--> exc (80 %) <--> inh (20 %)
                                        exc --ee*--> exc,  exc --ei--> inh,
                                        inh --ie--> exc,   inh --ii--> inh
    (* plastic by default: heterogeneous pair STDP)

Neurons are current-based LIF (:mod:`cortex.neurons`); with heterogeneous neurons
(``HeN``) ``tau_m`` is gamma-distributed with CV ``cv_neuron``; with heterogeneous
synapses (``HeS``) each plastic synapse draws its own ``A_plus``, ``A_minus``,
``tau_pre`` and ``tau_post`` with CV ``cv_synapse``.  Homogeneous variants use
the same means with zero spread.

Clips are presented back to back in **one** simulation: each clip is preceded by
a silent gap of ``gap`` ms, and at the end of the step before it every neuron's
membrane, synaptic input and refractoriness are reset (a one-neuron reset
generator with synapses onto both populations, run after all other operations of
that step).  With weights frozen, each clip's spikes are exactly those of a fresh
network started from the initial state -- what a ``store()``/``restore()`` loop
gives, without rebuilding or restoring anything per clip.

* ``fit(X)`` -- unsupervised phase: STDP on, all training clips once per epoch;
  then weights are frozen.  Learned weights end in ``weights_``; weight snapshots
  in ``snapshots_``.
* ``transform(X)`` -- feature phase: weights frozen, spikes reduced per clip by
  :func:`networks.features.reduce_spikes` (``reduction``, ``bins``).
* ``fit_transform(X)`` runs both phases in one simulation (one standalone build).

Every stochastic choice (connectivity, heterogeneous parameters, initial weights)
is drawn in NumPy from ``seed``, and the dynamics are deterministic, so a seed
fixes the result on every device.
"""
from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from brian2 import (Network, SpikeGeneratorGroup, SpikeMonitor, StateMonitor, Synapses, amp, ms,
                    nA, second)
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from cortex.heterogeneity import ParamSpec, make_rng
from cortex.neurons import LIFParams, lif_group
from cortex.synapses import STDPParams, connectivity, static_synapses, stdp_synapses
from stimuli.types import SpikeStimulus, StimulusError

from .features import REDUCTIONS, reduce_spikes
from .topology import distance_connectivity, fan_out, grid_positions

__all__ = ["HRSNN", "VARIANTS", "PATHWAYS", "SimulationResult"]

#: Heterogeneity variants: (heterogeneous neurons, heterogeneous synapses).
VARIANTS = {"HoNHoS": (False, False), "HeNHoS": (True, False),
            "HoNHeS": (False, True), "HeNHeS": (True, True)}

#: Pathways (name: (source, target, excitatory?)).
PATHWAYS = {"in_exc": ("input", "exc", True), "in_inh": ("input", "inh", True),
            "ee": ("exc", "exc", True), "ei": ("exc", "inh", True),
            "ie": ("inh", "exc", False), "ii": ("inh", "inh", False)}

_PLASTIC_OK = ("in_exc", "in_inh", "ee")

#: What the clip-boundary reset does to every reservoir neuron, per synapse model.
#: Refractoriness is cleared too, so a clip starts exactly as from the initial state.
RESET_CODE = {"current": "v_post = v_rest_post\nI_e_post = 0*amp\nI_i_post = 0*amp",
              "conductance": "v_post = v_rest_post\ng_e_post = 0\ng_i_post = 0"}
RESET_CODE = {k: v + "\nlastspike_post = -1e4*second\nnot_refractory_post = True" for k, v in RESET_CODE.items()}


@dataclass
class SimulationResult:
    """What one simulation of the reservoir returns (arrays in time steps of ``dt``)."""

    features: list[np.ndarray]            # per feature phase, (n_clips, n_features)
    windows: list[np.ndarray]             # per phase, (n_clips, 2) steps
    spikes: dict[str, tuple[np.ndarray, np.ndarray]]  # population -> (indices, steps)
    weights: dict[str, np.ndarray]        # plastic pathway -> final weights
    weights_init: dict[str, np.ndarray]
    snapshots: dict[str, np.ndarray]      # pathway -> (n_snapshots, n_synapses)
    snapshot_times: np.ndarray            # seconds
    structure: dict[str, tuple[np.ndarray, np.ndarray]]
    neuron_params: dict[str, dict[str, np.ndarray]]
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


class HRSNN(TransformerMixin, BaseEstimator):
    """Heterogeneous recurrent spiking reservoir; features are reduced spike counts.

    Parameters
    ----------
    n : int
        Reservoir neurons (excitatory + inhibitory).
    exc : float
        Excitatory fraction.
    variant : {"HoNHoS", "HeNHoS", "HoNHeS", "HeNHeS"}
        Homogeneous/heterogeneous neurons (``N``) and synapses (``S``).
    synapse : {"current", "conductance"}
        LIF synapse model (:mod:`cortex.neurons`).  Current-based inputs are
        unbounded (strong inhibition can push ``v`` far below ``E_i``);
        conductance-based inputs saturate at the reversal potentials.
    tau_m : float
        Mean membrane time constant, ms.
    cv_neuron : float
        CV of ``tau_m`` in heterogeneous-neuron variants.
    neuron_dist : str
        Distribution of ``tau_m`` (``gamma``, ``lognormal``, ``truncnorm``, ``uniform``).
    tau_ref : float
        Refractory period, ms.
    a_plus : float
        Mean STDP potentiation step (weights live in ``[0, w_max]``).
    a_ratio : float
        ``A_minus / A_plus``.
    tau_pre, tau_post : float
        Mean STDP trace time constants, ms.
    cv_synapse : float
        CV of ``A_plus``, ``A_minus``, ``tau_pre``, ``tau_post`` in
        heterogeneous-synapse variants (gamma).
    rule : {"multiplicative", "additive"}
        STDP weight dependence.
    plastic : str
        Comma-separated plastic pathways among ``in_exc``, ``in_inh``, ``ee``.
    connect : {"random", "distance"}
        Recurrent connectivity: fixed probability, or ``p * exp(-(d/lam)**2)`` on
        a 3-D grid.
    lam : float
        Length constant of distance-dependent connectivity (grid units).
    p_in, p_ee, p_ei, p_ie, p_ii : float
        Connection probabilities (the peak probability ``C`` for ``distance``).
    w_in, w_ee, w_ei, w_ie, w_ii : float
        Mean initial weights (uniform on ``[0, 2*w]``, clipped to ``w_max``).
    w_max : float
        Upper weight bound of plastic synapses.
    J_in, J_e, J_i : float
        Synaptic input per unit weight: input, recurrent excitatory, inhibitory.
        Current-based: nA (with the default LIF, 100 MOhm, tau_m 20 ms, tau_e
        5 ms, 1 nA gives a PSP peak of about 16 mV).  Conductance-based: the
        conductance relative to the leak (about 1.5 x the nA value gives a
        similar excitatory PSP at rest).
    bins : int
        Time bins per clip for the feature reduction.
    reduction : {"binned_counts", "binned_rates"}
        Sequence-to-vector reduction (see :mod:`networks.features`).
    populations : {"exc", "all"}
        Whose spikes become features.
    dt : float
        Simulation step, ms.
    gap : float
        Silent gap before each clip, ms.
    epochs : int
        Passes over the training clips in the unsupervised phase.
    snapshots : int
        Weight snapshots recorded during the unsupervised phase.
    record_v : int
        Excitatory neurons (the first ones) whose membrane potential is recorded
        in feature phases, for membrane-trace plots (0: none).
    device : str
        ``runtime``, ``numpy``, ``cython``, ``cpp_standalone`` or ``cuda_standalone``.
    build_dir : str or None
        Standalone project directory (default: under the Brian2 cache dir).
    seed : int, numpy.random.Generator or None
    progress : bool
        Show a progress bar over simulated time.

    Attributes
    ----------
    seed_ : int
        The seed actually used (drawn once if ``seed`` was None or a Generator).
    n_input_ : int
        Input channels seen in ``fit``.
    weights_ : dict of str -> ndarray
        Learned weights of each plastic pathway.
    weights_init_ : dict of str -> ndarray
        Their values before learning.
    snapshots_ : dict of str -> ndarray, shape (n_snapshots, n_synapses)
    snapshot_times_ : ndarray, seconds
    structure_ : dict of str -> (i, j)
        Connectivity of every pathway.
    n_features_out_ : int
    spikes_per_neuron_ : float
        Mean reservoir spikes per neuron per clip in the last simulation.
    fit_seconds_ : float
        Wall time of the unsupervised phase.
    """

    def __init__(self, n=1000, exc=0.8, variant="HeNHeS", synapse="current", tau_m=20.0, cv_neuron=0.6,
                 neuron_dist="gamma", tau_ref=2.0, a_plus=0.01, a_ratio=1.05, tau_pre=20.0,
                 tau_post=20.0, cv_synapse=0.6, rule="multiplicative", plastic="in_exc,ee",
                 connect="random", lam=2.0, p_in=0.1, p_ee=0.1, p_ei=0.2, p_ie=0.2, p_ii=0.1,
                 w_in=0.5, w_ee=0.2, w_ei=0.5, w_ie=1.0, w_ii=1.0, w_max=1.0, J_in=1.0, J_e=0.15, J_i=0.3,
                 bins=4, reduction="binned_counts", populations="all", dt=0.5, gap=50.0,
                 epochs=1, snapshots=20, record_v=4, device="runtime", build_dir=None, seed=None,
                 progress=True):
        self.n = n
        self.exc = exc
        self.variant = variant
        self.synapse = synapse
        self.tau_m = tau_m
        self.cv_neuron = cv_neuron
        self.neuron_dist = neuron_dist
        self.tau_ref = tau_ref
        self.a_plus = a_plus
        self.a_ratio = a_ratio
        self.tau_pre = tau_pre
        self.tau_post = tau_post
        self.cv_synapse = cv_synapse
        self.rule = rule
        self.plastic = plastic
        self.connect = connect
        self.lam = lam
        self.p_in = p_in
        self.p_ee = p_ee
        self.p_ei = p_ei
        self.p_ie = p_ie
        self.p_ii = p_ii
        self.w_in = w_in
        self.w_ee = w_ee
        self.w_ei = w_ei
        self.w_ie = w_ie
        self.w_ii = w_ii
        self.w_max = w_max
        self.J_in = J_in
        self.J_e = J_e
        self.J_i = J_i
        self.bins = bins
        self.reduction = reduction
        self.populations = populations
        self.dt = dt
        self.gap = gap
        self.epochs = epochs
        self.snapshots = snapshots
        self.record_v = record_v
        self.device = device
        self.build_dir = build_dir
        self.seed = seed
        self.progress = progress

    # ------------------------------------------------------------------ params
    @property
    def n_exc(self) -> int:
        return int(round(self.n * self.exc))

    @property
    def n_inh(self) -> int:
        return int(self.n) - self.n_exc

    def _plastic_set(self) -> tuple[str, ...]:
        names = tuple(p.strip() for p in str(self.plastic).split(",") if p.strip())
        bad = [p for p in names if p not in _PLASTIC_OK]
        if bad:
            raise ValueError(f"plastic: unknown or non-excitatory pathway(s) {bad}; choose from {_PLASTIC_OK}")
        return names

    def _validate(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"variant: expected one of {sorted(VARIANTS)}, got {self.variant!r}")
        if not (isinstance(self.n, (int, np.integer)) and self.n >= 2):
            raise ValueError(f"n: need at least 2 neurons, got {self.n!r}")
        if not 0 < self.exc < 1:
            raise ValueError(f"exc: the excitatory fraction must lie in (0, 1), got {self.exc}")
        if self.n_exc < 1 or self.n_inh < 1:
            raise ValueError(f"n, exc: need at least one excitatory and one inhibitory neuron "
                             f"(n={self.n}, exc={self.exc})")
        if self.dt <= 0:
            raise ValueError(f"dt: must be positive, got {self.dt} ms")
        for name in ("tau_m", "tau_pre", "tau_post"):
            value = getattr(self, name)
            if value <= 0:
                raise ValueError(f"{name}: a time constant must be positive, got {value} ms")
            if value < self.dt:
                raise ValueError(f"{name}: {value} ms is shorter than the time step dt = {self.dt} ms")
        for name in ("cv_neuron", "cv_synapse"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")
        for name in ("p_in", "p_ee", "p_ei", "p_ie", "p_ii"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}: a probability must lie in [0, 1], got {getattr(self, name)}")
        for name in ("w_in", "w_ee", "w_ei", "w_ie", "w_ii", "J_in", "J_e", "J_i", "gap", "tau_ref"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if self.synapse not in ("current", "conductance"):
            raise ValueError(f"synapse: expected 'current' or 'conductance', got {self.synapse!r}")
        if self.connect not in ("random", "distance"):
            raise ValueError(f"connect: expected 'random' or 'distance', got {self.connect!r}")
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {self.reduction!r}")
        if self.populations not in ("exc", "all"):
            raise ValueError(f"populations: expected 'exc' or 'all', got {self.populations!r}")
        if int(self.bins) < 1 or int(self.epochs) < 1 or int(self.snapshots) < 0:
            raise ValueError("bins and epochs must be >= 1 and snapshots >= 0")
        if not 0 <= int(self.record_v) <= self.n_exc:
            raise ValueError(f"record_v: must lie in [0, {self.n_exc}], got {self.record_v}")
        self._plastic_set()

    def neuron_params(self) -> LIFParams:
        """LIF parameters of this variant (excitatory and inhibitory alike)."""
        het_n, _ = VARIANTS[self.variant]
        tau_m = ParamSpec(self.tau_m * ms, self.cv_neuron if het_n else 0.0, self.neuron_dist, name="tau_m")
        return LIFParams(tau_m=tau_m, tau_ref=self.tau_ref * ms)

    def stdp_params(self) -> STDPParams:
        """STDP parameters of this variant."""
        _, het_s = VARIANTS[self.variant]
        cv = self.cv_synapse if het_s else 0.0
        return STDPParams(A_plus=ParamSpec(self.a_plus, cv), A_minus=ParamSpec(self.a_plus * self.a_ratio, cv),
                          tau_pre=ParamSpec(self.tau_pre * ms, cv), tau_post=ParamSpec(self.tau_post * ms, cv),
                          w_max=self.w_max)

    # ------------------------------------------------------------------ API
    def fit(self, X: Sequence[SpikeStimulus], y=None):
        """Unsupervised phase: present ``X`` with STDP on, then freeze the weights."""
        self._validate()
        X = _check_stimuli(X)
        self.seed_ = _resolve_seed(self.seed)
        self.n_input_ = X[0].n_channels
        result = self._simulate(train=X, extract=[])
        self._store(result)
        return self

    def transform(self, X: Sequence[SpikeStimulus]) -> np.ndarray:
        """Features of ``X`` with frozen weights, shape ``(n_clips, n_features_out_)``."""
        check_is_fitted(self, "weights_")
        X = _check_stimuli(X, self.n_input_)
        result = self._simulate(train=[], extract=[X])
        self.last_result_ = result
        return result.features[0]

    def fit_transform(self, X, y=None, **fit_params):
        """Unsupervised phase, then features of ``X``, in one simulation."""
        return self.fit_extract(X, [X])[0]

    def fit_extract(self, X_train: Sequence[SpikeStimulus], extract: Sequence[Sequence[SpikeStimulus]]):
        """Learn on ``X_train`` then extract features of each set in ``extract``.

        One simulation (one standalone build) for the whole experiment.

        Returns
        -------
        list of ndarray
            Features of each set in ``extract``.
        """
        self._validate()
        X_train = _check_stimuli(X_train)
        self.seed_ = _resolve_seed(self.seed)
        self.n_input_ = X_train[0].n_channels
        extract = [_check_stimuli(s, self.n_input_) for s in extract]
        result = self._simulate(train=X_train, extract=extract)
        self._store(result)
        return result.features

    def _store(self, result: SimulationResult):
        self.weights_ = result.weights
        self.weights_init_ = result.weights_init
        self.snapshots_ = result.snapshots
        self.snapshot_times_ = result.snapshot_times
        self.structure_ = result.structure
        self.neuron_params_ = result.neuron_params
        self.fit_seconds_ = result.seconds
        self.spikes_per_neuron_ = result.extra.get("spikes_per_neuron", np.nan)
        self.synaptic_events_ = result.extra.get("synaptic_events", np.nan)
        self.last_result_ = result
        n_pop = self.n if self.populations == "all" else self.n_exc
        self.n_features_out_ = n_pop * int(self.bins)

    # ------------------------------------------------------------------ persistence
    _STATE_DICTS = ("weights_", "weights_init_", "snapshots_")

    def save_state(self, path) -> None:
        """Write the learned state (weights, snapshots, structure) to ``path`` (.npz), atomically."""
        from stimuli.io import atomic_savez
        check_is_fitted(self, "weights_")
        arrays = {"seed_": np.int64(self.seed_), "n_input_": np.int64(self.n_input_),
                  "snapshot_times_": self.snapshot_times_, "fit_seconds_": np.float64(self.fit_seconds_),
                  "spikes_per_neuron_": np.float64(self.spikes_per_neuron_)}
        for attr in self._STATE_DICTS:
            for name, arr in getattr(self, attr).items():
                arrays[f"{attr}/{name}"] = arr
        for name, (i, j) in self.structure_.items():
            arrays[f"structure_/{name}/i"], arrays[f"structure_/{name}/j"] = i, j
        for pop, params in self.neuron_params_.items():
            for pname, values in params.items():
                arrays[f"neuron_params_/{pop}/{pname}"] = values
        atomic_savez(path, **arrays)

    def load_state(self, path) -> "HRSNN":
        """Restore what :meth:`save_state` wrote; returns self (fitted)."""
        with np.load(path) as data:
            keys = list(data.keys())
            self.seed_ = int(data["seed_"])
            self.n_input_ = int(data["n_input_"])
            self.snapshot_times_ = data["snapshot_times_"]
            self.fit_seconds_ = float(data["fit_seconds_"])
            self.spikes_per_neuron_ = float(data["spikes_per_neuron_"])
            for attr in self._STATE_DICTS:
                setattr(self, attr, {k.split("/", 1)[1]: data[k] for k in keys if k.startswith(attr + "/")})
            self.structure_ = {}
            self.neuron_params_ = {}
            for k in keys:
                if k.startswith("structure_/") and k.endswith("/i"):
                    name = k.split("/")[1]
                    self.structure_[name] = (data[k], data[f"structure_/{name}/j"])
                elif k.startswith("neuron_params_/"):
                    _, pop, pname = k.split("/")
                    self.neuron_params_.setdefault(pop, {})[pname] = data[k]
        n_pop = self.n if self.populations == "all" else self.n_exc
        self.n_features_out_ = n_pop * int(self.bins)
        return self

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "n_features_out_")
        n_pop = self.n if self.populations == "all" else self.n_exc
        return np.asarray([f"bin{b}_n{k}" for b in range(int(self.bins)) for k in range(n_pop)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------ simulation
    def _simulate(self, train: list, extract: list[list]) -> SimulationResult:
        from cortex.devices import STANDALONE_DEVICES, device_scope

        dt = self.dt * ms
        epochs = int(self.epochs)
        phases = [(list(train), True)] * (epochs if train else 0) + [(list(s), False) for s in extract]
        timeline = _Timeline(phases, dt_net=float(dt), gap=float(self.gap * ms))
        t0 = time.perf_counter()
        gc.collect()  # stale objects of an earlier build must not block the fixed names
        options = (dict(directory=self.build_dir, build_on_run=False)
                   if self.device in STANDALONE_DEVICES else {})
        with device_scope(self.device, **options):
            objs = self._build(timeline)
            self._run(objs, timeline)
            out = self._collect(objs, timeline)
        out.seconds = time.perf_counter() - t0
        del objs
        gc.collect()
        return out

    def _build(self, timeline: "_Timeline") -> dict:
        from brian2 import defaultclock
        rng = make_rng(self.seed_)
        dt = self.dt * ms
        defaultclock.dt = dt
        n_in = self.n_input_
        params = self.neuron_params()
        objs = {}
        # independent child streams (exc, inh, structure, weights, STDP parameters):
        # all variants share connectivity and initial weights for a given seed
        seeds = rng.spawn(5)
        objs["exc"] = lif_group(self.n_exc, params, synapse=self.synapse, name="exc", seed=seeds[0], dt=dt)
        objs["inh"] = lif_group(self.n_inh, params, synapse=self.synapse, name="inh", seed=seeds[1], dt=dt)
        objs["input"] = SpikeGeneratorGroup(n_in, timeline.indices, timeline.steps * dt, name="input",
                                            sorted=True)
        # reset at the start of each clip: membrane to rest, synaptic currents to 0
        # reset at the end of the step before each clip (after that step's spikes,
        # deliveries and resets), so every clip starts from the initial state; the
        # first clip of a run starting at step 0 already does
        reset_steps = timeline.starts[timeline.starts >= 1] - 1
        objs["reset"] = SpikeGeneratorGroup(1, np.zeros(len(reset_steps), dtype=int), reset_steps * dt,
                                            name="reset")
        on_reset = RESET_CODE[self.synapse]
        for pop in ("exc", "inh"):
            syn = Synapses(objs["reset"], objs[pop], on_pre=on_reset, name=f"reset_{pop}")
            syn.connect(i=np.zeros(len(objs[pop]), dtype=int), j=np.arange(len(objs[pop])))
            syn.pre.when = "end"
            objs[f"reset_{pop}"] = syn
        structure = self._connectivity(n_in, seeds[2])
        plastic = self._plastic_set()
        stdp = self.stdp_params()
        w_means = {"in_exc": self.w_in, "in_inh": self.w_in, "ee": self.w_ee, "ei": self.w_ei,
                   "ie": self.w_ie, "ii": self.w_ii}
        syn_rng = seeds[3]
        objs["_weights_init"] = {}
        for name, (src, tgt, excitatory) in PATHWAYS.items():
            i, j = structure[name]
            J = (self.J_in if src == "input" else self.J_e if excitatory else self.J_i)
            J = J * nA if self.synapse == "current" else float(J)
            w0 = np.minimum(syn_rng.uniform(0, 2 * w_means[name], size=len(i)), self.w_max)
            common = dict(target="e" if excitatory else "i", J=J, connect=(i, j), w_init=w0, name=name,
                          seed=seeds[4])
            if name in plastic:
                objs["_weights_init"][name] = w0
                objs[name] = stdp_synapses(objs[src], objs[tgt], stdp, rule=self.rule, dt=dt, **common)
            else:
                objs[name] = static_synapses(objs[src], objs[tgt], **common)
        objs["spikes_exc"] = SpikeMonitor(objs["exc"], name="spikes_exc")
        objs["spikes_inh"] = SpikeMonitor(objs["inh"], name="spikes_inh")
        if int(self.record_v) > 0 and not timeline.train_steps:
            objs["v_exc"] = StateMonitor(objs["exc"], "v", record=np.arange(int(self.record_v)), name="v_exc")
        if timeline.train_steps and int(self.snapshots) > 0:
            period = max(timeline.train_steps // int(self.snapshots), 1) * dt
            for name in plastic:
                if len(objs[name]):
                    objs[f"w_{name}"] = StateMonitor(objs[name], "w", record=True, dt=period, name=f"w_{name}")
        objs["_structure"] = structure
        objs["_plastic"] = plastic
        if hasattr(self, "weights_") and not timeline.train_steps:
            for name, w in self.weights_.items():
                objs[name].w = w
        return objs

    def _connectivity(self, n_in: int, rng) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        ne, ni = self.n_exc, self.n_inh
        structure = {"in_exc": connectivity(n_in, ne, self.p_in, seed=rng),
                     "in_inh": connectivity(n_in, ni, self.p_in, seed=rng)}
        probs = {"ee": self.p_ee, "ei": self.p_ei, "ie": self.p_ie, "ii": self.p_ii}
        if self.connect == "random":
            for name, p in probs.items():
                src, tgt, _ = PATHWAYS[name]
                n_src, n_tgt = (ne if src == "exc" else ni), (ne if tgt == "exc" else ni)
                structure[name] = connectivity(n_src, n_tgt, p, seed=rng, autapses=src != tgt)
        else:
            pos = grid_positions(self.n, seed=rng)
            where = {"exc": pos[:ne], "inh": pos[ne:]}
            for name, p in probs.items():
                src, tgt, _ = PATHWAYS[name]
                structure[name] = distance_connectivity(where[src], where[tgt], p, self.lam, seed=rng,
                                                        autapses=src != tgt)
        return structure

    def _run(self, objs: dict, timeline: "_Timeline"):
        from brian2 import get_device

        from cortex.devices import build
        net = Network([o for k, o in objs.items() if not k.startswith("_")])
        dt = self.dt * ms
        standalone = get_device().__class__.__name__ != "RuntimeDevice"
        for k, (n_steps, learning) in enumerate(timeline.phase_runs()):
            for name in objs["_plastic"]:
                objs[name].plastic = 1 if learning else 0
            if not learning:
                for key in [k for k in objs if k.startswith("w_")]:
                    objs[key].active = False
            if n_steps:
                if standalone:  # the compiled program prints its own progress lines
                    report, period = ("text", 10 * second) if self.progress else (None, 10 * second)
                else:
                    report, period = _progress_reporter(self.progress,
                                                        f"{'train' if learning else 'extract'} phase {k + 1}")
                # an explicit (empty) namespace: nothing leaks in from local variables
                net.run(n_steps * dt, report=report, report_period=period, namespace={})
                if hasattr(report, "close"):
                    report.close()
        if standalone:
            build(run=True)

    def _collect(self, objs: dict, timeline: "_Timeline") -> SimulationResult:
        dt = float(self.dt * ms)
        ne = self.n_exc
        spikes = {}
        for pop in ("exc", "inh"):
            mon = objs[f"spikes_{pop}"]
            spikes[pop] = (np.asarray(mon.i[:], dtype=np.int64), np.rint(np.asarray(mon.t_[:]) / dt).astype(np.int64))
        if self.populations == "all":
            idx = np.concatenate([spikes["exc"][0], spikes["inh"][0] + ne])
            stp = np.concatenate([spikes["exc"][1], spikes["inh"][1]])
            n_pop = self.n
        else:
            idx, stp = spikes["exc"]
            n_pop = ne
        features, windows = [], []
        for w, plastic in timeline.phase_windows():
            windows.append(w)
            if not plastic:
                features.append(reduce_spikes(idx, stp, w, n_pop, reduction=self.reduction,
                                              bins=int(self.bins), dt=dt))
        plastic = objs["_plastic"]
        weights = {name: np.asarray(objs[name].w[:]).copy() for name in plastic}
        snapshots, snap_t = {}, np.zeros(0)
        for name in plastic:
            key = f"w_{name}"
            if key in objs:
                snapshots[name] = np.asarray(objs[key].w[:]).T.copy()  # (n_snapshots, n_synapses)
                snap_t = np.asarray(objs[key].t_[:]).copy()
        # spikes per reservoir neuron per clip, over the feature phases (or training)
        all_windows = np.concatenate([w for w, p in timeline.phase_windows() if not p] or
                                     [w for w, _ in timeline.phase_windows()])
        total = sum(_count_in_windows(s[1], all_windows) for s in spikes.values())
        n_clips = max(len(all_windows), 1)
        # synaptic events: each spike times its fan-out (input spikes included)
        fan = fan_out(objs["_structure"], {"input": self.n_input_, "exc": ne, "inh": self.n_inh})
        syn_events = float(fan["exc"][spikes["exc"][0]].sum() + fan["inh"][spikes["inh"][0]].sum()
                           + fan["input"][timeline.indices].sum())
        if "v_exc" in objs:
            extra_v = {"v": np.asarray(objs["v_exc"].v_[:]).copy(),
                       "v_i": np.arange(int(self.record_v))}
        else:
            extra_v = {}
        neuron_params = {pop: {p: np.asarray(getattr(objs[pop], p)[:]).copy() for p in ("tau_m", "v_th", "tau_ref")}
                         for pop in ("exc", "inh")}
        return SimulationResult(
            features=features, windows=windows, spikes=spikes, weights=weights,
            weights_init=objs["_weights_init"], snapshots=snapshots, snapshot_times=snap_t,
            structure=objs["_structure"], neuron_params=neuron_params,
            extra={"spikes_per_neuron": total / (self.n * n_clips),
                   "synaptic_events": syn_events,
                   "n_clips": int(sum(len(w) for w, _ in timeline.phase_windows())), **extra_v})


def _count_in_windows(steps: np.ndarray, windows: np.ndarray) -> int:
    s = np.sort(steps)
    return int((np.searchsorted(s, windows[:, 1]) - np.searchsorted(s, windows[:, 0])).sum())


class _Timeline:
    """Lay clips of several phases out on one time axis (network steps).

    Each clip is preceded by a gap; the clip window starts with a reset spike.
    Stimulus spike times are converted to network steps (``round(t / dt)``);
    (channel, step) duplicates created by a coarser network step are merged.
    """

    def __init__(self, phases: list[tuple[list[SpikeStimulus], bool]], dt_net: float, gap: float):
        self.phases = phases
        gap_steps = int(round(gap / dt_net))
        idx_parts, step_parts, starts, phase_windows = [], [], [], []
        cursor = 0
        for stims, plastic in phases:
            wins = np.zeros((len(stims), 2), dtype=np.int64)
            for c, s in enumerate(stims):
                length = max(int(np.ceil(s.n_steps * s.dt / dt_net - 1e-9)), 1)
                start = cursor + gap_steps
                st = np.minimum(self.net_steps(s, dt_net), length - 1)
                step_parts.append(st + start)
                idx_parts.append(s.indices.astype(np.int64))
                wins[c] = (start, start + length)
                starts.append(start)
                cursor = start + length
            phase_windows.append((wins, plastic, cursor))
        self.total_steps = cursor + 1
        indices = np.concatenate(idx_parts) if idx_parts else np.zeros(0, np.int64)
        steps = np.concatenate(step_parts) if step_parts else np.zeros(0, np.int64)
        n_ch = int(indices.max()) + 1 if indices.size else 1
        key = np.unique(steps * n_ch + indices)  # sorted by step, duplicates merged
        self.steps, self.indices = key // n_ch, (key % n_ch).astype(np.int64)
        self.starts = np.asarray(starts, dtype=np.int64)
        self._phase_windows = phase_windows
        self.train_steps = sum(end - (phase_windows[k - 1][2] if k else 0)
                               for k, (_, p, end) in enumerate(phase_windows) if p)

    @staticmethod
    def net_steps(stim: SpikeStimulus, dt_net: float) -> np.ndarray:
        """Spike times of ``stim`` on the network's time grid (``round(t / dt_net)``)."""
        return np.rint(stim.steps * stim.dt / dt_net).astype(np.int64)

    def phase_windows(self):
        return [(w, p) for w, p, _ in self._phase_windows]

    def phase_runs(self):
        """(n_steps, plastic) for each phase, in order; the last includes one extra step."""
        runs, prev = [], 0
        for k, (_, plastic, end) in enumerate(self._phase_windows):
            stop = end + (1 if k == len(self._phase_windows) - 1 else 0)
            runs.append((stop - prev, plastic))
            prev = stop
        return runs


def _check_stimuli(X, n_channels: int | None = None) -> list[SpikeStimulus]:
    X = list(X)
    if not X:
        raise ValueError("X: no stimuli given")
    for k, s in enumerate(X):
        if not isinstance(s, SpikeStimulus):
            raise TypeError(f"X[{k}]: expected a stimuli.types.SpikeStimulus, got {type(s).__name__}")
    n = X[0].n_channels if n_channels is None else n_channels
    bad = [k for k, s in enumerate(X) if s.n_channels != n]
    if bad:
        raise StimulusError(f"X: stimuli {bad[:5]} have a different number of input channels than {n}")
    return X


def _resolve_seed(seed) -> int:
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return int(seed)
    return int(make_rng(seed).integers(2**31 - 1))


def _progress_reporter(enabled: bool, desc: str):
    """A Brian2 ``report`` callable driving a tqdm bar over simulated time."""
    if not enabled:
        return None, 10 * second
    from tqdm.auto import tqdm

    class _Bar:
        def __init__(self):
            self.bar = None

        def __call__(self, elapsed, completed, start, duration):
            if self.bar is None:
                self.bar = tqdm(total=round(float(duration), 3), desc=desc, unit="sim s",
                                bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} sim s [{elapsed}<{remaining}]")
            self.bar.n = round(float(completed) * float(duration), 3)
            self.bar.refresh()

        def close(self):
            if self.bar is not None:
                self.bar.close()

    return _Bar(), 1 * second
