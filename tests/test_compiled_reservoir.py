"""The compiled reservoir: copies side by side equal one copy, runs equal one long run, the timeline path agrees."""

from __future__ import annotations

import numpy as np
import pytest
from compiled_helpers import clips_of_three_lengths, fitted_copy, spikes_equal
from sklearn.base import clone

from cortex.devices import available_devices
from cortex.standalone import compile_program
from networks import compiled_reservoir
from networks.compiled_reservoir import learning_slots, window_length
from networks.hrsnn import HRSNN

pytestmark = pytest.mark.skipif(not available_devices()["cpp_standalone"][0], reason="no C++ toolchain")


@pytest.fixture(scope="module")
def clips():
    return clips_of_three_lengths()


@pytest.fixture(scope="module")
def per_clip(model, clips):
    """Features and spikes of all clips, one copy per run (9 slots)."""
    return model.simulate(clips)


@pytest.fixture(scope="module")
def model(clips):
    """A small reservoir fitted through the compiled path (batch 1); strong input so it spikes.

    Programs go to the shared cache ($SPIKEVID_CACHE_DIR): a second test run compiles nothing.
    """
    est = HRSNN(60, J_in=4.0, J_e=0.5, device="cpp_standalone", batch=1, snapshots=3, seed=3, progress=False)
    return est.fit(clips[:6])


def _in_windows(result):
    """The result's spikes inside its clip windows (the compiled path keeps only those)."""
    windows = np.concatenate(result.windows)
    out = {}
    for pop, (idx, steps) in result.spikes.items():
        k = np.searchsorted(windows[:, 0], steps, side="right") - 1
        inside = (k >= 0) & (steps < windows[np.maximum(k, 0), 1])
        out[pop] = (idx[inside], steps[inside])
    return out


def test_copies_side_by_side_equal_one_copy_spike_for_spike(model, clips, per_clip):
    one = per_clip
    assert one.extra["spikes_per_neuron"] > 0.5  # the comparison means something
    batched = fitted_copy(model, batch=3).simulate(clips)  # 9 clips: 3 copies x 3 slots
    assert spikes_equal(one, batched)
    np.testing.assert_array_equal(one.features[0], batched.features[0])
    parallel = fitted_copy(model, batch=3, n_jobs=2)
    np.testing.assert_array_equal(parallel.transform(clips), one.features[0])  # two binaries at once


def test_the_compiled_program_equals_the_timeline_path(model, clips, per_clip):
    """Frozen weights: the same spikes and membranes as one Brian2 network over a Timeline (numpy target)."""
    compiled = per_clip
    runtime = clone(model).set_params(device="numpy")
    reference = runtime._simulate_timeline(
        train=[], extract=[clips], seed=model.seed_, n_input=model.n_input_, weights=model.weights_
    )
    expected = _in_windows(reference)
    for pop in ("exc", "inh"):
        np.testing.assert_array_equal(compiled.spikes[pop][0], expected[pop][0])
        np.testing.assert_array_equal(compiled.spikes[pop][1], expected[pop][1])
    np.testing.assert_array_equal(compiled.features[0], reference.features[0])
    inside = ~np.isnan(compiled.extra["v"][0])  # membranes are kept inside the clip windows
    assert inside.sum() == sum(w[1] - w[0] for w in compiled.windows[0])
    np.testing.assert_allclose(compiled.extra["v"][:, inside], reference.extra["v"][:, inside], atol=1e-9)


