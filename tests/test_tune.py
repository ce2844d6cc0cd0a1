"""``spikevid tune``: an SQLite study on the training split only, continued by a second call, best.yaml reproduces."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from brian2 import ms
from test_experiment import TINY

from spikevid.cli import main
from spikevid.experiments import data
from spikevid.experiments.config import ConfigError, load_config, resolve_config
from spikevid.experiments.runner import feature_bins, run_experiment

pytest.importorskip("optuna")

TINY_CFG = resolve_config(TINY, ["readout.cv=2"])


def _quiet(*_):
    pass


def _train_only(monkeypatch):
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


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """``spikevid tune`` run twice on one folder (3 trials, then 1 more), the test split unlistable.

    Returns the folder and the two ``tune.json`` contents.
    """
    root = tmp_path_factory.mktemp("tune")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_CFG))
    out = root / "study"
    with pytest.MonkeyPatch.context() as mp:
        _train_only(mp)
        args = ["tune", str(config), "--out", str(out), "--sampler", "tpe", "--trials"]
        assert main([*args, "3"]) == 0
        first = json.loads((out / "tune.json").read_text())
        assert main([*args, "1"]) == 0  # the same study, one more trial
        second = json.loads((out / "tune.json").read_text())
    return out, first, second


def test_tune_writes_a_study_and_continues_it(study):
    out, first, summary = study
    assert all((out / f).is_file() for f in ("study.db", "history.png", "tau_m.png", "importances.png"))
    assert first["n_trials"] == 3 and first["sampler"] == "tpe"
    assert summary["n_trials"] == 4
    assert [t["params"] for t in summary["trials"][:3]] == [t["params"] for t in first["trials"]]
    # the continuation draws a new point, not the first invocation's first random draw again
    assert summary["trials"][3]["params"] not in [t["params"] for t in first["trials"]]
    best = summary["best"]
    tuned = load_config(out / "best.yaml")
    from spikevid.experiments.tuning import TAU_M_FLOOR, UNIFORM_MAX_CV

    params = best["params"]
    for key, value in params.items():
        section, name = key.split(".")
        if name == "rf_tiles":
            value = [value, value]
        elif name == "cv_neuron" and params["model.neuron_dist"] == "uniform":
            # a wider uniform reaches negative time constants, or ones below the floor
            value = min(value, UNIFORM_MAX_CV, (1 - TAU_M_FLOOR / params["model.tau_m"]) / np.sqrt(3))
        assert tuned[section][name] == (pytest.approx(value, rel=1e-12) if isinstance(value, float) else value)
    assert tuned["model"]["tau_m_min"] == TAU_M_FLOOR == summary["tau_m_floor"]
    drawn = [t["tau_m_drawn"] for t in summary["trials"]]
    assert all(d["min"] >= TAU_M_FLOOR and d["mean"] > 0 for d in drawn)
    assert (out / "best.yaml").read_text().startswith("# tuned by spikevid tune: CV accuracy")
    assert all(t["probe_rate_hz"] is None for t in summary["trials"])  # 12 clips: too few to probe


def test_best_yaml_gives_the_tuned_cv_accuracy_in_a_run(study, tmp_path):
    out, _, summary = study
    best = load_config(out / "best.yaml")
    m = run_experiment(best, tmp_path / "run")
    assert m["readouts"]["reservoir"]["cv"]["mean"] == pytest.approx(summary["best"]["value"])
    # the study's input baseline is the run's, bins for bins: the same folds, the same readout
    base = summary["input_baseline"]
    assert base["config_bins"] == feature_bins(TINY_CFG, "input")
    assert sorted(map(int, base["by_bins"])) == [*range(1, 9)]
    assert m["readouts"]["input"]["cv"]["mean"] == pytest.approx(base["by_bins"][str(feature_bins(best, "input"))])
    # the best trial names the input score it faces: the run's input CV, also in best.yaml's head
    assert summary["best"]["input_cv"] == pytest.approx(m["readouts"]["input"]["cv"]["mean"])
    assert f"its input counts: {summary['best']['input_cv']:.4f}" in (out / "best.yaml").read_text().splitlines()[0]


def test_a_study_of_another_config_or_seeds_is_refused(study, tmp_path):
    from spikevid.experiments.tuning import tune

    out, _, summary = study
    db = (out / "study.db").read_bytes()
    with pytest.raises(ConfigError, match="holds a study of another config"):
        tune(resolve_config(TINY_CFG, ["model.n=31"]), out, trials=1, sampler="tpe", log=_quiet)
    with pytest.raises(ConfigError, match="another config or --seeds"):
        tune(TINY_CFG, out, trials=1, sampler="tpe", networks=2, log=_quiet)
    assert (out / "study.db").read_bytes() == db  # refused before anything was written
    with pytest.raises(ConfigError, match="needs cross-validation folds"):
        tune(resolve_config(TINY, ["readout.cv=none"]), tmp_path / "other", trials=1, log=_quiet)
    assert not (tmp_path / "other" / "study.db").exists()  # a refused first call does not claim the folder


def test_a_failed_first_call_leaves_the_folder_to_the_next(tmp_path, monkeypatch):
    """A first call that stops before its study is set up (here: the data fail) does not lock the folder."""
    from spikevid.experiments import tuning

    def broken(cfg):
        raise FileNotFoundError("no such dataset")

    with monkeypatch.context() as mp:
        mp.setattr(tuning, "load_train_split", broken)
        with pytest.raises(FileNotFoundError):
            tuning.tune(resolve_config(TINY_CFG, ["model.n=31"]), tmp_path, trials=1, sampler="tpe", log=_quiet)
    assert not (tmp_path / "study.db").exists()
    # a half set-up study (created, never given its config): the next call of any config sets it up
    import optuna

    optuna.create_study(study_name="spikevid", storage=f"sqlite:///{tmp_path / 'study.db'}", direction="maximize")
    summary = tuning.tune(TINY_CFG, tmp_path, trials=1, sampler="tpe", log=_quiet)
    assert summary["n_trials"] == 1 and yaml.safe_load((tmp_path / "config.yaml").read_text()) == TINY_CFG


def test_enqueued_points_are_tried_first(tmp_path):
    """``--enqueue YAML``: a config's values of the searched keys are the study's first trial."""
    from spikevid.experiments.tuning import apply_params, params_of

    point = {
        "model.tau_m": 27.0,
        "model.cv_neuron": 0.5,
        "model.neuron_dist": "lognormal",
        "model.cv_synapse": 1.0,
        "model.J_in": 3.0,
        "model.p_in": 0.04,
        "model.p_ee": 0.03,
        "model.input_wiring": "topographic",
        "model.rf_tiles": 2,
        "model.bins": 4,
    }
    assert params_of(apply_params(TINY_CFG, point)) == point  # the inverse of apply_params
    config = tmp_path / "start.yaml"
    config.write_text(yaml.safe_dump(apply_params(TINY_CFG, point)))
    out = tmp_path / "study"
    args = ["tune", str(_tiny_yaml(tmp_path)), "--out", str(out), "--sampler", "tpe", "--trials", "2"]
    assert main([*args, "--enqueue", str(config)]) == 0
    trials = json.loads((out / "tune.json").read_text())["trials"]
    assert trials[0]["params"] == point and trials[1]["params"] != point
    # defaults stand in for keys a config leaves out; a value outside the space is named
    assert params_of(TINY_CFG)["model.input_wiring"] == "random"
    with pytest.raises(ConfigError, match=r"start\.yaml: model\.p_in = 0\.9 lies outside"):
        params_of(apply_params(TINY_CFG, {"model.p_in": 0.9}), source="start.yaml")
    with pytest.raises(ConfigError, match="square grids"):
        params_of(resolve_config(TINY_CFG, ["model.rf_tiles=[2,3]"]))


def _tiny_yaml(folder):
    """The tiny config as a file in ``folder``."""
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_CFG))
    return path


def test_cli_defaults_are_the_library_constants():
    from spikevid.cli import build_parser
    from spikevid.experiments import tuning

    tune_parser = build_parser()._subparsers._group_actions[0].choices["tune"]
    actions = {a.dest: a for a in tune_parser._actions}
    assert actions["max_rate"].default == tuning.MAX_RATE_HZ and tuple(actions["sampler"].choices) == tuning.SAMPLERS
    assert f"{tuning.PROBE_CLIPS} probe clips" in actions["max_rate"].help


def test_several_networks_per_trial(study, tmp_path):
    """``--seeds 2``: a trial fits networks of seeds s and s+1 and pools them; the first scores as one network."""
    from spikevid.experiments.tuning import tune

    _, first, _ = study
    two = tune(TINY_CFG, tmp_path / "two", trials=1, sampler="tpe", networks=2, log=_quiet)
    a, (b,) = first["trials"][0], two["trials"]
    assert a["params"] == b["params"]  # the same first draw (the sampler's seed)
    assert len(b["cv_per_seed"]) == 2 and b["cv_per_seed"][0] == pytest.approx(a["value"])
    assert b["value"] == pytest.approx(sum(b["cv_per_seed"]) / 2)  # equal folds: pooled = mean
    assert two["networks_per_trial"] == 2 and "pooled over 2 networks" in (tmp_path / "two" / "best.yaml").read_text()


def test_runaway_draws_are_pruned_before_their_fit(tmp_path, monkeypatch, capsys):
    from spikevid.experiments import tuning
    from spikevid.experiments.tuning import tune

    monkeypatch.setattr(tuning, "PROBE_CLIPS", 1)  # 12 training clips: probed on 1
    # strong, dense input: no draw is silent on the probe clip
    space = tuning.load_space({"model.J_in": {"low": 4.0, "high": 6.0}, "model.p_in": {"low": 0.3, "high": 0.5}})
    # everything "runs away"
    summary = tune(TINY_CFG, tmp_path, trials=2, sampler="tpe", max_rate=1e-3, space=space, log=_quiet)
    assert [t["state"] for t in summary["trials"]] == ["pruned", "pruned"]
    for t in summary["trials"]:
        assert t["probe_rate_hz"] > 1e-3 and t["pruned_because"].startswith("runaway activity")
    assert capsys.readouterr().out.count("pruned (runaway activity:") == 2
    assert "best" not in summary and not (tmp_path / "best.yaml").exists()
    with pytest.raises(ConfigError, match="--max-rate"):
        tune(TINY_CFG, tmp_path / "other", trials=1, max_rate=-1.0, log=_quiet)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning", "ignore:Heartbeat of storage")
def test_a_trial_whose_worker_died_is_marked_failed(tmp_path, monkeypatch):
    """A worker killed mid-trial (SIGKILL: no Python runs) stops its heartbeat; the next worker fails that trial."""
    import time

    import optuna

    from spikevid.experiments import tuning

    monkeypatch.setattr(tuning, "HEARTBEAT_S", 1)
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'study.db'}", heartbeat_interval=1, grace_period=3)
    orphan = optuna.create_study(study_name="spikevid", storage=storage, direction="maximize").ask()  # started ...
    storage.record_heartbeat(orphan._trial_id)  # ... beating once, then its worker died
    # stale once its heartbeat is more than 3 s old, in SQLite's whole-second timestamps: 3.5 s of
    # sleep could read as 3 s (a flaky failure, seen once in a full run); 4.5 s always reads as >= 4
    time.sleep(4.5)
    summary = tuning.tune(TINY_CFG, tmp_path, trials=1, sampler="tpe", log=_quiet)
    assert [t["state"] for t in summary["trials"]] == ["fail", "complete"]


def test_a_draw_the_network_refuses_fails_its_trial_saying_why(tmp_path, monkeypatch, capsys):
    from spikevid.experiments import tuning

    real = tuning.suggest
    monkeypatch.setattr(tuning, "suggest", lambda trial, space: {**real(trial, space), "model.p_in": 1.5})  # > 1
    summary = tuning.tune(TINY_CFG, tmp_path, trials=1, sampler="tpe", log=_quiet)
    (t,) = summary["trials"]
    assert t["state"] == "fail" and "p_in" in t["failed_because"]
    out = capsys.readouterr()
    assert "trial 0: fail (" in out.out and "Traceback" not in out.err


def test_drawn_parameters_become_a_valid_config():
    from spikevid.experiments.tuning import SEARCH_SPACE, UNIFORM_MAX_CV, apply_params

    cfg = apply_params(TINY_CFG, {"model.neuron_dist": "uniform", "model.cv_neuron": 1.2, "model.rf_tiles": 3})
    assert cfg["model"]["cv_neuron"] == UNIFORM_MAX_CV and cfg["model"]["rf_tiles"] == [3, 3]
    assert apply_params(TINY_CFG, {"model.neuron_dist": "gamma", "model.cv_neuron": 1.2})["model"]["cv_neuron"] == 1.2
    assert all(key.startswith("model.") for key in SEARCH_SPACE)


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_leaves_a_study_that_continues(jobs, tmp_path):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) mid-study: exit 130, no trial left
    running, the finished ones kept in the study and ``best.yaml``, and the same command continues."""
    import optuna

    config, out = _tiny_yaml(tmp_path), tmp_path / "study"
    args = ["tune", str(config), "--out", str(out), "--sampler", "tpe", "--jobs", str(jobs), "--trials"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "spikevid", *args, "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=Path(__file__).resolve().parents[1],
        start_new_session=True,  # its own process group, as a shell job: the signal reaches workers too
    )
    t0 = time.monotonic()
    while not _finished_trials(out):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < 300, "no trial finished in 5 minutes"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err[-3000:]
    assert "interrupted -- rerun the same command to resume" in err and "Traceback" not in err
    study = optuna.load_study(study_name="spikevid", storage=f"sqlite:///{out / 'study.db'}")
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert optuna.trial.TrialState.RUNNING not in states and len(states) < 50
    kept = _finished_trials(out)
    assert kept >= 1 and load_config(out / "best.yaml")["model"]["tau_m_min"] == 2.0
    assert main([*args, "1"]) == 0
    again = json.loads((out / "tune.json").read_text())
    assert again["n_trials"] == len(states) + 1 and again["n_finished"] == sum(s.is_finished() for s in states) + 1


