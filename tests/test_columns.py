"""Cortical columns: lateral inhibition, normalisation, R-STDP, tiling, the classifier's contract."""

import copy

import numpy as np
import pytest
from brian2 import Network, SpikeGeneratorGroup, SpikeMonitor, StateMonitor, defaultclock, ms, mV, nA
from sklearn.base import clone

from cortex.columns import ColumnParams, build_column, set_column_learning
from cortex.neurons import LIFParams
from cortex.synapses import RSTDPParams, STDPParams
from networks.column import ColumnClassifier, population_vote, vote_proba
from networks.features import NO_SPIKE, binned_counts
from networks.persistence import StateFileError
from networks.topology import column_input_connectivity, tile_receptive_fields
from networks.variants import VARIANTS
from stimuli.types import SpikeStimulus

DT = 0.5 * ms
N_CH = 16  # a 2 x 8 frame: class 0 drives row 0, class 1 row 1
GEOMETRY = {"channel_shape": (1, 2, 8), "channel_order": "myx"}


def _run(net, *objects, duration):
    source = net.synapses["input"].source
    extra = [o for o in objects if o is not source]
    Network(*net.objects, source, *extra).run(duration, namespace={})


def _silent_input(n=1):
    return SpikeGeneratorGroup(n, [0], [10_000] * ms, name="silent")


# ------------------------------------------------------------------ lateral inhibition


@pytest.mark.parametrize("lateral", ["kwta", "pool"])
@pytest.mark.parametrize("k", [1, 2])
def test_k_winners_per_column_and_window(lateral, k):
    """A strong deterministic drive with distinct strengths: exactly k winners per column per window.

    The drives make the neurons cross threshold at least 1 ms apart (10 steps of 0.1 ms), well
    beyond the tie span (one step for "kwta", two for "pool").
    """
    columns = np.repeat([0, 1], 5)
    params = ColumnParams(lateral=lateral, k_winners=k, winner_window=25 * ms)
    net = build_column(_silent_input(), 10, params=params, columns=columns, input_connect=0.0, seed=0, dt=0.1 * ms)
    net.layer.I_ext = np.tile([0.25, 0.35, 0.45, 0.55, 0.65], 2) * nA
    mon = SpikeMonitor(net.layer)
    _run(net, mon, duration=100 * ms)
    i, t = np.asarray(mon.i[:]), np.asarray(mon.t / ms)
    for w in range(4):
        in_window = (t >= 25 * w) & (t < 25 * (w + 1))
        for c in (0, 1):
            winners = set(i[in_window & (columns[i] == c)])
            assert len(winners) == k, (w, c, winners)


def test_without_lateral_inhibition_every_driven_neuron_fires():
    defaultclock.dt = DT
    net = build_column(_silent_input(), 5, params=ColumnParams(lateral="none"), input_connect=0.0, seed=0, dt=DT)
    net.layer.I_ext = np.linspace(0.40, 0.60, 5) * nA
    mon = SpikeMonitor(net.layer)
    _run(net, mon, duration=25 * ms)
    assert set(np.asarray(mon.i[:])) == set(range(5))


def test_pool_is_one_to_one_and_inhibits_all_other_members_of_the_column():
    columns = np.array([0, 0, 0, 1, 1, 2])
    net = build_column(_silent_input(), 6, params=ColumnParams(lateral="pool"), columns=columns, seed=0)
    ei, ie = net.synapses["exc_inh"], net.synapses["inh_exc"]
    np.testing.assert_array_equal(ei.i[:], np.arange(6))
    np.testing.assert_array_equal(ei.j[:], np.arange(6))
    pairs = set(zip(ie.i[:], ie.j[:], strict=True))
    expected = {(a, b) for a in range(6) for b in range(6) if a != b and columns[a] == columns[b]}
    assert pairs == expected  # no partner, nothing across columns (column 2 has no one to inhibit)
    assert set(zip(*net.structure["inh_exc"], strict=True)) == expected


# ------------------------------------------------------------------ plasticity


def _poisson_like(n, duration_ms, p, seed):
    """Fixed input spikes (deterministic for a seed), at most one per channel and step."""
    steps = int(duration_ms / float(DT / ms))
    st, idx = np.nonzero(np.random.default_rng(seed).random((steps, n)) < p)
    return SpikeGeneratorGroup(n, idx, st * DT, name="inp")


