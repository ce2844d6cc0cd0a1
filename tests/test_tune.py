"""``spikevid tune``: an SQLite study on the training split only, continued by a second call, best.yaml reproduces."""

from __future__ import annotations

import json

import pytest
import yaml
from test_experiment import TINY

from spikevid.cli import main
from spikevid.experiments import data
from spikevid.experiments.config import load_config, resolve_config
from spikevid.experiments.runner import feature_bins, run_experiment

pytest.importorskip("optuna")


@pytest.fixture
def no_test_split(monkeypatch):
    """A dataset loader whose test split cannot be listed: tuning must never ask for it."""
    real = data.get_dataset

    def guarded(*args, **kwargs):
        ds = real(*args, **kwargs)
        split = ds.split

        def train_only(name, **options):
            if name == TINY_CFG["dataset"]["split"]["test"]:
                raise AssertionError("the test split was listed while tuning")
            return split(name, **options)

        ds.split = train_only
        return ds

    monkeypatch.setattr(data, "get_dataset", guarded)


TINY_CFG = resolve_config(TINY, ["readout.cv=2"])


def test_tune_writes_a_study_continues_it_and_best_yaml_reproduces_its_score(tmp_path, no_test_split):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_CFG))
    out = tmp_path / "study"
    args = ["tune", str(config), "--out", str(out), "--trials", "3", "--sampler", "tpe"]
    assert main(args) == 0
    assert all((out / f).is_file() for f in ("study.db", "history.png", "tau_m.png", "importances.png"))
    first = json.loads((out / "tune.json").read_text())
    assert first["n_trials"] == 3 and first["sampler"] == "tpe"
    assert main([*args[:-3], "2", "--sampler", "tpe"]) == 0  # the same study, two more trials
    summary = json.loads((out / "tune.json").read_text())
    assert summary["n_trials"] == 5
    assert [t["params"] for t in summary["trials"][:3]] == [t["params"] for t in first["trials"]]
    best = summary["best"]
    tuned = load_config(out / "best.yaml")
    for key, value in best["params"].items():
        section, name = key.split(".")
        assert tuned[section][name] == ([value, value] if name == "rf_tiles" else value)
    assert (out / "best.yaml").read_text().startswith("# tuned by spikevid tune: CV accuracy")


def test_best_yaml_gives_the_tuned_cv_accuracy_in_a_run(tmp_path):
    from spikevid.experiments.tuning import tune

    summary = tune(TINY_CFG, tmp_path / "study", trials=2, sampler="tpe", log=lambda *_: None)
    best = load_config(tmp_path / "study" / "best.yaml")
    m = run_experiment(best, tmp_path / "run")
    assert m["readouts"]["reservoir"]["cv"]["mean"] == pytest.approx(summary["best"]["value"])
    # the study's input baseline is the run's, bins for bins: the same folds, the same readout
    base = summary["input_baseline"]
    assert base["config_bins"] == feature_bins(TINY_CFG, "input")
    assert sorted(map(int, base["by_bins"])) == [*range(1, 9)]
    assert m["readouts"]["input"]["cv"]["mean"] == pytest.approx(base["by_bins"][str(feature_bins(best, "input"))])


def test_a_study_of_another_config_is_refused(tmp_path):
    from spikevid.experiments.config import ConfigError
    from spikevid.experiments.tuning import tune

    tune(TINY_CFG, tmp_path, trials=1, sampler="tpe", log=lambda *_: None)
    with pytest.raises(ConfigError, match="holds a study of another config"):
        tune(resolve_config(TINY_CFG, ["model.n=31"]), tmp_path, trials=1, sampler="tpe", log=lambda *_: None)
    with pytest.raises(ConfigError, match="needs cross-validation folds"):
        tune(resolve_config(TINY, ["readout.cv=none"]), tmp_path / "other", trials=1, log=lambda *_: None)


def test_drawn_parameters_become_a_valid_config():
    from spikevid.experiments.tuning import SEARCH_SPACE, UNIFORM_MAX_CV, apply_params

    cfg = apply_params(TINY_CFG, {"model.neuron_dist": "uniform", "model.cv_neuron": 1.2, "model.rf_tiles": 3})
    assert cfg["model"]["cv_neuron"] == UNIFORM_MAX_CV and cfg["model"]["rf_tiles"] == [3, 3]
    assert apply_params(TINY_CFG, {"model.neuron_dist": "gamma", "model.cv_neuron": 1.2})["model"]["cv_neuron"] == 1.2
    assert all(key.startswith("model.") for key in SEARCH_SPACE)


@pytest.mark.parametrize("kind", ["processes", pytest.param("dask", marks=pytest.mark.slow)])
def test_workers_share_one_study(kind, tmp_path):
    """Two workers (local processes, or a local Dask cluster) add their trials to the same SQLite study."""
    from spikevid.executors import make_executor
    from spikevid.experiments.tuning import tune

    if kind == "dask":
        pytest.importorskip("distributed")
    lines = []
    with make_executor(kind, workers=2) as executor:
        summary = tune(TINY_CFG, tmp_path / "study", trials=3, sampler="tpe", executor=executor, log=lines.append)
    assert "on 2 workers" in lines[0]
    assert summary["n_trials"] == 3 and sorted(t["number"] for t in summary["trials"]) == [0, 1, 2]
    assert all(t["state"] in ("complete", "pruned") for t in summary["trials"])
    assert (tmp_path / "study" / "best.yaml").is_file()


def test_several_networks_per_trial(tmp_path):
    """``--seeds 2``: a trial fits networks of seeds s and s+1 and pools them; the first scores as one network."""
    from spikevid.experiments.config import ConfigError
    from spikevid.experiments.tuning import tune

    one = tune(TINY_CFG, tmp_path / "one", trials=1, sampler="tpe", log=lambda *_: None)
    two = tune(TINY_CFG, tmp_path / "two", trials=1, sampler="tpe", networks=2, log=lambda *_: None)
    (a,), (b,) = one["trials"], two["trials"]
    assert a["params"] == b["params"]  # the same first draw
    assert len(b["cv_per_seed"]) == 2 and b["cv_per_seed"][0] == pytest.approx(a["value"])
    assert b["value"] == pytest.approx(sum(b["cv_per_seed"]) / 2)  # equal folds: pooled = mean
    assert two["networks_per_trial"] == 2 and "pooled over 2 networks" in (tmp_path / "two" / "best.yaml").read_text()
    with pytest.raises(ConfigError, match="another config or --seeds"):
        tune(TINY_CFG, tmp_path / "one", trials=1, sampler="tpe", networks=2, log=lambda *_: None)