def test_ctrl_c_while_optuna_asks_for_a_trial_fails_that_trial(tmp_path, monkeypatch, capsys):
    """A signal outside the objective (here: while the sampler prepares trial 1) waits for it, so that trial
    is recorded as failed, not left "running" in the study for good."""
    import optuna

    real = optuna.samplers.TPESampler.before_trial

    def before_trial(self, study, trial):
        real(self, study, trial)
        if trial.number == 1:  # twice, as a worker process gets a terminal's Ctrl-C (and its parent's)
            for _ in range(2):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.1)  # the handler runs here, inside Optuna's ask(), before the objective is called

    monkeypatch.setattr(optuna.samplers.TPESampler, "before_trial", before_trial)
    out = tmp_path / "study"
    args = ["tune", str(_tiny_yaml(tmp_path)), "--out", str(out), "--sampler", "tpe", "--trials"]
    assert main([*args, "5"]) == 130
    assert "interrupted -- rerun the same command to resume" in capsys.readouterr().err
    states = [t["state"] for t in json.loads((out / "tune.json").read_text())["trials"]]
    assert states == ["complete"]  # written by trial 0's report, before trial 1 was asked for
    study = optuna.load_study(study_name="spikevid", storage=f"sqlite:///{out / 'study.db'}")
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE", "FAIL"]