def test_normalisation_keeps_each_neurons_summed_input_weight():
    defaultclock.dt = DT
    inp = _poisson_like(20, 300, 0.05, seed=1)
    params = ColumnParams(
        lateral="none", norm_mean=0.2, norm_period=1 * ms, input_stdp=STDPParams(A_plus=0.05, A_minus=0.05)
    )
    net = build_column(inp, 4, params=params, input_connect=0.6, seed=2, dt=DT)
    i, j = net.structure["input"]
    fan_in = np.bincount(j, minlength=4)
    target = 0.2 * fan_in
    np.testing.assert_allclose(np.bincount(j, net.weights_init["input"], minlength=4), target, rtol=1e-12)
    mon = SpikeMonitor(net.layer)
    _run(net, inp, mon, duration=300 * ms)
    w = np.asarray(net.synapses["input"].w[:])
    assert mon.num_spikes > 20
    assert np.abs(w - net.weights_init["input"]).max() > 0.05  # STDP moved the weights a lot ...
    np.testing.assert_allclose(np.bincount(j, w, minlength=4), target, rtol=0.03)  # ... not their sums


def test_frozen_column_keeps_weights_and_threshold_exactly():
    defaultclock.dt = DT
    inp = _poisson_like(10, 100, 0.1, seed=3)
    params = ColumnParams(lateral="kwta", norm_mean=0.3, layer=LIFParams(theta_plus=1 * mV, tau_e=1 * ms))
    net = build_column(inp, 3, params=params, seed=4, dt=DT)
    net.layer.theta = [1.0, 2.0, 3.0] * mV
    set_column_learning(net, input_stdp=False, homeostasis=False)
    mon = SpikeMonitor(net.layer)
    _run(net, inp, mon, duration=100 * ms)
    assert mon.num_spikes > 0
    np.testing.assert_array_equal(net.synapses["input"].w[:], net.weights_init["input"])
    np.testing.assert_array_equal(net.layer.theta[:] / mV, [1.0, 2.0, 3.0])


def test_homeostasis_raises_the_threshold_of_neurons_that_fire():
    defaultclock.dt = DT
    params = ColumnParams(lateral="none", layer=LIFParams(theta_plus=0.5 * mV, tau_theta=1e4 * ms))
    net = build_column(_silent_input(), 2, params=params, input_connect=0.0, seed=0, dt=DT)
    net.layer.I_ext = [0.5, 0.0] * nA
    mon = SpikeMonitor(net.layer)
    _run(net, mon, duration=50 * ms)
    n_spikes = mon.count[0]
    assert n_spikes > 3 and mon.count[1] == 0
    theta = net.layer.theta[:] / mV
    assert theta[1] == 0 and 0.5 * n_spikes * np.exp(-50 / 1e4) <= theta[0] <= 0.5 * n_spikes


def _reward_circuit(teacher_spikes):
    """Layer neuron 0 driven, 1 silent; every class neuron follows the layer; teacher at 49.5 ms."""
    defaultclock.dt = DT
    idx = [c for c, _ in teacher_spikes]
    teacher = SpikeGeneratorGroup(2, idx, [t for _, t in teacher_spikes] * ms, name="teacher")
    params = ColumnParams(
        lateral="none",
        J_class=8 * nA,
        J_mutual=0 * nA,
        w_class_init=0.5,
        rstdp=RSTDPParams(A_plus=0.01, A_minus=0.0, eta=1.0, tau_c=200 * ms),
        reward_dt=DT,
    )
    net = build_column(_silent_input(), 2, 2, 2, params=params, input_connect=0.0, teacher=teacher, seed=0, dt=DT)
    net.layer.I_ext = [0.5, 0.0] * nA
    mon = SpikeMonitor(net.classes)
    c_before = StateMonitor(net.synapses["class"], "c", record=True, when="before_end")
    _run(net, teacher, mon, c_before, duration=50 * ms)
    dw = (np.asarray(net.synapses["class"].w[:]) - net.weights_init["class"]).reshape(2, 4)  # (layer, class neuron)
    return net, mon, dw


