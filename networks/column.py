"""Cortical-column classifier: an STDP layer with lateral inhibition and R-STDP class populations.

A scikit-learn classifier and transformer over spike stimuli (the network of
:mod:`cortex.columns`, after Diehl & Cook 2015 for the layer).  ``fit(X, y)`` lays the
training clips on one :class:`~networks.timeline.Timeline` and runs, in one
simulation:

1. ``epochs_stdp`` unsupervised epochs: input -> layer STDP, homeostasis and lateral
   inhibition shape the layer's receptive fields (no labels);
2. ``epochs_reward`` reward epochs with the layer frozen: at the last step of every
   clip the class populations receive a reward, +1 (``reward``) for the clip's class
   and -1 (``punishment``) for every other, which R-STDP turns into layer -> class
   weight change (eligibility accumulated since the previous reward);

then freezes everything.  Each epoch presents the clips in a new seeded order
(``shuffle``).  On the frozen network:

* :meth:`predict` -- the class whose population fires most in the clip.  **Ties** go
  to the tied population that fired first in the clip, then to the lowest class
  index; a clip in which no class neuron fires gets ``classes_[0]``
  (:func:`population_vote`);
* :meth:`predict_proba` -- each population's share of the class spikes; a clip with
  no class spike gets the uniform distribution;
* :meth:`transform` -- the layer's spikes, counted (or rates) in ``bins`` time bins
  per clip, shape ``(n_clips, bins * n_layer_total)``, bin-major, for any
  scikit-learn readout; :meth:`tokens` -- the same as ``(n_clips, bins, n_layer_total)``
  for an attention readout.

``tiles=(gx, gy)`` cuts the frame into ``gx x gy`` tiles, one column of ``n_layer``
neurons per tile, each seeing only its receptive field (the channels on its tile,
every map; :func:`networks.topology.tile_receptive_fields`); lateral inhibition stays
within a column, and the class populations read every column.  Tiling needs the
frame geometry that frame and event encoders record
(:func:`stimuli.types.channel_positions`).

Heterogeneity variants (:mod:`networks.variants`) apply as in the reservoir:
``tau_m`` of every population spreads in ``HeN*`` variants, the STDP and R-STDP
parameters per synapse in ``*HeS`` variants.  All times are in ms, currents in nA,
potentials in mV.  Runs on every Brian2 device (:mod:`networks.simulation`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from brian2 import ms, mV, nA
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from cortex.columns import LATERAL_MODES, ColumnParams
from cortex.devices import DEVICES
from cortex.heterogeneity import DISTRIBUTIONS
from cortex.seeds import make_rng, resolve_seed
from stimuli.types import SpikeStimulus, StimulusError, channel_positions, check_stimuli

from . import persistence
from .column_network import build_column_network, collect_column, phase_switches
from .features import COUNT_REDUCTIONS, NO_SPIKE, as_tokens
from .simulation import SimulationResult, device_session, run_phases
from .timeline import Timeline
from .topology import column_input_connectivity, tile_receptive_fields
from .validation import Interval, Options, check_grid, validate_params
from .variants import VARIANTS, variant_lif_params, variant_rstdp_params, variant_stdp_params

__all__ = ["ColumnClassifier", "population_vote", "vote_proba"]

_TIME, _NONNEG = "a time constant", "a non-negative value"
#: Membrane time constant of the inhibitory pool, ms (fast interneurons; spreads with HeN).
TAU_M_INHIBITORY = 10.0


def _streams(seed: int) -> dict:
    """Named, independent random streams of one seed: input wiring, presentation order, the column."""
    wiring, order, column = make_rng(seed).spawn(3)
    return {"wiring": wiring, "order": order, "column": column}


def population_vote(counts: np.ndarray, first_steps: np.ndarray) -> np.ndarray:
    """Class index per clip: most spikes; ties to the earliest first spike, then the lowest index.

    Parameters
    ----------
    counts : ndarray, shape (n_clips, n_classes)
        Spikes of each class population in each clip.
    first_steps : ndarray of int, shape (n_clips, n_classes)
        Step of each population's first spike (:data:`networks.features.NO_SPIKE` if none).

    Returns
    -------
    ndarray of int64, shape (n_clips,)
        A clip without class spikes gets class 0.
    """
    counts, first_steps = np.asarray(counts), np.asarray(first_steps)
    tied = counts == counts.max(axis=1, keepdims=True)
    first = np.where(tied, first_steps, NO_SPIKE)
    tied &= first == first.min(axis=1, keepdims=True)
    return np.argmax(tied, axis=1).astype(np.int64)


def vote_proba(counts: np.ndarray) -> np.ndarray:
    """Each population's share of a clip's class spikes; uniform for a clip without any."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum(axis=1, keepdims=True)
    uniform = np.full_like(counts, 1.0 / counts.shape[1])
    return np.where(total > 0, counts / np.where(total > 0, total, 1.0), uniform)


