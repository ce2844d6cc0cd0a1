"""Synapses: static, trace-based pair STDP, and reward-modulated STDP.

Weights ``w`` are dimensionless in ``[0, w_max]``; a spike adds ``w * J`` to the
target neuron's excitatory or inhibitory input (``I_e``/``I_i`` in amperes for the
current-based LIF, ``g_e``/``g_i`` relative to leak for the conductance-based one),
so ``J`` carries the unit and the learning rule works on plain numbers.

Pair STDP with traces (all-to-all by default)::

    dapre/dt  = -apre / taupre      pre spike:  apre  += A_plus
    dapost/dt = -apost / taupost    post spike: apost += A_minus

    additive:        pre:  w = clip(w - plastic*apost, 0, w_max)
                     post: w = clip(w + plastic*apre,  0, w_max)
    multiplicative:  pre:  w = clip(w - plastic*apost*w, 0, w_max)
    (soft bound)     post: w = clip(w + plastic*apre*(w_max - w), 0, w_max)

so one pre->post pair at delay ``dt`` changes an additive weight by
``A_plus*exp(-dt/tau_pre)`` and one post->pre pair by ``-A_minus*exp(-dt/tau_post)``.
``A_plus``, ``A_minus``, ``tau_pre`` and ``tau_post`` are per-synapse constants
(Brian2 reserves the ``_pre``/``_post`` suffixes, so in the equations and on the
``Synapses`` object the trace time constants are named ``taupre``/``taupost``):
heterogeneous STDP (HRSNN) draws them from :class:`~cortex.heterogeneity.ParamSpec`.
``plastic`` (shared, 1 or 0) freezes learning without rebuilding the network.

Reward-modulated STDP keeps the same traces but writes the STDP update into an
eligibility trace ``c`` (decay ``tau_c``) instead of the weight; every
``reward_dt`` the reward converts eligibility into weight change::

    w = clip(w + plastic * eta * reward * c, 0, w_max)

``reward`` is either a shared variable set by the user between runs, a
``TimedArray`` (global: ``reward(t)``; per post-synaptic neuron:
``reward(t, j)``), e.g. +1 on the correct class population and -1 elsewhere, or
the post-synaptic neuron's own variable ``reward`` (``reward="post"``), which other
synapses set by events (a teacher spike at the end of a clip, see
:mod:`cortex.columns`).  No reward, no weight change; the sign of the change follows
the reward.  With ``consume=True`` a conversion under a non-zero reward also empties
the eligibility trace (``c = 0``), so each reward credits only what happened since
the previous one::

    c = c * (1 - int(reward != 0))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from brian2 import NeuronGroup, Quantity, Synapses, TimedArray, check_units, ms, nA, second

from .heterogeneity import ParamSpec, SpecFields, as_spec
from .seeds import SeedLike, make_rng

__all__ = [
    "STDP_EQS",
    "STDP_ON_PRE",
    "STDP_ON_POST",
    "RSTDP_EQS",
    "RSTDP_ON_PRE",
    "RSTDP_ON_POST",
    "RSTDP_REWARD_CODE",
    "RSTDP_CONSUME_CODE",
    "STDPParams",
    "RSTDPParams",
    "static_synapses",
    "stdp_synapses",
    "rstdp_synapses",
    "set_plasticity",
    "connectivity",
    "ConnectAtRun",
    "draw_synapse_values",
    "initial_weights",
    "transmission_code",
]

#: State and parameters of a pair-STDP synapse (per-synapse learning dynamics).
STDP_EQS = """
w : 1
w_max : 1 (shared, constant)
A_plus : 1 (constant)
A_minus : 1 (constant)
taupre : second (constant)
taupost : second (constant)
plastic : 1 (shared)
dapre/dt = -apre / taupre : 1 (event-driven)
dapost/dt = -apost / taupost : 1 (event-driven)
"""

#: Trace and weight updates, keyed by rule; ``{effect}`` is the transmission line.
STDP_ON_PRE = {
    "additive": """
{effect}
apre {trace_op} A_plus
w = clip(w - plastic * apost, 0, w_max)
""",
    "multiplicative": """
{effect}
apre {trace_op} A_plus
w = clip(w - plastic * apost * w, 0, w_max)
""",
}
STDP_ON_POST = {
    "additive": """