def test_rstdp_rewards_the_target_population_and_punishes_the_others():
    net, mon, dw = _reward_circuit([(0, 49.5)])
    assert np.all(mon.count[:] > 2)  # every class neuron co-active with layer neuron 0
    pop0, pop1 = net.population(0), net.population(1)
    assert np.all(dw[0, pop0] > 0.01) and np.all(dw[0, pop1] < -0.01)
    np.testing.assert_allclose(dw[0, pop0], -dw[0, pop1], rtol=0.5)  # +1 and -1 on similar eligibility
    assert np.all(dw[1] == 0)  # the silent layer neuron is not eligible
    np.testing.assert_array_equal(net.synapses["class"].c[:], 0)  # the reward consumed the eligibility
    np.testing.assert_array_equal(net.classes.reward[:], 0)  # and was cleared


def test_rstdp_follows_the_teacher_and_does_nothing_without_one():
    _, _, dw = _reward_circuit([(1, 49.5)])
    assert np.all(dw[0, :2] < 0) and np.all(dw[0, 2:] > 0)
    _, _, dw = _reward_circuit([])
    np.testing.assert_array_equal(dw, 0)


# ------------------------------------------------------------------ parameters and variants


@pytest.mark.parametrize(
    "params, name",
    [
        (dict(lateral="ring"), "lateral"),
        (dict(k_winners=0), "k_winners"),
        (dict(k_winners=2, lateral="none"), "k_winners"),
        (dict(J_ie=-1 * nA), "J_ie"),
        (dict(J_input=1.0), "J_input"),
        (dict(norm_mean=-0.1), "norm_mean"),
        (dict(reward_dt=0 * ms), "reward_dt"),
        (dict(layer=LIFParams(tau_m=-5 * ms)), "layer.tau_m"),
        (dict(stdp_rule="hebb"), "stdp_rule"),
    ],
)
def test_bad_column_parameters_name_themselves(params, name):
    with pytest.raises(ValueError, match=rf"^{name}"):
        ColumnParams(**params).validate()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variants_spread_neurons_and_synapses_as_named(variant):
    model = ColumnClassifier(4, variant=variant, n_per_class=2, cv_neuron=0.5, cv_synapse=0.5)
    net = build_column(_silent_input(6), 4, 2, 2, model.column_params(), seed=1)
    het_n, het_s = VARIANTS[variant]
    for group in (net.layer, net.inhibitory, net.classes):
        tau = np.asarray(group.tau_m[:])
        assert (tau.std() > 0) == het_n, group.name
    for syn, names in ((net.synapses["input"], ("taupre", "A_plus")), (net.synapses["class"], ("taupost", "tau_c"))):
        for name in names:
            assert (np.asarray(getattr(syn, name)[:]).std() > 0) == het_s, (syn.name, name)
    homogeneous = model.column_params().homogeneous()
    assert homogeneous.layer.specs()["tau_m"].cv == 0 and homogeneous.rstdp.specs()["tau_c"].cv == 0
    assert homogeneous.layer.specs()["tau_m"].mean == model.column_params().layer.specs()["tau_m"].mean
    flat = build_column(_silent_input(6), 4, 2, 2, homogeneous, seed=1, name="flat")  # what it says builds
    assert np.ptp(flat.layer.tau_m[:]) == 0 and np.ptp(flat.synapses["class"].tau_c[:]) == 0


# ------------------------------------------------------------------ tiling


def test_tiles_cut_the_frame_into_receptive_fields():
    positions = np.array([(m, r, c) for m in range(2) for r in range(4) for c in range(6)])  # "myx" order
    fields = tile_receptive_fields(positions, (3, 2))
    assert len(fields) == 6
    assert sorted(np.concatenate(fields).tolist()) == list(range(48))  # a partition of every channel
    for t, field in enumerate(fields):
        ty, tx = divmod(t, 3)
        assert set(positions[field, 1]) == {2 * ty, 2 * ty + 1} and set(positions[field, 2]) == {2 * tx, 2 * tx + 1}
        assert set(positions[field, 0]) == {0, 1}  # every polarity
    wide = tile_receptive_fields(positions, (3, 2), overlap=1)
    assert set(positions[wide[0], 2]) == {0, 1, 2} and set(positions[wide[4], 2]) == {1, 2, 3, 4}
    i, j, columns = column_input_connectivity(fields, 5, 1.0, seed=0)
    assert len(i) == 48 * 5 and np.array_equal(columns, np.repeat(np.arange(6), 5))
    for t, field in enumerate(fields):
        assert set(i[columns[j] == t]) == set(field)
    with pytest.raises(ValueError, match="tiles"):
        tile_receptive_fields(positions, (7, 1))