def test_gate_raises_only_inside_open_blocks(capfd):
    from spikevid import interrupts

    before = signal.getsignal(signal.SIGINT)
    with interrupts.Gate() as gate:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # outside an open block: recorded and said, not raised
        assert gate.pending and interrupts.requested()
        os.kill(os.getpid(), signal.SIGINT)  # a second one (a worker gets a terminal's Ctrl-C twice) waits too
        time.sleep(0.05)
        assert capfd.readouterr().err.count("stopping once the current bookkeeping step is done") == 1
        with pytest.raises(KeyboardInterrupt, match="before this step began"), gate.open():
            pass
    with interrupts.Gate() as gate, pytest.raises(KeyboardInterrupt, match="signal"), gate.open(), gate.open():
        os.kill(os.getpid(), signal.SIGINT)  # inside nested open blocks: at once
        time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is before  # put back
    assert not interrupts.requested()  # the outermost block forgets it on leaving
    with interrupts.handling():
        with interrupts.Gate(), pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            raise KeyboardInterrupt("the gate's caller stops")
        assert interrupts.requested()  # a nested block keeps it for the outer one's check()


def _finished_trials(out) -> int:
    """Finished trials in ``out / "tune.json"`` (0 before it is written)."""
    try:
        return int(json.loads((out / "tune.json").read_text())["n_finished"])
    except (OSError, ValueError, KeyError):
        return 0


