"""The HRSNN reservoir: learning, freezing, features, variants, sklearn conventions."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from networks.baseline import InputCounts
from networks.features import binned_counts, reduce_spikes
from networks.hrsnn import HRSNN, VARIANTS
from networks.readouts import evaluate, make_readout
from networks.timeline import Timeline
from stimuli.types import SpikeStimulus

N_CH = 24


def _stimulus(label, rng, n_steps=120):
    """Class ``label`` drives its own block of channels harder (deterministic rng)."""
    rate = np.full(N_CH, 0.01)
    rate[label * 8 : (label + 1) * 8] = 0.12
    st, idx = np.nonzero(rng.random((n_steps, N_CH)) < rate)
    return SpikeStimulus(idx, st, N_CH, n_steps, 1.0, label=label)


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(0)
    return [_stimulus(k % 3, rng) for k in range(12)]


def tiny(**kw):
    params = dict(
        n=40,
        device="numpy",
        seed=3,
        progress=False,
        J_in=3.0,
        p_in=0.3,
        a_plus=0.05,
        bins=2,
        snapshots=4,
        gap=20.0,
        dt=0.5,
    )
    params.update(kw)
    return HRSNN(**params)


def test_weights_change_while_learning_and_not_after_freezing(clips):
    model = tiny().fit(clips)
    for name in ("in_exc", "ee"):
        w0, w1 = model.weights_init_[name], model.weights_[name]
        assert w0.shape == w1.shape and len(w1) > 0
        assert np.abs(w1 - w0).max() > 1e-4, f"{name} did not learn"
        assert w1.min() >= 0 and w1.max() <= model.w_max
    snaps = model.snapshots_["in_exc"]
    assert snaps.shape[1] == len(model.weights_["in_exc"]) and snaps.shape[0] >= 3
    assert np.all(np.diff(model.snapshot_times_) > 0)
    # feature phase: frozen weights, so the learned weights stay as they are
    before = {k: v.copy() for k, v in model.weights_.items()}
    res = model.simulate(clips)
    for name in before:
        np.testing.assert_array_equal(res.weights[name], before[name])


def test_feature_shape_and_definition(clips):
    model = tiny()
    res = model.fit_simulate(clips, [clips])
    F = res.features[0]
    assert F.shape == (len(clips), model.n * model.bins) == (len(clips), model.n_features_out_)
    assert len(model.get_feature_names_out()) == F.shape[1]
    # features are exactly the binned spike counts of the recorded spikes
    idx = np.concatenate([res.spikes["exc"][0], res.spikes["inh"][0] + model.n_exc])
    stp = np.concatenate([res.spikes["exc"][1], res.spikes["inh"][1]])
    np.testing.assert_array_equal(F, binned_counts(idx, stp, res.windows[-1], model.n, model.bins))
    assert F.sum() > 0


def test_same_seed_same_features_and_transform_matches_fit_transform(clips):
    a = tiny().fit_transform(clips)
    model = tiny()
    b = model.fit_transform(clips)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.transform(clips), b)  # clips are independent: reset + gap
    np.testing.assert_array_equal(model.transform(clips[5:8]), b[5:8])
    c = tiny(seed=4).fit_transform(clips)
    assert not np.array_equal(a, c)


def _same(a, b) -> bool:
    """Deep equality of estimator state (dicts, tuples, arrays, scalars)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    return a == b or (a != a and b != b)


def test_transform_and_simulate_leave_the_estimator_unchanged(clips):
    import copy

    model = tiny().fit(clips)
    before = copy.deepcopy(model.__dict__)
    F = model.transform(clips)
    res = model.simulate(clips[:3])
    assert F.shape[0] == len(clips) and len(res.features[0]) == 3
    assert _same(model.__dict__, before)
    before["weights_"]["ee"] = before["weights_"]["ee"] + 1.0  # the comparison can fail
    assert not _same(model.__dict__, before)


def test_tau_m_min_bounds_every_neuron(clips):
    """``tau_m_min``: no neuron's membrane time constant lies below it; the wiring is unchanged."""
    kw = dict(variant="HeNHoS", tau_m=8.0, cv_neuron=0.57, neuron_dist="uniform", n=200)
    plain, floored = tiny(**kw).fit(clips[:1]), tiny(**kw, tau_m_min=3.0).fit(clips[:1])
    tau = lambda m: np.concatenate([m.neuron_params_[p]["tau_m"] for p in ("exc", "inh")])  # noqa: E731
    assert tau(plain).min() < 3.0 <= tau(floored).min()
    for name in plain.structure_:
        np.testing.assert_array_equal(plain.structure_[name][0], floored.structure_[name][0])


