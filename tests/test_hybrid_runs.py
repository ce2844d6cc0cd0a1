"""Hybrid runs through the runner (``model.kind: hybrid``) and the hybrid ablation."""

import copy
import json

import numpy as np
import pytest

from networks.hybrid import MODES
from spikevid.experiments.config import ConfigError, resolve_config
from spikevid.experiments.runner import run_experiment
from spikevid.experiments.studies import hybrid_study

HYBRID = {
    "dataset": {"name": "synthetic", "options": {"n_subjects": 3, "scenarios": [1], "seed": 0, "n_frames": 12}},
    "encoder": {
        "name": "residual",
        "params": {
            "stride": 4,
            "gain": 4.0,
            "pool": 4,
            "inner": {"name": "poisson", "max_rate": 200.0, "frame_duration": 10.0, "dt": 1.0},
        },
    },
    "model": {
        "kind": "hybrid",
        "branch": "hrsnn",
        "scales": [2, 1],
        "network": {"n": 30, "device": "numpy", "seed": 1, "J_in": 1.0, "gap": 10.0, "bins": 3, "snapshots": 3},
    },
    "readout": {
        "kind": "logistic",
        "scale": "log",
        "hybrid": {"mode": "concat", "width": 8, "n_heads": 2, "max_epochs": 5, "early_stopping": False},
    },
    "run": {"chunk": 4, "progress": False},
}
STABLE = ("test_accuracy", "train_accuracy", "confusion_matrix", "test_predictions", "readouts", "baseline", "model")


@pytest.fixture(scope="module")
def hybrid_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("hybrid")
    return out, run_experiment(resolve_config(HYBRID), out)


def test_hybrid_run_reports_every_mode_beside_the_branch_and_the_baseline(hybrid_run):
    out, m = hybrid_run
    assert m["model"]["kind"] == "hybrid" and m["model"]["branch"] == "hrsnn"
    assert m["model"]["result"] == "hybrid_concat" and m["model"]["scales"] == [2, 1]
    assert set(m["readouts"]) == {"reservoir", "input", "reservoir+input"} | {f"hybrid_{mode}" for mode in MODES}
    assert m["test_accuracy"] == m["readouts"]["hybrid_concat"]["test_accuracy"]
    assert m["baseline"]["test_accuracy"] == m["readouts"]["input"]["test_accuracy"]
    with np.load(out / "hybrid_tokens.npz") as z:
        # spike tokens: one per time bin of the 30 reservoir neurons; frame tokens: g x g cells per scale
        assert z["spike_train"].shape == (m["n_train"], 3, 30) and z["spike_test"].shape == (m["n_test"], 3, 30)
        assert z["frames_train_2"].shape[:2] == (m["n_train"], 4) and z["frames_test_1"].shape[:2] == (m["n_test"], 1)
        assert z["scales"].tolist() == [2, 1]
    with np.load(out / "features.npz") as z:
        assert np.array_equal(
            z["X_train_reservoir"].reshape(m["n_train"], 3, 30), np.load(out / "hybrid_tokens.npz")["spike_train"]
        )


def test_hybrid_run_resumes_to_the_same_metrics(hybrid_run):
    out, first = hybrid_run
    (out / "metrics.json").unlink()
    again = run_experiment(resolve_config(HYBRID), out)
    assert {k: again[k] for k in STABLE} == {k: first[k] for k in STABLE}
    log = (out / "log.txt").read_text()
    assert "reused the trained model" in log and "cache hits 18" in log  # key frames come back from the cache


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("encoder",), {"name": "delta", "params": {}}, "must be residual"),
        (("model", "branch"), "lsm", "'model.branch' must be one of"),
        (("model", "network"), {"n_layer": 5}, "unknown config key 'model.network.n_layer'"),
        (("model", "n"), 30, "unknown config key 'model.n'"),
        (("model", "scales"), [0], "model.scales"),
        (("model", "frames"), {"scales": [2]}, "set by 'model.scales'"),
        (("model", "frames"), {"hog_bins": 1}, "model.frames.hog_bins"),
        (("readout", "hybrid"), {"mode": "both"}, "readout.hybrid.mode"),
        (("readout", "hybrid"), {"random_state": 3}, "set by the run"),
    ],
)
def test_hybrid_config_errors_name_the_key(path, value, message):
    cfg = copy.deepcopy(HYBRID)
    node = cfg
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError, match=message):
        resolve_config(cfg)


def test_an_impossible_early_stopping_split_fails_before_the_simulation(tmp_path):
    cfg = copy.deepcopy(HYBRID)  # 12 training clips of 6 classes
    cfg["readout"]["hybrid"].update(early_stopping=True, validation_fraction=0.25)
    with pytest.raises(
        ConfigError, match=r"'readout.hybrid.validation_fraction' 0.25: .* 3 of 12 training clips for 6"
    ):
        run_experiment(resolve_config(cfg), tmp_path)
    assert not (tmp_path / "model.npz").exists()  # nothing simulated
    cfg["readout"]["hybrid"]["validation_fraction"] = 0.5  # 6 held out, 6 left: one per class each side
    cfg["readout"]["kind"] = "attention"
    cfg["readout"]["attention"] = {"validation_fraction": 0.1}
    with pytest.raises(ConfigError, match="'readout.attention.validation_fraction' 0.1"):
        run_experiment(resolve_config(cfg), tmp_path)


def test_readout_hybrid_is_refused_for_other_models():
    with pytest.raises(ConfigError, match="'readout.hybrid' configures the classifier of model.kind hybrid"):
        resolve_config({"dataset": {"name": "images"}, "readout": {"hybrid": {"mode": "cross"}}})


@pytest.mark.slow  # two hybrid runs (~1 min): kept out of the default tier's 15 minutes
def test_hybrid_study_summarises_every_mode_over_seeds(tmp_path):
    summary = hybrid_study(resolve_config(HYBRID), tmp_path, seeds=2, jobs=1, progress=False)
    assert summary["n_finished"] == 2 and sorted(summary["seeds"]) == [0, 1]
    assert set(summary["readouts"]) == {"reservoir", "input", "reservoir+input"} | {f"hybrid_{mode}" for mode in MODES}
    for k in (0, 1):
        m = json.loads((tmp_path / f"seed{k}" / "metrics.json").read_text())
        assert m["model"]["seed"] == k
        for name, g in summary["readouts"].items():
            assert g["accuracy_per_seed"][k] == m["readouts"][name]["test_accuracy"]
    for name in ("hybrid.json", "hybrid.md", "hybrid.png", "report.md"):
        assert (tmp_path / name).is_file(), name
    assert "ReSpike hybrid, both, cross-attention" in (tmp_path / "hybrid.md").read_text()
    with pytest.raises(ConfigError, match="model.kind: hybrid"):
        hybrid_study(resolve_config({"dataset": {"name": "images"}}), tmp_path / "other", seeds=1)