def _stimulus(label, rng, n_steps=100, geometry=True):
    rate = np.zeros(N_CH)
    rate[label * 8 : (label + 1) * 8] = 0.1
    st, idx = np.nonzero(rng.random((n_steps, N_CH)) < rate)
    return SpikeStimulus(idx, st, N_CH, n_steps, 1.0, label=label, meta=dict(GEOMETRY) if geometry else {})


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    X = [_stimulus(k % 2, rng) for k in range(8)]
    X_test = [_stimulus(k % 2, rng) for k in range(8)]
    y = np.array(["left", "right"] * 4)
    return X, y, X_test


def tiny(**kw):
    params = dict(
        n_layer=3,
        tiles=(1, 2),
        n_per_class=3,
        J_in=5.0,  # 8 channels per column at 100 Hz: a strong drive
        w_in=0.15,
        norm_mean=None,
        a_ratio=1.05,
        theta_plus=0.05,
        tau_theta=1e4,
        device="numpy",
        seed=2,
        progress=False,
        gap=50.0,
        dt=1.0,
        snapshots=40,
    )
    params.update(kw)
    return ColumnClassifier(**params)


@pytest.fixture(scope="module")
def fitted(toy):
    X, y, X_test = toy
    model = tiny(seed=np.random.default_rng(2))
    result = model.fit_simulate(X, y, [X_test])
    return model, result


def test_every_input_synapse_of_a_column_lies_in_its_receptive_field(fitted):
    model, _ = fitted
    i, j = model.structure_["input"]
    rows = model.channel_positions_[i, 1]
    assert model.n_layer_total_ == 6 and np.array_equal(model.columns_, np.repeat([0, 1], 3))
    np.testing.assert_array_equal(rows, model.columns_[j])  # column 0 sees row 0 only, column 1 row 1
    assert len(i) == 3 * 8 * 2


def test_tiling_needs_frame_geometry(toy):
    rng = np.random.default_rng(1)
    X = [_stimulus(k % 2, rng, geometry=False) for k in range(2)]
    with pytest.raises(ValueError, match=r"^tiles: \(1, 2\) needs the frame geometry"):
        tiny().fit(X, [0, 1])


# ------------------------------------------------------------------ the classifier


def test_classifier_learns_a_trivially_separable_task(fitted, toy):
    model, result = fitted
    _, y, X_test = toy
    np.testing.assert_array_equal(model.predict_from(result), y)  # held-out clips, every one right
    assert list(model.classes_) == ["left", "right"]
    assert model.reward_accuracy_.shape == (1,)
    counts = result.extra["class_counts"][0]
    # each class population fires for its own class and (almost) never for the other
    own = counts[np.arange(len(y)), (y == "right").astype(int)]
    assert np.all(own > 3 * counts[np.arange(len(y)), (y == "left").astype(int)])


def test_phases_learn_what_they_should_and_extraction_changes_nothing(fitted, toy):
    model, result = fitted
    X, _, _ = toy
    snaps, t = model.snapshots_, model.snapshot_times_
    windows = result.windows
    reward_start = windows[1][0, 0] * model.dt  # ms: first window of the reward phase
    during_stdp, during_reward = t < reward_start - model.gap, t > reward_start
    assert np.abs(np.diff(snaps["input"][during_stdp], axis=0)).max() > 0  # STDP learns ...
    assert np.ptp(snaps["input"][during_reward], axis=0).max() == 0  # ... and stops when rewards come
    np.testing.assert_array_equal(snaps["class"][during_stdp][0], model.weights_init_["class"])
    assert np.abs(model.weights_["class"] - model.weights_init_["class"]).max() > 0.05  # R-STDP learned
    np.testing.assert_array_equal(result.weights["input"], snaps["input"][-1])  # nothing after learning


