"""Non-spiking baseline: the encoded input itself, reduced like reservoir spikes.

:class:`InputCounts` turns each :class:`~stimuli.types.SpikeStimulus` into the
same binned counts the reservoir features use (:mod:`networks.features`), but of
the input channels.  The same readout on these features says how much the
reservoir adds over its input.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from stimuli.types import check_stimuli

from .features import DEFAULT_TAUS, MAX_BINS, REDUCTIONS, check_taus, features_per_neuron, reduce_spikes
from .validation import Interval, Options, validate_params

__all__ = ["InputCounts"]


class InputCounts(TransformerMixin, BaseEstimator):
    """Binned input spike counts per clip (no simulation).

    Parameters
    ----------
    bins : int
        Time bins per clip.
    reduction : {"binned_counts", "binned_rates", "traces"}
    taus : sequence of float
        Trace time constants, ms (``traces`` only).
    """

    _parameter_constraints = {
        "bins": Interval(int, 1, MAX_BINS),
        "reduction": Options(tuple(REDUCTIONS)),
    }

    def __init__(self, bins=4, reduction="binned_counts", taus=DEFAULT_TAUS):
        self.bins = bins
        self.reduction = reduction
        self.taus = taus

    def validate_params(self) -> InputCounts:
        """Check every hyperparameter (ValueError naming it); returns self."""
        validate_params(self.get_params(), self._parameter_constraints)
        check_taus(self.taus)
        return self

    def fit(self, X, y=None):
        self.validate_params()
        X = check_stimuli(X)
        self.n_input_ = X[0].n_channels
        self.n_features_out_ = self.n_input_ * features_per_neuron(self.reduction, self.bins, self.taus)
        return self

    def transform(self, X):
        check_is_fitted(self, "n_input_")
        self.validate_params()
        X = check_stimuli(X, self.n_input_)
        return np.vstack(
            [
                reduce_spikes(
                    s.indices,
                    s.steps,
                    [[0, s.n_steps]],
                    self.n_input_,
                    reduction=self.reduction,
                    bins=int(self.bins),
                    dt=s.dt,
                    taus=self.taus,
                )
                for s in X
            ]
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags
