"""STDP and R-STDP against the pair rule; bounds, freezing, heterogeneity, validation."""

import numpy as np
import pytest
from brian2 import Hz, Network, PoissonGroup, SpikeGeneratorGroup, SpikeMonitor, TimedArray, ms, mV, nA, run, second

from cortex.heterogeneity import ParamSpec
from cortex.neurons import lif_group
from cortex.synapses import (
    STDPParams,
    connectivity,
    rstdp_synapses,
    set_plasticity,
    static_synapses,
    stdp_synapses,
)

A_PLUS, A_MINUS, TAU_PRE, TAU_POST = 0.01, 0.012, 20 * ms, 30 * ms
PARAMS = dict(A_plus=A_PLUS, A_minus=A_MINUS, tau_pre=TAU_PRE, tau_post=TAU_POST)


def _pair(t_pre, t_post_drive, rule="additive", w0=0.5, plastic=True, kind="stdp", reward=None, extra=None, n_post=1):
    """One pre spike and one post spike (forced by a strong driver); returns (syn, t_post)."""
    pre = SpikeGeneratorGroup(1, [0], [t_pre], name="pre")
    driver = SpikeGeneratorGroup(1, [0], [t_post_drive], name="driver")
    post = lif_group(n_post, dict(tau_ref=500 * ms), name="post")  # exactly one post spike
    if kind == "stdp":
        syn = stdp_synapses(pre, post, PARAMS, rule=rule, connect="all", w_init=w0, J=0 * nA, name="syn")
    else:
        syn = rstdp_synapses(
            pre, post, dict(PARAMS, **(extra or {})), reward=reward, connect="all", w_init=w0, J=0 * nA, name="syn"
        )
    drive = static_synapses(driver, post, J=100 * nA, connect="all", w_init=1.0, name="drive")
    if not plastic:
        set_plasticity(syn, False)
    mon = SpikeMonitor(post)
    net = Network(pre, driver, post, syn, drive, mon)
    net.run(60 * ms)
    assert np.all(mon.count[:] == 1)
    _pair.network = net
    return syn, mon.t[0]


@pytest.mark.parametrize("t_pre, t_drive", [(10 * ms, 14 * ms), (10 * ms, 30 * ms)])
def test_additive_pre_post_pair(t_pre, t_drive):
    syn, t_post = _pair(t_pre, t_drive)
    delay = float((t_post - t_pre) / second)
    assert delay > 0
    assert syn.w[0] - 0.5 == pytest.approx(A_PLUS * np.exp(-delay / float(TAU_PRE / second)), rel=1e-12)


@pytest.mark.parametrize("t_pre, t_drive", [(20 * ms, 5 * ms), (40 * ms, 5 * ms)])
def test_additive_post_pre_pair(t_pre, t_drive):
    syn, t_post = _pair(t_pre, t_drive)
    delay = float((t_pre - t_post) / second)
    assert delay > 0
    assert syn.w[0] - 0.5 == pytest.approx(-A_MINUS * np.exp(-delay / float(TAU_POST / second)), rel=1e-12)


def test_multiplicative_pair_scales_with_distance_to_bounds():
    w0 = 0.2
    syn, t_post = _pair(10 * ms, 14 * ms, rule="multiplicative", w0=w0)
    delay = float((t_post - 10 * ms) / second)
    assert syn.w[0] - w0 == pytest.approx(A_PLUS * np.exp(-delay / 0.02) * (1 - w0), rel=1e-12)
    syn, t_post = _pair(20 * ms, 5 * ms, rule="multiplicative", w0=w0)
    delay = float((20 * ms - t_post) / second)
    assert syn.w[0] - w0 == pytest.approx(-A_MINUS * np.exp(-delay / 0.03) * w0, rel=1e-12)


@pytest.mark.parametrize("t_pre, t_drive", [(10 * ms, 14 * ms), (20 * ms, 5 * ms)])
def test_frozen_learning_leaves_weights_unchanged(t_pre, t_drive):
    syn, _ = _pair(t_pre, t_drive, plastic=False)
    assert syn.w[0] == 0.5


@pytest.mark.parametrize("rule", ["additive", "multiplicative"])
def test_weights_never_leave_bounds(rule):
    pre = PoissonGroup(40, rates=80 * Hz, name="poisson")
    post = lif_group(10, name="post")
    syn = stdp_synapses(
        pre,
        post,
        dict(A_plus=0.3, A_minus=0.33, w_max=2.0),
        rule=rule,
        connect=0.8,
        w_init=(0.0, 2.0),
        J=1 * nA,
        seed=1,
        name="syn",
    )
    seen = []
    from brian2 import network_operation

    @network_operation(dt=1 * ms)
    def record():
        seen.append(np.asarray(syn.w[:]).copy())

    run(300 * ms)
    w = np.concatenate(seen)
    assert w.min() >= 0.0 and w.max() <= 2.0
    assert w.min() == 0.0 or rule == "multiplicative"  # additive STDP this strong hits the bounds
    assert np.ptp(seen[-1] - seen[0]) > 0  # and learning did happen


def test_nearest_spike_traces_do_not_accumulate():
    pre = SpikeGeneratorGroup(1, [0, 0, 0], [10 * ms, 11 * ms, 12 * ms], name="pre")
    driver = SpikeGeneratorGroup(1, [0], [14 * ms], name="driver")
    post = lif_group(1, dict(tau_ref=500 * ms), name="post")
    syn = stdp_synapses(pre, post, PARAMS, nearest=True, connect="all", w_init=0.5, J=0 * nA, name="syn")
    drive = static_synapses(driver, post, J=100 * nA, connect="all", name="drive")  # noqa: F841
    mon = SpikeMonitor(post)
    run(40 * ms)
    delay = float((mon.t[0] - 12 * ms) / second)  # only the last pre spike counts
    assert syn.w[0] - 0.5 == pytest.approx(A_PLUS * np.exp(-delay / 0.02), rel=1e-12)


