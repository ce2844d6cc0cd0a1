"""Figures of a run directory (analysis.raster, .weights, .activity, .accuracy, .report).

One tiny run (numpy device, 40 neurons, 9 clips) is made once for the module; each
figure must be a non-empty image and the numbers it drew must equal what the run
recorded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from spikevid.cli import main

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "model.device=numpy",
    "model.n=40",
    "model.J_in=3.0",
    "model.snapshots=6",
    "model.seed=1",
    "dataset.options.n_subjects=3",
    "dataset.options.scenarios=[1]",
    "dataset.options.n_frames=10",
    "dataset.options.actions=[boxing,handwaving,walking]",
    "dataset.max_per_class=2",
    "encoder.params.pool=8",
    "run.progress=false",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from spikevid.experiments.config import resolve_config
    from spikevid.experiments.runner import run_experiment

    cfg = resolve_config(yaml.safe_load((REPO / "configs" / "demo.yaml").read_text()), TINY)
    out = tmp_path_factory.mktemp("plots") / "run"
    run_experiment(cfg, out)
    return out


@pytest.fixture(scope="module")
def made(run_dir):
    from analysis.report import run_figures

    return run_figures(run_dir)


def _assert_image(path):
    import matplotlib.image as mpimg

    assert path.is_file() and path.stat().st_size > 5000
    img = mpimg.imread(path)
    assert img.shape[0] > 200 and img.shape[1] > 600  # 7 in wide
    assert img[..., :3].std() > 0.01  # not blank


def test_every_figure_is_written(made, run_dir):
    assert {"raster", "weights_in_exc", "weights_ee", "weight_matrices", "activity", "confusion"} <= set(made)
    for name, (paths, _) in made.items():
        assert [p.suffix for p in paths] == [".png", ".pdf"]
        assert all(p.parent == run_dir / "figures" for p in paths)
        if name != "confusion":
            _assert_image(paths[0])
        assert paths[1].read_bytes()[:4] == b"%PDF"


def test_raster_counts_match_raster_npz(made, run_dir):
    data = made["raster"][1]
    with np.load(run_dir / "raster.npz") as z:
        end = int(z["windows"][-1, 1])
        for pop in ("input", "exc", "inh"):
            t = z[f"{pop}_t"]
            assert data["spike_counts"][pop] == int(((t >= 0) & (t < end)).sum()) > 0
            assert data["drawn"][pop] == data["spike_counts"][pop]
        # the population rate integrates back to the spike counts
        width = np.diff(np.concatenate([[0.0], (data["rate_t"][:-1] + data["rate_t"][1:]) / 2, [end * float(z["dt"])]]))
        width_s = width * 1e-3  # rate_t in ms, rates in Hz
        assert (data["rate_exc"] * width_s * int(z["n_exc"])).sum() == pytest.approx(data["spike_counts"]["exc"])
        assert (data["rate_inh"] * width_s * int(z["n_inh"])).sum() == pytest.approx(data["spike_counts"]["inh"])


def test_weight_histograms_match_model_snapshots(made, run_dir):
    with np.load(run_dir / "model.npz") as z:
        for p in ("ee", "in_exc"):
            data = made[f"weights_{p}"][1]
            snaps = z[f"snapshots_/{p}"]
            assert data["counts"].shape == (len(z["snapshot_times_"]), len(data["edges"]) - 1)
            assert (data["counts"].sum(axis=1) == snaps.shape[1]).all()
            for k, s in enumerate(snaps):
                assert (data["counts"][k] == np.histogram(s, bins=data["edges"])[0]).all()
            np.testing.assert_allclose(data["mean"], snaps.mean(axis=1))
            np.testing.assert_allclose(data["times"], z["snapshot_times_"])


def test_weight_matrices_hold_every_synapse(made, run_dir):
    with np.load(run_dir / "model.npz") as z:
        for p, (before, after) in made["weight_matrices"][1].items():
            i, j = z[f"structure_/{p}/i"], z[f"structure_/{p}/j"]
            assert np.isfinite(after).sum() == len(set(zip(i.tolist(), j.tolist(), strict=True)))
            assert np.nansum(after) == pytest.approx(z[f"weights_/{p}"].sum())
            assert np.nansum(before) == pytest.approx(z[f"weights_init_/{p}"].sum())


def test_activity_matches_raster_and_neuron_params(made, run_dir):
    from analysis.activity import spike_statistics

    ((label, data),) = made["activity"][1].items()
    assert label == "HeNHeS"
    with np.load(run_dir / "raster.npz") as z:
        win, dt = z["windows"], float(z["dt"])
        duration = float((win[:, 1] - win[:, 0]).sum()) * dt
        n_exc = int(z["n_exc"])
        counts = data["stats"]["rate"] * duration * 1e-3  # duration in ms, rates in Hz
        assert counts[:n_exc].sum() == pytest.approx(data["stats"]["spike_counts"]["exc"])
        t = z["exc_t"]
        inside = sum(int(((t >= a) & (t < b)).sum()) for a, b in win)
        assert data["stats"]["spike_counts"]["exc"] == inside > 0
        # per-neuron counts of histogram panels cover every neuron
        assert data["counts"]["rate_exc"].sum() + data["counts"]["rate_inh"].sum() == n_exc + int(z["n_inh"])
    with np.load(run_dir / "model.npz") as z:
        tau = np.concatenate([z["neuron_params_/exc/tau_m"], z["neuron_params_/inh/tau_m"]])
    np.testing.assert_allclose(data["tau_m_ms"], tau)  # model.npz holds ms
    assert data["counts"]["tau_m"].sum() == len(tau)
    assert tau.std() > 0  # heterogeneous neurons are visible
    # ISI CV of a regular spike train is 0, of two intervals 3 and 1 steps: std/mean = 0.5
    toy = {
        "dt": 1,
        "windows": np.array([[0, 100]]),
        "n_exc": 2,
        "n_inh": 1,
        "exc_i": np.array([0, 0, 0, 0, 1, 1, 1]),
        "exc_t": np.array([0, 10, 20, 30, 5, 8, 9]),
        "inh_i": np.array([0]),
        "inh_t": np.array([50]),
    }
    s = spike_statistics(toy)
    np.testing.assert_allclose(s["rate"], [40.0, 30.0, 10.0])
    assert s["cv"][0] == pytest.approx(0.0) and s["cv"][1] == pytest.approx(0.5) and np.isnan(s["cv"][2])


def test_confusion_matches_metrics(made, run_dir):
    import json

    m = json.loads((run_dir / "metrics.json").read_text())
    data = made["confusion"][1]
    assert data["counts"].tolist() == m["confusion_matrix"]
    rows = data["counts"].sum(axis=1) > 0
    np.testing.assert_allclose(data["normalised"][rows].sum(axis=1), 1.0)
    assert np.trace(data["counts"]) / data["counts"].sum() == pytest.approx(m["test_accuracy"])


def test_synaptic_operations_match_the_simulation(run_dir):
    """The energy module's count equals the simulator's ``synaptic_events`` for the same spikes."""
    from analysis.energy import synaptic_operations
    from analysis.rundata import load_config_file, load_model
    from spikevid.experiments.data import encode_all, load_split
    from stimuli.encoders import get_encoder

    cfg = load_config_file(run_dir)
    model = load_model(run_dir)
    _, _, test = load_split(cfg)
    stims = encode_all(
        [test[0], test[1]], get_encoder(cfg["encoder"]["name"], **cfg["encoder"]["params"]), None, progress=False
    )
    res = model.simulate(stims)
    spikes = {
        "input": np.concatenate([s.indices for s in stims]),
        "exc": res.spikes["exc"][0],
        "inh": res.spikes["inh"][0],
    }
    ops = synaptic_operations(
        spikes, model.structure_, {"input": model.n_input_, "exc": model.n_exc, "inh": model.n_inh}
    )
    assert ops["total"] == res.extra["synaptic_events"] > 0


def test_run_energy_uses_metrics(run_dir):
    import json

    from analysis.energy import E_AC_PJ, run_energy

    m = json.loads((run_dir / "metrics.json").read_text())
    est = run_energy(run_dir)
    assert est["snn_nJ"] == pytest.approx(m["synaptic_events_per_sample"] * E_AC_PJ * 1e-3)
    assert est["n_synapses"] == sum(m["n_synapses"].values())
    assert est["ann_frame_updates"] == pytest.approx(10)  # 10 frames of 20 ms per clip


def test_cli_plot_all_writes_report(run_dir, tmp_path, capsys):
    assert main(["plot", "raster", str(run_dir), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "raster.png").is_file() and not (tmp_path / "r" / "weights_ee.png").exists()
    assert main(["plot", "all", str(run_dir)]) == 0
    report = (run_dir / "report.md").read_text()
    for name in ("raster", "weights_ee", "weights_in_exc", "weight_matrices", "activity", "confusion"):
        assert f"(figures/{name}.png)" in report
        assert (run_dir / "figures" / f"{name}.png").is_file()
    assert "Accuracy" in report and "estimate" in report and "pJ" in report


def test_cli_plot_missing_run(tmp_path, capsys):
    assert main(["plot", "weights", str(tmp_path)]) == 2
    assert "metrics.json not found" in capsys.readouterr().err


def test_membrane_traces_from_live_arrays(tmp_path):
    from analysis.activity import plot_membrane_traces
    from analysis.figures import save_figure

    t = np.arange(400) * 0.5  # ms
    v = -65.0 + 10.0 * np.sin(np.outer([1, 2, 3], t) * 0.06)  # mV
    fig, data = plot_membrane_traces(t, v, neurons=[4, 7, 9], v_th=-50.0, windows=np.array([[20.0, 150.0]]))
    np.testing.assert_allclose(data["v_mV"], v)
    np.testing.assert_allclose(data["t_ms"], t)
    paths = save_figure(fig, tmp_path / "membrane")
    _assert_image(paths[0])