class ColumnClassifier(ClassifierMixin, TransformerMixin, BaseEstimator):
    """Cortical columns (STDP layer, lateral inhibition) with R-STDP class populations.

    The defaults suit a few hundred images or clips of about 64 channels at rates up
    to a few hundred Hz (``examples/frompapers/diehl_cook_2015.py``): normalised
    potentiation-dominated input STDP, a strong homeostatic threshold, and class
    populations that every layer winner can drive at first.  ``J_in`` (with
    ``norm_mean``) should put a matching input just above threshold; scale it
    inversely with the number of channels and their rates.

    Parameters
    ----------
    n_layer : int
        Excitatory layer neurons per column.
    tiles : (int, int)
        Columns across the frame's width and height; ``(1, 1)``: one column seeing
        every input channel (no frame geometry needed).
    overlap : int
        Pixels each receptive field extends beyond its tile.
    p_in : float
        Probability of each input synapse within a receptive field.
    n_per_class : int
        Neurons per class population.
    variant : {"HoNHoS", "HeNHoS", "HoNHeS", "HeNHeS"}
        Homogeneous/heterogeneous neurons (``N``) and synapses (``S``).
    tau_m : float
        Mean membrane time constant of the layer and class neurons, ms.
    cv_neuron : float
        CV of ``tau_m`` in heterogeneous-neuron variants.
    neuron_dist : str
        Distribution of ``tau_m``.
    tau_ref : float
        Refractory period of the layer and class neurons, ms.
    tau_e, tau_i : float
        Excitatory and inhibitory synaptic time constants of every column neuron, ms
        (fast, as in Diehl & Cook 2015).
    theta_plus : float
        Threshold rise per layer spike (homeostasis), mV.
    tau_theta : float
        Decay time of the threshold offset, ms.
    a_plus : float
        Mean STDP potentiation step (input STDP and R-STDP eligibility).
    a_ratio : float
        ``A_minus / A_plus``.
    tau_pre, tau_post : float
        Mean STDP trace time constants, ms.
    cv_synapse : float
        CV of the (R-)STDP parameters in heterogeneous-synapse variants (gamma).
    rule : {"additive", "multiplicative"}
        Weight dependence of the input STDP.
    w_in : float
        Mean initial input weight (uniform on ``[0, 2*w_in]``, clipped to ``w_max``).
    w_max : float
        Upper bound of the plastic weights.
    norm_mean : float or None
        Keep each layer neuron's mean input weight at this value (weight
        normalisation); None: off.
    J_in : float
        Input current per unit weight, nA.
    lateral : {"pool", "kwta", "none"}
        Lateral inhibition: an inhibitory pool (E -> I one-to-one, I -> every other E
        of the column), direct inhibition between the column's E neurons, or none.
    k_winners : int or None
        Gate the inhibition so that about ``k`` layer neurons per column fire per clip;
        None: linear inhibition whose strength sets the competition.
    J_ei : float
        E -> I current per spike in ``"pool"`` mode, nA.
    J_inh : float
        Lateral inhibitory current per spike (I -> E, or E -> E in ``"kwta"``), nA.
    w_class : float
        Mean initial layer -> class weight (uniform on ``[0, 2*w_class]``).
    J_class : float
        Layer -> class current per unit weight, nA.
    J_mutual : float
        Inhibition between class populations, nA per spike.
    eta : float
        R-STDP learning rate (eligibility times reward into weight).
    a_ratio_reward : float
        ``A_minus / A_plus`` of the R-STDP eligibility (``A_plus`` is ``a_plus``).  0:
        only pre-before-post pairs are eligible, so a punishment never strengthens a
        synapse whose post neuron fired before its pre neuron (all-to-all pairing of
        rate-coded bursts otherwise makes punishment potentiate).
    tau_c : float
        Mean eligibility-trace time constant, ms.
    reward, punishment : float
        Reward of the clip's class population and of every other one.
    epochs_stdp, epochs_reward : int
        Passes over the training clips in the unsupervised and the reward phase.
    shuffle : bool
        Present the clips in a new seeded order in every epoch.
    bins : int
        Time bins per clip of the layer features.
    reduction : {"binned_counts", "binned_rates"}
        Sequence-to-vector reduction of the layer spikes (:mod:`networks.features`).
    dt : float
        Simulation step, ms.
    gap : float
        Silent gap before each clip, ms.
    snapshots : int
        Weight snapshots recorded while learning.
    device : str
        ``runtime``, ``numpy``, ``cython``, ``cpp_standalone`` or ``cuda_standalone``.
    build_dir : str or None
        Standalone project directory.
    seed : int, numpy.random.Generator or None
        Draws wiring, parameters, weights and the presentation order.
    progress : bool
        Show progress over simulated time.

    Attributes
    ----------
    classes_ : ndarray
        Class labels seen in ``fit`` (population ``c`` stands for ``classes_[c]``).
    n_features_in_, n_input_ : int
        Input channels seen in ``fit`` (the same number).
    n_layer_total_ : int
        Layer neurons over all columns (``n_layer * gx * gy``).
    columns_ : ndarray of int, shape (n_layer_total_,)
        Column of each layer neuron.
    channel_positions_ : ndarray of int, shape (n_input_, 3) or None
        ``(map, row, col)`` of every input channel, where the stimuli carry geometry.
    seed_ : int
    weights_, weights_init_ : dict of str -> ndarray
        ``input`` and ``class`` weights after / before learning.
    theta_ : ndarray, shape (n_layer_total_,)
        Learned threshold offsets of the layer, mV.
    structure_ : dict of str -> (i, j)
        Connectivity of every pathway (``input``: channel, layer neuron).
    snapshots_ : dict of str -> ndarray, shape (n_snapshots, n_synapses)
    snapshot_times_ : ndarray
        Times of the snapshots, ms.
    reward_accuracy_ : ndarray, shape (epochs_reward,)
        Per reward epoch, the fraction of clips whose rewarded class won the vote.
    neuron_params_ : dict of str -> dict of str -> ndarray
        Per-neuron ``tau_m`` (ms), ``v_th`` (mV), ``tau_ref`` (ms) of ``layer``,
        ``inhibitory`` (pool mode) and ``classes``.
    n_features_out_ : int
    spikes_per_neuron_ : float
        Mean layer spikes per neuron per clip while learning.
    fit_seconds_ : float
        Wall time of ``fit``'s simulation, seconds.
    """

    _parameter_constraints = {
        "n_layer": Interval(int, 1, None),
        "overlap": Interval(int, 0, None),
        "p_in": Interval(float, 0, 1, "right", "a probability"),
        "n_per_class": Interval(int, 1, None),
        "variant": Options(tuple(VARIANTS)),
        "tau_m": Interval(float, 0, None, "neither", _TIME, "ms"),
        "cv_neuron": Interval(float, 0, None),
        "neuron_dist": Options(DISTRIBUTIONS),
        "tau_ref": Interval(float, 0, None, what=_NONNEG, unit="ms"),
        "tau_e": Interval(float, 0, None, "neither", _TIME, "ms"),
        "tau_i": Interval(float, 0, None, "neither", _TIME, "ms"),
        "theta_plus": Interval(float, 0, None, what=_NONNEG, unit="mV"),
        "tau_theta": Interval(float, 0, None, "neither", _TIME, "ms"),
        "a_plus": Interval(float, 0, None),
        "a_ratio": Interval(float, 0, None),
        "tau_pre": Interval(float, 0, None, "neither", _TIME, "ms"),
        "tau_post": Interval(float, 0, None, "neither", _TIME, "ms"),
        "cv_synapse": Interval(float, 0, None),
        "rule": Options(("additive", "multiplicative")),
        "w_in": Interval(float, 0, None, what=_NONNEG),
        "w_max": Interval(float, 0, None, "neither"),
        "norm_mean": (None, Interval(float, 0, None, "neither")),
        "J_in": Interval(float, 0, None, what=_NONNEG, unit="nA"),
        "lateral": Options(LATERAL_MODES),
        "k_winners": (None, Interval(int, 1, None)),
        "J_ei": Interval(float, 0, None, what=_NONNEG, unit="nA"),
        "J_inh": Interval(float, 0, None, what=_NONNEG, unit="nA"),
        "w_class": Interval(float, 0, None, what=_NONNEG),
        "J_class": Interval(float, 0, None, what=_NONNEG, unit="nA"),
        "J_mutual": Interval(float, 0, None, what=_NONNEG, unit="nA"),
        "eta": Interval(float, 0, None, what=_NONNEG),
        "a_ratio_reward": Interval(float, 0, None, what=_NONNEG),
        "tau_c": Interval(float, 0, None, "neither", _TIME, "ms"),
        "reward": Interval(float, None, None),
        "punishment": Interval(float, None, None),
        "epochs_stdp": Interval(int, 0, None),
        "epochs_reward": Interval(int, 0, None),
        "shuffle": Options((True, False)),
        "bins": Interval(int, 1, None),
        "reduction": Options(COUNT_REDUCTIONS),
        "dt": Interval(float, 0, None, "neither", "a time step", "ms"),
        "gap": Interval(float, 0, None, what=_NONNEG, unit="ms"),
        "snapshots": Interval(int, 0, None),
        "device": Options(DEVICES),
        "progress": Options((True, False)),
    }

    def __init__(
        self,
        n_layer=100,
        *,
        tiles=(1, 1),
        overlap=0,
        p_in=1.0,
        n_per_class=10,
        variant="HoNHoS",
        tau_m=20.0,
        cv_neuron=0.6,
        neuron_dist="gamma",
        tau_ref=5.0,
        tau_e=1.0,
        tau_i=2.0,
        theta_plus=1.0,
        tau_theta=1e5,
        a_plus=0.01,
        a_ratio=0.5,
        tau_pre=20.0,
        tau_post=20.0,
        cv_synapse=0.6,
        rule="additive",
        w_in=0.1,
        w_max=1.0,
        norm_mean=0.1,
        J_in=1.0,
        lateral="pool",
        k_winners=None,
        J_ei=3.0,
        J_inh=3.0,
        w_class=0.5,
        J_class=4.0,
        J_mutual=0.5,
        eta=3.0,
        a_ratio_reward=0.0,
        tau_c=200.0,
        reward=1.0,
        punishment=-1.0,
        epochs_stdp=1,
        epochs_reward=1,
        shuffle=True,
        bins=1,
        reduction="binned_counts",
        dt=0.5,
        gap=50.0,
        snapshots=20,
        device="runtime",
        build_dir=None,
        seed=None,
        progress=True,
    ):
        for name, value in locals().items():  # every argument stored as given (scikit-learn convention)
            if name != "self":
                setattr(self, name, value)

    # ------------------------------------------------------------------ derived
    @property
    def n_columns(self) -> int:
        gx, gy = self.tiles
        return int(gx) * int(gy)

    def column_params(self) -> ColumnParams:
        """The :class:`~cortex.columns.ColumnParams` of these hyperparameters and this variant."""
        lif = dict(variant=self.variant, tau_m=self.tau_m, cv_neuron=self.cv_neuron, neuron_dist=self.neuron_dist)
        syn = dict(tau_e=self.tau_e * ms, tau_i=self.tau_i * ms)
        traces = dict(a_plus=self.a_plus, a_ratio=self.a_ratio, tau_pre=self.tau_pre, tau_post=self.tau_post)
        return ColumnParams(
            layer=variant_lif_params(
                **lif, **syn, tau_ref=self.tau_ref * ms, theta_plus=self.theta_plus * mV, tau_theta=self.tau_theta * ms
            ),
            inhibitory=variant_lif_params(**dict(lif, tau_m=TAU_M_INHIBITORY), **syn, tau_ref=2 * ms),
            classes=variant_lif_params(**lif, **syn, tau_ref=self.tau_ref * ms),
            input_stdp=variant_stdp_params(self.variant, **traces, cv_synapse=self.cv_synapse, w_max=self.w_max),
            rstdp=variant_rstdp_params(
                self.variant,
                **dict(traces, a_ratio=self.a_ratio_reward),
                tau_c=self.tau_c,
                eta=self.eta,
                cv_synapse=self.cv_synapse,
                w_max=self.w_max,
            ),
            stdp_rule=self.rule,
            lateral=self.lateral,
            k_winners=self.k_winners,
            J_input=self.J_in * nA,
            J_class=self.J_class * nA,
            J_ei=self.J_ei * nA,
            J_ie=self.J_inh * nA,
            J_kwta=self.J_inh * nA,
            J_mutual=self.J_mutual * nA,
            w_input_init=(0.0, 2 * self.w_in),
            w_class_init=(0.0, 2 * self.w_class),
            norm_mean=self.norm_mean,
            norm_period=max(10.0, float(self.dt)) * ms,
            reward_dt=self.dt * ms,
            reward=float(self.reward),
            punishment=float(self.punishment),
        )

    def validate_params(self) -> ColumnClassifier:
        """Check every hyperparameter (names the first bad one in a ``ValueError``); returns self."""
        params = self.get_params()
        validate_params(params, self._parameter_constraints)
        check_grid(self.tiles, "tiles")
        for name in ("tau_m", "tau_e", "tau_i", "tau_pre", "tau_post", "tau_theta", "tau_c"):
            if params[name] < self.dt:
                raise ValueError(f"{name}: {params[name]} ms is shorter than the time step dt = {self.dt} ms")
        if self.k_winners is not None and self.lateral == "none":
            raise ValueError("k_winners: gated inhibition needs lateral='pool' or 'kwta', not 'none'")
        if int(self.epochs_stdp) + int(self.epochs_reward) < 1:
            raise ValueError("epochs_stdp, epochs_reward: at least one epoch of either is needed to fit")
        if self.punishment >= self.reward:
            raise ValueError(f"punishment: must lie below reward ({self.punishment} >= {self.reward})")
        self.column_params().validate(self.dt * ms)
        return self

    # ------------------------------------------------------------------ API
    def fit(self, X: Sequence[SpikeStimulus], y):
        """Unsupervised STDP epochs, then reward epochs on ``X`` with labels ``y``; returns self."""
        self.fit_simulate(X, y)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then layer features of ``X``, in one simulation."""
        if y is None:
            raise ValueError("y: ColumnClassifier.fit_transform needs the labels (the reward phase uses them)")
        return self.fit_simulate(X, y, [X]).features[0]

    def fit_simulate(
        self, X: Sequence[SpikeStimulus], y, extract: Sequence[Sequence[SpikeStimulus]] = ()
    ) -> SimulationResult:
        """Fit on ``X, y``, then present each set of ``extract`` frozen, in one simulation (one build).

        Returns
        -------
        SimulationResult
            Layer features of each set in ``features``; their class votes in
            ``extra["class_counts"]`` and ``extra["first_spikes"]``.
        """
        self.validate_params()
        X = check_stimuli(X)
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise ValueError(f"y: expected {len(X)} labels (one per clip), got shape {y.shape}")
        check_classification_targets(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"y: needs at least 2 classes, got {len(classes)}")
        n_input = X[0].n_channels
        extract = [check_stimuli(s, n_input) for s in extract]
        seed = resolve_seed(self.seed)
        positions = self._positions(X[0])
        wiring = self._wiring(positions, n_input, len(classes), seed)
        phases, kinds, labels = self._training_phases(X, y_idx, seed)
        phases += [(list(s), False) for s in extract]
        kinds += ["extract"] * len(extract)
        result = self._simulate(phases, kinds, labels, wiring=wiring, seed=seed, state=None)
        self.classes_, self.seed_ = classes, seed
        self.n_features_in_ = self.n_input_ = n_input
        self.n_layer_total_ = len(wiring["columns"])
        self.columns_, self.channel_positions_ = wiring["columns"], positions
        self.weights_, self.weights_init_ = result.weights, result.weights_init
        self.theta_ = result.extra["theta"]
        self.structure_, self.neuron_params_ = result.structure, result.neuron_params
        self.snapshots_, self.snapshot_times_ = result.snapshots, result.snapshot_times
        self.reward_accuracy_ = result.extra["reward_accuracy"]
        self.spikes_per_neuron_ = float(result.extra["spikes_per_neuron"])
        self.fit_seconds_ = result.seconds
        self.n_features_out_ = self.n_layer_total_ * int(self.bins)
        return result

    def simulate(self, X: Sequence[SpikeStimulus]) -> SimulationResult:
        """Present ``X`` to the fitted, frozen network; features and class votes in one simulation.

        Leaves the estimator unchanged.
        """
        check_is_fitted(self, "weights_")
        X = check_stimuli(X, self.n_input_)
        wiring = {
            "n_input": self.n_input_,
            "input": self.structure_["input"],
            "columns": self.columns_,
            "n_classes": len(self.classes_),
        }
        state = {"weights": self.weights_, "theta": self.theta_}
        return self._simulate([(X, False)], ["extract"], {}, wiring=wiring, seed=self.seed_, state=state)

    def predict(self, X: Sequence[SpikeStimulus]) -> np.ndarray:
        """The class whose population fires most in each clip (ties: module docstring)."""
        return self.predict_from(self.simulate(X))

    def predict_proba(self, X: Sequence[SpikeStimulus]) -> np.ndarray:
        """Each class population's share of the clip's class spikes, shape (n_clips, n_classes).

        A clip in which no class neuron fires gets ``1 / n_classes`` everywhere.
        """
        return self.proba_from(self.simulate(X))

    def transform(self, X: Sequence[SpikeStimulus]) -> np.ndarray:
        """Layer features, shape ``(n_clips, bins * n_layer_total_)`` (bin-major)."""
        return self.simulate(X).features[0]

    def tokens(self, X: Sequence[SpikeStimulus]) -> np.ndarray:
        """Layer features as tokens, shape ``(n_clips, bins, n_layer_total_)`` (one per time bin)."""
        return as_tokens(self.transform(X), int(self.bins))

    def predict_from(self, result: SimulationResult, phase: int = 0) -> np.ndarray:
        """:meth:`predict` of a simulation already run (``phase``: which extracted set)."""
        check_is_fitted(self, "classes_")
        votes = population_vote(result.extra["class_counts"][phase], result.extra["first_spikes"][phase])
        return self.classes_[votes]

    def proba_from(self, result: SimulationResult, phase: int = 0) -> np.ndarray:
        """:meth:`predict_proba` of a simulation already run."""
        return vote_proba(result.extra["class_counts"][phase])

    def save_state(self, path, *, metadata: dict | None = None) -> None:
        """Write the learned state to ``path`` (.npz), atomically (:func:`networks.persistence.save_column_state`)."""
        persistence.save_column_state(self, path, metadata=metadata)

    def load_state(self, path, *, strict: bool = True) -> ColumnClassifier:
        """Restore what :meth:`save_state` wrote; returns self (fitted).

        Refuses (``StateFileError`` naming the difference) a state saved with other
        hyperparameters or sizes (:func:`networks.persistence.load_column_state`).
        """
        return persistence.load_column_state(self, path, strict=strict)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "n_features_out_")
        return np.asarray(
            [f"bin{b}_n{k}" for b in range(int(self.bins)) for k in range(self.n_layer_total_)], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------ internals
    def _positions(self, stim: SpikeStimulus) -> np.ndarray | None:
        """Channel positions of the stimuli, or None where they carry no geometry and need none."""
        try:
            return channel_positions(stim)
        except StimulusError as exc:
            if tuple(self.tiles) != (1, 1):
                raise ValueError(
                    f"tiles: {tuple(self.tiles)} needs the frame geometry of the stimuli, but {exc} "
                    "(use tiles=(1, 1), or a frame or event encoder)"
                ) from None
            return None

    def _wiring(self, positions, n_input: int, n_classes: int, seed: int) -> dict:
        """Input connectivity of every column (receptive fields) and the column of each neuron."""
        wiring_rng = _streams(seed)["wiring"]
        if tuple(self.tiles) == (1, 1):
            fields = [np.arange(n_input)]
        else:
            fields = tile_receptive_fields(positions, tuple(self.tiles), int(self.overlap))
        i, j, columns = column_input_connectivity(fields, int(self.n_layer), float(self.p_in), seed=wiring_rng)
        return {"n_input": n_input, "input": (i, j), "columns": columns, "n_classes": n_classes}

    def _training_phases(self, X: list, y_idx: np.ndarray, seed: int):
        """Timeline phases, their kinds and the reward phases' labels (clips reordered per epoch)."""
        order_rng = _streams(seed)["order"]
        phases, kinds, labels = [], [], {}
        for kind, epochs in (("stdp", self.epochs_stdp), ("reward", self.epochs_reward)):
            for _ in range(int(epochs)):
                order = order_rng.permutation(len(X)) if self.shuffle else np.arange(len(X))
                if kind == "reward":
                    labels[len(phases)] = y_idx[order]
                phases.append(([X[k] for k in order], True))
                kinds.append(kind)
        return phases, kinds, labels

    def _simulate(self, phases, kinds, labels, *, wiring, seed: int, state) -> SimulationResult:
        timeline = Timeline(phases, dt=self.dt, gap=self.gap)
        column_seed = _streams(seed)["column"]
        t0 = time.perf_counter()
        with device_session(self.device, self.build_dir):
            run = build_column_network(
                self, timeline, kinds, wiring=wiring, seed=column_seed, labels=labels, state=state
            )
            learning_only = [m for k, m in run.monitors.items() if k.startswith("w_")]
            run_phases(
                run.network,
                timeline,
                [],
                learning_only=learning_only,
                progress=self.progress,
                before_phase=phase_switches(run),
            )
            result = collect_column(run, self, timeline, population_vote)
            del run
        result.seconds = time.perf_counter() - t0
        return result