def test_predict_transform_tokens_and_proba(fitted, toy):
    model, result = fitted
    _, y, X_test = toy
    # a fresh simulation of the frozen network votes as the fit's extraction phase did
    assert model.score(X_test, y) == 1.0  # sklearn's ClassifierMixin through predict
    F = result.features[0]
    assert F.shape == (len(X_test), model.n_features_out_) == (8, 6)
    assert len(model.get_feature_names_out()) == F.shape[1]
    i, steps = result.spikes["layer"]
    np.testing.assert_array_equal(F, binned_counts(i, steps, result.windows[-1], 6, 1))  # spike counts per neuron
    proba = model.proba_from(result)
    assert proba.shape == (8, 2)
    np.testing.assert_allclose(proba.sum(1), 1)
    np.testing.assert_array_equal(model.classes_[proba.argmax(1)], model.predict_from(result))


def test_tokens_are_the_binned_features_per_time_bin(fitted, toy):
    model, result = fitted
    _, _, X_test = toy
    binned = copy.deepcopy(model).set_params(bins=4)  # a presentation parameter: same fitted network
    tokens = binned.tokens(X_test[:2])
    assert tokens.shape == (2, 4, 6)
    np.testing.assert_array_equal(tokens.sum(1), result.features[0][:2])  # bins=1: total counts


def test_population_vote_breaks_ties_by_first_spike_then_lowest_class():
    counts = np.array([[3, 5, 5], [2, 2, 0], [0, 0, 0], [4, 4, 4]])
    first = np.array([[1, 9, 4], [7, 7, NO_SPIKE], [NO_SPIKE] * 3, [5, 2, 2]])
    np.testing.assert_array_equal(population_vote(counts, first), [2, 0, 0, 1])
    np.testing.assert_allclose(vote_proba(counts)[1:3], [[0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3]])


def test_seeded_fits_are_bit_identical(fitted, toy):
    model, _ = fitted
    X, y, _ = toy
    assert isinstance(model.seed_, int)  # the fixture's Generator seed, resolved once
    again = clone(model).set_params(seed=model.seed_).fit(X, y)
    for name in ("input", "class"):
        np.testing.assert_array_equal(again.weights_[name], model.weights_[name])
    np.testing.assert_array_equal(again.theta_, model.theta_)
    np.testing.assert_array_equal(again.reward_accuracy_, model.reward_accuracy_)


def test_sklearn_contract_and_parameter_errors():
    model = ColumnClassifier(7, tiles=(2, 2), variant="HeNHoS")
    params = model.get_params()
    assert params["n_layer"] == 7 and params["tiles"] == (2, 2)
    assert clone(model).get_params() == params
    with pytest.raises(TypeError):
        ColumnClassifier(7, (2, 2))  # hyperparameters after the first are keyword-only
    bad = {
        "n_layer": 0,
        "tiles": (0, 1),
        "p_in": 0.0,
        "variant": "HeN",
        "tau_e": 0.0,
        "lateral": "ring",
        "k_winners": 0,
        "norm_mean": -1.0,
        "epochs_reward": -1,
        "punishment": 2.0,
        "device": "gpu",
    }
    for name, value in bad.items():
        with pytest.raises(ValueError, match=rf"^{name}"):
            clone(model).set_params(**{name: value}).validate_params()
    with pytest.raises(ValueError, match="k_winners"):
        ColumnClassifier(lateral="none", k_winners=1).validate_params()
    with pytest.raises(ValueError, match="tau_e"):
        ColumnClassifier(tau_e=0.2, dt=0.5).validate_params()


def test_fit_checks_labels(toy):
    X, y, _ = toy
    with pytest.raises(ValueError, match="^y: expected 8 labels"):
        tiny().fit(X, y[:3])
    with pytest.raises(ValueError, match="^y: needs at least 2 classes"):
        tiny().fit(X, ["a"] * 8)


