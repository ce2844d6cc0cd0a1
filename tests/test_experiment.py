"""The experiment runner and its config: end to end, resume, clear errors."""

import json

import numpy as np
import pytest
import yaml

from analysis.report import summary_table
from networks.hrsnn import HRSNN
from spikevid.cli import main as cli_main
from spikevid.experiments.config import ConfigError, load_config, resolve_config
from spikevid.experiments.runner import run_experiment

TINY = {
    "dataset": {"name": "synthetic", "options": {"n_subjects": 3, "scenarios": [1], "seed": 0, "n_frames": 12}},
    "encoder": {"name": "delta", "params": {"threshold": 0.25, "pool": 8, "frame_duration": 10.0, "dt": 1.0}},
    "model": {
        "kind": "hrsnn",
        "n": 30,
        "device": "numpy",
        "seed": 1,
        "J_in": 3.0,
        "p_in": 0.3,
        "gap": 10.0,
        "snapshots": 3,
    },
    "readout": {"kind": "logistic", "scale": "log"},
    "run": {"chunk": 4, "progress": False},
}
STABLE = (
    "test_accuracy",
    "train_accuracy",
    "n_train",
    "n_test",
    "classes",
    "confusion_matrix",
    "spikes_per_neuron_per_sample",
    "synaptic_events_per_sample",
    "baseline",
    "test_predictions",
)


def _stable(m):
    return {k: m[k] for k in STABLE}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    return out, run_experiment(resolve_config(TINY), out)


def test_end_to_end_outputs(reference):
    out, m = reference
    for name in ("config.yaml", "log.txt", "metrics.json", "model.npz", "features.npz", "raster.npz"):
        assert (out / name).is_file(), name
    assert m["n_train"] == 12 and m["n_test"] == 6 and len(m["classes"]) == 6
    assert 0 <= m["test_accuracy"] <= 1 and np.sum(m["confusion_matrix"]) == 6
    assert set(m["seconds"]) == {"encode", "train", "extract", "readout"}
    assert m["spikes_per_neuron_per_sample"] > 0
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(m))
    z = np.load(out / "features.npz")
    assert z["X_train_reservoir"].shape == (12, 30 * 4) and z["X_test_input"].shape[0] == 6
    n_in = z["X_train_input"].shape[1] // 4
    joined = z["X_train_reservoir+input"].reshape(12, 4, 30 + n_in)  # joined bin by bin
    np.testing.assert_array_equal(joined[:, :, :30], z["X_train_reservoir"].reshape(12, 4, 30))
    np.testing.assert_array_equal(joined[:, :, 30:], z["X_train_input"].reshape(12, 4, n_in))
    assert list(m["readouts"]) == ["reservoir", "input", "reservoir+input"]
    assert m["readouts"]["reservoir+input"]["n_features"] == 4 * (30 + n_in)
    table = summary_table(m).splitlines()
    assert "input counts (no SNN)" in table[-3] and "and input counts + logistic" in table[-2]
    assert yaml.safe_load((out / "config.yaml").read_text())["model"]["n"] == 30
    model = HRSNN(**{k: v for k, v in TINY["model"].items() if k != "kind"}).load_state(out / "model.npz")
    assert set(model.weights_) == {"in_exc", "ee"} and model.snapshots_["ee"].shape[0] >= 2