def test_tau_m_floor_of_a_study(tmp_path):
    """Trials draw no membrane time constant under the study's floor; a study without one keeps none."""
    import optuna

    from spikevid.experiments import tuning
    from spikevid.experiments.config import model_estimator

    cfg = tuning.apply_params(
        TINY_CFG,
        {"model.neuron_dist": "uniform", "model.tau_m": 8.0, "model.cv_neuron": 0.57},
        tau_m_min=tuning.TAU_M_FLOOR,
    )
    model = cfg["model"]
    assert model["tau_m_min"] == tuning.TAU_M_FLOOR
    assert model["tau_m"] * (1 - np.sqrt(3) * model["cv_neuron"]) == pytest.approx(tuning.TAU_M_FLOOR)  # uniform kept
    drawn = tuning.apply_params(TINY_CFG, {"model.tau_m": 5.0, "model.cv_neuron": 1.5}, tau_m_min=2.0)
    tau = model_estimator(drawn["model"]).neuron_params().tau_m.sample(20_000, seed=0)
    assert np.asarray(tau / ms).min() >= 2.0  # gamma: truncated at the floor
    own = resolve_config(TINY_CFG, ["model.tau_m_min=3.0"])
    assert tuning.apply_params(own, {}, tau_m_min=2.0)["model"]["tau_m_min"] == 3.0  # the config's own wins
    # best.yaml follows the study's record: none for a study begun before floors existed
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}", direction="maximize")
    dist = optuna.distributions.FloatDistribution(5.0, 60.0, log=True)
    study.add_trial(
        optuna.trial.create_trial(params={"model.tau_m": 9.0}, distributions={"model.tau_m": dist}, value=0.5)
    )
    tuning._summarise(study, TINY_CFG, tmp_path, "tpe")
    assert "tau_m_min" not in yaml.safe_load((tmp_path / "best.yaml").read_text())["model"]
    study.set_user_attr("tau_m_floor", 2.0)
    tuning._summarise(study, TINY_CFG, tmp_path, "tpe")
    assert yaml.safe_load((tmp_path / "best.yaml").read_text())["model"]["tau_m_min"] == 2.0
    assert json.loads((tmp_path / "tune.json").read_text())["tau_m_floor"] == 2.0