apost {trace_op} A_minus
w = clip(w + plastic * apre, 0, w_max)
""",
    "multiplicative": """
apost {trace_op} A_minus
w = clip(w + plastic * apre * (w_max - w), 0, w_max)
""",
}

#: Reward-modulated STDP: the STDP update goes into the eligibility trace ``c``.
RSTDP_EQS = (
    STDP_EQS
    + """
tau_c : second (constant)
eta : 1 (shared, constant)
dc/dt = -c / tau_c : 1 (event-driven)
"""
)
RSTDP_ON_PRE = """
{effect}
apre {trace_op} A_plus
c -= apost
"""
RSTDP_ON_POST = """
apost {trace_op} A_minus
c += apre
"""
#: Applied every ``reward_dt``; ``c`` decays since its last event-driven update.
RSTDP_REWARD_CODE = "w = clip(w + plastic * eta * {reward} * c * exp(-(t - lastupdate) / tau_c), 0, w_max)"
#: Appended with ``consume=True``: a delivered reward empties the eligibility trace.
RSTDP_CONSUME_CODE = "c = c * (1 - int({reward} != 0))"


#: Parameter names that Brian2 cannot use as synaptic variable names.
BRIAN_NAMES = {"tau_pre": "taupre", "tau_post": "taupost"}


def _default(value):
    return field(default_factory=lambda: value)


@dataclass(frozen=True)
class STDPParams(SpecFields):
    """Pair-STDP parameters; each field a value or a :class:`ParamSpec` (per synapse).

    Attributes
    ----------
    A_plus : potentiation step of the pre trace (default 0.01)
    A_minus : depression step of the post trace (0.0105: slightly depression-dominated)
    tau_pre, tau_post : trace time constants (20 ms, 20 ms)
    w_max : upper weight bound (1.0; a scalar, the same for all synapses)
    """

    A_plus: Any = 0.01
    A_minus: Any = 0.0105
    tau_pre: Any = _default(20 * ms)
    tau_post: Any = _default(20 * ms)
    w_max: Any = 1.0

    _per_synapse = ("A_plus", "A_minus", "tau_pre", "tau_post")
    _time_constants = ("tau_pre", "tau_post")

    def validate(self, dt=None) -> dict[str, ParamSpec]:
        """Check signs, units and time constants against ``dt``; return the specs."""
        specs = self.specs()
        for name in self._time_constants:
            mean = specs[name].mean
            if not (isinstance(mean, Quantity) and mean.dim == second.dim):
                raise ValueError(f"{name}: expected a time (e.g. 20*ms), got {mean!r}")
            if specs[name].mean_value <= 0:
                raise ValueError(f"{name}: a time constant must be positive, got {mean!r}")
            if dt is not None and specs[name].mean_value < float(dt):
                raise ValueError(f"{name}: mean {mean!s} is shorter than the time step dt = {dt!s}")
        for name in ("A_plus", "A_minus"):
            if isinstance(specs[name].mean, Quantity) and not specs[name].mean.is_dimensionless:
                raise ValueError(f"{name}: must be dimensionless, got {specs[name].mean!r}")
            if specs[name].mean_value < 0:
                raise ValueError(f"{name}: must be >= 0 (the sign is in the rule), got {specs[name].mean!r}")
        if specs["w_max"].cv != 0:
            raise ValueError("w_max: must be a single value, not a distribution")
        if specs["w_max"].mean_value <= 0:
            raise ValueError(f"w_max: must be positive, got {specs['w_max'].mean!r}")
        return specs


@dataclass(frozen=True)
class RSTDPParams(STDPParams):
    """Reward-modulated STDP: :class:`STDPParams` plus eligibility and learning rate.

    Attributes
    ----------
    tau_c : eligibility-trace time constant (per synapse; default 200 ms)
    eta : learning rate converting ``reward * c`` into weight change (1.0)
    """

    tau_c: Any = _default(200 * ms)
    eta: float = 1.0

    _per_synapse = ("A_plus", "A_minus", "tau_pre", "tau_post", "tau_c")
    _time_constants = ("tau_pre", "tau_post", "tau_c")

    def validate(self, dt=None):
        specs = super().validate(dt)
        if specs["eta"].cv != 0 or specs["eta"].mean_value < 0:
            raise ValueError(f"eta: must be a single value >= 0, got {self.eta!r}")
        return specs


# -- connectivity and transmission ---------------------------------------------------


def connectivity(
    n_pre: int, n_post: int, connect, *, seed: SeedLike = None, autapses: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Pre and post indices of a connection pattern, drawn in NumPy.

    Drawing here (not with Brian2's ``connect(p=...)``) gives the same network on
    every device for a given seed.

    Parameters
    ----------
    connect : float, "all", "one_to_one", or (i, j) arrays
        Connection probability, full or one-to-one connectivity, or explicit indices.
    autapses : bool
        Whether ``i == j`` is allowed (only meaningful for recurrent pathways).

    Returns
    -------
    i, j : ndarray of int32, shape (n_synapses,)
        Sorted by ``(i, j)``.
    """
    if isinstance(connect, tuple) and len(connect) == 2:
        i, j = (np.asarray(a, dtype=np.int64).ravel() for a in connect)
        if i.shape != j.shape:
            raise ValueError("connect: i and j must have the same length")
        if i.size and (i.min() < 0 or i.max() >= n_pre or j.min() < 0 or j.max() >= n_post):
            raise ValueError(f"connect: indices out of range for {n_pre} -> {n_post} neurons")
    elif connect == "all":
        i, j = (a.ravel() for a in np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij"))
    elif connect == "one_to_one":
        if n_pre != n_post:
            raise ValueError(f"connect: one_to_one needs equal sizes, got {n_pre} and {n_post}")
        i = j = np.arange(n_pre)
    elif isinstance(connect, (float, int)) and not isinstance(connect, bool):
        p = float(connect)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"connect: a probability must lie in [0, 1], got {p}")
        rng = make_rng(seed)
        # row by row keeps memory at O(n_post) for large populations
        rows = [np.flatnonzero(rng.random(n_post) < p) for _ in range(n_pre)]
        i = np.repeat(np.arange(n_pre), [r.size for r in rows])
        j = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    else:
        raise ValueError(f"connect: expected a probability, 'all', 'one_to_one' or (i, j), got {connect!r}")
    if not autapses:
        keep = i != j
        i, j = i[keep], j[keep]
    order = np.lexsort((j, i))
    return i[order].astype(np.int32), j[order].astype(np.int32)