def test_seed_accepts_generator(clips):
    m = tiny(seed=np.random.default_rng(1)).fit(clips[:3])
    assert isinstance(m.seed_, int)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_differ_only_where_they_should(variant, clips):
    het_n, het_s = VARIANTS[variant]
    m = tiny(variant=variant, cv_neuron=0.5, cv_synapse=0.5, n=200).fit(clips[:2])
    tau = np.concatenate([m.neuron_params_["exc"]["tau_m"], m.neuron_params_["inh"]["tau_m"]])
    assert (np.ptp(tau) > 0) == het_n  # homogeneous: every value identical
    assert np.mean(tau) == pytest.approx(m.tau_m, rel=0.15 if het_n else 1e-12)  # both in ms
    # everything that is not heterogeneous is identical across variants: structure, weights
    ref = tiny(variant="HoNHoS", n=200).fit(clips[:2])
    for name in ref.structure_:
        np.testing.assert_array_equal(m.structure_[name][0], ref.structure_[name][0])
    np.testing.assert_array_equal(m.weights_init_["ee"], ref.weights_init_["ee"])
    sp = m.stdp_params().specs()
    for p in ("A_plus", "A_minus", "tau_pre", "tau_post"):
        assert (sp[p].cv > 0) == het_s
        assert sp[p].mean == ref.stdp_params().specs()[p].mean


def test_distance_dependent_connectivity(clips):
    m = tiny(connect="distance", lam=1.5, p_ee=0.5, n=64).fit(clips[:2])
    assert len(m.structure_["ee"][0]) > 0
    r = tiny(connect="distance", lam=3.0, p_ee=0.5, n=64).fit(clips[:2])
    assert len(r.structure_["ee"][0]) > len(m.structure_["ee"][0])  # longer reach, more synapses


def test_sklearn_conventions(clips):
    m = tiny()
    params = m.get_params()
    assert params["n"] == 40 and params["variant"] == "HeNHeS"
    c = clone(m)
    assert c.get_params() == params and not hasattr(c, "weights_")
    assert m.fit(clips) is m
    y = np.array([s.label for s in clips])
    pipe = make_pipeline(tiny(), make_readout("logistic", scale="log"))
    scores = cross_val_score(pipe, clips, y, cv=2)
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


def test_reservoir_and_baseline_learn_the_toy_task(clips):
    y = np.array([s.label for s in clips])
    F = tiny().fit_transform(clips)
    clf = make_readout("logistic", scale="log").fit(F[:9], y[:9])
    res = evaluate(clf, F, y, ["a", "b", "c"])
    assert res["accuracy"] > 0.5 and np.array(res["confusion_matrix"]).sum() == len(clips)
    B = InputCounts(bins=2).fit(clips).transform(clips)
    assert B.shape == (len(clips), 2 * N_CH)
    assert B.sum() == sum(s.n_spikes for s in clips)


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(variant="HeNHeX"), "variant: "),
        (dict(tau_m=-1.0), "tau_m: a time constant must be positive"),
        (dict(tau_m=0.2, dt=0.5), "tau_m: 0.2 ms is shorter than the time step"),
        (dict(p_ee=1.5), "p_ee: "),
        (dict(plastic="ii"), "plastic: "),
        (dict(exc=1.0), "exc: "),
        (dict(cv_neuron=-0.1), "cv_neuron: "),
        (dict(tau_m_min=20.0), "tau_m_min: 20.0 ms must lie below the mean tau_m"),
        (dict(tau_m_min=-1.0), "tau_m_min: "),
        (dict(reduction="max"), "reduction: "),
    ],
)
def test_invalid_hyperparameters(kwargs, msg, clips):
    with pytest.raises(ValueError, match=msg):
        tiny(**kwargs).fit(clips[:1])


def test_mismatched_channels_rejected(clips):
    model = tiny().fit(clips[:2])
    other = SpikeStimulus([0], [0], N_CH + 1, 10, 1.0)
    with pytest.raises(ValueError, match="another number of input channels than"):
        model.transform([other])


def test_reduce_spikes_bins_and_rates():
    idx = np.array([0, 1, 1, 0])
    steps = np.array([0, 4, 5, 9])
    F = binned_counts(idx, steps, [[0, 10]], 2, bins=2)
    np.testing.assert_array_equal(F, [[1, 1, 1, 1]])  # bin0: n0@0, n1@4; bin1: n1@5, n0@9
    R = reduce_spikes(idx, steps, [[0, 10]], 2, reduction="binned_rates", bins=2, dt=1.0)  # 1 ms steps
    np.testing.assert_allclose(R, F / 5e-3)  # 5 ms bins, Hz
    with pytest.raises(ValueError, match="reduction: "):
        reduce_spikes(idx, steps, [[0, 10]], 2, reduction="mean")


def test_conductance_reservoir_keeps_membranes_above_the_inhibitory_reversal(clips):
    """Reversal potentials bound v (E_i = -80 mV); current-based input is unbounded."""
    strong = dict(n=40, J_i=3.0, w_ie=1.0, p_ie=0.5, record_v=8)
    cond = tiny(synapse="conductance", J_in=4.0, **strong).fit(clips[:3])
    v = cond.simulate(clips[:3]).extra["v"]  # mV
    assert v.shape[0] == 8 and v.shape[1] > 100
    assert v.min() >= -80.0 - 1e-6
    assert v.max() <= -50.0 + 1e-6  # never above threshold at a recorded step
    curr = tiny(**strong).fit(clips[:3])
    assert curr.simulate(clips[:3]).extra["v"].min() < -80.0  # current-based input has no floor