def test_heterogeneous_stdp_parameters_per_synapse():
    pre = lif_group(100, name="a")
    post = lif_group(100, name="b")
    params = STDPParams(A_plus=ParamSpec(0.01, 0.5), tau_pre=ParamSpec(20 * ms, 0.5, "lognormal"))
    syn = stdp_synapses(pre, post, params, connect=0.5, seed=3, name="het")
    a = syn.A_plus[:]
    assert len(a) > 4000 and a.mean() == pytest.approx(0.01, rel=0.05) and a.std() > 0.004
    assert (syn.taupre[:] / ms).mean() == pytest.approx(20, rel=0.05)
    homo = stdp_synapses(pre, post, params.homogeneous(), connect=0.5, seed=3, name="homo")
    assert np.all(homo.A_plus[:] == 0.01) and np.all(homo.taupre[:] == 20 * ms)


def test_rstdp_no_reward_no_change():
    reward = TimedArray(np.zeros(100), dt=1 * ms)
    syn, _ = _pair(10 * ms, 14 * ms, kind="rstdp", reward=reward)
    assert syn.w[0] == 0.5
    assert syn.c[0] > 0  # eligibility was there, reward was not


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_rstdp_weight_change_follows_reward(sign):
    values = np.zeros((100, 2))
    values[30, 0], values[30, 1] = sign, -sign  # reward at 30 ms, opposite for the two cells
    syn, t_post = _pair(
        10 * ms,
        14 * ms,
        kind="rstdp",
        reward=TimedArray(values, dt=1 * ms),
        extra=dict(tau_c=100 * ms, eta=2.0),
        n_post=2,
    )
    delay = float((t_post - 10 * ms) / second)
    c_at_reward = A_PLUS * np.exp(-delay / 0.02) * np.exp(-float((30 * ms - t_post) / second) / 0.1)
    dw = syn.w[:] - 0.5
    assert dw[0] == pytest.approx(sign * 2.0 * c_at_reward, rel=1e-9)
    assert dw[1] == pytest.approx(-sign * 2.0 * c_at_reward, rel=1e-9)


def test_rstdp_shared_reward_set_between_runs():
    syn, _ = _pair(10 * ms, 14 * ms, kind="rstdp", reward=None)
    assert syn.w[0] == 0.5
    syn.reward = -1.0
    _pair.network.run(1 * ms)
    assert syn.w[0] < 0.5


def test_connectivity_is_seeded_and_validated():
    a = connectivity(50, 40, 0.2, seed=5)
    b = connectivity(50, 40, 0.2, seed=5)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert len(a[0]) == pytest.approx(400, rel=0.2)
    i, j = connectivity(10, 10, "all", autapses=False)
    assert len(i) == 90 and not np.any(i == j)
    with pytest.raises(ValueError, match="connect: a probability"):
        connectivity(5, 5, 1.5)
    with pytest.raises(ValueError, match="connect: indices out of range"):
        connectivity(5, 5, ([0, 7], [1, 1]))


@pytest.mark.parametrize(
    "params, msg",
    [
        (dict(tau_pre=-1 * ms), "tau_pre: a time constant must be positive"),
        (dict(tau_post=5 * mV), "tau_post: expected a time"),
        (dict(A_plus=-0.1), "A_plus: must be >= 0"),
        (dict(w_max=0), "w_max: must be positive"),
        (dict(w_max=ParamSpec(1.0, 0.2)), "w_max: must be a single value"),
        (dict(tau_plus=20 * ms), "unknown STDPParams parameter"),
    ],
)
def test_invalid_stdp_parameters(params, msg):
    pre, post = lif_group(2, name="x"), lif_group(2, name="y")
    with pytest.raises(ValueError, match=msg):
        stdp_synapses(pre, post, params)


def test_invalid_targets_and_units():
    pre, post = lif_group(2, name="x"), lif_group(2, synapse="conductance", name="y")
    with pytest.raises(ValueError, match="target: "):
        static_synapses(pre, post, target="x")
    with pytest.raises(ValueError, match="J: .* needs J in units"):
        static_synapses(pre, post, J=1 * nA)  # conductance target takes a plain number
    with pytest.raises(ValueError, match="tau_pre: mean .* shorter than the time step"):
        stdp_synapses(pre, post, dict(tau_pre=0.01 * ms), dt=0.1 * ms)
    with pytest.raises(ValueError, match="eta: "):
        rstdp_synapses(pre, post, dict(eta=-1.0))


@pytest.mark.parametrize("kind", ["static", "stdp"])
def test_pathway_without_synapses_builds_and_runs(kind):
    """p = 0 (or a tiny group that draws nothing) gives an empty pathway, not a crash."""
    pre, post = lif_group(3, name="x"), lif_group(3, name="y")
    params = dict(A_plus=0.01, A_minus=0.012, tau_pre=20 * ms, tau_post=20 * ms, w_max=1.0)
    syn = static_synapses(pre, post, connect=0.0) if kind == "static" else stdp_synapses(pre, post, params, connect=0.0)
    assert len(syn) == 0
    Network(pre, post, syn).run(1 * ms)