def transmission_code(post: NeuronGroup, target: str) -> str:
    """The line that delivers a spike: ``I_e_post += w*J`` or ``g_e_post += w*J`` etc."""
    if target not in ("e", "i"):
        raise ValueError(f"target: expected 'e' (excitatory) or 'i' (inhibitory), got {target!r}")
    for var in (f"I_{target}", f"g_{target}"):
        if var in post.variables:
            return f"{var}_post += w * J"
    raise ValueError(
        f"target: {post.name} has neither I_{target} nor g_{target}; build it with cortex.neurons.lif_group"
    )


def default_J(post: NeuronGroup, target: str):
    """Input per unit weight when none is given: 1 (conductance) or 0.1 nA (current).

    With the default LIF parameters (100 MOhm, tau_m 20 ms, tau_e 5 ms) 0.1 nA gives
    an excitatory PSP peak of about 1.6 mV per unit weight (analytic).
    """
    return 0.1 * nA if f"I_{target}" in post.variables else 1.0


def _check_J(post: NeuronGroup, target: str, J):
    var = f"I_{target}" if f"I_{target}" in post.variables else f"g_{target}"
    want = post.variables[var].dim
    got = J.dim if isinstance(J, Quantity) else Quantity(1.0).dim
    if want != got:
        raise ValueError(f"J: {post.name}.{var} needs J in units of {post.variables[var].unit}, got {J!r}")
    if float(np.asarray(J)) < 0:
        raise ValueError(f"J: must be >= 0 (use target='i' for inhibition), got {J!r}")