def test_invalid_synapse_model(clips):
    with pytest.raises(ValueError, match="synapse: "):
        tiny(synapse="voltage").fit(clips[:1])


def test_concatenated_presentation_equals_a_store_restore_loop():
    """Each clip's spikes equal those of a fresh network run on that clip alone."""
    from brian2 import ms

    from cortex.devices import device_scope
    from networks.reservoir import build_reservoir
    from networks.timeline import Timeline

    rng = np.random.default_rng(5)
    clips = [_stimulus(k % 3, rng, n_steps=150) for k in range(4)]
    model = tiny(n=120, J_in=4.0, J_e=0.4, p_ee=0.3, gap=5.0, record_v=0).fit(clips[:2])
    F = model.transform(clips)
    with device_scope("numpy"):
        res = build_reservoir(
            model,
            Timeline([(clips[:1], False)], dt=model.dt, gap=0.0),
            n_input=model.n_input_,
            seed=model.seed_,
            weights=model.weights_,
        )
        for name in res.plastic:
            res.synapses[name].plastic = 0
        net, mons = res.network, res.monitors
        net.store("initial")
        counts = []
        for s in clips:
            net.restore("initial")
            res.groups["input"].set_spikes(s.indices, np.rint(s.steps * s.dt / model.dt) * model.dt * ms)
            before = mons["spikes_exc"].num_spikes + mons["spikes_inh"].num_spikes
            net.run(s.n_steps * s.dt * ms, namespace={})
            counts.append(mons["spikes_exc"].num_spikes + mons["spikes_inh"].num_spikes - before)
    assert F.sum() > 50 * len(clips)  # recurrent activity, so the test is not trivial
    np.testing.assert_array_equal(F.sum(1), counts)


@pytest.mark.cuda
def test_hrsnn_builds_for_cuda_standalone(tmp_path):
    """The whole reservoir (both phases) generates and compiles with brian2cuda; on a GPU
    it also runs and gives features of the documented shape with activity."""
    from cortex.devices import available_devices, device_scope
    from networks.reservoir import build_reservoir, collect
    from networks.simulation import run_phases
    from networks.timeline import Timeline

    usable, reason = available_devices()["cuda_standalone"]
    if not usable and ("brian2cuda missing" in reason or "nvcc not found" in reason):
        pytest.skip(reason)
    rng = np.random.default_rng(0)
    clips = [_stimulus(k % 3, rng, n_steps=100) for k in range(4)]
    model = tiny(n=100, snapshots=3)
    project = tmp_path / "cuda_hrsnn"
    with device_scope("cuda_standalone", compile_only=not usable, build_on_run=False, directory=project):
        tl = Timeline([(clips, True), (clips, False)], dt=model.dt, gap=model.gap)
        net = build_reservoir(model, tl, n_input=N_CH, seed=0)
        run_phases(
            net.network, tl, [net.synapses[p] for p in net.plastic], learning_only=net.weight_monitors, progress=False
        )  # builds, and runs where a GPU is
        assert (project / "main").is_file(), "no binary was built"
        if usable:
            res = collect(net, model, tl)
            assert res.features[0].shape == (len(clips), model.n * model.bins)
            assert res.features[0].sum() > 0


def test_snapshot_period_keeps_slow_snapshot_clocks_clear_of_run_ends():
    """A slow snapshot clock ticking a step before a run's end stopped Brian2 (StopIteration) on 1,347 digits."""
    from brian2 import Network, NeuronGroup, StateMonitor, defaultclock, ms, prefs

    clip = SpikeStimulus(np.array([0]), np.array([3]), 4, 100, 1.0)
    timeline = Timeline([([clip] * 300, True)], dt=1.0, gap=50.0)
    runs = [n for n, _ in timeline.phase_runs()]
    assert runs == [45001] and timeline.train_steps == 45000  # naive period: a tick 1 step before the end
    period = timeline.snapshot_period(1)
    assert period < 45000 and (45001 % period == 0 or 2e-4 * period < 45001 % period < period * (1 - 2e-4))

    def run_with(period_steps):
        prefs.codegen.target = "numpy"
        defaultclock.dt = 1 * ms
        group = NeuronGroup(1, "x : 1", dt=1 * ms)
        monitor = StateMonitor(group, "x", record=True, dt=period_steps * ms)
        net = Network(group, monitor)
        for n in runs:
            net.run(n * ms)
        return len(monitor.t)

    assert run_with(period) == 2
    # the digits run that failed: 1,347 clips x 2 learning epochs, 20 snapshots (naive period 20,205 steps)
    digits = Timeline([([clip] * 1347, True)] * 2, dt=1.0, gap=50.0)
    assert digits.train_steps // 20 == 20205 and 20 * 20205 == 404101 - 1
    p20 = digits.snapshot_period(20)
    assert p20 < 20205 and 2e-4 * p20 < 404101 % p20 < p20 * (1 - 2e-4) and 202050 % p20 > 2e-4 * p20
