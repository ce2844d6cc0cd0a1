"""Multi-run studies (spikevid.experiments.studies, analysis.summaries): grid, resumption, summaries, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from analysis.summaries import mean_ci
from spikevid.cli import main
from spikevid.experiments.studies import ABLATION_VARIANTS, ablation_cells, heterogeneity_ablation, train_fraction_study

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "model.device=numpy",
    "model.n=20",
    "model.J_in=3.0",
    "model.snapshots=3",
    "dataset.options.n_subjects=3",
    "dataset.options.scenarios=[1]",
    "dataset.options.n_frames=8",
    "dataset.options.actions=[boxing,walking]",
    "dataset.max_per_class=2",
    "encoder.params.pool=8",
    "run.progress=false",
]


@pytest.fixture(scope="module")
def base_cfg():
    from spikevid.experiments.config import resolve_config

    return resolve_config(yaml.safe_load((REPO / "configs" / "demo.yaml").read_text()), TINY)


@pytest.fixture(scope="module")
def ablation_cfg(base_cfg):
    """The tiny config, its readouts also 2-fold cross-validated on the training split."""
    from spikevid.experiments.config import resolve_config

    return resolve_config(base_cfg, ["readout.cv=2"])


@pytest.fixture(scope="module")
def ablation(ablation_cfg, tmp_path_factory):
    out = tmp_path_factory.mktemp("ablation")
    summary = heterogeneity_ablation(ablation_cfg, out, seeds=1, jobs=2, progress=False)
    return out, summary


def test_mean_ci_t_distribution():
    from scipy import stats

    r = mean_ci([0.5, 0.7, 0.9])
    assert r["n"] == 3 and r["mean"] == pytest.approx(0.7) and r["std"] == pytest.approx(0.2)
    half = stats.t.ppf(0.975, 2) * 0.2 / np.sqrt(3)
    assert r["ci"] == pytest.approx([0.7 - half, 0.7 + half])
    assert mean_ci([0.4])["ci"] is None and mean_ci([0.4])["std"] == 0.0
    assert mean_ci([])["mean"] is None


def test_ablation_runs_every_variant(ablation):
    out, summary = ablation
    assert sorted(summary["run"]["executed"]) == sorted(f"{v}/seed0" for v in ABLATION_VARIANTS)
    assert summary["run"]["failed"] == {}
    for v in ABLATION_VARIANTS:
        assert (out / v / "seed0" / "metrics.json").is_file()
        assert (out / v / "seed0" / "log.txt").read_text().count("[readout] done") == 1
        cfg = yaml.safe_load((out / v / "seed0" / "config.yaml").read_text())
        assert cfg["model"]["variant"] == v and cfg["model"]["seed"] == 0
        assert cfg["run"]["cache"] == str(out / "cache")  # one shared stimulus cache
    assert any((out / "cache").iterdir())
    for name in ("ablation.json", "ablation.md", "ablation.png", "ablation.pdf", "report.md"):
        assert (out / name).is_file(), name
    assert "![ablation](ablation.png)" in (out / "report.md").read_text()


def test_ablation_table_matches_run_metrics(ablation):
    out, _ = ablation
    summary = json.loads((out / "ablation.json").read_text())
    table = (out / "ablation.md").read_text()
    for v in ABLATION_VARIANTS:
        m = json.loads((out / v / "seed0" / "metrics.json").read_text())
        s = summary["variants"][v]
        assert s["accuracy_per_seed"] == [m["test_accuracy"]] and s["accuracy_mean"] == m["test_accuracy"]
        assert s["spikes_per_neuron_per_sample"] == pytest.approx(m["spikes_per_neuron_per_sample"])
        assert s["synaptic_events_per_sample"] == pytest.approx(m["synaptic_events_per_sample"])
        assert s["energy"]["snn_nJ"] == pytest.approx(m["synaptic_events_per_sample"] * 0.9e-3)
        row = next(line for line in table.splitlines() if line.startswith(f"| {v} |"))
        assert f"{100 * m['test_accuracy']:.1f} \u00b1 0.0" in row
        assert f"{m['spikes_per_neuron_per_sample']:.2f}" in row
        assert summary["baseline"]["accuracy_per_seed"] == [m["baseline"]["test_accuracy"]]
        # cross-validation on the training split, beside the test figures
        cv, cv_input = m["readouts"]["reservoir"]["cv"]["mean"], m["readouts"]["input"]["cv"]["mean"]
        assert s["cv_per_seed"] == [cv] and summary["baseline"]["cv_per_seed"] == [cv_input]
        assert f"| {100 * cv:.1f} n/a |" in row  # one seed: no interval
        # the gain over the input on the same folds, paired run by run
        assert s["cv_gain_per_seed"] == [pytest.approx(cv - cv_input)]
        assert f"| {100 * (cv - cv_input):+.1f} n/a |" in row
    assert "CV on the training split" in table.splitlines()[0]


def test_ablation_resumes_without_rerunning_finished_cells(ablation, ablation_cfg):
    out, _ = ablation
    cells = ablation_cells(out, 1)
    victim = cells[1]
    model_mtime = (victim.out / "model.npz").stat().st_mtime_ns
    (victim.out / "metrics.json").unlink()  # as if the cell was interrupted before its end
    before = {c.name: (c.out / "metrics.json").stat().st_mtime_ns for c in cells if c is not victim}
    summary = heterogeneity_ablation(ablation_cfg, out, seeds=1, jobs=2, progress=False)
    assert summary["run"]["executed"] == [victim.name]
    assert sorted(summary["run"]["skipped"]) == sorted(before)
    after = {c.name: (c.out / "metrics.json").stat().st_mtime_ns for c in cells if c is not victim}
    assert after == before
    # the interrupted cell resumed through the runner: trained model reused, not retrained
    assert (victim.out / "model.npz").stat().st_mtime_ns == model_mtime
    assert "reused the trained model" in (victim.out / "log.txt").read_text()
    assert summary["n_finished"] == 4


def test_train_fraction_study(base_cfg, tmp_path):
    summary = train_fraction_study(
        base_cfg, tmp_path, fractions=[0.5, 1.0], seeds=1, variants=["HeNHeS"], jobs=1, progress=False
    )
    assert len(summary["run"]["executed"]) == 2
    rows = summary["variants"]["HeNHeS"]
    assert [r["fraction"] for r in rows] == [0.5, 1.0]
    assert rows[0]["n_train"][0] < rows[1]["n_train"][0]
    for r in rows:
        m = json.loads((tmp_path / "HeNHeS" / f"frac{r['fraction']:g}" / "seed0" / "metrics.json").read_text())
        assert r["accuracy_per_seed"] == [m["test_accuracy"]] and r["n_train"] == [m["n_train"]]
    for name in ("train_fraction.json", "train_fraction.md", "train_fraction.png", "report.md"):
        assert (tmp_path / name).is_file(), name


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    cfg = str(REPO / "configs" / "demo.yaml")
    with pytest.raises(SystemExit):
        main(["ablate", "heterogeneity", cfg, "--out", str(tmp_path), "--variants", "HeNHeX"])
    assert "unknown variant" in capsys.readouterr().err
    assert main(["ablate", "train-fraction", cfg, "--out", str(tmp_path), "--fractions", "0.5,1.5"]) == 2
    assert "(0, 1]" in capsys.readouterr().err


def test_a_changed_config_is_refused_not_reused(ablation, ablation_cfg):
    from spikevid.experiments.config import ConfigError, resolve_config

    out, _ = ablation
    before = (out / "ablation.json").read_bytes()
    changed = resolve_config(ablation_cfg, ["model.J_in=0.5", "readout.kind=ridge"])
    with pytest.raises(ConfigError, match=r"holds study results of a different configuration .*model\.J_in"):
        heterogeneity_ablation(changed, out, seeds=1, jobs=1, progress=False)
    assert (out / "ablation.json").read_bytes() == before  # nothing summarised from the old cells


def test_repeated_variants_fractions_or_seeds_are_rejected(tmp_path):
    from spikevid.experiments.studies import fraction_cells

    with pytest.raises(ValueError, match="--variants lists 'HoNHoS' twice"):
        ablation_cells(tmp_path, 1, ["HoNHoS", "HoNHoS"])
    with pytest.raises(ValueError, match="--fractions lists 0.5 twice"):
        fraction_cells(tmp_path, [0.5, 0.50], 1)
    with pytest.raises(ValueError, match="seeds lists 3 twice"):
        ablation_cells(tmp_path, [3, 3])


def test_a_half_written_cell_is_not_finished(tmp_path):
    cell = ablation_cells(tmp_path, 1)[0]
    cell.out.mkdir(parents=True)
    (cell.out / "metrics.json").write_text('{"test_accuracy": 0.5,\n')
    assert not cell.done
    (cell.out / "metrics.json").write_text('{"test_accuracy": 0.5}')
    assert cell.done


def test_cv_is_summarised_only_where_every_seed_has_it():
    """A CV mean over some of the seeds would sit beside a test mean over all of them: it is left out, counted."""
    from analysis.summaries import _cv_stats

    assert _cv_stats([0.8, 0.9])["cv_mean"] == pytest.approx(0.85)
    assert _cv_stats([0.8, None]) == {"cv_missing": 1}
    assert _cv_stats([None, None]) == {} and _cv_stats([]) == {}


def test_the_cv_gain_over_the_input_is_paired_run_by_run():
    from analysis.summaries import _cv_gain

    pairs = [(0.94, 0.92), (0.935, 0.92), (0.945, 0.92), (0.93, 0.91), (0.95, 0.93)]  # CVs over a 4-point range
    gain = _cv_gain(pairs)
    assert gain["cv_gain_per_seed"] == pytest.approx([0.02, 0.015, 0.025, 0.02, 0.02])
    assert gain["cv_gain_mean"] == pytest.approx(0.02)
    low, high = gain["cv_gain_ci95"]
    assert 0.0 < low < 0.02 < high  # paired: the interval excludes 0 though the CVs' own would overlap
    assert _cv_gain([(0.94, None)]) == {} and _cv_gain([]) == {}
