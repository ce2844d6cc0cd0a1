"""The cortical column: an STDP layer with lateral inhibition feeding R-STDP class populations.

After Diehl & Cook (2015) for the layer, and the cortical-column classifier built on
it (input -> excitatory LIF layer with STDP, homeostasis and lateral inhibition -> one
excitatory population per class, trained with reward-modulated STDP, with mutual
inhibition between the classes)::

    input (any spiking group, n_in)
      |  pair STDP (additive or multiplicative), J_input; optional normalisation
      v
    layer E (n_layer LIF, homeostatic threshold theta) <---------------+
      |   lateral inhibition, only within each column:                 |
      |     "pool": E --J_ei, one-to-one--> I --J_ie, all other E------+
      |     "kwta": E --J_kwta, all other E of the column--------------+
      |  R-STDP (eligibility c, reward read from each class neuron), J_class
      v
    classes (n_classes * n_per_class LIF, class-major) <--- teacher (n_classes)
      each class neuron --J_mutual--| every neuron of the other classes

Every group is a current-based :func:`cortex.neurons.lif_group` and every pathway a
:mod:`cortex.synapses` model.  The equations added here are module constants: the
winner bookkeeping of gated (k-winners) inhibition, the weight normalisation and
the teacher that delivers rewards.

**Columns.**  ``columns[k]`` is the column of layer neuron ``k``; lateral inhibition
never crosses columns.  Which inputs a column sees is the input connectivity, given
explicitly (receptive fields are the caller's business: cortex knows no frames).

**Lateral inhibition.**  With ``k_winners=None`` it is linear, as in Diehl & Cook:
every spike of a column member inhibits all the others (through its inhibitory
partner in ``"pool"`` mode, directly in ``"kwta"`` mode), and the strength
(``J_ie`` or ``J_kwta``) sets how many neurons survive.  With ``k_winners=k`` it is
gated: a layer neuron marks itself ``won`` when it fires, each layer neuron sums the
``won`` flags of the other column members into ``n_winners`` (a ``(summed)``
variable, so the count does not depend on the order synapses are processed in), and
an inhibitory spike reaches only neurons that have not won, once the column counts
``k`` winners including the spiking one::

    I_i_post += w * J * int(n_winners_post + 1 - won_pre >= k_winners) * (1 - won_post)

The ``won`` flags -- the winner window -- clear every ``winner_window`` if one is
given, and in every clip-boundary reset (:meth:`ColumnNetwork.reset_code`).
Neurons that first fire in the same time step all win (ties); in ``"pool"`` mode the
inhibition arrives one step later (E -> I -> E), so ties span two steps.  The
inhibition must be strong enough to hold the losers below threshold.

**Homeostasis.**  Each layer spike raises the neuron's threshold offset ``theta`` by
``theta_plus``; it decays with ``tau_theta``.  ``homeostasis = 0``
(:func:`set_column_learning`) freezes ``theta`` entirely.  Clip-boundary resets leave
``theta`` alone: it is learned state.

**Weight normalisation** (optional, ``norm_mean``) keeps each layer neuron's summed
input weight at ``norm_mean`` times its number of input synapses, i.e. its mean
input weight at ``norm_mean``.  The initial weights are normalised when drawn; while
learning, a ``(summed)`` variable ``w_total`` collects ``sum_i w_ij`` every step, and
every ``norm_period`` a ``run_regularly`` operation, in the ``groups`` slot right after
that sum is updated, scales::

    w = clip(w * (1 + plastic * (norm_target_post / w_total_post - 1)), 0, w_max)

STDP changes between two normalisations (and clipping at ``w_max`` when the target
approaches ``n_inputs * w_max``) make the sum drift from the target until the next
one; with ``plastic = 0`` the weights are left exactly as they are.

**Reward.**  Each class neuron carries a ``reward`` variable that the R-STDP
synapses read (:func:`cortex.synapses.rstdp_synapses` with ``reward="post"``).  A
*teacher* group of ``n_classes`` neurons sets it by events: a spike of teacher
neuron ``c`` writes ``reward`` (default +1) into every neuron of class ``c`` and
``punishment`` (-1) into every other class neuron.  At the next conversion (every
``reward_dt``) the R-STDP synapses turn ``reward * c`` into weight change and empty
their eligibility trace, then the class neurons clear ``reward``.  Events scale with
the number of clips, where a (time, neuron) reward array would scale with simulated
time, and work on every Brian2 device.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from brian2 import NeuronGroup, Quantity, Synapses, amp, check_units, ms, mV, nA, second

from .heterogeneity import ParamSpec, SpecFields, as_spec
from .neurons import LIFParams, lif_group, lif_reset_code
from .seeds import SeedLike, make_rng
from .synapses import (
    RSTDPParams,
    STDPParams,
    connectivity,
    initial_weights,
    rstdp_synapses,
    set_plasticity,
    static_synapses,
    stdp_synapses,
)

__all__ = [
    "LATERAL_MODES",
    "WINNER_EQS",
    "WINNER_COUNT_EQS",
    "WINNER_RESET",
    "WINNER_WINDOW_CODE",
    "GATED_INHIBITION_ON_PRE",
    "NORMALISATION_EQS",
    "NORMALISATION_SUM_EQS",
    "NORMALISATION_CODE",
    "REWARD_EQS",
    "TEACHER_EQS",
    "TEACHER_ON_PRE",
    "REWARD_CLEAR_CODE",
    "ColumnParams",
    "ColumnNetwork",
    "build_column",
    "set_column_learning",
    "normalise_weights",
]

#: Lateral inhibition within a column: inhibitory pool, direct k-WTA synapses, or none.
LATERAL_MODES = ("pool", "kwta", "none")

#: Winner bookkeeping of gated inhibition on the layer (the pool's neurons need only ``won``).
WINNER_EQS = """
won : 1
n_winners : 1
"""
#: On the lateral inhibitory synapses: the column's winners other than the post neuron.
WINNER_COUNT_EQS = """
n_winners_post = won_pre : 1 (summed)
"""
#: Appended to the reset: a neuron that fired has won in the current window.
WINNER_RESET = "won = 1"
#: A new winner window begins (periodically, and in every clip-boundary reset).
WINNER_WINDOW_CODE = "won = 0"
#: Gated lateral inhibition (current-based target): only non-winners, once ``k_winners`` fired.
GATED_INHIBITION_ON_PRE = "I_i_post += w * J * int(n_winners_post + 1 - won_pre >= k_winners) * (1 - won_post)"

#: On the layer: the summed input weight and its per-neuron target.
NORMALISATION_EQS = """
w_total : 1
norm_target : 1 (constant)
"""
#: On the input synapses: the sum.
NORMALISATION_SUM_EQS = """
w_total_post = w : 1 (summed)
"""
#: Every ``norm_period``: scale each neuron's input weights to sum to ``norm_target`` (while plastic).
NORMALISATION_CODE = (
    "w = clip(w * (1 + plastic * (norm_target_post / (w_total_post + int(w_total_post <= 0)) - 1)), 0, w_max)"
)

#: On the class neurons: the reward their incoming R-STDP synapses read.
REWARD_EQS = """
reward : 1
"""
#: Teacher -> class synapses: the value a teacher spike writes (reward or punishment).
TEACHER_EQS = "value : 1 (constant)"
TEACHER_ON_PRE = "reward_post += value"
#: On the class neurons, after each conversion of eligibility into weight change.
REWARD_CLEAR_CODE = "reward = 0"

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
#: Periods (single positive times; ``winner_window`` may be None).
_PERIODS = ("winner_window", "norm_period", "reward_dt")


def _default(value):
    return field(default_factory=lambda: value)


@dataclass(frozen=True)
class ColumnParams(SpecFields):
    """Parameters of a cortical column; every numeric value may be a :class:`ParamSpec`.

    Nested parameter sets (``LIFParams``, ``STDPParams``, ``RSTDPParams``) carry their
    own distributions over neurons or synapses; the static strengths ``J_ei``,
    ``J_ie``, ``J_kwta``, ``J_mutual`` may be distributions over synapses (realised as
    a per-synapse weight of mean 1 times the mean strength).  :meth:`homogeneous`
    removes every spread and keeps every mean (HoN/HeN, HoS/HeS ablations).

    Attributes
    ----------
    layer : LIFParams
        Excitatory layer (default ``tau_ref`` 5 ms, ``theta_plus`` 0.05 mV,
        ``tau_theta`` 10 s, and the fast synapses of Diehl & Cook: ``tau_e`` 1 ms,
        ``tau_i`` 2 ms).
    inhibitory : LIFParams
        Inhibitory pool neurons (``"pool"`` mode; ``tau_m`` 10 ms, ``tau_e`` 1 ms,
        ``tau_i`` 2 ms: one E spike makes one I spike).
    classes : LIFParams
        Class populations (``tau_ref`` 5 ms, ``tau_e`` 1 ms, ``tau_i`` 2 ms).
    input_stdp : STDPParams
        Input -> layer STDP (A_plus 0.01, A_minus 0.0105, w_max 1).
    rstdp : RSTDPParams
        Layer -> class R-STDP (A_plus 0.01, A_minus 0.0105, tau_c 200 ms, eta 0.5).
    stdp_rule : {"additive", "multiplicative"}
        Weight dependence of the input STDP.
    lateral : {"pool", "kwta", "none"}
        Lateral inhibition mode (module docstring).
    k_winners : int or None
        Gated inhibition with this many winners per window; None: linear inhibition.
    winner_window : Quantity or None
        Period of the winner windows; None: they change only at clip-boundary resets.
    J_input, J_class : Quantity
        Current per unit weight of the input -> layer (5 nA) and layer -> class
        (4 nA) pathways (with ``tau_e`` 1 ms, 1 nA for one step of 1 ms is a PSP of
        about 4 mV).
    J_ei, J_ie, J_kwta, J_mutual : Quantity or ParamSpec
        Strengths of E -> I (3 nA: one E spike fires its I partner once), I -> E
        (3 nA), direct k-WTA (3 nA) and class -> other-class (1 nA) synapses.
    w_input_init, w_class_init : float, (low, high) or ParamSpec
        Initial plastic weights (uniform in (0, 0.3) and (0, 0.5)).
    norm_mean : float or None
        Mean input weight of each layer neuron kept by normalisation; None: off.
    norm_period : Quantity
        How often the normalisation runs (10 ms).
    reward_dt : Quantity
        How often R-STDP converts eligibility into weight change (1 ms).
    reward, punishment : float
        What a teacher spike of class ``c`` writes into class ``c``'s neurons (+1) and
        into every other class neuron (-1).
    """

    layer: Any = _default(
        LIFParams(tau_ref=5 * ms, tau_e=1 * ms, tau_i=2 * ms, theta_plus=0.05 * mV, tau_theta=1e4 * ms)
    )
    inhibitory: Any = _default(LIFParams(tau_m=10 * ms, tau_ref=2 * ms, tau_e=1 * ms, tau_i=2 * ms))
    classes: Any = _default(LIFParams(tau_ref=5 * ms, tau_e=1 * ms, tau_i=2 * ms))
    input_stdp: Any = _default(STDPParams(A_plus=0.01, A_minus=0.0105, w_max=1.0))
    rstdp: Any = _default(RSTDPParams(A_plus=0.01, A_minus=0.0105, w_max=1.0, tau_c=200 * ms, eta=0.5))
    stdp_rule: str = "additive"
    lateral: str = "pool"
    k_winners: int | None = None
    winner_window: Any = None
    J_input: Any = _default(5 * nA)
    J_class: Any = _default(4 * nA)
    J_ei: Any = _default(3 * nA)
    J_ie: Any = _default(3 * nA)
    J_kwta: Any = _default(3 * nA)
    J_mutual: Any = _default(1 * nA)
    w_input_init: Any = (0.0, 0.3)
    w_class_init: Any = (0.0, 0.5)
    norm_mean: Any = None
    norm_period: Any = _default(10 * ms)
    reward_dt: Any = _default(1 * ms)
    reward: float = 1.0
    punishment: float = -1.0

    def __post_init__(self):
        for name, cls in _NESTED.items():  # mappings (from a config) become parameter sets
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, cls.from_dict(value))
            elif not isinstance(value, cls):
                raise ValueError(f"{name}: expected a {cls.__name__} or a mapping, got {type(value).__name__}")

    def specs(self) -> dict[str, ParamSpec]:
        """The column's own numeric parameters (not the nested sets) as named specs."""
        names = _STRENGTHS + _SCALES + _PERIODS + ("norm_mean", "reward", "punishment")
        return {name: as_spec(getattr(self, name), name) for name in names if getattr(self, name) is not None}

    def homogeneous(self) -> ColumnParams:
        """Same means, zero spread everywhere (nested sets, strengths, initial-weight specs).

        Single-valued parameters (scales, periods, targets, rewards) are left as given.
        """
        changes = {name: getattr(self, name).homogeneous() for name in _NESTED}
        changes.update({name: as_spec(getattr(self, name), name).homogeneous() for name in _STRENGTHS})
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
            the nested :class:`LIFParams`, :class:`STDPParams`, :class:`RSTDPParams`
            (prefixed with the set's name, ``layer.tau_m: ...``).
        """
        self._validate_nested(dt)
        self._validate_modes()
        specs = self.specs()
        for name in _STRENGTHS + _SCALES:
            spec = specs[name]
            if not (isinstance(spec.mean, Quantity) and spec.mean.dim == amp.dim):
                raise ValueError(f"{name}: expected a current (e.g. 1*nA), got {spec.mean!r}")
            if spec.mean_value < 0:
                raise ValueError(f"{name}: must be >= 0 (the sign is in the pathway), got {spec.mean!r}")
        for name in _SCALES + _PERIODS + ("norm_mean", "reward", "punishment"):
            if name in specs and specs[name].cv != 0:
                raise ValueError(f"{name}: must be a single value, not a distribution")
        for name in _PERIODS:
            if name not in specs:
                continue
            mean = specs[name].mean
            if not (isinstance(mean, Quantity) and mean.dim == second.dim) or specs[name].mean_value <= 0:
                raise ValueError(f"{name}: expected a positive time (e.g. 10*ms), got {mean!r}")
            if dt is not None and specs[name].mean_value < float(dt):
                raise ValueError(f"{name}: {mean!s} is shorter than the time step dt = {dt!s}")
        if "norm_mean" in specs:
            mean = specs["norm_mean"].mean
            if isinstance(mean, Quantity) and not mean.is_dimensionless or specs["norm_mean"].mean_value <= 0:
                raise ValueError(f"norm_mean: expected None or a positive number, got {mean!r}")
        return specs

    def _validate_nested(self, dt) -> None:
        for name in _NESTED:
            try:
                nested = getattr(self, name).validate(dt)
            except ValueError as exc:
                raise ValueError(f"{name}.{exc}") from None
            if name == "layer" and nested["theta_plus"].mean_value < 0:
                raise ValueError(f"layer.theta_plus: must be >= 0, got {nested['theta_plus'].mean!r}")

    def _validate_modes(self) -> None:
        if self.stdp_rule not in ("additive", "multiplicative"):
            raise ValueError(f"stdp_rule: expected 'additive' or 'multiplicative', got {self.stdp_rule!r}")
        if self.lateral not in LATERAL_MODES:
            raise ValueError(f"lateral: expected one of {LATERAL_MODES}, got {self.lateral!r}")
        k = self.k_winners
        if k is not None and (not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1):
            raise ValueError(f"k_winners: expected None or an integer >= 1, got {k!r}")
        if k is not None and self.lateral == "none":
            raise ValueError("k_winners: gated inhibition needs lateral='pool' or 'kwta', not 'none'")
        for name in ("reward", "punishment"):
            value = getattr(self, name)
            if isinstance(value, (bool, ParamSpec)) or not np.isfinite(np.asarray(value, dtype=float)):
                raise ValueError(f"{name}: expected a finite number, got {value!r}")

    @property
    def gated(self) -> bool:
        """Whether lateral inhibition is gated by ``k_winners``."""
        return self.k_winners is not None and self.lateral != "none"


@dataclass
class ColumnNetwork:
    """The Brian2 objects of one built column and what was drawn for them (in NumPy).

    Attributes
    ----------
    layer : brian2.NeuronGroup
        Excitatory layer, ``n_layer`` neurons (``theta``: the homeostatic threshold).
    inhibitory : brian2.NeuronGroup or None
        Inhibitory pool (``n_layer`` neurons, one partner per layer neuron), ``"pool"`` mode.
    classes : brian2.NeuronGroup or None
        All class populations, ``n_classes * n_per_class`` neurons, class-major:
        neuron ``c * n_per_class + m`` belongs to class ``c``; None without classes.
    synapses : dict of str to brian2.Synapses
        ``"input"``; ``"exc_inh"`` + ``"inh_exc"`` (pool) or ``"kwta"``; with classes
        ``"class"`` (R-STDP), ``"mutual"``, and ``"teacher"`` when a teacher is given.
    objects : list
        Every Brian2 object built here (groups with their operations, synapses); the
        input and teacher groups are the caller's and are not included.
    columns : ndarray of int, shape (n_layer,)
        Column of each layer neuron.
    structure : dict of str to (i, j)
        Connectivity of every pathway (drawn in NumPy, readable before a run).
    weights_init : dict of str to ndarray
        Initial weights of the plastic pathways ``"input"`` and ``"class"``.
    """

    layer: NeuronGroup
    inhibitory: NeuronGroup | None
    classes: NeuronGroup | None
    synapses: dict[str, Synapses]
    objects: list
    columns: np.ndarray
    n_classes: int
    n_per_class: int
    params: ColumnParams
    structure: dict[str, tuple[np.ndarray, np.ndarray]]
    weights_init: dict[str, np.ndarray]
    name: str = "column"

    @property
    def n_layer(self) -> int:
        return len(self.layer)

    @property
    def class_labels(self) -> np.ndarray:
        """Class of every class neuron, shape (n_classes * n_per_class,)."""
        return np.repeat(np.arange(self.n_classes), self.n_per_class)

    def population(self, c: int) -> np.ndarray:
        """Indices (into :attr:`classes`) of class ``c``'s population, shape (n_per_class,)."""
        if not 0 <= c < self.n_classes:
            raise ValueError(f"c: class index must lie in [0, {self.n_classes}), got {c}")
        return np.arange(c * self.n_per_class, (c + 1) * self.n_per_class)

    def groups(self) -> dict[str, NeuronGroup]:
        """The column's neuron groups by part: ``layer``, ``inhibitory``, ``classes`` (those built)."""
        parts = {"layer": self.layer, "inhibitory": self.inhibitory, "classes": self.classes}
        return {k: g for k, g in parts.items() if g is not None}

    def reset_code(self, part: str, suffix: str = "_post") -> str:
        """Clip-boundary reset statements of a part (``layer``, ``inhibitory``, ``classes``).

        The LIF reset (:func:`cortex.neurons.lif_reset_code`) plus, with gated
        inhibition, a new winner window.  ``theta`` (learned) is left alone.
        """
        if part not in ("layer", "inhibitory", "classes"):
            raise ValueError(f"part: expected 'layer', 'inhibitory' or 'classes', got {part!r}")
        code = lif_reset_code("current", suffix=suffix)
        if self.params.gated and part in ("layer", "inhibitory"):
            code += "\n" + WINNER_WINDOW_CODE.replace("won", f"won{suffix}")
        return code


def _check_sizes(n_layer, n_classes, n_per_class, columns) -> np.ndarray:
    for pname, value, low in (("n_layer", n_layer, 1), ("n_classes", n_classes, 0), ("n_per_class", n_per_class, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(f"{pname}: expected an integer >= {low}, got {value!r}")
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
    return i.astype(np.int32), j.astype(np.int32)


def _between_classes(n_classes: int, n_per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``(i, j)`` of class neurons in different populations."""
    label = np.repeat(np.arange(n_classes), n_per_class)
    i, j = np.nonzero(label[:, None] != label[None, :])
    return i.astype(np.int32), j.astype(np.int32)


def _strength(spec: ParamSpec):
    """``J`` (the mean) and per-synapse weights of mean 1 (the spread) of a static pathway."""
    if spec.mean_value == 0:
        return 0 * amp, 0.0
    return spec.mean, ParamSpec(1.0, spec.cv, spec.dist, name=spec.name)


def _gated_inhibition(pre, post, i, j, spec: ParamSpec, k: int, *, name: str, seed) -> Synapses:
    """Inhibitory synapses that act on non-winners once ``k`` column members fired."""
    J, w_spec = _strength(spec)
    syn = Synapses(
        pre,
        post,
        model="w : 1\n" + WINNER_COUNT_EQS,
        on_pre=GATED_INHIBITION_ON_PRE,
        name=name,
        namespace={"J": J, "k_winners": float(k)},
    )
    if len(i) == 0:  # one-neuron columns: nothing to inhibit
        syn.connect(False)
        return syn
    syn.connect(i=i, j=j)
    w = initial_weights(w_spec, len(i), make_rng(seed))
    syn.w = w
    return syn


def _inhibition(pre, post, i, j, spec: ParamSpec, k, *, name: str, seed) -> Synapses:
    """Lateral or mutual inhibition: linear (``k`` None) or gated by ``k`` winners."""
    if k is not None:
        return _gated_inhibition(pre, post, i, j, spec, k, name=name, seed=seed)
    J, w_init = _strength(spec)
    return static_synapses(pre, post, target="i", J=J, connect=(i, j), w_init=w_init, name=name, seed=seed)


def normalise_weights(w: np.ndarray, j: np.ndarray, target: np.ndarray, w_max: float) -> np.ndarray:
    """Scale the weights onto each post neuron ``j`` to sum to ``target[j]`` (clipped to ``w_max``).

    The NumPy twin of :data:`NORMALISATION_CODE`; neurons whose weights sum to 0 keep them.

    Parameters
    ----------
    w : ndarray, shape (n_synapses,)
    j : ndarray of int, shape (n_synapses,)
        Post-synaptic neuron of each synapse.
    target : ndarray, shape (n_post,)
    w_max : float
    """
    w = np.asarray(w, dtype=float)
    total = np.bincount(j, weights=w, minlength=len(target))
    scale = np.where(total > 0, target / np.where(total > 0, total, 1.0), 1.0)
    return np.clip(w * scale[j], 0.0, w_max)


def _layer_groups(n_layer, params: ColumnParams, *, rngs, dt, name):
    """The layer E group and, in pool mode, the inhibitory pool."""
    gated, normalise = params.gated, params.norm_mean is not None
    layer = lif_group(
        n_layer,
        params.layer,
        adaptive_threshold=True,
        name=f"{name}_layer",
        seed=rngs["layer"],
        dt=dt,
        extra_eqs=(WINNER_EQS if gated else "") + (NORMALISATION_EQS if normalise else ""),
        extra_reset=WINNER_RESET if gated else "",
    )
    inhibitory = None
    if params.lateral == "pool":
        inhibitory = lif_group(
            n_layer,
            params.inhibitory,
            name=f"{name}_inh",
            seed=rngs["inhibitory"],
            dt=dt,
            extra_eqs="won : 1\n" if gated else "",
            extra_reset=WINNER_RESET if gated else "",
        )
    if gated and params.winner_window is not None:
        window = as_spec(params.winner_window, "winner_window").mean
        for group in (layer, inhibitory):
            if group is not None:
                group.run_regularly(WINNER_WINDOW_CODE, dt=window, when="start", name=f"{group.name}_window")
    return layer, inhibitory


def _lateral(layer, inhibitory, columns, params: ColumnParams, specs, rngs, name):
    """Lateral inhibition within each column (pool or direct k-WTA) and its structure."""
    i, j = _within_columns(columns)
    k = params.k_winners if params.gated else None
    if params.lateral == "pool":
        J_ei, w_ei = _strength(specs["J_ei"])
        one = np.arange(len(layer), dtype=np.int32)
        exc_inh = static_synapses(
            layer, inhibitory, J=J_ei, connect=(one, one), w_init=w_ei, name=f"{name}_exc_inh", seed=rngs["exc_inh"]
        )
        inh_exc = _inhibition(inhibitory, layer, i, j, specs["J_ie"], k, name=f"{name}_inh_exc", seed=rngs["lateral"])
        return {"exc_inh": exc_inh, "inh_exc": inh_exc}, {"exc_inh": (one, one), "inh_exc": (i, j)}
    if params.lateral == "kwta":
        kwta = _inhibition(layer, layer, i, j, specs["J_kwta"], k, name=f"{name}_kwta", seed=rngs["lateral"])
        return {"kwta": kwta}, {"kwta": (i, j)}
    return {}, {}


def _input_pathway(input_group, layer, input_connect, params: ColumnParams, specs, rng, dt, name):
    """Plastic input -> layer synapses (normalised initial weights), their structure and weights."""
    if isinstance(input_connect, (str, bool)) and input_connect != "all":
        raise ValueError(f"input_connect: expected a probability, 'all' or (i, j) arrays, got {input_connect!r}")
    try:
        i, j = connectivity(len(input_group), len(layer), input_connect, seed=rng)
    except ValueError as exc:
        raise ValueError(f"input_{exc}") from None
    w_max = params.input_stdp.specs()["w_max"].mean_value
    w0 = initial_weights(params.w_input_init, len(i), rng, w_max)
    normalise = params.norm_mean is not None
    if normalise:
        target = specs["norm_mean"].mean_value * np.bincount(j, minlength=len(layer))
        w0 = normalise_weights(w0, j, target, w_max)
        layer.norm_target = target
    syn = stdp_synapses(
        input_group,
        layer,
        params.input_stdp,
        rule=params.stdp_rule,
        J=specs["J_input"].mean,
        connect=(i, j),
        w_init=w0,
        name=f"{name}_input",
        seed=rng,
        dt=dt,
        extra_model=NORMALISATION_SUM_EQS if normalise else "",
    )
    if normalise and len(i):
        # in the "groups" slot after Brian2's summed-variable update (order = layer.order - 1)
        syn.run_regularly(
            NORMALISATION_CODE, dt=specs["norm_period"].mean, when="groups", order=layer.order, name=f"{name}_normalise"
        )
    return syn, (i, j), w0


def _class_pathways(layer, n_classes, n_per_class, params: ColumnParams, specs, *, teacher, rngs, dt, name):
    """Class populations, layer -> class R-STDP, mutual inhibition and the teacher."""
    n = n_classes * n_per_class
    classes = lif_group(n, params.classes, name=f"{name}_classes", seed=rngs["classes"], dt=dt, extra_eqs=REWARD_EQS)
    reward_dt = specs["reward_dt"].mean
    classes.run_regularly(REWARD_CLEAR_CODE, dt=reward_dt, when="end", order=1, name=f"{name}_classes_clear")
    ci, cj = connectivity(len(layer), n, "all")
    w0 = initial_weights(params.w_class_init, len(ci), rngs["class"], params.rstdp.specs()["w_max"].mean_value)
    synapses = {
        "class": rstdp_synapses(
            layer,
            classes,
            params.rstdp,
            reward="post",
            reward_dt=reward_dt,
            consume=True,
            J=specs["J_class"].mean,
            connect=(ci, cj),
            w_init=w0,
            name=f"{name}_class",
            seed=rngs["class"],
            dt=dt,
        )
    }
    mi, mj = _between_classes(n_classes, n_per_class)
    synapses["mutual"] = _inhibition(
        classes, classes, mi, mj, specs["J_mutual"], None, name=f"{name}_mutual", seed=rngs["mutual"]
    )
    structure = {"class": (ci, cj), "mutual": (mi, mj)}
    if teacher is not None:
        if len(teacher) != n_classes:
            raise ValueError(f"teacher: expected a group of {n_classes} neurons (one per class), got {len(teacher)}")
        ti, tj = connectivity(n_classes, n, "all")
        own = np.repeat(np.arange(n_classes), n_per_class)[tj] == ti
        syn = Synapses(teacher, classes, model=TEACHER_EQS, on_pre=TEACHER_ON_PRE, name=f"{name}_teacher")
        syn.connect(i=ti, j=tj)
        syn.value = np.where(own, specs["reward"].mean_value, specs["punishment"].mean_value)
        synapses["teacher"] = syn
        structure["teacher"] = (ti, tj)
    return classes, synapses, structure, w0


@check_units(dt=second)
def build_column(
    input_group,
    n_layer: int,
    n_classes: int = 0,
    n_per_class: int = 1,
    params: ColumnParams | Mapping | None = None,
    *,
    input_connect="all",
    columns=None,
    teacher=None,
    seed: SeedLike = None,
    dt=None,
    name: str = "column",
) -> ColumnNetwork:
    """Build a cortical column (module docstring) on top of a spiking input group.

    Parameters
    ----------
    input_group : brian2 group with spikes
        The input layer (``SpikeGeneratorGroup``, ``PoissonGroup``, ...), ``n_in`` neurons.
    n_layer : int
        Number of excitatory layer neurons (over all columns).
    n_classes, n_per_class : int
        Number of class populations (0: the layer alone) and neurons per population.
    params : ColumnParams or mapping, optional
        Defaults of :class:`ColumnParams` otherwise.
    input_connect : float, "all" or (i, j) arrays
        Input -> layer connectivity: a probability, all-to-all, or explicit indices
        (receptive fields computed by the caller), ``i`` into the input and ``j``
        into the layer, each of shape (n_synapses,).
    columns : array of int, shape (n_layer,), optional
        Column of each layer neuron; lateral inhibition stays within a column.
        Default: one column.
    teacher : brian2 group with spikes, optional
        ``n_classes`` neurons; a spike of neuron ``c`` rewards class ``c`` and
        punishes the others (module docstring).  Without one, ``classes.reward``
        can still be set by the caller.
    seed : int, numpy.random.Generator or None
        Every draw (parameters, connectivity, weights) comes from named child streams
        of this seed, one per part: changing one part never shifts another's draws.
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
        Naming the parameter: sizes, ``columns``, ``input_connect``, ``teacher`` or any
        parameter rejected by :meth:`ColumnParams.validate`.
    """
    cols = _check_sizes(n_layer, n_classes, n_per_class, columns)
    if params is None:
        params = ColumnParams()
    elif not isinstance(params, ColumnParams):
        params = ColumnParams.from_dict(params)
    specs = params.validate(dt)
    parts = ("layer", "inhibitory", "classes", "input", "exc_inh", "lateral", "class", "mutual")
    rngs = dict(zip(parts, make_rng(seed).spawn(len(parts)), strict=True))
    layer, inhibitory = _layer_groups(n_layer, params, rngs=rngs, dt=dt, name=name)
    input_syn, input_ij, w_input = _input_pathway(
        input_group, layer, input_connect, params, specs, rngs["input"], dt, name
    )
    synapses, structure = {"input": input_syn}, {"input": input_ij}
    lateral, lateral_ij = _lateral(layer, inhibitory, cols, params, specs, rngs, name)
    synapses.update(lateral)
    structure.update(lateral_ij)
    weights_init = {"input": w_input}
    classes = None
    if n_classes > 0:
        classes, class_syn, class_ij, w_class = _class_pathways(
            layer, n_classes, n_per_class, params, specs, teacher=teacher, rngs=rngs, dt=dt, name=name
        )
        synapses.update(class_syn)
        structure.update(class_ij)
        weights_init["class"] = w_class
    elif teacher is not None:
        raise ValueError("teacher: a column without class populations (n_classes=0) takes no teacher")
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
        structure=structure,
        weights_init=weights_init,
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

    Works between runs on every device (shared switches).

    Parameters
    ----------
    column : ColumnNetwork
    input_stdp : bool, optional
        Input -> layer STDP (and weight normalisation) on or off.
    rstdp : bool, optional
        Layer -> class R-STDP on or off (no weight change whatever the reward).
    homeostasis : bool, optional
        Threshold adaptation: off freezes ``theta`` (no rise, no decay).
    """
    if input_stdp is not None:
        set_plasticity(column.synapses["input"], input_stdp)
    if rstdp is not None and "class" in column.synapses:
        set_plasticity(column.synapses["class"], rstdp)
    if homeostasis is not None:
        column.layer.homeostasis = 1 if homeostasis else 0