@pytest.mark.parametrize("kind", ["processes", pytest.param("dask", marks=pytest.mark.slow)])
def test_workers_share_one_study(kind, tmp_path):
    """Two workers (local processes, or a local Dask cluster) add their trials to the same SQLite study."""
    from spikevid.executors import make_executor
    from spikevid.experiments.tuning import tune

    if kind == "dask":
        pytest.importorskip("distributed")
    lines = []
    with make_executor(kind, workers=2) as executor:
        summary = tune(TINY_CFG, tmp_path / "study", trials=2, sampler="tpe", executor=executor, log=lines.append)
    assert "on 2 workers" in lines[0]
    assert summary["n_trials"] == 2 and sorted(t["number"] for t in summary["trials"]) == [0, 1]
    a, b = summary["trials"]
    assert a["params"] != b["params"]  # the workers' samplers are seeded apart
    assert all(t["state"] in ("complete", "pruned") for t in summary["trials"])
    assert (tmp_path / "study" / "best.yaml").is_file()


def test_a_slower_worker_cannot_put_back_an_older_summary(tmp_path):
    """``tune.json``/``best.yaml`` are rewritten only by a summary of at least as many finished trials."""
    import optuna

    from spikevid.experiments.tuning import _summarise

    study = optuna.create_study(direction="maximize")
    dist = optuna.distributions.FloatDistribution(5.0, 60.0, log=True)

    def add(value):
        study.add_trial(
            optuna.trial.create_trial(params={"model.tau_m": 20.0}, distributions={"model.tau_m": dist}, value=value)
        )

    add(0.5)
    newer = {"n_finished": 2, "best": {"value": 0.9}}
    (tmp_path / "tune.json").write_text(json.dumps(newer))
    (tmp_path / "best.yaml").write_text("# the newer best\n")
    summary = _summarise(study, TINY_CFG, tmp_path, "tpe")  # a worker that read the study earlier
    assert summary["n_finished"] == 1 and summary["best"]["value"] == 0.5
    assert json.loads((tmp_path / "tune.json").read_text()) == newer
    assert (tmp_path / "best.yaml").read_text() == "# the newer best\n"
    add(0.7)  # as many finished trials as on disk: written
    assert _summarise(study, TINY_CFG, tmp_path, "tpe")["n_finished"] == 2
    assert json.loads((tmp_path / "tune.json").read_text())["best"]["value"] == 0.7
    assert (tmp_path / "best.yaml").read_text().startswith("# tuned by spikevid tune: CV accuracy 0.7000")


