"""Neuron and synapse models as Brian2 equation strings, heterogeneity specs, devices.

``cortex.neurons``        LIF populations with per-neuron parameters
``cortex.synapses``       static, pair-STDP and reward-modulated STDP synapses
``cortex.heterogeneity``  parameter distributions (mean, CV) and their samplers
``cortex.devices``        runtime / cpp_standalone / cuda_standalone selection
"""
from .heterogeneity import DISTRIBUTIONS, ParamSpec, as_spec, make_rng
from .neurons import LIFParams, lif_group, lif_rate, lif_membrane
from .synapses import (RSTDPParams, STDPParams, rstdp_synapses, set_plasticity,
                       static_synapses, stdp_synapses)

__all__ = ["DISTRIBUTIONS", "ParamSpec", "as_spec", "make_rng", "LIFParams", "lif_group",
           "lif_rate", "lif_membrane", "STDPParams", "RSTDPParams", "stdp_synapses",
           "rstdp_synapses", "static_synapses", "set_plasticity"]