@pytest.mark.slow
def test_learning_in_several_runs_equals_one_run(model, clips):
    """Weights and STDP traces carried from run to run: the same learning as a single run.

    With one snapshot the 6 clips run as 4 + 2 in 4-slot runs (the last two slots silent).
    """
    single = clone(model).set_params(snapshots=1).fit(clips[:6])
    np.testing.assert_allclose(single.weights_["ee"], model.weights_["ee"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(single.weights_["in_exc"], model.weights_["in_exc"], rtol=0, atol=1e-12)
    assert not np.allclose(model.weights_["in_exc"], model.weights_init_["in_exc"])  # STDP did act
    # snapshots: the initial weights, then the weights after each of the 3 runs (2 clips each)
    assert model.snapshots_["in_exc"].shape == (4, len(model.structure_["in_exc"][0]))
    np.testing.assert_array_equal(model.snapshots_["in_exc"][0], model.weights_init_["in_exc"])
    np.testing.assert_array_equal(model.snapshots_["in_exc"][-1], model.weights_["in_exc"])
    assert np.all(np.diff(model.snapshot_times_) > 0)


def test_training_sets_of_other_sizes_reuse_the_learning_program(model, clips, monkeypatch):
    compiled = []

    def spy(*args, **kwargs):
        program = compile_program(*args, **kwargs)
        compiled.append(program.built_now)
        return program

    monkeypatch.setattr(compiled_reservoir, "compile_program", spy)
    fitted = clone(model).fit(clips[:5])  # 2 + 2 + 1 clips in 2-slot runs, as the fixture's 2 + 2 + 2
    assert compiled == [False]
    assert fitted.snapshots_["in_exc"].shape == (4, len(model.structure_["in_exc"][0]))
    np.testing.assert_array_equal(np.diff(fitted.snapshot_times_)[-1] * 2, np.diff(fitted.snapshot_times_)[0])
    slots = [learning_slots(n, 20) for n in (1, 19, 20, 40, 41, 192, 600, 640, 10_000)]
    assert slots == [1, 1, 1, 2, 2, 8, 16, 32, 32]
    assert learning_slots(7, 0) == 4  # no snapshots: runs as long as the clips allow


def test_window_lengths_share_a_coarse_grid():
    assert [window_length(n) for n in (1, 7, 8, 9, 100, 101, 400)] == [1, 7, 8, 10, 112, 112, 448]
    for n in range(1, 3000, 37):
        assert n <= window_length(n) <= 1.25 * n


def test_fit_counts_the_training_activity_without_keeping_its_spikes(model, clips):
    """``fit`` drops the training spikes (memory bounded in the clips) but reports the same activity."""
    kept = clone(model).fit_simulate(clips[:6])
    assert len(kept.spikes["exc"][0]) > 0
    assert model.spikes_per_neuron_ == pytest.approx(kept.extra["spikes_per_neuron"], rel=1e-12)
    assert model.synaptic_events_ == pytest.approx(kept.extra["synaptic_events"], rel=1e-12)
    for pw, w in model.weights_.items():
        np.testing.assert_array_equal(w, kept.weights[pw])
    with pytest.raises(ValueError, match="keep_train_spikes"):
        from networks.compiled_reservoir import simulate_compiled

        simulate_compiled(
            model, train=clips[:2], extract=[clips[:2]], seed=0, n_input=24, weights=None, keep_train_spikes=False
        )


def test_stored_clips_are_read_run_by_run_with_the_same_results(model, clips, per_clip, tmp_path, monkeypatch):
    """Clips read from a stimulus cache as each run needs them: the same weights and features, each read once."""
    from stimuli.cache import StimulusCache
    from stimuli.sequence import StoredStimuli, stimulus_headers

    cache = StimulusCache(tmp_path)
    keys = [f"{k:064x}" for k in range(len(clips))]
    for key, clip in zip(keys, clips, strict=True):
        cache.put(key, clip)
    stored = StoredStimuli(tmp_path, keys, stimulus_headers(clips), [f"clip{k}" for k in range(len(clips))])
    reads = []
    read = StoredStimuli._read
    monkeypatch.setattr(StoredStimuli, "_read", lambda self, k: reads.append(self.ids[k]) or read(self, k))
    fitted = clone(model).fit(stored[:6])
    assert reads == [f"clip{k}" for k in range(6)] * model.epochs  # run by run, never all at once
    for pw, w in model.weights_.items():
        np.testing.assert_array_equal(fitted.weights_[pw], w)
    reads.clear()
    np.testing.assert_array_equal(fitted.transform(stored), per_clip.features[0])
    assert sorted(reads) == sorted(stored.ids)


def test_synaptic_events_count_the_input_spikes_too(model, clips, per_clip):
    """Every spike times its fan-out, input spikes included (the energy estimates rest on it)."""
    from networks.topology import fan_out

    fan = fan_out(model.structure_, {"input": model.n_input_, "exc": model.n_exc, "inh": model.n_inh})
    recurrent = sum(float(fan[pop][per_clip.spikes[pop][0]].sum()) for pop in ("exc", "inh"))
    inputs = sum(float(fan["input"][c.indices].sum()) for c in clips)
    assert inputs > 0 and per_clip.extra["synaptic_events"] == pytest.approx(recurrent + inputs, rel=1e-12)