def initial_weights(w_init, n: int, rng, w_max: float | None = None) -> np.ndarray:
    """Initial weights: a number, (low, high) uniform, a ParamSpec, or an array.

    Parameters
    ----------
    w_init : float, (low, high), ParamSpec, mapping or array of shape (n,)
    n : int
        Number of synapses.
    rng : numpy.random.Generator
    w_max : float, optional
        Upper bound the weights are clipped to.

    Returns
    -------
    ndarray, shape (n,)
    """
    if isinstance(w_init, ParamSpec) or isinstance(w_init, Mapping):
        w = np.asarray(as_spec(w_init, "w_init").sample(n, rng), dtype=float)
    elif isinstance(w_init, tuple) and len(w_init) == 2:
        lo, hi = map(float, w_init)
        if hi < lo:
            raise ValueError(f"w_init: (low, high) with high < low: {w_init}")
        w = rng.uniform(lo, hi, size=n)
    else:
        arr = np.asarray(w_init, dtype=float)
        if arr.ndim == 0:
            w = np.full(n, float(arr))
        elif arr.shape == (n,):
            w = arr.copy()
        else:
            raise ValueError(f"w_init: expected a scalar, (low, high), a spec or {n} values; got shape {arr.shape}")
    if np.any(w < 0):
        raise ValueError("w_init: weights must be >= 0 (inhibition is target='i')")
    return np.minimum(w, w_max) if w_max is not None else w


def draw_synapse_values(per_synapse: Mapping[str, ParamSpec], n: int, rng) -> dict[str, Quantity]:
    """Per-synapse parameter values drawn in NumPy, keyed by their Brian2 variable names.

    Parameters
    ----------
    per_synapse : mapping of str -> ParamSpec
        In drawing order (e.g. ``A_plus``, ``A_minus``, ``tau_pre``, ``tau_post``).
    n : int
        Number of synapses.
    rng : numpy.random.Generator
    """
    drawn = {}
    for pname, spec in per_synapse.items():
        values = spec.sample(n, rng)
        if np.any(np.asarray(values) <= 0) and pname.startswith("tau"):
            raise ValueError(f"{pname}: drew a non-positive value from {spec.describe()}")
        drawn[BRIAN_NAMES.get(pname, pname)] = values
    return drawn


@dataclass(frozen=True)
class ConnectAtRun:
    """Synapses created by the compiled program itself, from tables given at run time.

    ``j`` is a Brian2 generator expression (e.g. ``"int(table((start_pre + k)*second))
    for k in range(count_pre)"``) evaluated with ``namespace``.  Weights, per-synapse
    parameters and ``J`` (then a shared variable) are left for the run to set
    (:mod:`cortex.standalone`); nothing is drawn.
    """

    j: str
    namespace: dict = field(default_factory=dict)


