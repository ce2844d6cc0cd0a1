"""Column runs through the runner (``model.kind: column``), their figures, and the encoding study."""

import copy
import json

import numpy as np
import pytest

from analysis.report import result_rows, run_figures
from networks.column import ColumnClassifier
from spikevid.cli import main as cli_main
from spikevid.experiments.config import ConfigError, resolve_config
from spikevid.experiments.runner import run_experiment
from spikevid.experiments.studies import encoder_params, encoder_study

COLUMN = {
    "dataset": {"name": "synthetic", "options": {"n_subjects": 3, "scenarios": [1], "seed": 0, "n_frames": 12}},
    "encoder": {"name": "delta", "params": {"threshold": 0.25, "pool": 8, "frame_duration": 10.0, "dt": 1.0}},
    "model": {
        "kind": "column",
        "n_layer": 6,
        "tiles": [2, 2],
        "n_per_class": 2,
        "J_in": 3.0,
        "device": "numpy",
        "gap": 10.0,
        "dt": 1.0,
        "seed": 2,
        "snapshots": 3,
    },
    "readout": {"kind": "populations", "scale": "log"},
    "run": {"chunk": 4, "progress": False},
}
#: metrics.json entries that must come back identical after a resume.
STABLE = ("test_accuracy", "train_accuracy", "confusion_matrix", "test_predictions", "readouts", "baseline", "model")


@pytest.fixture(scope="module")
def column_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("column")
    return out, run_experiment(resolve_config(COLUMN), out)


def test_column_run_reports_the_vote_beside_the_layer_readout_and_the_baseline(column_run):
    out, m = column_run
    for name in ("model.npz", "features.npz", "raster.npz", "metrics.json"):
        assert (out / name).is_file(), name
    assert m["model"]["kind"] == "column" and m["model"]["result"] == "populations"
    assert m["model"]["tiles"] == [2, 2]
    assert set(m["readouts"]) == {"populations", "column", "input", "column+input"}
    assert m["test_accuracy"] == m["readouts"]["populations"]["test_accuracy"]
    assert m["readouts"]["column"]["readout"] == "logistic"
    assert m["baseline"]["test_accuracy"] == m["readouts"]["input"]["test_accuracy"]
    # the vote is recomputed from the chunk files: population counts -> classes
    model = ColumnClassifier(**{k: v for k, v in COLUMN["model"].items() if k != "kind"}).load_state(out / "model.npz")
    assert m["n_features"] == len(model.classes_) * 2
    assert m["readouts"]["column"]["n_features"] == model.n_layer_total_ == 24
    with np.load(out / "features.npz") as z:
        assert z["X_test_column"].shape == (m["n_test"], 24)
    assert len(m["reward_accuracy"]) == 1 and 0 <= m["reward_accuracy"][0] <= 1
    assert result_rows(m)[0][0].endswith("class populations (R-STDP vote)")


def test_column_run_resumes_to_the_same_metrics(column_run):
    out, first = column_run
    (out / "metrics.json").unlink()
    (out / "features" / "test_0001.npz").unlink()  # as if interrupted during extraction
    again = run_experiment(resolve_config(COLUMN), out)
    assert {k: again[k] for k in STABLE} == {k: first[k] for k in STABLE}
    log = (out / "log.txt").read_text()
    assert "reused the trained model" in log and "reused test_0000.npz" in log


def test_column_run_with_another_readout_reports_the_layer(tmp_path, column_run):
    cfg = copy.deepcopy(COLUMN)
    cfg["readout"] = {"kind": "attention", "attention": {"max_epochs": 3, "early_stopping": False}}
    m = run_experiment(resolve_config(cfg), tmp_path)
    assert m["model"]["result"] == "column" and m["readouts"]["column"]["readout"] == "attention"
    assert m["test_accuracy"] == m["readouts"]["column"]["test_accuracy"]
    with np.load(tmp_path / "attention.npz") as z:  # the attention readout's maps, for spikevid plot attention
        assert z["column_per_clip"].shape[1:] == (m["n_test"], 1)  # (blocks, clips, time bins)
    # the same network (seed) votes the same way whatever reads its layer
    assert m["readouts"]["populations"] == column_run[1]["readouts"]["populations"]


