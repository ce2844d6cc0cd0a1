"""The cortical column: an STDP layer with lateral inhibition feeding R-STDP class populations.

After Diehl & Cook (2015) for the layer and the cortical-column classifier (input ->
excitatory LIF layer with STDP and lateral inhibition -> one excitatory population per
class trained with reward-modulated STDP, mutual inhibition between the classes)::

    input (any spiking group, n_in)
      |  STDP (additive or multiplicative), J_input; optional weight normalisation
      v
    layer E (n_layer LIF, homeostatic threshold theta) <----------------+
      |   lateral inhibition within each column:                        |
      |     "pool": E --J_ei, one-to-one--> I --J_ie, all others--------+
      |     "kwta": E --J_kwta, all others of the column----------------+
      |  R-STDP (eligibility c, reward per class neuron), J_class
      v
    classes (n_classes * n_per_class LIF, class-major)
      each class neuron --J_mutual--| every neuron of the other classes

Every group is a current-based :func:`cortex.neurons.lif_group` and every pathway a
:mod:`cortex.synapses` model; the only new equations are the winner bookkeeping of
gated (k-winners) inhibition and the weight normalisation, kept below as constants.

Lateral inhibition comes in two forms.  With ``k_winners=None`` it is linear, as in
Diehl & Cook: every spike of a column member inhibits all the others, and the
strength (``J_ie`` or ``J_kwta``) sets how many winners survive.  With ``k_winners=k``
the inhibition is gated: each layer neuron counts the distinct column members that
fired in the current winner window (``n_winners``; a neuron marks itself ``won`` in its
reset); once ``k`` have fired, every further column spike inhibits the neurons that
have not won, while the winners are spared.  The window restarts every
``winner_window`` (aligned with t = 0; make it the presentation period).  Neurons that
cross threshold in the same time step all count, so ties can let more than ``k`` win.

Weight normalisation (optional, ``norm_target``) keeps each layer neuron's summed input
weight at ``norm_target``: a ``(summed)`` variable ``w_total`` of the layer collects
``sum_i w_ij`` every step, and every ``norm_period`` a ``run_regularly`` operation
scales ``w_ij *= norm_target / w_total_j`` (clipped at ``[0, w_max]``).  It runs in the
``groups`` slot right after Brian2 updates the sum, so the sum is exact at that
moment; STDP changes made later in the same step and until the next normalisation
are not included, and clipping at ``w_max`` can leave a sum below the target when
``norm_target`` approaches ``n_inputs * w_max``.  Between normalisations the sum
drifts by the STDP updates (Diehl & Cook normalise once per presentation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from brian2 import NeuronGroup, Quantity, Synapses, TimedArray, amp, check_units, ms, mV, nA, second

from .heterogeneity import ParamSpec, SpecFields, as_spec
from .neurons import LIFParams, lif_group
from .seeds import SeedLike, make_rng
from .synapses import (
    RSTDPParams,
    STDPParams,
    connectivity,
    rstdp_synapses,
    set_plasticity,
    static_synapses,
    stdp_synapses,
)

__all__ = [
    "LATERAL_MODES",
    "WINNER_EQS",
    "WINNER_RESET",
    "WINNER_WINDOW_CODE",
    "GATED_INHIBITION_ON_PRE",
    "NORMALISATION_EQS",
    "NORMALISATION_TARGET_EQS",
    "NORMALISATION_CODE",
    "ColumnParams",
    "ColumnNetwork",
    "build_column",
    "set_column_learning",
    "class_reward",
]

#: Lateral inhibition within a column: inhibitory pool, direct k-WTA synapses, or none.
LATERAL_MODES = ("pool", "kwta", "none")

#: Winner bookkeeping of gated inhibition (layer neurons; the pool's I neurons need only ``won``).
WINNER_EQS = """
won : 1
n_winners : 1
"""
#: Appended to the reset: a neuron that fired has won in the current window.
WINNER_RESET = "won = 1"
#: Run every ``winner_window`` at the start of the step: a new window begins.
WINNER_WINDOW_CODE = "won = 0\nn_winners = 0"
#: Gated lateral inhibition (current-based target): count a new winner, then inhibit
#: the non-winners once ``k_winners`` distinct column members have fired.
GATED_INHIBITION_ON_PRE = """
n_winners_post += 1 - won_pre
I_i_post += w * J * int(n_winners_post >= k_winners) * (1 - won_post)
"""

#: The layer's summed input weight (a ``(summed)`` target).
NORMALISATION_EQS = "w_total : 1\n"
#: Added to the input synapses: the sum and the target.
NORMALISATION_TARGET_EQS = """
w_total_post = w : 1 (summed)
norm_target : 1 (shared, constant)
"""
#: Every ``norm_period``: scale each neuron's input weights to sum to ``norm_target``.
NORMALISATION_CODE = "w = clip(w * norm_target / (w_total_post + int(w_total_post <= 0)), 0, w_max)"

#: Fields that are parameter sets of the column's groups and pathways.
_NESTED = {
    "layer": LIFParams,
    "inhibitory": LIFParams,
    "classes": LIFParams,
    "input_stdp": STDPParams,
    "rstdp": RSTDPParams,
}
#: Static pathway strengths (amperes per spike; may be distributions over synapses).
_STRENGTHS = ("J_ei", "J_ie", "J_kwta", "J_mutual")
#: Scales of the plastic pathways (amperes per unit weight; single values).
_SCALES = ("J_input", "J_class")
#: Periods (single positive times).
_PERIODS = ("winner_window", "norm_period", "reward_dt")


def _default(value):
    return field(default_factory=lambda: value)


@dataclass(frozen=True)
class ColumnParams(SpecFields):
    """Parameters of a cortical column; every numeric value may be a :class:`ParamSpec`.

    Nested parameter sets (``LIFParams``, ``STDPParams``, ``RSTDPParams``) carry their
    own distributions; the static strengths ``J_ei``, ``J_ie``, ``J_kwta``,
    ``J_mutual`` may be distributions over synapses (realised as a per-synapse weight
    of mean 1 times the mean strength).  :meth:`homogeneous` removes every spread and
    keeps every mean (HoN/HeN, HoS/HeS ablations).

    Attributes
    ----------
    layer : LIFParams
        Excitatory layer (adaptive threshold: ``theta_plus`` 0.5 mV, ``tau_theta`` 2 s;
        ``tau_ref`` 5 ms).
    inhibitory : LIFParams
        Inhibitory pool neurons (``"pool"`` mode; ``tau_m`` 10 ms).
    classes : LIFParams
        Class populations (``tau_ref`` 5 ms).
    input_stdp : STDPParams
        Input -> layer STDP (A_plus 0.01, A_minus 0.0105, w_max 1).
    rstdp : RSTDPParams
        Layer -> class R-STDP (A_plus 0.01, A_minus 0.0105, tau_c 200 ms, eta 0.02).
    stdp_rule : {"additive", "multiplicative"}
        Weight dependence of the input STDP.
    lateral : {"pool", "kwta", "none"}
        Lateral inhibition mode (module docstring).
    k_winners : int or None
        Gated inhibition with this many winners per window; None: linear inhibition.
    winner_window : Quantity
        Period of the winner windows (100 ms; only with ``k_winners``).
    J_input, J_class : Quantity
        Current per unit weight of the input -> layer (0.25 nA) and layer -> class
        (0.5 nA) pathways.
    J_ei, J_ie, J_kwta, J_mutual : Quantity or ParamSpec
        Strengths of E -> I (10 nA: one E spike fires its I partner), I -> E (3 nA),
        direct k-WTA (3 nA) and class -> other-class (3 nA) synapses.
    w_input_init, w_class_init : float, (low, high) or ParamSpec
        Initial plastic weights (uniform in (0, 0.3) and (0, 0.5)).
    norm_target : float or None
        Summed input weight of each layer neuron kept by normalisation; None: off.
    norm_period : Quantity
        How often the normalisation runs (10 ms).
    reward_dt : Quantity
        How often R-STDP converts eligibility into weight change (1 ms).
    """

    layer: Any = _default(LIFParams(tau_ref=5 * ms, theta_plus=0.5 * mV, tau_theta=2000 * ms))
    inhibitory: Any = _default(LIFParams(tau_m=10 * ms, tau_ref=2 * ms))
    classes: Any = _default(LIFParams(tau_ref=5 * ms))
    input_stdp: Any = _default(STDPParams(A_plus=0.01, A_minus=0.0105, w_max=1.0))
    rstdp: Any = _default(RSTDPParams(A_plus=0.01, A_minus=0.0105, w_max=1.0, tau_c=200 * ms, eta=0.02))
    stdp_rule: str = "additive"
    lateral: str = "pool"
    k_winners: int | None = None
    winner_window: Any = _default(100 * ms)
    J_input: Any = _default(0.25 * nA)
    J_class: Any = _default(0.5 * nA)
    J_ei: Any = _default(10 * nA)
    J_ie: Any = _default(3 * nA)
    J_kwta: Any = _default(3 * nA)
    J_mutual: Any = _default(3 * nA)
    w_input_init: Any = (0.0, 0.3)
    w_class_init: Any = (0.0, 0.5)
    norm_target: Any = None
    norm_period: Any = _default(10 * ms)
    reward_dt: Any = _default(1 * ms)

    def __post_init__(self):
        for name, cls in _NESTED.items():  # mappings (from a config) become parameter sets
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, cls.from_dict(value))
            elif not isinstance(value, cls):
                raise ValueError(f"{name}: expected a {cls.__name__} or a mapping, got {type(value).__name__}")

    def specs(self) -> dict[str, ParamSpec]:
        """The column's own numeric parameters (not the nested sets) as named specs."""
        names = _STRENGTHS + _SCALES + _PERIODS + (("norm_target",) if self.norm_target is not None else ())
        return {name: as_spec(getattr(self, name), name) for name in names}

    def homogeneous(self) -> ColumnParams:
        """Same means, zero spread everywhere (nested sets, strengths, initial-weight specs)."""
        changes = {name: getattr(self, name).homogeneous() for name in _NESTED}
        changes.update({name: spec.homogeneous() for name, spec in self.specs().items()})
        for name in ("w_input_init", "w_class_init"):
            value = getattr(self, name)
            if isinstance(value, (ParamSpec, Mapping)):
                changes[name] = as_spec(value, name).homogeneous()
        return replace(self, **changes)

    def validate(self, dt=None) -> dict[str, ParamSpec]:
        """Check every parameter (nested sets included); return the column's own specs.

        Raises
        ------
        ValueError
            Naming the parameter: an unknown mode or rule, a bad ``k_winners``, a
            strength or scale that is not a non-negative current, a distribution where
            a single value is needed, a non-positive period or target, or any error of
            the nested :class:`LIFParams`, :class:`STDPParams`, :class:`RSTDPParams`.
        """
        for name in _NESTED:
            try:
                nested = getattr(self, name).validate(dt)
            except ValueError as exc:
                raise ValueError(f"{name}.{exc}") from None
            if name == "layer" and nested["theta_plus"].mean_value < 0:
                raise ValueError(f"layer.theta_plus: must be >= 0, got {nested['theta_plus'].mean!r}")
        if self.stdp_rule not in ("additive", "multiplicative"):
            raise ValueError(f"stdp_rule: expected 'additive' or 'multiplicative', got {self.stdp_rule!r}")
        if self.lateral not in LATERAL_MODES:
            raise ValueError(f"lateral: expected one of {LATERAL_MODES}, got {self.lateral!r}")
        k = self.k_winners
        if k is not None and (not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1):
            raise ValueError(f"k_winners: expected None or an integer >= 1, got {k!r}")
        specs = self.specs()
        for name in _STRENGTHS + _SCALES:
            spec = specs[name]
            if not (isinstance(spec.mean, Quantity) and spec.mean.dim == amp.dim):
                raise ValueError(f"{name}: expected a current (e.g. 1*nA), got {spec.mean!r}")
            if spec.mean_value < 0:
                raise ValueError(f"{name}: must be >= 0 (the sign is in the pathway), got {spec.mean!r}")
        for name in _SCALES + _PERIODS + ("norm_target",):
            if name in specs and specs[name].cv != 0:
                raise ValueError(f"{name}: must be a single value, not a distribution")
        for name in _PERIODS:
            mean = specs[name].mean
            if not (isinstance(mean, Quantity) and mean.dim == second.dim) or specs[name].mean_value <= 0:
                raise ValueError(f"{name}: expected a positive time (e.g. 10*ms), got {mean!r}")
            if dt is not None and specs[name].mean_value < float(dt):
                raise ValueError(f"{name}: {mean!s} is shorter than the time step dt = {dt!s}")
        if "norm_target" in specs:
            mean = specs["norm_target"].mean
            if isinstance(mean, Quantity) and not mean.is_dimensionless or specs["norm_target"].mean_value <= 0:
                raise ValueError(f"norm_target: expected None or a positive number, got {mean!r}")
        return specs


