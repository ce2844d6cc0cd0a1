"""Heterogeneous recurrent spiking reservoir (HRSNN, Chakraborty & Mukhopadhyay 2022).

A scikit-learn transformer: ``fit(X)`` presents the training clips with STDP on (no
labels), then freezes the weights; ``transform(X)`` presents clips to the frozen
reservoir and reduces each clip's spikes to a feature vector.  Neurons are LIF
(:mod:`cortex.neurons`); with heterogeneous neurons (``HeN``) ``tau_m`` is drawn from
``neuron_dist`` with CV ``cv_neuron``; with heterogeneous synapses (``HeS``) every
plastic synapse draws its own ``A_plus``, ``A_minus``, ``tau_pre``, ``tau_post`` with CV
``cv_synapse``.  Homogeneous variants keep the means and drop the spread.

Where the rest lives: wiring in :mod:`networks.topology`, Brian2 objects in
:mod:`networks.reservoir`, the clip layout in :mod:`networks.timeline`, running on a
device in :mod:`networks.simulation`, the reductions in :mod:`networks.features`, files
in :mod:`networks.persistence`.  All times are in ms (:mod:`stimuli.timebase`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from brian2 import ms
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from cortex.devices import DEVICES
from cortex.heterogeneity import DISTRIBUTIONS
from cortex.neurons import LIFParams
from cortex.seeds import resolve_seed
from cortex.synapses import STDPParams
from stimuli.sequence import stimulus_headers
from stimuli.types import SpikeStimulus, StimulusError, channel_positions, check_stimuli

from . import persistence
from .compiled_reservoir import COMPILED_DEVICES, simulate_compiled
from .features import DEFAULT_TAUS, MAX_BINS, REDUCTIONS, check_taus, features_per_neuron
from .reservoir import build_reservoir, collect
from .simulation import SimulationResult, device_session, run_phases
from .timeline import Timeline
from .topology import CONNECTION_SCHEMES, PLASTIC_PATHWAYS
from .validation import InstanceOf, Interval, Options, check_grid, validate_params
from .variants import VARIANTS, variant_lif_params, variant_stdp_params

__all__ = ["HRSNN", "VARIANTS"]

_TIME, _PROB, _NONNEG = "a time constant", "a probability", "a non-negative value"


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
        LIF synapse model; conductance inputs saturate at the reversal potentials.
    tau_m : float
        Mean membrane time constant, ms.
    cv_neuron : float
        CV of ``tau_m`` in heterogeneous-neuron variants.
    neuron_dist : str
        Distribution of ``tau_m`` (``gamma``, ``lognormal``, ``truncnorm``, ``uniform``, ``normal``).
    tau_m_min : float or None
        Shortest membrane time constant, ms, below ``tau_m``: heterogeneous draws below
        it are drawn again (the distribution truncated at ``tau_m_min``, so its mean rises
        above ``tau_m`` where the tail reaches it: a HeN/HoN ablation then compares
        unequal means); None: no bound.
    tau_ref : float
        Refractory period, ms.
    a_plus : float
        Mean STDP potentiation step (weights in ``[0, w_max]``).
    a_ratio : float
        ``A_minus / A_plus``.
    tau_pre, tau_post : float
        Mean STDP trace time constants, ms.
    cv_synapse : float
        CV of the STDP parameters in heterogeneous-synapse variants (gamma).
    rule : {"multiplicative", "additive"}
        STDP weight dependence.
    plastic : str
        Comma-separated plastic pathways among ``in_exc``, ``in_inh``, ``ee``.
    connect : {"random", "distance"}
        Recurrent connectivity: fixed probability, or ``p * exp(-(d/lam)**2)`` on a 3-D grid.
    lam : float
        Length constant of distance-dependent connectivity (grid units).
    p_in, p_ee, p_ei, p_ie, p_ii : float
        Connection probabilities (peak probabilities for ``distance``).
    input_wiring : {"random", "topographic"}
        Input synapses drawn from every channel (random projection), or each neuron's
        from the channels of its receptive field: the frame cut into ``rf_tiles``,
        neurons dealt to the tiles in turn, as many inputs per neuron as random
        projection gives (:func:`networks.topology.topographic_input_connectivity`;
        needs stimuli with a frame geometry, :func:`stimuli.types.channel_positions`).
        The recurrent wiring is the same for both.
    rf_tiles : (int, int)
        Receptive-field tiles across the frame's width and down its height.
    rf_overlap : int
        Pixels each receptive field reaches beyond its tile on every side.
    w_in, w_ee, w_ei, w_ie, w_ii : float
        Mean initial weights (uniform on ``[0, 2*w]``, clipped to ``w_max``).
    w_max : float
        Upper weight bound of plastic synapses.
    J_in, J_e, J_i : float
        Synaptic input per unit weight (input, recurrent excitatory, inhibitory):
        nA for current-based synapses (1 nA: a PSP peak of about 16 mV with the
        default LIF), conductance relative to the leak for conductance-based ones.
    bins : int
        Time bins per clip of the feature reduction.
    reduction : {"binned_counts", "binned_rates", "traces"}
        Sequence-to-vector reduction (:mod:`networks.features`): spike counts or rates
        per bin, or exponential spike traces sampled at bin ends.
    taus : sequence of float
        Trace time constants, ms (``reduction="traces"``; features per neuron:
        ``bins * len(taus)``).
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
        Excitatory neurons (the first ones) whose membrane is recorded in feature phases.
    device : str
        ``runtime``, ``numpy``, ``cython``, ``cpp_standalone`` or ``cuda_standalone``.
        On ``cpp_standalone`` the reservoir is a program compiled once per shape and
        run with new values (:mod:`networks.compiled_reservoir`); the other devices
        present the clips on one timeline per simulation.
    build_dir : str or None
        Root of the compiled programs (default: the Brian2 cache dir).
    batch : "auto" or int
        ``cpp_standalone``: reservoir copies simulated side by side in feature phases
        (each copy its own clip; the same spikes as one copy).
    n_jobs : int or None
        ``cpp_standalone``: compiled binaries run at once in feature phases (-1: one
        per CPU core).
    seed : int, numpy.random.Generator or None
        Draws neurons, connectivity, weights and STDP parameters.
    progress : bool
        Show progress over simulated time.

    Attributes
    ----------
    seed_ : int
        The seed used (drawn once if ``seed`` was None or a Generator).
    n_input_ : int
        Input channels seen in ``fit``.
    channel_positions_ : ndarray of int, shape (n_input_, 3) or None
        ``(map, row, col)`` of every input channel (topographic input wiring only).
    weights_, weights_init_ : dict of str -> ndarray
        Weights of each plastic pathway after / before learning.
    snapshots_ : dict of str -> ndarray, shape (n_snapshots, n_synapses)
    snapshot_times_ : ndarray
        Snapshot times, ms.
    structure_ : dict of str -> (i, j)
        Connectivity of every pathway.
    neuron_params_ : dict of str -> dict of str -> ndarray
        Per-neuron ``tau_m`` (ms), ``v_th`` (mV), ``tau_ref`` (ms) of ``exc`` and ``inh``.
    n_features_out_ : int
    spikes_per_neuron_ : float
        Mean spikes per neuron per clip during fitting.
    fit_seconds_ : float
        Wall time of the unsupervised phase, seconds.
    """

    _parameter_constraints = {
        "n": Interval(int, 2, None),
        "exc": Interval(float, 0, 1, "neither", "the excitatory fraction"),
        "variant": Options(tuple(VARIANTS)),
        "synapse": Options(("current", "conductance")),
        "tau_m": Interval(float, 0, None, "neither", _TIME, "ms"),
        "cv_neuron": Interval(float, 0, None),
        "neuron_dist": Options(DISTRIBUTIONS),
        "tau_m_min": (None, Interval(float, 0, None, "neither", _TIME, "ms")),
        "tau_ref": Interval(float, 0, None, what=_NONNEG, unit="ms"),
        "a_plus": Interval(float, 0, None),
        "a_ratio": Interval(float, 0, None),
        "tau_pre": Interval(float, 0, None, "neither", _TIME, "ms"),
        "tau_post": Interval(float, 0, None, "neither", _TIME, "ms"),
        "cv_synapse": Interval(float, 0, None),
        "rule": Options(("multiplicative", "additive")),
        "connect": Options(CONNECTION_SCHEMES),
        "lam": Interval(float, 0, None, "neither"),
        "input_wiring": Options(("random", "topographic")),
        "rf_overlap": Interval(int, 0, None, what="pixels"),
        **{f"p_{k}": Interval(float, 0, 1, what=_PROB) for k in ("in", "ee", "ei", "ie", "ii")},
        **{f"w_{k}": Interval(float, 0, None, what=_NONNEG) for k in ("in", "ee", "ei", "ie", "ii")},
        "w_max": Interval(float, 0, None, "neither"),
        **{f"J_{k}": Interval(float, 0, None, what=_NONNEG) for k in ("in", "e", "i")},
        "bins": Interval(int, 1, MAX_BINS),
        "reduction": Options(REDUCTIONS),
        "populations": Options(("exc", "all")),
        "dt": Interval(float, 0, None, "neither", "a time step", "ms"),
        "gap": Interval(float, 0, 60_000, what="a pause between clips (at most a minute)", unit="ms"),
        "epochs": Interval(int, 1, None),
        "snapshots": Interval(int, 0, None),
        "record_v": Interval(int, 0, None),
        "device": Options(DEVICES),
        "batch": (Options(("auto",)), Interval(int, 1, None)),
        "n_jobs": (None, Options((-1,)), Interval(int, 1, None)),
        "progress": Options((True, False)),
        "seed": (None, Interval(int, 0, None), InstanceOf((np.random.Generator,), "a numpy.random.Generator")),
    }

    def __init__(
        self,
        n=1000,
        *,
        exc=0.8,
        variant="HeNHeS",
        synapse="current",
        tau_m=20.0,
        cv_neuron=0.6,
        neuron_dist="gamma",
        tau_m_min=None,
        tau_ref=2.0,
        a_plus=0.01,
        a_ratio=1.05,
        tau_pre=20.0,
        tau_post=20.0,
        cv_synapse=0.6,
        rule="multiplicative",
        plastic="in_exc,ee",
        connect="random",
        lam=2.0,
        p_in=0.1,
        p_ee=0.1,
        p_ei=0.2,
        p_ie=0.2,
        p_ii=0.1,
        input_wiring="random",
        rf_tiles=(4, 4),
        rf_overlap=1,
        w_in=0.5,
        w_ee=0.2,
        w_ei=0.5,
        w_ie=1.0,
        w_ii=1.0,
        w_max=1.0,
        J_in=1.0,
        J_e=0.15,
        J_i=0.3,
        bins=4,
        reduction="binned_counts",
        taus=DEFAULT_TAUS,
        populations="all",
        dt=0.5,
        gap=50.0,
        epochs=1,
        snapshots=20,
        record_v=4,
        device="runtime",
        build_dir=None,
        batch="auto",
        n_jobs=1,
        seed=None,
        progress=True,
    ):
        for name, value in locals().items():  # every argument stored as given (scikit-learn convention)
            if name != "self":
                setattr(self, name, value)

    # ------------------------------------------------------------------ derived
    @property
    def n_exc(self) -> int:
        return int(round(self.n * self.exc))

    @property
    def n_inh(self) -> int:
        return int(self.n) - self.n_exc

    @property
    def n_population(self) -> int:
        """Neurons whose spikes become features."""
        return int(self.n) if self.populations == "all" else self.n_exc

    def plastic_pathways(self) -> tuple[str, ...]:
        """The pathways named by ``plastic``."""
        names = tuple(p.strip() for p in str(self.plastic).split(",") if p.strip())
        bad = [p for p in names if p not in PLASTIC_PATHWAYS]
        if bad:
            raise ValueError(f"plastic: unknown or non-excitatory pathway(s) {bad}; choose from {PLASTIC_PATHWAYS}")
        return names

    def neuron_params(self) -> LIFParams:
        """LIF parameters of this variant (excitatory and inhibitory alike; :mod:`networks.variants`)."""
        return variant_lif_params(
            self.variant,
            tau_m=self.tau_m,
            cv_neuron=self.cv_neuron,
            neuron_dist=self.neuron_dist,
            tau_m_min=self.tau_m_min,
            tau_ref=self.tau_ref * ms,
        )

    def stdp_params(self) -> STDPParams:
        """STDP parameters of this variant (:mod:`networks.variants`)."""
        return variant_stdp_params(
            self.variant,
            a_plus=self.a_plus,
            a_ratio=self.a_ratio,
            tau_pre=self.tau_pre,
            tau_post=self.tau_post,
            cv_synapse=self.cv_synapse,
            w_max=self.w_max,
        )

    def validate_params(self) -> HRSNN:
        """Check every hyperparameter (names the first bad one in a ``ValueError``); returns self."""
        params = self.get_params()
        validate_params(params, self._parameter_constraints)
        self.plastic_pathways()
        if self.n_exc < 1 or self.n_inh < 1:
            raise ValueError(
                f"n, exc: need at least one excitatory and one inhibitory neuron (n={self.n}, exc={self.exc})"
            )
        for name in ("tau_m", "tau_pre", "tau_post"):
            if params[name] < self.dt:
                raise ValueError(f"{name}: {params[name]} ms is shorter than the time step dt = {self.dt} ms")
        if self.tau_m_min is not None and self.tau_m_min >= self.tau_m:
            raise ValueError(f"tau_m_min: {self.tau_m_min} ms must lie below the mean tau_m = {self.tau_m} ms")
        check_grid(self.rf_tiles, "rf_tiles")
        check_taus(self.taus)
        if self.record_v > self.n_exc:
            raise ValueError(f"record_v: must lie in [0, {self.n_exc}] (the excitatory neurons), got {self.record_v}")
        return self

    # ------------------------------------------------------------------ API
    def fit(self, X: Sequence[SpikeStimulus], y=None):
        """Unsupervised phase: present ``X`` with STDP on, then freeze the weights."""
        self.fit_simulate(X, keep_spikes=False)
        return self

    def transform(self, X: Sequence[SpikeStimulus]) -> np.ndarray:
        """Features of ``X`` with frozen weights, shape ``(n_clips, n_features_out_)``."""
        return self.simulate(X).features[0]

    def simulate(self, X: Sequence[SpikeStimulus]) -> SimulationResult:
        """Present ``X`` to the fitted, frozen reservoir; the full result (spikes, features, activity).

        Leaves the estimator unchanged, like :meth:`transform`.
        """
        check_is_fitted(self, "weights_")
        X = check_stimuli(X, self.n_input_)
        return self._simulate(train=[], extract=[X], seed=self.seed_, n_input=self.n_input_, weights=self.weights_)

    def fit_transform(self, X, y=None, **fit_params):
        """Unsupervised phase, then features of ``X``, in one simulation."""
        return self.fit_simulate(X, [X]).features[0]

    def fit_extract(self, X_train: Sequence[SpikeStimulus], extract: Sequence[Sequence[SpikeStimulus]]):
        """Learn on ``X_train``, then features of each set in ``extract``, in one simulation (one build).

        Returns
        -------
        list of ndarray
            Features of each set in ``extract``.
        """
        return self.fit_simulate(X_train, extract).features

    def fit_simulate(
        self, X_train: Sequence[SpikeStimulus], extract: Sequence[Sequence[SpikeStimulus]] = (), *, keep_spikes=True
    ) -> SimulationResult:
        """:meth:`fit_extract` returning the full :class:`~networks.simulation.SimulationResult`.

        With ``keep_spikes=False`` and no ``extract`` sets, compiled programs keep only
        the training phase's spike and event counts, not its spikes (what :meth:`fit`
        needs: memory then does not grow with the number of training clips).
        """
        self.validate_params()
        X_train = check_stimuli(X_train)
        n_input = int(stimulus_headers(X_train[:1])["n_channels"][0])  # a StoredStimuli is not read
        extract = [check_stimuli(s, n_input) for s in extract]
        self.channel_positions_ = self._positions(X_train) if self.input_wiring == "topographic" else None
        seed = resolve_seed(self.seed)
        result = self._simulate(
            train=X_train, extract=extract, seed=seed, n_input=n_input, weights=None, keep=keep_spikes or bool(extract)
        )
        self.seed_, self.n_input_ = seed, n_input
        self.weights_, self.weights_init_ = result.weights, result.weights_init
        self.snapshots_, self.snapshot_times_ = result.snapshots, result.snapshot_times
        self.structure_, self.neuron_params_ = result.structure, result.neuron_params
        self.fit_seconds_ = result.seconds
        self.spikes_per_neuron_ = result.extra.get("spikes_per_neuron", np.nan)
        self.synaptic_events_ = result.extra.get("synaptic_events", np.nan)
        self.n_features_out_ = self.n_population * features_per_neuron(self.reduction, self.bins, self.taus)
        return result

    def _positions(self, X) -> np.ndarray:
        """``(map, row, col)`` of every input channel, for topographic input wiring."""
        try:
            return channel_positions(X[0])
        except StimulusError as exc:
            raise ValueError(
                f"input_wiring: 'topographic' needs the frame geometry of the stimuli, but {exc} "
                "(use input_wiring='random', or a frame or event encoder)"
            ) from None

    def save_state(self, path, *, metadata: dict | None = None) -> None:
        """Write the learned state to ``path`` (.npz), atomically (:func:`networks.persistence.save_state`)."""
        persistence.save_state(self, path, metadata=metadata)

    def load_state(self, path, *, strict: bool = True) -> HRSNN:
        """Restore what :meth:`save_state` wrote; returns self (fitted).

        Refuses (``StateFileError`` naming the difference) a state saved with other
        hyperparameters or sizes (:func:`networks.persistence.load_state`).
        """
        return persistence.load_state(self, path, strict=strict)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "n_features_out_")
        n, bins = self.n_population, range(int(self.bins))
        if self.reduction == "traces":  # bin-major, then tau, then neuron (networks.features.binned_traces)
            taus = check_taus(self.taus)
            names = [f"bin{b}_tau{t:g}_n{k}" for b in bins for t in taus for k in range(n)]
        else:
            names = [f"bin{b}_n{k}" for b in bins for k in range(n)]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------ simulation
    def _simulate(
        self, *, train: list, extract: list[list], seed: int, n_input: int, weights, keep: bool = True
    ) -> SimulationResult:
        if self.device not in COMPILED_DEVICES:
            return self._simulate_timeline(train=train, extract=extract, seed=seed, n_input=n_input, weights=weights)
        t0 = time.perf_counter()
        result = simulate_compiled(
            self, train=train, extract=extract, seed=seed, n_input=n_input, weights=weights, keep_train_spikes=keep
        )
        result.seconds = time.perf_counter() - t0
        return result

    def _simulate_timeline(
        self, *, train: list, extract: list[list], seed: int, n_input: int, weights
    ) -> SimulationResult:
        """All phases as ``run`` calls of one Brian2 network over a :class:`Timeline` (any device)."""
        phases = [(list(train), True)] * (int(self.epochs) if train else 0) + [(list(s), False) for s in extract]
        timeline = Timeline(phases, dt=self.dt, gap=self.gap)
        t0 = time.perf_counter()
        with device_session(self.device, self.build_dir):
            net = build_reservoir(self, timeline, n_input=n_input, seed=seed, weights=weights)
            run_phases(
                net.network,
                timeline,
                [net.synapses[p] for p in net.plastic],
                learning_only=net.weight_monitors,
                progress=self.progress,
            )
            result = collect(net, self, timeline)
            del net
        result.seconds = time.perf_counter() - t0
        return result