def test_plot_all_draws_the_column_figures(column_run):
    out, m = column_run
    made = run_figures(out, strict=False)
    assert {"raster", "receptive_fields", "reward", "confusion", "weights_input", "weights_class"} <= set(made)
    assert "activity" not in made  # a reservoir's figure
    fields = made["receptive_fields"][1]
    assert fields["n_neurons"] == 24
    raster = made["raster"][1]
    assert raster["class_counts"].shape[1] == len(m["classes"])
    assert raster["winners"].tolist() == m["test_predictions"][:3]  # the figure's vote is the run's
    with pytest.raises(ValueError, match="need a hrsnn run"):
        run_figures(out, ["activity"])
    assert cli_main(["plot", "all", str(out)]) == 0
    assert "Learned receptive fields" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": {"kind": "hrsnn", "n": 20}, "readout": {"kind": "populations"}}, "readout.kind' populations"),
        ({"model": {"kind": "column", "n": 20}}, "unknown config key 'model.n'"),
        ({"model": {"kind": "hrsnn", "n_layer": 20}}, "unknown config key 'model.n_layer'"),
        ({"model": {"kind": "column", "tiles": [0, 2]}}, "tiles"),
        ({"model": {"kind": "input", "n": 20, "n_layer": 20}}, "mixes keys of different models"),
        ({"model": {"kind": "colum"}}, "'model.kind' must be one of"),
    ],
)
def test_column_config_errors_name_the_key(change, message):
    cfg = {"dataset": {"name": "images"}, **change}
    with pytest.raises(ConfigError, match=message):
        resolve_config(cfg)


def test_encoder_params_share_timing_and_take_settings():
    cfg = resolve_config(COLUMN)
    assert encoder_params(cfg, "delta") == COLUMN["encoder"]["params"]
    assert encoder_params(cfg, "poisson") == {"frame_duration": 10.0, "dt": 1.0}
    assert encoder_params(cfg, "poisson", ["poisson.max_rate=300", "ttfs.threshold=0.2"])["max_rate"] == 300
    with pytest.raises(ConfigError, match="encoder poisson"):
        encoder_params(cfg, "poisson", ["poisson.bogus=1"])


@pytest.mark.slow  # two column runs (~1.5 min): kept out of the default tier's 15 minutes
def test_encoder_study_runs_each_applicable_encoder_and_skips_the_rest(tmp_path, capsys):
    cfg = resolve_config(COLUMN)
    summary = encoder_study(cfg, tmp_path, encoders=["delta", "ttfs", "events"], seeds=1, jobs=1, progress=False)
    assert set(summary["encoders"]) == {"delta", "ttfs"}
    assert "events" in summary["skipped"] and "does not apply" in summary["skipped"]["events"]
    assert "skipping events" in capsys.readouterr().err
    for name in ("encoders.json", "encoders.md", "encoders.png", "report.md"):
        assert (tmp_path / name).is_file(), name
    for enc in ("delta", "ttfs"):
        m = json.loads((tmp_path / enc / "seed0" / "metrics.json").read_text())
        assert m["encoder"] == enc
        s = summary["encoders"][enc]
        assert s["accuracy_per_seed"] == [m["test_accuracy"]]
        assert s["baseline"]["accuracy_per_seed"] == [m["baseline"]["test_accuracy"]]
    # the two encoders give different input channels: a frame code per pixel, ON/OFF events pooled
    assert summary["encoders"]["ttfs"]["n_input"] != summary["encoders"]["delta"]["n_input"]
    table = (tmp_path / "encoders.md").read_text()
    assert "| events | skipped:" in table
    again = encoder_study(cfg, tmp_path, encoders=["delta", "ttfs", "events"], seeds=1, jobs=1, progress=False)
    assert again["run"]["executed"] == [] and len(again["run"]["skipped"]) == 2


def test_encoder_study_rejects_unknown_encoders_and_settings(tmp_path):
    cfg = resolve_config(COLUMN)
    with pytest.raises(ConfigError, match="unknown encoder"):
        encoder_study(cfg, tmp_path, encoders=["delta", "morse"], seeds=1, jobs=1)
    with pytest.raises(ConfigError, match="not one of the study's encoders"):
        encoder_study(cfg, tmp_path, encoders=["delta"], seeds=1, jobs=1, settings=["poisson.max_rate=10"])