def test_a_study_searches_the_encoder_and_readout_of_its_space_file(tmp_path):
    """``--space``: encoder and readout keys are drawn, each trial scores its own input, the study keeps its space."""
    from spikevid.experiments.tuning import apply_params, load_space, tune

    space_file = tmp_path / "space.yaml"
    space_file.write_text(
        "encoder.params.threshold: {low: 0.1, high: 0.4}\n"
        "readout.C: {low: 0.01, high: 100, log: true}\n"
        "model.rf_tiles: null\n"
        "model.input_wiring: null\n"
    )
    out = tmp_path / "study"
    args = ["tune", str(_tiny_yaml(tmp_path)), "--out", str(out), "--sampler", "tpe", "--trials", "2"]
    assert main([*args, "--space", str(space_file)]) == 0
    assert main(args) == 0  # continued without --space: the study's own space
    summary = json.loads((out / "tune.json").read_text())
    assert summary["n_trials"] == 4 and summary["search_space"]["readout.C"] == ["float", [0.01, 100.0], True]
    for t in summary["trials"]:
        assert set(t["params"]) == set(load_space(space_file))
        assert 0.0 <= t["input_cv"] <= 1.0
    assert len({t["params"]["encoder.params.threshold"] for t in summary["trials"]}) == 4
    # the drawn encodings went to each worker's scratch folder, deleted with it: the cache holds the config's own
    assert not any((out / "scratch").iterdir())
    n_train = len(data.load_train_split(TINY_CFG)[1])
    assert len(list((out / "cache").rglob("*.npz"))) == n_train
    best = load_config(out / "best.yaml")
    params = summary["best"]["params"]
    assert best["encoder"]["params"]["threshold"] == pytest.approx(params["encoder.params.threshold"], rel=1e-12)
    assert best["readout"]["C"] == pytest.approx(params["readout.C"], rel=1e-12)
    assert "input_wiring" not in best["model"] and "input_wiring" not in TINY_CFG["model"]  # not searched
    # the run of best.yaml scores as its trial did: the reservoir and, under the drawn encoder and C, the input
    m = run_experiment(best, tmp_path / "run")
    (trial,) = [t for t in summary["trials"] if t["number"] == summary["best"]["number"]]
    assert m["readouts"]["reservoir"]["cv"]["mean"] == pytest.approx(trial["value"])
    assert m["readouts"]["input"]["cv"]["mean"] == pytest.approx(trial["input_cv"])
    assert summary["best"]["input_cv"] == trial["input_cv"]  # under its own encoder and C
    db = (out / "study.db").read_bytes()
    with pytest.raises(ConfigError, match="another search space"):
        tune(TINY_CFG, out, trials=1, sampler="tpe", space=load_space({"readout.C": {"low": 0.1, "high": 1}}))
    with pytest.raises(ConfigError, match=r"\['model\.rf_tiles'\] are not searched"):
        tune(TINY_CFG, out, trials=1, sampler="tpe", enqueue=[{"model.rf_tiles": 2}], log=_quiet)
    assert (out / "study.db").read_bytes() == db
    outside = apply_params(TINY_CFG, {"readout.C": 1000.0})
    with pytest.raises(ConfigError, match=r"far\.yaml: readout\.C = 1000\.0 lies outside"):
        tune(TINY_CFG, tmp_path / "bad", trials=1, space=load_space(space_file), enqueue_configs={"far.yaml": outside})
    assert not (tmp_path / "bad").exists()  # checked before the study was set up
    with pytest.raises(ConfigError, match=r"encoder\.params\.pool = 0\.0 makes .* integer.* \(type: int draws"):
        tune(TINY_CFG, tmp_path / "bad", trials=1, space=load_space({"encoder.params.pool": {"low": 0, "high": 2}}))
    assert not (tmp_path / "bad").exists()


