"""Networks that present clips to spiking models, and the readouts of their spikes.

``networks`` imports ``cortex`` (models) and ``stimuli`` (spike stimuli), never
``analysis`` or ``spikevid``.

``networks.hrsnn``        :class:`HRSNN`, the reservoir as a scikit-learn transformer
``networks.reservoir``    its Brian2 objects (:func:`build_reservoir`) and result collection
``networks.column``       :class:`ColumnClassifier`, cortical columns as a scikit-learn classifier
``networks.column_network``  its Brian2 objects over a timeline (phases, teacher) and collection
``networks.variants``     heterogeneity variants (HoNHoS ... HeNHeS) as parameter sets
``networks.topology``     pathways, random and distance-dependent wiring, fan-out, receptive fields
``networks.timeline``     clips back to back: gaps, clip-boundary resets, feature windows
``networks.simulation``   running phases on any device; :class:`SimulationResult`
``networks.features``     sequence-to-vector reductions of spikes
``networks.baseline``     :class:`InputCounts`, the same reduction of the input (no network)
``networks.readouts``     scikit-learn readouts and their evaluation
``networks.keyframes``    fixed multi-scale Gabor/HOG cell tokens of key frames (:class:`KeyFrameFeatures`)
``networks.hybrid_tokens`` spike counts pooled on the key frames' grids; :class:`HybridInputs`, :class:`HybridTokens`
``networks.hybrid``       :class:`HybridClassifier`, the ReSpike-style cross-attention classifier
``networks.training``     mini-batch training and early stopping of the NumPy classifiers
``networks.models``       ``model.kind`` -> estimator class
``networks.persistence``  a fitted network's state on disk
``networks.validation``   hyperparameter constraint tables
"""

from .baseline import InputCounts
from .column import ColumnClassifier, population_vote
from .features import REDUCTIONS, as_tokens, binned_counts, reduce_spikes
from .hrsnn import HRSNN
from .readouts import READOUTS, SCALES, evaluate, make_readout
from .reservoir import ReservoirNetwork, build_reservoir
from .simulation import SimulationResult, device_session, run_phases
from .timeline import Timeline
from .topology import PATHWAYS, PLASTIC_PATHWAYS
from .variants import VARIANTS

__all__ = [
    "HRSNN",
    "ColumnClassifier",
    "population_vote",
    "VARIANTS",
    "InputCounts",
    "REDUCTIONS",
    "binned_counts",
    "reduce_spikes",
    "as_tokens",
    "READOUTS",
    "SCALES",
    "make_readout",
    "evaluate",
    "ReservoirNetwork",
    "build_reservoir",
    "SimulationResult",
    "device_session",
    "run_phases",
    "Timeline",
    "PATHWAYS",
    "PLASTIC_PATHWAYS",
]
