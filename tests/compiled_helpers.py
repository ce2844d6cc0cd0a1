"""Helpers shared by the compiled-reservoir tests (C++ and CUDA)."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from stimuli.types import SpikeStimulus


def clips_of_three_lengths(n=9, n_ch=24, seed=0):
    """Clips of different lengths (so windows are padded) with Poisson-like input."""
    rng = np.random.default_rng(seed)
    clips = []
    for k in range(n):
        steps = 40 + 7 * (k % 3)
        s, c = np.nonzero(rng.random((steps, n_ch)) < 0.03)
        clips.append(SpikeStimulus(c, s, n_ch, steps, 1.0, label=k % 3))
    return clips


def fitted_copy(model, **params):
    """``model`` with other run-time parameters and the same fitted state."""
    est = clone(model).set_params(**params)
    est.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    return est


def spikes_equal(a, b):
    pairs = [(x, y) for pop in ("exc", "inh") for x, y in zip(a.spikes[pop], b.spikes[pop], strict=True)]
    return all(np.array_equal(x, y) for x, y in pairs)