def test_resume_after_interruption_gives_the_same_metrics(reference, tmp_path, monkeypatch):
    _, ref = reference
    calls = {"n": 0}
    real = HRSNN.simulate

    def flaky(self, X):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated interruption")
        return real(self, X)

    monkeypatch.setattr(HRSNN, "simulate", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(resolve_config(TINY), tmp_path)
    assert not (tmp_path / "metrics.json").exists()
    done = sorted(p.name for p in (tmp_path / "features").glob("*.npz"))
    assert done == ["train_0000.npz", "train_0001.npz"]
    mtimes = {p: (tmp_path / "features" / p).stat().st_mtime_ns for p in done}
    monkeypatch.setattr(HRSNN, "simulate", real)
    calls["n"] = 0
    counted = {"n": 0}

    def counting(self, X):
        counted["n"] += 1
        return real(self, X)

    monkeypatch.setattr(HRSNN, "simulate", counting)
    m = run_experiment(resolve_config(TINY), tmp_path)
    assert counted["n"] == 3  # train chunk 3 and both test chunks; nothing finished is redone
    assert {p: (tmp_path / "features" / p).stat().st_mtime_ns for p in done} == mtimes
    assert "reused the trained model" in (tmp_path / "log.txt").read_text()
    assert _stable(m) == _stable(ref)


def test_clips_read_from_the_cache_give_the_same_results(reference, tmp_path):
    """``run.memory_mb: 0``: every clip is read from the stimulus cache when used, nothing held."""
    _, ref = reference
    m = run_experiment(resolve_config(TINY, ["run.memory_mb=0"]), tmp_path)
    assert _stable(m) == _stable(ref)
    log = (tmp_path / "log.txt").read_text()
    assert f"0 of 18 clips held in memory (run.memory_mb 0); the others are read from {tmp_path / 'cache'}" in log


def test_readouts_are_cross_validated_on_the_training_split_only(reference, tmp_path):
    """``readout.cv``: the same features, the readout refitted per fold; the numbers a hand loop gives."""
    import shutil

    from sklearn.model_selection import StratifiedKFold

    from networks.readouts import make_readout
    from spikevid.experiments.crossval import cv_folds

    out, ref = reference
    shutil.copytree(out, tmp_path / "run")
    m = run_experiment(resolve_config(TINY, ["readout.cv=2"]), tmp_path / "run")  # features reused
    assert ref["cv"].startswith("none (no subjects") and m["cv"] == "stratified 2-fold"
    assert _stable(m) == _stable(ref)
    z = np.load(tmp_path / "run" / "features.npz")
    y = z["y_train"]
    for name in ("reservoir", "input", "reservoir+input"):
        X, hits = z[f"X_train_{name}"], 0
        for tr, te in StratifiedKFold(2, shuffle=True, random_state=1).split(X, y):
            clf = make_readout("logistic", scale="log", seed=1, n_tokens=4).fit(X[tr], y[tr])
            hits += int((clf.predict(X[te]) == y[te]).sum())
        assert m["readouts"][name]["cv"]["mean"] == pytest.approx(hits / len(y))
        assert len(m["readouts"][name]["cv"]["folds"]) == 2
    assert "CV on train split" in summary_table(m) and "stratified 2-fold" in summary_table(m)
    y6 = np.repeat(np.arange(3), 2)
    assert cv_folds("auto", y6, None)[0] == [] and "smallest class has 2" in cv_folds("auto", y6, None)[1]
    folds, how = cv_folds("auto", y6, ["a", "a", "b", "b", "c", "c"])
    assert how == "leave-one-subject-out (3 subjects)" and [sorted(te) for _, te in folds] == [[0, 1], [2, 3], [4, 5]]
    assert cv_folds("auto", np.repeat(np.arange(2), 5), None)[1] == "stratified 5-fold"
    assert cv_folds("auto", np.repeat(np.arange(2), 5), None, readout="attention")[0] == []
    with pytest.raises(ValueError, match="readout.cv: 'subject' needs the subject"):
        cv_folds("subject", y6, [None] * 6)
    with pytest.raises(ValueError, match="readout.cv: 3 folds need 3 training clips of every class"):
        cv_folds(3, y6, None)


def test_a_different_config_is_refused_on_the_same_dir(reference):
    out, _ = reference
    with pytest.raises(ConfigError, match="model.n"):
        run_experiment(resolve_config(TINY, ["model.n=31"]), out)


def test_input_baseline_model_kind(tmp_path):
    m = run_experiment(resolve_config(TINY, ["model.kind=input"]), tmp_path)
    assert m["model"]["kind"] == "input" and "baseline" not in m
    assert not (tmp_path / "model.npz").exists()


def test_train_fraction_is_stratified(tmp_path):
    m = run_experiment(resolve_config(TINY, ["model.kind=input", "dataset.train_fraction=0.5"]), tmp_path)
    assert m["n_train"] == 6  # one of the two clips of each of the six classes


@pytest.mark.parametrize(
    "override, msg",
    [
        ("model.tau_mem=3", "unknown config key 'model.tau_mem'"),
        ("dataset.nmae=x", "unknown config key 'dataset.nmae'"),
        ("readout.kind=forest", "'readout.kind': expected one of"),
        ("model.variant=HeN", "model.variant: expected one of"),
        ("run.chunk=0", "'run.chunk': must be an integer >= 1"),
        ("dataset.train_fraction=0", "train_fraction"),
        ("bogus.x=1", "unknown config key 'bogus'"),
    ],
)
def test_config_errors_name_the_key(override, msg, tmp_path):
    with pytest.raises(ConfigError, match=msg):
        resolve_config(TINY, [override])


def test_cli_run_and_errors(tmp_path, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    assert cli_main(["run", str(cfg), "--out", str(tmp_path / "out"), "--set", "model.kind=input"]) == 0
    assert (tmp_path / "out" / "metrics.json").exists()
    assert "test acc" in capsys.readouterr().err
    assert cli_main(["run", str(cfg), "--out", str(tmp_path / "o2"), "--set", "model.nn=3"]) == 2
    assert "unknown config key 'model.nn'" in capsys.readouterr().err
    bad = dict(TINY, dataset={"name": "weizmann", "root": str(tmp_path / "missing")})
    cfg.write_text(yaml.safe_dump(bad))
    assert cli_main(["run", str(cfg), "--out", str(tmp_path / "o3")]) == 2
    assert "missing" in capsys.readouterr().err
    assert cli_main(["run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o4")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_shipped_configs_resolve():
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml")):
        cfg = load_config(path)
        assert cfg["dataset"]["name"]


def test_attention_readout_on_the_time_bins(reference, tmp_path):
    """readout.kind attention reads the reservoir and input features as bins x features tokens."""
    ref_out, _ = reference
    cfg = resolve_config(
        TINY,
        ["readout.kind=attention", "readout.attention={width: 8, max_epochs: 5, early_stopping: false}"],
    )
    m = run_experiment(cfg, tmp_path)
    assert 0.0 <= m["test_accuracy"] <= 1.0 and 0.0 <= m["baseline"]["test_accuracy"] <= 1.0
    with np.load(tmp_path / "features.npz") as z, np.load(ref_out / "features.npz") as r:
        assert np.array_equal(z["X_train_reservoir"], r["X_train_reservoir"])  # the readout alone differs
    with np.load(tmp_path / "attention.npz") as a:
        n_test, n_classes, bins = m["n_test"], len(m["classes"]), HRSNN().bins
        assert a["reservoir_per_clip"].shape == (1, n_test, bins)  # one block, every test clip
        assert np.allclose(a["reservoir_per_clip"].sum(axis=-1), 1.0)  # a distribution over time bins
        assert a["input_per_class"].shape == (1, n_classes, bins)
    assert cli_main(["plot", "attention", str(tmp_path)]) == 0
    assert (tmp_path / "figures" / "attention.png").stat().st_size > 5000
    with pytest.raises(ConfigError, match="unknown config key 'readout.attention.widht'"):
        resolve_config(TINY, ["readout.kind=attention", "readout.attention={widht: 8}"])
    with pytest.raises(ConfigError, match="'readout.attention.n_tokens' is set by the run"):
        resolve_config(TINY, ["readout.attention={n_tokens: 3}"])