def _build(
    pre,
    post,
    model,
    on_pre,
    on_post,
    *,
    target,
    J,
    connect,
    w_init,
    delay,
    name,
    seed,
    autapses,
    w_max=None,
    per_synapse: Mapping[str, ParamSpec] | None = None,
    namespace=None,
) -> Synapses:
    effect = transmission_code(post, target)
    J = default_J(post, target) if J is None else J
    _check_J(post, target, J)
    on_pre = on_pre.format(effect=effect) if on_pre is not None else effect
    at_run = isinstance(connect, ConnectAtRun)
    if at_run:  # J becomes a value of the program, not a constant of its code
        model += f"\nJ : {'amp' if isinstance(J, Quantity) else '1'} (shared, constant)"
    ns = {} if at_run else {"J": J}
    ns.update(namespace or {})
    syn = Synapses(pre, post, model=model, on_pre=on_pre, on_post=on_post, name=name, namespace=ns)
    if at_run:
        syn.connect(j=connect.j, namespace=connect.namespace)
        syn.J = J
        return syn
    rng = make_rng(seed)
    i, j = connectivity(len(pre), len(post), connect, seed=rng, autapses=autapses)
    n = len(i)
    if n == 0:  # a pathway that drew no synapse (small groups, p = 0): Brian2 cannot connect empty arrays
        syn.connect(False)
        return syn
    syn.connect(i=i, j=j)
    syn.w = initial_weights(w_init, n, rng, w_max)
    for name, values in draw_synapse_values(per_synapse or {}, n, rng).items():
        setattr(syn, name, values)
    if delay is not None:
        if isinstance(delay, (ParamSpec, Mapping)):
            syn.delay = as_spec(delay, "delay").sample(n, rng)
        else:
            syn.delay = delay
    return syn


def static_synapses(
    pre,
    post,
    *,
    target: str = "e",
    J=None,
    connect=0.1,
    w_init=1.0,
    delay=None,
    name: str = "synapses",
    seed: SeedLike = None,
    autapses: bool = True,
) -> Synapses:
    """Fixed-weight synapses ``pre -> post``.

    Parameters
    ----------
    target : {"e", "i"}
        Excitatory or inhibitory input of the post-synaptic LIF model.
    J : float or Quantity, optional
        Input added per unit weight: amperes for a current-based target, a plain
        number (relative conductance) for a conductance-based one; default
        :func:`default_J`.
    connect : see :func:`connectivity`
    w_init : float, (low, high), ParamSpec or array
        Weights (dimensionless).
    delay : Quantity or ParamSpec, optional
        Axonal delay, homogeneous or drawn per synapse.
    """
    return _build(
        pre,
        post,
        "w : 1",
        None,
        None,
        target=target,
        J=J,
        connect=connect,
        w_init=w_init,
        delay=delay,
        name=name,
        seed=seed,
        autapses=autapses,
    )


@check_units(dt=second)
def stdp_synapses(
    pre,
    post,
    params: STDPParams | Mapping | None = None,
    *,
    rule: str = "additive",
    nearest: bool = False,
    target: str = "e",
    J=None,
    connect=0.1,
    w_init=(0.0, 0.5),
    delay=None,
    name: str = "stdp",
    seed: SeedLike = None,
    autapses: bool = True,
    dt=None,
    extra_model: str = "",
) -> Synapses:
    """Plastic synapses with trace-based pair STDP (see module docstring).

    Parameters
    ----------
    params : STDPParams or mapping
        Per-synapse ``A_plus``, ``A_minus``, ``tau_pre``, ``tau_post`` (values or
        :class:`ParamSpec`) and the bound ``w_max``.
    rule : {"additive", "multiplicative"}
        Hard-bound additive or soft-bound multiplicative weight dependence.
    nearest : bool
        Nearest-spike interaction (traces reset to ``A``) instead of all-to-all.
    dt : Quantity, optional
        Simulation step, checked against the trace time constants.
    extra_model : str, optional
        Further Brian2 equation lines appended to the synaptic model, e.g.
        ``"w_total_post = w : 1 (summed)"`` for weight normalisation.

    Returns
    -------
    brian2.Synapses
        With ``plastic = 1``; use :func:`set_plasticity` to freeze.
    """
    if rule not in STDP_ON_PRE:
        raise ValueError(f"rule: expected one of {sorted(STDP_ON_PRE)}, got {rule!r}")
    params = params if isinstance(params, STDPParams) else STDPParams.from_dict(params)
    specs = params.validate(dt)
    op = "=" if nearest else "+="
    w_max = specs["w_max"].mean_value
    syn = _build(
        pre,
        post,
        STDP_EQS + extra_model,
        STDP_ON_PRE[rule].replace("{trace_op}", op),
        STDP_ON_POST[rule].format(trace_op=op),
        target=target,
        J=J,
        connect=connect,
        w_init=w_init,
        delay=delay,
        name=name,
        seed=seed,
        autapses=autapses,
        w_max=w_max,
        per_synapse={k: specs[k] for k in params._per_synapse},
    )
    syn.w_max = w_max
    syn.plastic = 1
    return syn