def test_a_drawn_encoding_lasts_until_the_next_draw(tmp_path):
    """The scratch folder holds one drawn encoding at a time; the config's own stays in the cache."""
    from spikevid.experiments.searchspace import apply_params
    from spikevid.experiments.tuning import _Objective

    objective = _Objective(TINY_CFG, tmp_path)
    n_train = len(objective.train)

    def files(folder):
        return sorted(p.name for p in folder.rglob("*.npz")) if folder.exists() else []

    own = files(tmp_path / "cache")
    assert len(own) == n_train and files(objective.scratch) == []
    seen = []
    for threshold in (0.15, 0.35):
        clips = objective.clips(apply_params(TINY_CFG, {"encoder.params.threshold": threshold}))
        assert objective.clips(apply_params(TINY_CFG, {"encoder.params.threshold": threshold})) is clips  # kept
        now = files(objective.scratch)
        assert len(now) == n_train and not set(now) & set(seen)  # the previous draw's files are gone
        seen = now
    assert objective.clips(TINY_CFG) is objective.train and files(objective.scratch) == []
    assert files(tmp_path / "cache") == own


def test_each_worker_thread_draws_encoders_into_its_own_scratch_folder(tmp_path):
    """Dask may run two trials as threads of one process: their drawn encodings must not share a folder."""
    import threading

    from spikevid.experiments.tuning import _Objective

    paths, both_alive = [], threading.Barrier(2)

    def worker():
        paths.append(_Objective(TINY_CFG, tmp_path).scratch)
        both_alive.wait(timeout=60)  # a thread's ident is reused only once it has ended

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(paths) == 2 and paths[0] != paths[1]
    assert all(p.parent == tmp_path / "scratch" and str(os.getpid()) in p.name for p in paths)


def test_enqueued_trials_run_on_one_worker_before_the_others_start():
    """Optuna's SQLite queue can hand one enqueued trial to two workers (seen: 'Cannot tell a COMPLETE trial')."""
    from spikevid.experiments.tuning import _phases, _worker_seed

    # one worker, or nothing enqueued: one phase, as before
    assert _phases(5, 1, 2, 0, 7) == [[(5, _worker_seed(0, 0, 7))]]
    assert _phases(5, 2, 0, 0, 7) == [[(3, _worker_seed(0, 0, 7)), (2, _worker_seed(0, 1, 7))]]
    # several workers and a queue: the queue on one worker, then the rest on all, their seeds tagged as a
    # second phase (the queue adds no rows, so counting it would repeat the next call's seeds)
    assert _phases(5, 2, 1, 0, 7) == [
        [(1, _worker_seed(0, 0, 7))],
        [(2, _worker_seed(0, 0, 7, 1)), (2, _worker_seed(0, 1, 7, 1))],
    ]
    assert _phases(3, 2, 2, 0, 0) == [[(2, _worker_seed(0, 0, 0))], [(1, _worker_seed(0, 0, 0, 1))]]
    assert len({_worker_seed(0, 0, 7, 1), _worker_seed(0, 0, 7), _worker_seed(0, 0, 8)}) == 3
    assert _phases(1, 2, 3, 0, 0) == [[(1, _worker_seed(0, 0, 0))]]  # fewer trials than the queue


def test_an_enqueued_point_with_two_workers_runs_once(tmp_path):
    """The race is a matter of timing: this can pass without the fix; the log line shows the phases ran."""
    from spikevid.executors import make_executor
    from spikevid.experiments.tuning import params_of, tune

    point = params_of(TINY_CFG)
    lines = []
    with make_executor("processes", workers=2) as executor:
        summary = tune(
            TINY_CFG, tmp_path, trials=3, sampler="tpe", executor=executor, enqueue=[point], log=lines.append
        )
    assert "the 1 enqueued first on one of them" in lines[0]
    assert summary["n_trials"] == 3 and all(t["state"] in ("complete", "pruned") for t in summary["trials"])
    assert [t["params"] == point for t in summary["trials"]] == [True, False, False]
