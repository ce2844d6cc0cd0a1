"""Leaky integrate-and-fire populations with per-neuron (heterogeneous) parameters.

The models are Brian2 equation strings kept as module constants.  Every parameter
is a per-neuron ``(constant)`` variable, so a homogeneous population is simply one
whose values are all equal: the same code runs both variants of an ablation.

Current-based (``synapse="current"``), synaptic currents in amperes::

    dv/dt   = (v_rest - v + R_m*(I_e - I_i + I_ext)) / tau_m   (unless refractory)
    dI_e/dt = -I_e / tau_e
    dI_i/dt = -I_i / tau_i

Conductance-based (``synapse="conductance"``), conductances relative to the leak
(dimensionless)::

    dv/dt   = (v_rest - v + g_e*(E_e - v) + g_i*(E_i - v) + R_m*I_ext) / tau_m
    dg_e/dt = -g_e / tau_e
    dg_i/dt = -g_i / tau_i

Spike when ``v > v_th (+ theta)``, then ``v = v_reset`` and the neuron is
refractory for ``tau_ref``.  With ``adaptive_threshold=True`` each spike raises a
threshold offset ``theta`` by ``theta_plus`` which decays with ``tau_theta``
(homeostasis as in Diehl & Cook 2015, used by the cortical-column layer)::

    dtheta/dt = -homeostasis * theta / tau_theta    spike: theta += homeostasis * theta_plus

``homeostasis`` (shared, 1 after building) freezes ``theta`` when set to 0: it then
neither rises nor decays, as in Diehl & Cook's test phase.

Integration is exponential Euler, which is exact for the membrane under a
constant input current (``I_e = I_i = 0``), so the analytic solution
``v(t) = v_inf + (v0 - v_inf) exp(-t/tau_m)`` with ``v_inf = v_rest + R_m I_ext``
holds to float precision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from brian2 import Equations, Mohm, NeuronGroup, Quantity, amp, check_units, ms, mV, ohm, second, volt
from brian2.stateupdaters.base import StateUpdateMethod
from brian2.units.fundamentalunits import have_same_dimensions

from .heterogeneity import ParamSpec, SpecFields
from .seeds import SeedLike, make_rng

__all__ = [
    "LIF_CURRENT_EQS",
    "LIF_CONDUCTANCE_EQS",
    "LIF_PARAMETER_EQS",
    "ADAPTIVE_THRESHOLD_EQS",
    "LIFParams",
    "lif_equations",
    "lif_group",
    "draw_lif_values",
    "lif_parameter_names",
    "DecayFactorEuler",
    "LIF_DECAY_EQS",
    "set_decay_factors",
    "lif_reset_code",
    "lif_rate",
    "lif_membrane",
]

#: Membrane and synaptic dynamics, current-based synapses (currents in A).
LIF_CURRENT_EQS = """
dv/dt = (v_rest - v + R_m*(I_e - I_i + I_ext)) / tau_m : volt (unless refractory)
dI_e/dt = -I_e / tau_e : amp
dI_i/dt = -I_i / tau_i : amp
I_ext : amp
"""

#: Membrane and synaptic dynamics, conductance-based synapses (g relative to leak).
LIF_CONDUCTANCE_EQS = """
dv/dt = (v_rest - v + g_e*(E_e - v) + g_i*(E_i - v) + R_m*I_ext) / tau_m : volt (unless refractory)
dg_e/dt = -g_e / tau_e : 1
dg_i/dt = -g_i / tau_i : 1
I_ext : amp
"""

#: Per-neuron parameters shared by both models.
LIF_PARAMETER_EQS = """
tau_m : second (constant)
v_rest : volt (constant)
v_th : volt (constant)
v_reset : volt (constant)
tau_ref : second (constant)
R_m : ohm (constant)
tau_e : second (constant)
tau_i : second (constant)
"""

#: Reversal potentials (conductance-based model only).
LIF_REVERSAL_EQS = """
E_e : volt (constant)
E_i : volt (constant)
"""

#: Homeostatic threshold offset; ``homeostasis`` (1 or 0) switches its dynamics on or off.
ADAPTIVE_THRESHOLD_EQS = """
dtheta/dt = -homeostasis * theta / tau_theta : volt
theta_plus : volt (constant)
tau_theta : second (constant)
homeostasis : 1 (shared)
"""

_TIME_CONSTANTS = ("tau_m", "tau_e", "tau_i", "tau_theta")

#: Per-neuron decay factors ``exp(-dt/tau)`` read by :class:`DecayFactorEuler`.
LIF_DECAY_EQS = """
decay_m : 1 (constant)
decay_e : 1 (constant)
decay_i : 1 (constant)
"""


class DecayFactorEuler(StateUpdateMethod):
    """Exponential Euler for the current-based LIF with ``exp(-dt/tau)`` read, not computed.

    The update is exactly :data:`LIF_CURRENT_EQS` integrated by exponential Euler::

        v_inf = v_rest + R_m*(I_e - I_i + I_ext)
        v    <- v_inf + (v - v_inf)*decay_m      (unless refractory)
        I_e  <- I_e*decay_e,  I_i <- I_i*decay_i

    with the per-neuron constants ``decay_x = exp(-dt/tau_x)`` computed once
    (:func:`set_decay_factors`) instead of three exponentials per neuron and step, which
    is most of a reservoir's simulation time.  The factors must be set again whenever a
    time constant or ``dt`` changes; :mod:`networks.compiled_reservoir` does so in every
    run.  Groups built with ``method="decay_factors"`` only.
    """

    def can_integrate(self, equations, variables, method_options=None):
        return set(equations.diff_eq_names) == {"v", "I_e", "I_i"} and "decay_m" in equations.names

    def __call__(self, equations, variables=None, method_options=None):
        if not self.can_integrate(equations, variables):
            raise ValueError("decay_factors integrates the current-based LIF (v, I_e, I_i) with decay_* constants only")
        # selecting with 0/1 factors keeps a refractory v bit for bit
        return (
            "_v_inf = v_rest + R_m*(I_e - I_i + I_ext)\n"
            "_v = _v_inf + (v - _v_inf)*decay_m\n"
            "v = _v*int(not_refractory) + v*(1 - int(not_refractory))\n"
            "I_e = I_e*decay_e\n"
            "I_i = I_i*decay_i\n"
        )


def set_decay_factors(group) -> None:
    """Set ``decay_x = exp(-dt/tau_x)`` of a group built with ``method="decay_factors"``.

    The assignments are code (run where this is called, on every device), so on a
    standalone device they see time constants set earlier in the program.
    """
    group.decay_m = "exp(-dt/tau_m)"
    group.decay_e = "exp(-dt/tau_e)"
    group.decay_i = "exp(-dt/tau_i)"


def _default(value):
    """Dataclass default for an (unhashable) Quantity."""
    return field(default_factory=lambda: value)


@dataclass(frozen=True)
class LIFParams(SpecFields):
    """Parameters of a LIF population; each field a value or a :class:`ParamSpec`.

    Defaults follow common cortical values.  ``tau_m`` is the parameter made
    heterogeneous in HRSNN (gamma-distributed); any other field may be too.

    Attributes
    ----------
    tau_m : membrane time constant (default 20 ms)
    v_rest, v_th, v_reset : resting, threshold and reset potentials
        (-65, -50, -65 mV)
    tau_ref : refractory period (2 ms)
    R_m : membrane resistance for current inputs (100 MOhm)
    tau_e, tau_i : excitatory / inhibitory synaptic time constants (5, 10 ms)
    E_e, E_i : reversal potentials, conductance model only (0, -80 mV)
    theta_plus, tau_theta : adaptive threshold step and decay (0.05 mV, 1e4 ms),
        used only with ``adaptive_threshold=True``
    """

    tau_m: Any = _default(20 * ms)
    v_rest: Any = _default(-65 * mV)
    v_th: Any = _default(-50 * mV)
    v_reset: Any = _default(-65 * mV)
    tau_ref: Any = _default(2 * ms)
    R_m: Any = _default(100 * Mohm)
    tau_e: Any = _default(5 * ms)
    tau_i: Any = _default(10 * ms)
    E_e: Any = _default(0 * mV)
    E_i: Any = _default(-80 * mV)
    theta_plus: Any = _default(0.05 * mV)
    tau_theta: Any = _default(1e4 * ms)

    def validate(self, dt=None) -> dict[str, ParamSpec]:
        """Check units and physical sense; return the specs.

        Raises
        ------
        ValueError
            Naming the parameter: a non-positive time constant, a negative
            refractory period, a time constant shorter than ``dt``, a reset at or
            above threshold, a non-positive resistance, or a wrong unit.
        """
        specs = self.specs()
        defaults = LIFParams()
        for name, spec in specs.items():
            ref = getattr(defaults, name)
            if not have_same_dimensions(spec.mean, ref):
                unit = ref.get_best_unit() if isinstance(ref, Quantity) else 1
                raise ValueError(f"{name}: expected a value in units of {unit}, got {spec.mean!r}")
        for name in _TIME_CONSTANTS:
            m = specs[name].mean_value
            if m <= 0:
                raise ValueError(f"{name}: a time constant must be positive, got {specs[name].mean!r}")
            if dt is not None and m < float(dt):
                raise ValueError(
                    f"{name}: mean {specs[name].mean!s} is shorter than the time step "
                    f"dt = {dt!s}; reduce dt or lengthen {name}"
                )
        if specs["tau_ref"].mean_value < 0:
            raise ValueError(f"tau_ref: the refractory period must be >= 0, got {specs['tau_ref'].mean!r}")
        if specs["R_m"].mean_value <= 0:
            raise ValueError(f"R_m: the membrane resistance must be positive, got {specs['R_m'].mean!r}")
        if specs["v_reset"].mean_value >= specs["v_th"].mean_value:
            raise ValueError(f"v_reset: must lie below v_th ({specs['v_reset'].mean!s} >= {specs['v_th'].mean!s})")
        return specs


def lif_equations(synapse: str = "current", adaptive_threshold: bool = False) -> str:
    """The full equation string for a LIF model variant."""
    if synapse == "current":
        eqs = LIF_CURRENT_EQS + LIF_PARAMETER_EQS
    elif synapse == "conductance":
        eqs = LIF_CONDUCTANCE_EQS + LIF_PARAMETER_EQS + LIF_REVERSAL_EQS
    else:
        raise ValueError(f"synapse: expected 'current' or 'conductance', got {synapse!r}")
    if adaptive_threshold:
        eqs += ADAPTIVE_THRESHOLD_EQS
    return eqs


def lif_parameter_names(synapse: str = "current", adaptive_threshold: bool = False) -> list[str]:
    """The :class:`LIFParams` fields a model variant uses, in field order."""
    names = Equations(lif_equations(synapse, adaptive_threshold)).names
    return [f for f in LIFParams.__dataclass_fields__ if f in names]


@check_units(dt=second)
def lif_group(
    n: int,
    params: LIFParams | Mapping | None = None,
    *,
    synapse: str = "current",
    adaptive_threshold: bool = False,
    v_init: str = "rest",
    name: str = "lif",
    seed: SeedLike = None,
    dt=None,
    method: str = "exponential_euler",
    extra_eqs: str = "",
    extra_reset: str = "",
) -> NeuronGroup:
    """Build a named LIF ``NeuronGroup`` with parameters drawn from their specs.

    Parameters
    ----------
    n : int
        Number of neurons.
    params : LIFParams or mapping, optional
        Parameter values or :class:`ParamSpec` distributions; defaults of
        :class:`LIFParams` otherwise.
    synapse : {"current", "conductance"}
        Synaptic input model (see module docstring).
    adaptive_threshold : bool
        Add the homeostatic threshold ``theta`` (with ``homeostasis = 1``: adapting).
    v_init : {"rest", "random"}
        Initial membrane potential: ``v_rest``, or uniform in ``[v_reset, v_th)``.
    name : str
        Brian2 object name (explicit names keep ``store``/``restore`` working).
    seed : int, numpy.random.Generator or None
        Draws the heterogeneous parameters (in NumPy, so every device gets the
        same values).
    dt : brian2.Quantity, optional
        Simulation step the group will use; checked against the time constants.
    method : str
        Brian2 integration method, or ``"decay_factors"`` (current-based synapses only):
        exponential Euler reading per-neuron ``exp(-dt/tau)`` factors
        (:class:`DecayFactorEuler`, several times faster; call :func:`set_decay_factors`
        again after changing a time constant).
    extra_eqs : str, optional
        Further Brian2 equation lines appended to the model (e.g. a ``(summed)``
        target or bookkeeping variables of a circuit built around the group).
    extra_reset : str, optional
        Further statements appended to the reset code (run after each spike).

    Returns
    -------
    brian2.NeuronGroup
        With state variables ``v``, the synaptic variables, and every parameter of
        :class:`LIFParams` as a per-neuron constant.
    """
    if not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"n: the number of neurons must be a positive integer, got {n!r}")
    values = draw_lif_values(
        int(n), params, synapse=synapse, adaptive_threshold=adaptive_threshold, v_init=v_init, seed=seed, dt=dt
    )
    eqs = lif_equations(synapse, adaptive_threshold) + extra_eqs
    decay = method == "decay_factors"
    if decay:
        if synapse != "current" or adaptive_threshold:
            raise ValueError("method: 'decay_factors' needs synapse='current' and no adaptive threshold")
        eqs += LIF_DECAY_EQS
        method = DecayFactorEuler()
    threshold = "v > v_th + theta" if adaptive_threshold else "v > v_th"
    reset = "v = v_reset\ntheta += homeostasis * theta_plus" if adaptive_threshold else "v = v_reset"
    if extra_reset.strip():
        reset += "\n" + extra_reset.strip()
    group = NeuronGroup(
        int(n),
        eqs,
        threshold=threshold,
        reset=reset,
        refractory="tau_ref",
        method=method,
        name=name,
        **({"dt": dt} if dt is not None else {}),
    )
    if adaptive_threshold:
        group.homeostasis = 1
    for pname, value in values.items():
        setattr(group, pname, value)
    if decay:
        set_decay_factors(group)
    return group


def draw_lif_values(
    n: int,
    params: LIFParams | Mapping | None = None,
    *,
    synapse: str = "current",
    adaptive_threshold: bool = False,
    v_init: str = "rest",
    seed: SeedLike = None,
    dt=None,
) -> dict[str, Quantity]:
    """The per-neuron values :func:`lif_group` gives a population, drawn in NumPy.

    Returns
    -------
    dict of str -> Quantity, shape (n,)
        Every parameter the model uses, in the order drawn, then the initial ``v``.
        The same seed gives the same values as :func:`lif_group` (which calls this).
    """
    if v_init not in ("rest", "random"):
        raise ValueError(f"v_init: expected 'rest' or 'random', got {v_init!r}")
    if params is None:
        params = LIFParams()
    elif not isinstance(params, LIFParams):
        params = LIFParams.from_dict(params)
    specs = params.validate(dt)
    used = set(lif_parameter_names(synapse, adaptive_threshold))
    rng = make_rng(seed)
    drawn = {}
    for pname, spec in specs.items():  # fixed order: reproducible draws
        if pname not in used:
            continue
        values = spec.sample(int(n), rng)
        if pname in ("tau_m", "tau_e", "tau_i", "tau_theta", "tau_ref", "R_m"):
            values = _keep_positive(values, spec)
        drawn[pname] = values
    # initial state from the drawn arrays (standalone devices cannot read values before a run)
    if v_init == "rest":
        drawn["v"] = drawn["v_rest"]
    else:
        lo, hi = np.asarray(drawn["v_reset"]), np.asarray(drawn["v_th"])
        drawn["v"] = (lo + rng.random(int(n)) * (hi - lo)) * volt
    return drawn


def lif_reset_code(synapse: str = "current", suffix: str = "") -> str:
    """Statements that return a LIF neuron to its initial state (rest, no input, not refractory).

    For a clip-boundary reset: run as the ``on_pre`` code of a synapse onto the group
    (``suffix="_post"``), every membrane and synaptic variable returns to its initial
    value and refractoriness is cleared, so the next input meets a fresh neuron.  A
    homeostatic threshold offset ``theta`` is learned state and is not reset.

    Parameters
    ----------
    synapse : {"current", "conductance"}
    suffix : str
        Appended to every variable name (``"_post"`` inside synaptic code).
    """
    if synapse == "current":
        inputs = ("I_e", "I_i"), "0*amp"
    elif synapse == "conductance":
        inputs = ("g_e", "g_i"), "0"
    else:
        raise ValueError(f"synapse: expected 'current' or 'conductance', got {synapse!r}")
    s = suffix
    lines = [f"v{s} = v_rest{s}"] + [f"{name}{s} = {inputs[1]}" for name in inputs[0]]
    lines += [f"lastspike{s} = -1e4*second", f"not_refractory{s} = True"]
    return "\n".join(lines)


def _keep_positive(values, spec: ParamSpec):
    """Guard against a (vanishingly rare) non-positive draw of a positive parameter."""
    arr = np.asarray(values)
    if np.any(arr <= 0) and spec.name != "tau_ref":
        fix = "lower its cv" if spec.dist in ("gamma", "lognormal") else "lower its cv or use dist='gamma'/'lognormal'"
        raise ValueError(
            f"{spec.name}: drew a non-positive value from {spec.describe()} (its cv is too large to "
            f"represent at this precision); {fix}"
        )
    return values


# -- analytic reference solutions (used by tests and users checking a model) -------


@check_units(t=second, I_ext=amp, tau_m=second, R_m=ohm, v_rest=volt)
def lif_membrane(t, *, I_ext, tau_m=20 * ms, R_m=100 * Mohm, v_rest=-65 * mV, v0=None):
    """Sub-threshold membrane potential under a constant current.

    ``v(t) = v_inf + (v0 - v_inf) * exp(-t / tau_m)``, ``v_inf = v_rest + R_m * I_ext``.
    """
    v_inf = v_rest + R_m * I_ext
    v0 = v_rest if v0 is None else v0
    return v_inf + (v0 - v_inf) * np.exp(-np.asarray(t / second) / float(tau_m / second))


@check_units(I_ext=amp, tau_m=second, R_m=ohm, v_rest=volt, v_th=volt, v_reset=volt, tau_ref=second)
def lif_rate(I_ext, *, tau_m=20 * ms, R_m=100 * Mohm, v_rest=-65 * mV, v_th=-50 * mV, v_reset=-65 * mV, tau_ref=2 * ms):
    """Analytic f-I curve of the LIF neuron (Hz); 0 below rheobase.

    ``f = 1 / (tau_ref + tau_m * ln((v_inf - v_reset) / (v_inf - v_th)))``.
    """
    v_inf = v_rest + R_m * I_ext
    if v_inf <= v_th:
        return 0.0
    period = tau_ref + tau_m * np.log(float((v_inf - v_reset) / (v_inf - v_th)))
    return float(1.0 / (period / second))
