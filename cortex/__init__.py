"""Neuron and synapse models as Brian2 equation strings, heterogeneity specs, devices.

``cortex`` knows nothing of clips, datasets or classifiers: it builds Brian2 objects
from parameters given as Brian2 quantities (checked with ``check_units``).

``cortex.neurons``        LIF populations with per-neuron parameters
``cortex.synapses``       static, pair-STDP and reward-modulated STDP synapses
``cortex.columns``        the cortical column: STDP layer, lateral inhibition, R-STDP classes
``cortex.heterogeneity``  parameter distributions (mean, CV) and their samplers
``cortex.seeds``          random streams (int, Generator or None)
``cortex.devices``        runtime / cpp_standalone / cuda_standalone selection
"""

from .columns import ColumnNetwork, ColumnParams, build_column, set_column_learning
from .heterogeneity import DISTRIBUTIONS, ParamSpec, SpecFields, as_spec
from .neurons import LIFParams, lif_equations, lif_group, lif_membrane, lif_rate, lif_reset_code
from .seeds import SeedLike, make_rng, resolve_seed
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
    "ColumnParams",
    "ColumnNetwork",
    "build_column",
    "set_column_learning",
    "DISTRIBUTIONS",
    "ParamSpec",
    "SpecFields",
    "as_spec",
    "SeedLike",
    "make_rng",
    "resolve_seed",
    "LIFParams",
    "lif_equations",
    "lif_group",
    "lif_reset_code",
    "lif_rate",
    "lif_membrane",
    "STDPParams",
    "RSTDPParams",
    "connectivity",
    "stdp_synapses",
    "rstdp_synapses",
    "static_synapses",
    "set_plasticity",
]
