"""Trace features (the liquid-state readout) and the network+input feature set of the runner."""

from __future__ import annotations

import numpy as np
import pytest

from networks.baseline import InputCounts
from networks.features import as_tokens, binned_counts, binned_traces, features_per_neuron, reduce_spikes
from networks.hrsnn import HRSNN
from stimuli.types import SpikeStimulus


def test_traces_equal_a_hand_computation_on_two_spikes():
    # neuron 1 spikes at steps 2 and 7 of a window [10, 20); dt 0.5 ms; two bins end at steps 15 and 20
    out = binned_traces([1, 1], [12, 17], [[10, 20]], n_neurons=2, bins=2, taus=(5.0, 1.0), dt=0.5)
    x = out.reshape(2, 2, 2)  # (bin, tau, neuron)
    age = {"b0": [(5 - 2) * 0.5], "b1": [(10 - 2) * 0.5, (10 - 7) * 0.5]}  # ms from each spike to the bin's end
    for t, tau in enumerate((5.0, 1.0)):
        assert x[0, t, 1] == pytest.approx(np.exp(-age["b0"][0] / tau), rel=1e-12)
        assert x[1, t, 1] == pytest.approx(sum(np.exp(-a / tau) for a in age["b1"]), rel=1e-12)
    assert np.all(x[:, :, 0] == 0)
    # a spike in the last step of a bin counts there; one on its end belongs to the next bin
    edge = binned_traces([0, 0], [14, 15], [[10, 20]], 1, bins=2, taus=(2.0,), dt=1.0).reshape(2)
    assert edge[0] == pytest.approx(np.exp(-1 / 2.0)) and edge[1] == pytest.approx(np.exp(-6 / 2) + np.exp(-5 / 2))


def test_traces_grow_into_counts_when_tau_is_long():
    rng = np.random.default_rng(0)
    idx, steps = rng.integers(0, 5, 60), np.sort(rng.integers(0, 90, 60))
    windows = [[0, 40], [40, 90]]
    long = binned_traces(idx, steps, windows, 5, bins=3, taus=(1e9,), dt=1.0)
    counts = binned_counts(idx, steps, windows, 5, bins=3).reshape(2, 3, 5)
    np.testing.assert_allclose(long.reshape(2, 3, 5), np.cumsum(counts, axis=1), rtol=1e-6)  # spikes so far
    assert reduce_spikes(idx, steps, windows, 5, reduction="traces", bins=3, taus=(5.0, 20.0)).shape == (2, 30)
    assert as_tokens(long, 3).shape == (2, 3, 5)
    assert features_per_neuron("traces", 3, (1.0, 2.0)) == 6 and features_per_neuron("binned_counts", 3) == 3
    with pytest.raises(ValueError, match="taus: expected one or more positive"):
        binned_traces(idx, steps, windows, 5, taus=(5.0, 0.0))
    with pytest.raises(ValueError, match="taus: expected a list"):
        InputCounts(reduction="traces", taus="fast").fit([_clip()])


def _clip():
    return SpikeStimulus([0, 3, 1], [2, 5, 9], 4, 12, 1.0, label=0)


def test_the_reservoir_and_the_baseline_give_traces_per_bin_and_tau():
    clips = [_clip(), _clip()]
    base = InputCounts(bins=2, reduction="traces", taus=(3.0, 30.0)).fit(clips)
    X = base.transform(clips)
    assert X.shape == (2, 4 * 2 * 2) == (2, base.n_features_out_)
    model = HRSNN(20, reduction="traces", taus=(5.0, 50.0), bins=3, device="numpy", seed=0, progress=False)
    model.set_params(J_in=4.0, snapshots=0, record_v=0).fit(clips)
    F = model.transform(clips)
    assert F.shape == (2, 20 * 3 * 2) == (2, model.n_features_out_)
    with pytest.raises(ValueError, match="taus"):
        HRSNN(20, taus=[-1.0], device="numpy").fit(clips)


def test_feature_names_follow_the_traces_layout():
    clips = [_clip(), _clip()]
    model = HRSNN(4, reduction="traces", taus=(5.0, 50.0), bins=2, device="numpy", seed=0, progress=False)
    names = model.set_params(snapshots=0, record_v=0).fit(clips).get_feature_names_out()
    assert len(names) == model.n_features_out_ == 4 * 2 * 2
    assert list(names[:5]) == ["bin0_tau5_n0", "bin0_tau5_n1", "bin0_tau5_n2", "bin0_tau5_n3", "bin0_tau50_n0"]