@dataclass
class ColumnNetwork:
    """The Brian2 objects of one built column and what was drawn for them.

    Attributes
    ----------
    layer : brian2.NeuronGroup
        Excitatory layer, ``n_layer`` neurons (``theta`` is the homeostatic threshold).
    inhibitory : brian2.NeuronGroup or None
        Inhibitory pool (``n_layer`` neurons, one per layer neuron) in ``"pool"`` mode.
    classes : brian2.NeuronGroup
        All class populations, ``n_classes * n_per_class`` neurons, class-major:
        neuron ``c * n_per_class + m`` belongs to class ``c``.
    synapses : dict of str to brian2.Synapses
        ``"input"``, ``"class"``, ``"mutual"``, and ``"exc_inh"`` + ``"inh_exc"``
        (pool) or ``"kwta"``.
    objects : list
        Every Brian2 object built here (groups with their ``run_regularly``
        operations, synapses); the input group is the caller's and is not included.
    columns : ndarray of int, shape (n_layer,)
        Column of each layer neuron.
    drawn : dict of str to dict of str to ndarray
        Per pathway: ``i``, ``j`` (connectivity) and ``w`` (initial weights), plus
        ``"layer"``: ``theta_plus`` (to restore homeostasis after freezing it).
    """

    layer: NeuronGroup
    inhibitory: NeuronGroup | None
    classes: NeuronGroup
    synapses: dict[str, Synapses]
    objects: list
    columns: np.ndarray
    n_classes: int
    n_per_class: int
    params: ColumnParams
    drawn: dict[str, dict[str, np.ndarray]]
    name: str = "column"

    def population(self, c: int) -> np.ndarray:
        """Indices (into :attr:`classes`) of class ``c``'s population, shape (n_per_class,)."""
        if not 0 <= c < self.n_classes:
            raise ValueError(f"c: class index must lie in [0, {self.n_classes}), got {c}")
        return np.arange(c * self.n_per_class, (c + 1) * self.n_per_class)


def _check_sizes(n_layer, n_classes, n_per_class, columns) -> np.ndarray:
    for pname, value in (("n_layer", n_layer), ("n_classes", n_classes), ("n_per_class", n_per_class)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{pname}: expected a positive integer, got {value!r}")
    if columns is None:
        return np.zeros(n_layer, dtype=np.int32)
    cols = np.asarray(columns)
    if cols.shape != (n_layer,) or not np.issubdtype(cols.dtype, np.integer):
        raise ValueError(f"columns: expected an integer array of shape ({n_layer},), got {cols.dtype} {cols.shape}")
    if cols.min() < 0:
        raise ValueError("columns: column indices must be >= 0")
    return cols.astype(np.int32)


def _within_columns(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``(i, j)``, ``i != j``, of layer neurons in the same column."""
    same = columns[:, None] == columns[None, :]
    np.fill_diagonal(same, False)
    i, j = np.nonzero(same)
    return i, j


def _between_classes(n_classes: int, n_per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``(i, j)`` of class neurons in different populations."""
    label = np.repeat(np.arange(n_classes), n_per_class)
    i, j = np.nonzero(label[:, None] != label[None, :])
    return i, j


def _strength(spec: ParamSpec):
    """``J`` (the mean) and per-synapse weights of mean 1 (the spread) of a static pathway."""
    mean = spec.mean_value
    if mean == 0:
        return 0 * amp, 0.0
    return spec.mean, ParamSpec(1.0, spec.cv, spec.dist, name=spec.name)


def _gated_inhibition(pre, post, i, j, spec: ParamSpec, k: int, *, name: str, seed) -> Synapses:
    """Inhibitory synapses that act on non-winners once ``k`` column members fired."""
    J, w_spec = _strength(spec)
    syn = Synapses(
        pre,
        post,
        model="w : 1",
        on_pre=GATED_INHIBITION_ON_PRE,
        name=name,
        namespace={"J": J, "k_winners": float(k)},
    )
    syn.connect(i=np.asarray(i, dtype=np.int32), j=np.asarray(j, dtype=np.int32))
    w = w_spec.sample(len(i), make_rng(seed)) if isinstance(w_spec, ParamSpec) else np.zeros(len(i))
    if np.any(np.asarray(w) < 0):
        raise ValueError(f"{spec.name}: drew a negative strength from {spec.describe()}")
    syn.w = w
    return syn


def _inhibition(pre, post, i, j, spec: ParamSpec, k, *, name: str, seed) -> Synapses:
    """Lateral or mutual inhibition: linear (``k`` None) or gated by ``k`` winners."""
    if k is not None:
        return _gated_inhibition(pre, post, i, j, spec, k, name=name, seed=seed)
    J, w_init = _strength(spec)
    return static_synapses(pre, post, target="i", J=J, connect=(i, j), w_init=w_init, name=name, seed=seed)


def _record(syn: Synapses) -> dict[str, np.ndarray]:
    return {"i": np.asarray(syn.i[:]).copy(), "j": np.asarray(syn.j[:]).copy(), "w": np.asarray(syn.w[:]).copy()}


def _layer_groups(n_layer, params: ColumnParams, *, gated: bool, normalise: bool, rngs, dt, name):
    """The layer E group and, in pool mode, the inhibitory pool."""
    layer_eqs = (WINNER_EQS if gated else "") + (NORMALISATION_EQS if normalise else "")
    layer = lif_group(
        n_layer,
        params.layer,
        adaptive_threshold=True,
        name=f"{name}_layer",
        seed=rngs[0],
        dt=dt,
        extra_eqs=layer_eqs,
        extra_reset=WINNER_RESET if gated else "",
    )
    inhibitory = None
    if params.lateral == "pool":
        inhibitory = lif_group(
            n_layer,
            params.inhibitory,
            name=f"{name}_inh",
            seed=rngs[1],
            dt=dt,
            extra_eqs="won : 1\n" if gated else "",
            extra_reset=WINNER_RESET if gated else "",
        )
    if gated:
        window = params.winner_window
        layer.run_regularly(WINNER_WINDOW_CODE, dt=window, when="start", name=f"{name}_layer_window")
        if inhibitory is not None:
            inhibitory.run_regularly("won = 0", dt=window, when="start", name=f"{name}_inh_window")
    return layer, inhibitory


def _lateral(layer, inhibitory, columns, params: ColumnParams, specs, rngs, name) -> dict[str, Synapses]:
    """Lateral inhibition within each column (pool or direct k-WTA)."""
    i, j = _within_columns(columns)
    k = params.k_winners
    if params.lateral == "pool":
        J_ei, w_ei = _strength(specs["J_ei"])
        one = np.arange(len(layer))
        exc_inh = static_synapses(
            layer, inhibitory, J=J_ei, connect=(one, one), w_init=w_ei, name=f"{name}_exc_inh", seed=rngs[4]
        )
        inh_exc = _inhibition(inhibitory, layer, i, j, specs["J_ie"], k, name=f"{name}_inh_exc", seed=rngs[5])
        return {"exc_inh": exc_inh, "inh_exc": inh_exc}
    if params.lateral == "kwta":
        return {"kwta": _inhibition(layer, layer, i, j, specs["J_kwta"], k, name=f"{name}_kwta", seed=rngs[5])}
    return {}


@check_units(dt=second)
def build_column(
    input_group,
    n_layer: int,
    n_classes: int,
    n_per_class: int,
    params: ColumnParams | Mapping | None = None,
    *,
    input_connect,
    columns=None,
    reward: TimedArray | None = None,
    seed: SeedLike = None,
    dt=None,
    name: str = "column",
) -> ColumnNetwork:
    """Build a cortical column (module docstring) on top of a spiking input group.

    Parameters
    ----------
    input_group : brian2 group with spikes
        The input layer (``PoissonGroup``, ``SpikeGeneratorGroup``, ...), ``n_in`` neurons.
    n_layer : int
        Number of excitatory layer neurons (over all columns).
    n_classes, n_per_class : int
        Number of class populations and neurons per population.
    params : ColumnParams or mapping, optional
        Defaults of :class:`ColumnParams` otherwise.
    input_connect : float or (i, j) arrays
        Input -> layer connectivity: a probability, or explicit indices (e.g.
        receptive fields computed by the caller), ``i`` into the input and ``j`` into
        the layer, each of shape (n_synapses,).
    columns : array of int, shape (n_layer,), optional
        Column of each layer neuron; lateral inhibition stays within a column.
        Default: one column.
    reward : None or brian2.TimedArray
        ``None``: a shared ``reward`` variable on the R-STDP synapses (set it between
        runs); or a 2-D ``TimedArray`` of shape ``(steps, n_classes * n_per_class)``,
        a reward per class neuron (see :func:`class_reward`).
    seed : int, numpy.random.Generator or None
        Every draw (parameters, connectivity, weights) comes from named child streams
        of this seed: layer, inhibitory, classes, input, E->I, lateral, class, mutual.
    dt : Quantity, optional
        Simulation step, checked against the time constants and periods.
    name : str
        Prefix of every Brian2 object name.

    Returns
    -------
    ColumnNetwork

    Raises
    ------
    ValueError
        Naming the parameter: sizes, ``columns``, ``input_connect``, ``reward`` or any
        parameter rejected by :meth:`ColumnParams.validate`.
    """
    cols = _check_sizes(n_layer, n_classes, n_per_class, columns)
    if params is None:
        params = ColumnParams()
    elif not isinstance(params, ColumnParams):
        params = ColumnParams.from_dict(params)
    specs = params.validate(dt)
    if isinstance(input_connect, str) or isinstance(input_connect, bool):
        raise ValueError(f"input_connect: expected a probability or (i, j) arrays, got {input_connect!r}")
    gated = params.k_winners is not None and params.lateral != "none"
    normalise = params.norm_target is not None
    # one named child stream per part: changing one part never shifts the draws of another
    rngs = make_rng(seed).spawn(8)  # layer, inhibitory, classes, input, E->I, lateral, class, mutual
    layer, inhibitory = _layer_groups(n_layer, params, gated=gated, normalise=normalise, rngs=rngs, dt=dt, name=name)
    classes = lif_group(n_classes * n_per_class, params.classes, name=f"{name}_classes", seed=rngs[2], dt=dt)

    try:
        input_syn = stdp_synapses(
            input_group,
            layer,
            params.input_stdp,
            rule=params.stdp_rule,
            J=specs["J_input"].mean,
            connect=input_connect,
            w_init=params.w_input_init,
            name=f"{name}_input",
            seed=rngs[3],
            dt=dt,
            extra_model=NORMALISATION_TARGET_EQS if normalise else "",
        )
    except ValueError as exc:
        if str(exc).startswith("connect:"):
            raise ValueError(f"input_{exc}") from None
        raise
    if normalise:
        input_syn.norm_target = specs["norm_target"].mean_value
        # in the "groups" slot after Brian2's summed-variable update (order = layer.order - 1)
        input_syn.run_regularly(
            NORMALISATION_CODE, dt=params.norm_period, when="groups", order=layer.order, name=f"{name}_normalise"
        )
    synapses = {"input": input_syn}
    synapses.update(_lateral(layer, inhibitory, cols, params, specs, rngs, name))
    synapses["class"] = rstdp_synapses(
        layer,
        classes,
        params.rstdp,
        reward=reward,
        reward_dt=params.reward_dt,
        J=specs["J_class"].mean,
        connect="all",
        w_init=params.w_class_init,
        name=f"{name}_class",
        seed=rngs[6],
        dt=dt,
    )
    mi, mj = _between_classes(n_classes, n_per_class)
    synapses["mutual"] = _inhibition(classes, classes, mi, mj, specs["J_mutual"], None, name=f"{name}_mutual", seed=rngs[7])

    drawn = {key: _record(syn) for key, syn in synapses.items()}
    drawn["layer"] = {"theta_plus": np.asarray(layer.theta_plus[:]).copy()}
    groups = [g for g in (layer, inhibitory, classes) if g is not None]
    return ColumnNetwork(
        layer=layer,
        inhibitory=inhibitory,
        classes=classes,
        synapses=synapses,
        objects=groups + list(synapses.values()),
        columns=cols,
        n_classes=int(n_classes),
        n_per_class=int(n_per_class),
        params=params,
        drawn=drawn,
        name=name,
    )


def set_column_learning(
    column: ColumnNetwork,
    *,
    input_stdp: bool | None = None,
    rstdp: bool | None = None,
    homeostasis: bool | None = None,
) -> None:
    """Switch learning per part; ``None`` leaves a part as it is.

    Parameters
    ----------
    column : ColumnNetwork
    input_stdp : bool, optional
        Input -> layer STDP on or off.
    rstdp : bool, optional
        Layer -> class R-STDP on or off (no weight change whatever the reward).
    homeostasis : bool, optional
        Threshold adaptation: off sets ``theta_plus`` to 0 (``theta`` keeps its value
        and decays with ``tau_theta``); on restores the drawn ``theta_plus``.
    """
    if input_stdp is not None:
        set_plasticity(column.synapses["input"], input_stdp)
    if rstdp is not None:
        set_plasticity(column.synapses["class"], rstdp)
    if homeostasis is not None:
        theta_plus = column.drawn["layer"]["theta_plus"]
        column.layer.theta_plus = theta_plus if homeostasis else np.zeros_like(theta_plus)


@check_units(window=second)
def class_reward(
    targets,
    n_classes: int,
    n_per_class: int,
    *,
    window,
    reward: float = 1.0,
    punishment: float = -1.0,
) -> TimedArray:
    """A 2-D reward ``TimedArray`` for :func:`build_column`: one row per time window.

    In window ``k`` (``[k*window, (k+1)*window)``) the population of class
    ``targets[k]`` receives ``reward`` and every other population ``punishment``;
    ``targets[k] < 0`` gives no reward (rest, test).  After the last window the reward
    is 0.

    Parameters
    ----------
    targets : array of int, shape (n_windows,)
        Rewarded class per window, or -1.
    n_classes, n_per_class : int
    window : Quantity
        Length of each window.
    reward, punishment : float

    Returns
    -------
    brian2.TimedArray
        Values of shape ``(n_windows + 1, n_classes * n_per_class)``, ``dt = window``.
    """
    targets = np.asarray(targets)
    if targets.ndim != 1 or not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"targets: expected a 1-D integer array, got {targets.dtype} {targets.shape}")
    if targets.size and targets.max() >= n_classes:
        raise ValueError(f"targets: class index {targets.max()} out of range for {n_classes} classes")
    if float(window) <= 0:
        raise ValueError(f"window: must be positive, got {window!r}")
    label = np.repeat(np.arange(n_classes), n_per_class)
    values = np.zeros((targets.size + 1, n_classes * n_per_class))
    for k, c in enumerate(targets):
        if c >= 0:
            values[k] = np.where(label == c, reward, punishment)
    return TimedArray(values, dt=window)
