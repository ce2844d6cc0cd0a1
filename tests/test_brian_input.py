"""SpikeStimulus -> Brian2: exact spike times in a real run, no silent drops, concatenation."""

from __future__ import annotations

import numpy as np
import pytest

brian2 = pytest.importorskip("brian2")
from brian2 import Network, SpikeMonitor, defaultclock, ms, prefs  # noqa: E402

from stimuli.brian_input import concatenate, set_stimulus, to_spike_generator  # noqa: E402
from stimuli.types import SpikeStimulus, StimulusError  # noqa: E402

try:  # tests/ is on sys.path under pytest's default import mode; a package otherwise
    from test_encoders import random_encoder, random_input  # noqa: E402
except ImportError:  # pragma: no cover
    from tests.test_encoders import random_encoder, random_input  # noqa: E402


@pytest.fixture(autouse=True)
def numpy_target():
    """Runtime numpy code generation (no compilation); restore preferences afterwards."""
    old_target, old_dt = prefs.codegen.target, defaultclock.dt
    prefs.codegen.target = "numpy"
    yield
    prefs.codegen.target = old_target
    defaultclock.dt = old_dt


def make_stim(seed=0, n_channels=6, n_steps=40, dt=1.0, n=30, label=None, sid="s"):
    rng = np.random.default_rng(seed)
    key = np.sort(rng.choice(n_channels * n_steps, size=n, replace=False))
    steps, idx = np.divmod(key, n_channels)
    return SpikeStimulus(idx, steps, n_channels, n_steps, dt, label=label, meta={"id": sid})


def run_and_record(stim, name="input"):
    group = to_spike_generator(stim, name=name)
    mon = SpikeMonitor(group, name=f"{name}_mon")
    net = Network(group, mon)
    net.run(stim.duration * ms)
    return group, mon, net


def recorded_pairs(mon, dt):
    steps = np.rint(np.asarray(mon.t / ms) / dt).astype(np.int64)
    return steps, np.asarray(mon.i, dtype=np.int64)


def test_brian_run_reproduces_spike_times_exactly():
    stim = make_stim(dt=0.5)
    # a spike in the very last step of the window is delivered too
    stim = SpikeStimulus(
        np.append(stim.indices, 2), np.append(stim.steps, stim.n_steps - 1), stim.n_channels, stim.n_steps, stim.dt
    )
    group, mon, _ = run_and_record(stim)
    assert group.N == stim.n_channels
    steps, idx = recorded_pairs(mon, stim.dt)
    order = np.lexsort((idx, steps))
    np.testing.assert_array_equal(steps[order], stim.steps)
    np.testing.assert_array_equal(idx[order], stim.indices)
    np.testing.assert_allclose(np.asarray(mon.t / ms)[order], stim.steps * stim.dt, rtol=0, atol=1e-9)


def test_spikes_outside_window_or_range_are_errors_not_drops():
    stim = make_stim()
    stim.steps[-1] = stim.n_steps + 3  # arrays of a frozen stimulus can still be mutated
    with pytest.raises(StimulusError, match="window"):
        to_spike_generator(stim)
    stim = make_stim()
    stim.indices[0] = stim.n_channels
    with pytest.raises(StimulusError, match="channel"):
        to_spike_generator(stim)
    stim = make_stim()
    stim.indices[1], stim.steps[1] = stim.indices[0], stim.steps[0]
    with pytest.raises(StimulusError, match="duplicate"):
        to_spike_generator(stim)


def test_random_encoder_outputs_run_in_brian():
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        enc = random_encoder(rng)
        stim = enc(random_input(enc, rng), meta={"id": f"b{seed}"})
        _, mon, _ = run_and_record(stim, name=f"input{seed}")
        steps, idx = recorded_pairs(mon, stim.dt)
        assert mon.num_spikes == stim.n_spikes
        assert set(zip(steps.tolist(), idx.tolist(), strict=True)) == set(
            zip(stim.steps.tolist(), stim.indices.tolist(), strict=True)
        )


def test_concatenate_offsets_and_boundaries():
    stims = [make_stim(seed=s, n_steps=n, label=s, sid=f"c{s}") for s, n in enumerate((40, 25, 60))]
    cat, bounds = concatenate(stims, gap_steps=5)
    np.testing.assert_array_equal(bounds, [[0, 40], [45, 70], [75, 135]])
    assert cat.n_steps == 135 and cat.n_spikes == sum(s.n_spikes for s in stims)
    assert cat.meta["labels"] == [0, 1, 2] and cat.meta["ids"] == ["c0", "c1", "c2"]
    for s, (start, end) in zip(stims, bounds, strict=True):
        inside = (cat.steps >= start) & (cat.steps < end)
        np.testing.assert_array_equal(cat.steps[inside] - start, s.steps)
        np.testing.assert_array_equal(cat.indices[inside], s.indices)
    assert not ((cat.steps >= 40) & (cat.steps < 45)).any()  # gap is silent
    _, mon, _ = run_and_record(cat, name="cat")
    steps, _ = recorded_pairs(mon, cat.dt)
    np.testing.assert_array_equal(np.sort(steps), cat.steps)


def test_concatenate_rejects_mismatches():
    a = make_stim()
    with pytest.raises(StimulusError, match="dt"):
        concatenate([a, make_stim(dt=2.0)])
    with pytest.raises(StimulusError, match="channels"):
        concatenate([a, make_stim(n_channels=7)])
    with pytest.raises(StimulusError, match="no stimuli"):
        concatenate([])
    with pytest.raises(StimulusError, match="gap_steps"):
        concatenate([a], gap_steps=-1)


def test_set_stimulus_with_store_restore():
    first, second_stim = make_stim(seed=1), make_stim(seed=2)
    group = to_spike_generator(first, name="swap")
    mon = SpikeMonitor(group, name="swap_mon")
    net = Network(group, mon)
    net.store("start")
    net.run(first.duration * ms)
    assert mon.num_spikes == first.n_spikes
    net.restore("start")
    set_stimulus(group, second_stim)
    net.run(second_stim.duration * ms)
    steps, idx = recorded_pairs(mon, second_stim.dt)
    assert set(zip(steps.tolist(), idx.tolist(), strict=True)) == set(
        zip(second_stim.steps.tolist(), second_stim.indices.tolist(), strict=True)
    )
    with pytest.raises(StimulusError, match="channels"):
        set_stimulus(group, make_stim(n_channels=3))
    with pytest.raises(StimulusError, match="dt"):
        set_stimulus(group, make_stim(dt=0.1))


def test_empty_stimulus_and_group_clock():
    empty = SpikeStimulus(np.array([], dtype=int), np.array([], dtype=int), 4, 10, 0.2)
    group, mon, _ = run_and_record(empty, name="empty")
    assert mon.num_spikes == 0 and group.N == 4
    assert float(group.clock.dt_) == pytest.approx(2e-4)