@check_units(reward_dt=second, dt=second)
def rstdp_synapses(
    pre,
    post,
    params: RSTDPParams | Mapping | None = None,
    *,
    reward=None,
    reward_dt=1 * ms,
    consume: bool = False,
    nearest: bool = False,
    target: str = "e",
    J=None,
    connect="all",
    w_init=(0.0, 0.5),
    delay=None,
    name: str = "rstdp",
    seed: SeedLike = None,
    dt=None,
) -> Synapses:
    """Reward-modulated STDP synapses (eligibility trace + reward signal).

    Parameters
    ----------
    reward : None, brian2.TimedArray or "post"
        ``None``: a shared variable ``reward`` on the synapses, set by the caller
        between runs (runtime device).  A 1-D ``TimedArray`` gives a global reward
        ``reward(t)``; a 2-D one (shape ``(steps, len(post))``) a reward per
        post-synaptic neuron ``reward(t, j)``.  ``"post"``: the post-synaptic
        group's variable ``reward`` (declared and set by the caller, e.g. by
        teacher synapses; works on every device).
    reward_dt : Quantity
        How often eligibility is converted into weight change.
    consume : bool
        Empty the eligibility trace whenever a non-zero reward is converted.
    """
    params = params if isinstance(params, RSTDPParams) else RSTDPParams.from_dict(params)
    specs = params.validate(dt)
    op = "=" if nearest else "+="
    model = RSTDP_EQS
    namespace = {}
    if reward is None:
        model += "reward : 1 (shared)\n"
        reward_expr = "reward"
    elif isinstance(reward, TimedArray):
        nd = np.asarray(reward.values).ndim
        if nd == 1:
            reward_expr = "reward_signal(t)"
        elif nd == 2:
            if reward.values.shape[1] != len(post):
                raise ValueError(
                    f"reward: a 2-D TimedArray needs {len(post)} columns (one per "
                    f"post-synaptic neuron), got {reward.values.shape[1]}"
                )
            reward_expr = "reward_signal(t, j)"
        else:
            raise ValueError("reward: TimedArray must be 1-D or 2-D")
        namespace["reward_signal"] = reward
    elif isinstance(reward, str) and reward == "post":
        if "reward" not in post.variables:
            raise ValueError(f"reward: 'post' needs a variable 'reward' on {post.name} (add 'reward : 1')")
        reward_expr = "reward_post"
    else:
        raise ValueError(f"reward: expected None, a brian2.TimedArray or 'post', got {reward!r}")
    w_max = specs["w_max"].mean_value
    syn = _build(
        pre,
        post,
        model,
        RSTDP_ON_PRE.replace("{trace_op}", op),
        RSTDP_ON_POST.format(trace_op=op),
        target=target,
        J=J,
        connect=connect,
        w_init=w_init,
        delay=delay,
        name=name,
        seed=seed,
        autapses=True,
        w_max=w_max,
        per_synapse={k: specs[k] for k in params._per_synapse},
        namespace=namespace,
    )
    syn.w_max = w_max
    syn.eta = specs["eta"].mean_value
    syn.plastic = 1
    code = RSTDP_REWARD_CODE.format(reward=reward_expr)
    if consume:
        code += "\n" + RSTDP_CONSUME_CODE.format(reward=reward_expr)
    syn.run_regularly(code, dt=reward_dt, when="end", name=f"{name}_reward")
    return syn


def set_plasticity(synapses: Synapses, on: bool) -> None:
    """Switch learning on or off (``plastic`` = 1 or 0) without rebuilding."""
    if "plastic" not in synapses.variables:
        raise ValueError(f"{synapses.name} has no plasticity switch (not an STDP synapse)")
    synapses.plastic = 1 if on else 0
