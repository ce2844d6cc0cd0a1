"""LIF populations against analytic solutions; parameter validation."""

import numpy as np
import pytest
from brian2 import Mohm, SpikeMonitor, StateMonitor, defaultclock, ms, mV, nA, run, second

from cortex.heterogeneity import ParamSpec
from cortex.neurons import LIFParams, lif_group, lif_membrane, lif_rate


def test_membrane_matches_analytic_solution_under_constant_current():
    defaultclock.dt = 0.1 * ms
    g = lif_group(3, LIFParams(tau_m=ParamSpec(20 * ms, cv=0.5)), seed=4, name="cells")
    currents = np.array([0.05, 0.1, 0.14]) * nA  # all below rheobase (0.15 nA)
    g.I_ext = currents
    mon = StateMonitor(g, "v", record=True)
    run(100 * ms)
    for k in range(3):
        expected = lif_membrane(mon.t, I_ext=currents[k], tau_m=g.tau_m[k])
        # values recorded at the start of each step; exponential Euler is exact here
        np.testing.assert_allclose(mon.v[k] / mV, expected / mV, rtol=0, atol=1e-9)


@pytest.mark.parametrize("synapse", ["current", "conductance"])
def test_firing_rate_matches_analytic_f_I_curve(synapse):
    defaultclock.dt = 0.01 * ms
    currents = np.array([0.17, 0.2, 0.3, 0.5]) * nA
    taus = np.array([15.0, 20.0, 30.0, 25.0]) * ms
    g = lif_group(4, LIFParams(tau_m=20 * ms), synapse=synapse, name="fI")
    g.tau_m = taus  # per-neuron time constants, each with its own analytic rate
    g.I_ext = currents
    spikes = SpikeMonitor(g)
    run(1.5 * second)
    trains = spikes.spike_trains()
    for k in range(4):
        isi = np.diff(trains[k] / second)
        assert isi.size > 10
        expected = lif_rate(currents[k], tau_m=taus[k])
        assert 1.0 / isi.mean() == pytest.approx(expected, rel=0.01)


def test_no_spikes_below_rheobase_and_rate_zero():
    g = lif_group(1, name="quiet")
    g.I_ext = 0.149 * nA  # v_inf = -50.1 mV < v_th
    mon = SpikeMonitor(g)
    run(200 * ms)
    assert mon.num_spikes == 0
    assert lif_rate(0.149 * nA) == 0.0


def test_refractory_period_is_respected():
    defaultclock.dt = 0.1 * ms
    g = lif_group(1, LIFParams(tau_ref=5 * ms), name="refr")
    g.I_ext = 5 * nA  # strong drive: the refractory period sets the interval
    mon = SpikeMonitor(g)
    run(100 * ms)
    isi = np.diff(mon.t / ms)
    assert isi.min() >= 5.0 - 1e-9


def test_heterogeneous_parameters_drawn_from_spec_and_reproducible():
    spec = LIFParams(tau_m=ParamSpec(20 * ms, cv=0.5, dist="gamma"), v_th=ParamSpec(-50 * mV, 0.02, "normal"))
    a = lif_group(2000, spec, seed=11, name="a")
    b = lif_group(2000, spec, seed=11, name="b")
    np.testing.assert_array_equal(a.tau_m[:], b.tau_m[:])
    np.testing.assert_array_equal(a.v_th[:], b.v_th[:])
    tau = a.tau_m[:] / ms
    assert tau.mean() == pytest.approx(20, rel=0.05)
    assert tau.std() / tau.mean() == pytest.approx(0.5, rel=0.1)
    homo = lif_group(50, spec.homogeneous(), seed=11, name="h")
    assert np.all(homo.tau_m[:] == 20 * ms) and np.all(homo.v_th[:] == -50 * mV)


def test_adaptive_threshold_raises_after_each_spike():
    g = lif_group(1, LIFParams(theta_plus=1 * mV), adaptive_threshold=True, name="adapt")
    g.I_ext = 0.5 * nA
    mon = SpikeMonitor(g)
    run(300 * ms)
    isi = np.diff(mon.t / ms)
    assert g.theta[0] > 0 * mV
    assert isi[-1] > isi[0]  # adaptation lengthens the intervals


def test_random_initial_potential_lies_between_reset_and_threshold():
    g = lif_group(500, v_init="random", seed=0, name="vr")
    v = g.v[:] / mV
    assert v.min() >= -65 and v.max() < -50 and v.std() > 1


@pytest.mark.parametrize(
    "params, msg",
    [
        (dict(tau_m=-5 * ms), "tau_m: a time constant must be positive"),
        (dict(tau_m=0 * ms), "tau_m: a time constant must be positive"),
        (dict(tau_ref=-1 * ms), "tau_ref: the refractory period must be >= 0"),
        (dict(R_m=-1 * Mohm), "R_m: the membrane resistance must be positive"),
        (dict(v_reset=-45 * mV), "v_reset: must lie below v_th"),
        (dict(tau_m=20 * mV), "tau_m: expected a value in units of"),
        (dict(tau_m={"mean": 20 * ms, "cv": -1}), "tau_m: cv must be >= 0"),
        (dict(tau_m={"mean": 20 * ms, "cv": 0.3, "dist": "zipf"}), "tau_m: unknown distribution"),
        (dict(tau_mem=20 * ms), "unknown LIFParams parameter"),
    ],
)
def test_invalid_parameters_raise_naming_the_parameter(params, msg):
    with pytest.raises(ValueError, match=msg):
        lif_group(2, params)


def test_time_constant_shorter_than_dt_is_rejected():
    with pytest.raises(ValueError, match="tau_e: mean .* is shorter than the time step"):
        lif_group(2, dict(tau_e=0.05 * ms), dt=0.1 * ms)


def test_bad_size_and_options():
    with pytest.raises(ValueError, match="n: "):
        lif_group(0)
    with pytest.raises(ValueError, match="synapse: "):
        lif_group(2, synapse="voltage")
    with pytest.raises(ValueError, match="v_init: "):
        lif_group(2, v_init="zero")