def test_state_round_trip_and_strict_load(fitted, toy, tmp_path):
    model, result = fitted
    _, _, X_test = toy
    path = tmp_path / "column.npz"
    model.save_state(path, metadata={"note": "toy"})
    loaded = tiny(device="runtime", progress=True).load_state(path)  # presentation parameters may differ
    for name in ("input", "class"):
        np.testing.assert_array_equal(loaded.weights_[name], model.weights_[name])
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    np.testing.assert_array_equal(loaded.channel_positions_, model.channel_positions_)
    assert loaded.n_features_in_ == N_CH and loaded.n_features_out_ == model.n_features_out_
    with pytest.raises(StateFileError, match="n_layer=3 .this estimator: 4."):
        tiny(n_layer=4).load_state(path)
    with pytest.raises(StateFileError, match="does not fit"), pytest.warns(RuntimeWarning, match="n_layer"):
        tiny(n_layer=4).load_state(path, strict=False)
    from networks.hrsnn import HRSNN

    with pytest.raises(StateFileError, match="not a HRSNN"):
        HRSNN(n=10).load_state(path)


# ------------------------------------------------------------------ devices


@pytest.mark.slow
@pytest.mark.standalone
def test_numpy_and_cpp_standalone_agree(fitted, toy, tmp_path):
    """Every phase (STDP, reward, frozen extraction) in one compiled program gives the numpy result."""
    from cortex.devices import available_devices, cache_dir

    if not available_devices()["cpp_standalone"][0]:
        pytest.skip("no C++ compiler")
    model, result = fitted
    X, y, X_test = toy
    build_dir = (cache_dir() or tmp_path) / "tests" / "cpp_standalone_columns"  # recompiles only what changed
    cpp = clone(model).set_params(device="cpp_standalone", build_dir=str(build_dir), seed=model.seed_)
    cpp_result = cpp.fit_simulate(X, y, [X_test])
    for name in ("input", "class"):
        np.testing.assert_allclose(cpp.weights_[name], model.weights_[name], rtol=0, atol=1e-12)
    np.testing.assert_allclose(cpp.theta_, model.theta_, atol=1e-9)
    np.testing.assert_array_equal(cpp_result.features[0], result.features[0])
    np.testing.assert_array_equal(cpp_result.extra["class_counts"][0], result.extra["class_counts"][0])
    np.testing.assert_array_equal(cpp.predict_from(cpp_result), y)


# ------------------------------------------------------------------ figures


def test_receptive_field_images_put_each_weight_on_its_pixel():
    from analysis.receptive_fields import mosaic, receptive_field_images

    positions = np.array([(m, r, c) for m in range(2) for r in range(2) for c in range(3)])
    i, j = np.array([0, 5, 7, 11]), np.array([0, 0, 1, 1])
    images = receptive_field_images(np.array([0.1, 0.2, 0.3, 0.4]), i, j, positions, 2)
    assert images.shape == (2, 2, 2, 3)
    assert images[0, 0, 0, 0] == 0.1 and images[0, 0, 1, 2] == 0.2
    assert images[1, 1, 0, 1] == 0.3 and images[1, 1, 1, 2] == 0.4
    assert np.isnan(images).sum() == 24 - 4  # no synapse: blank
    grid = mosaic(images[:, 0], n_cols=2)
    assert grid.shape == (2, 7) and np.all(np.isnan(grid[:, 3]))


def test_column_figures_draw_what_the_model_learned(fitted, toy):
    import matplotlib.pyplot as plt

    from analysis.receptive_fields import plot_class_raster, plot_column_receptive_fields, plot_reward_dynamics

    model, result = fitted
    _, y, _ = toy
    fig, data = plot_column_receptive_fields(model)
    assert data["n_neurons"] == 6 and data["mosaics"][0].shape == (2 * 2 + 1, 8 * 3 + 2)  # 2 x 3 images
    plt.close(fig)
    fig, data = plot_class_raster(
        result.spikes["classes"],
        result.windows[-1],
        np.searchsorted(model.classes_, y),
        n_classes=2,
        n_per_class=3,
        dt=1.0,
    )
    np.testing.assert_array_equal(data["counts"], result.extra["class_counts"][0])
    plt.close(fig)
    fig, data = plot_reward_dynamics(model)
    assert data["mean_weight"].shape == (len(model.snapshot_times_), 2)
    plt.close(fig)
