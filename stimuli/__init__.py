"""Video and event input, spike encoders and datasets: everything before a network.

``stimuli`` imports no other package of the project (the bottom of the one-way flow).

``stimuli.types``        clips, event arrays, :class:`SpikeStimulus`, ``check_stimuli``
``stimuli.timebase``     the time convention (ms) and the only unit conversions
``stimuli.video``        video files and frame folders (OpenCV)
``stimuli.events``       N-MNIST, DVS128 Gesture (AEDAT 3.1) and ``.npy`` event files
``stimuli.encoders``     Poisson, TTFS, Gaussian, delta, event binning, ReSpike residual
``stimuli.datasets``     KTH, UCF11, UCF101, DVS Gesture, N-MNIST, Weizmann, folders,
                         synthetic actions, each with its official split
``stimuli.cache``        on-disk cache of encoded stimuli
``stimuli.sequence``     stored stimuli: a sequence read from the cache as it is used
``stimuli.io``           atomic file writes
``stimuli.brian_input``  :class:`SpikeStimulus` -> Brian2 ``SpikeGeneratorGroup``
                         (imported on its own: it loads Brian2)
"""

from .cache import StimulusCache
from .datasets import DATASETS, get_dataset
from .encoders import ENCODERS, get_encoder
from .io import atomic_savez, atomic_write_json, atomic_write_text
from .sequence import StoredStimuli, stimulus_headers
from .types import EVENT_DTYPE, Sample, SpikeStimulus, StimulusError, check_stimuli, make_events

__all__ = [
    "EVENT_DTYPE",
    "Sample",
    "SpikeStimulus",
    "StimulusError",
    "check_stimuli",
    "make_events",
    "ENCODERS",
    "get_encoder",
    "DATASETS",
    "get_dataset",
    "StimulusCache",
    "StoredStimuli",
    "stimulus_headers",
    "atomic_savez",
    "atomic_write_json",
    "atomic_write_text",
]
