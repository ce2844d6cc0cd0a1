"""Heterogeneity variants: which parameters spread, shared by every network of the package.

A variant name says whether neurons (``N``) and plastic synapses (``S``) are
homogeneous (``Ho``) or heterogeneous (``He``): ``HoNHoS``, ``HeNHoS``, ``HoNHeS``,
``HeNHeS`` (Chakraborty & Mukhopadhyay 2022).  A heterogeneous neuron population
draws ``tau_m`` from a distribution of CV ``cv_neuron``; heterogeneous synapses draw
``A_plus``, ``A_minus``, ``tau_pre``, ``tau_post`` (and ``tau_c`` for R-STDP) per
synapse, gamma-distributed with CV ``cv_synapse``.  A homogeneous variant keeps the
same means with zero spread, so an ablation changes only the spread.

The reservoir (:class:`~networks.hrsnn.HRSNN`) and the cortical column
(:class:`~networks.column.ColumnClassifier`) both build their parameter sets here.
Times are in ms.
"""

from __future__ import annotations

from brian2 import ms

from cortex.heterogeneity import ParamSpec
from cortex.neurons import LIFParams
from cortex.synapses import RSTDPParams, STDPParams

__all__ = ["VARIANTS", "variant_lif_params", "variant_stdp_params", "variant_rstdp_params"]

#: Heterogeneity variants: name -> (heterogeneous neurons, heterogeneous synapses).
VARIANTS = {"HoNHoS": (False, False), "HeNHoS": (True, False), "HoNHeS": (False, True), "HeNHeS": (True, True)}


def _flags(variant: str) -> tuple[bool, bool]:
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {tuple(VARIANTS)}, got {variant!r}")
    return VARIANTS[variant]


def variant_lif_params(
    variant: str, *, tau_m: float, cv_neuron: float, neuron_dist: str, tau_m_min: float | None = None, **fixed
) -> LIFParams:
    """LIF parameters of a variant: ``tau_m`` (ms) spreads in heterogeneous-neuron variants.

    Parameters
    ----------
    variant : str
        A key of :data:`VARIANTS`.
    tau_m : float
        Mean membrane time constant, ms.
    cv_neuron : float
        CV of ``tau_m`` when neurons are heterogeneous.
    neuron_dist : str
        Distribution of ``tau_m``.
    tau_m_min : float or None
        Shortest ``tau_m``, ms: draws below it are drawn again
        (:class:`~cortex.heterogeneity.ParamSpec` ``low``); None: no bound.
    **fixed
        Further :class:`~cortex.neurons.LIFParams` fields, as given (Brian2 quantities).
    """
    het_n, _ = _flags(variant)
    low = None if tau_m_min is None else tau_m_min * ms
    spec = ParamSpec(tau_m * ms, cv_neuron if het_n else 0.0, neuron_dist, name="tau_m", low=low)
    return LIFParams(tau_m=spec, **fixed)


def _stdp_specs(variant, *, a_plus, a_ratio, tau_pre, tau_post, cv_synapse) -> dict:
    _, het_s = _flags(variant)
    cv = cv_synapse if het_s else 0.0
    means = {"A_plus": a_plus, "A_minus": a_plus * a_ratio, "tau_pre": tau_pre * ms, "tau_post": tau_post * ms}
    # a parameter that is 0 (no depression) stays 0: a spread around zero is undefined
    return {name: ParamSpec(mean, cv if float(mean) else 0.0, name=name) for name, mean in means.items()}


def variant_stdp_params(
    variant: str, *, a_plus: float, a_ratio: float, tau_pre: float, tau_post: float, cv_synapse: float, w_max: float
) -> STDPParams:
    """Pair-STDP parameters of a variant (``A_minus = a_ratio * a_plus``; times in ms)."""
    specs = _stdp_specs(
        variant, a_plus=a_plus, a_ratio=a_ratio, tau_pre=tau_pre, tau_post=tau_post, cv_synapse=cv_synapse
    )
    return STDPParams(**specs, w_max=w_max)


def variant_rstdp_params(
    variant: str,
    *,
    a_plus: float,
    a_ratio: float,
    tau_pre: float,
    tau_post: float,
    tau_c: float,
    eta: float,
    cv_synapse: float,
    w_max: float,
) -> RSTDPParams:
    """R-STDP parameters of a variant: the STDP ones plus ``tau_c`` (ms, spreads with them) and ``eta``."""
    _, het_s = _flags(variant)
    specs = _stdp_specs(
        variant, a_plus=a_plus, a_ratio=a_ratio, tau_pre=tau_pre, tau_post=tau_post, cv_synapse=cv_synapse
    )
    tau_c_spec = ParamSpec(tau_c * ms, cv_synapse if het_s else 0.0, name="tau_c")
    return RSTDPParams(**specs, tau_c=tau_c_spec, eta=eta, w_max=w_max)
