"""Executors: serial, local processes and Dask give the same features and study results."""

import os

import numpy as np
import pytest
from test_experiment import TINY

from spikevid.executors import ProcessExecutor, SerialExecutor, TaskFailed, make_executor


def _square(offset, x):
    return offset + x * x


def _fail_on_three(_, x):
    if x == 3:
        raise ValueError("three")
    return x


def _slot(_, x):
    import time

    from spikevid.executors import worker_slot

    time.sleep(0.3)  # long enough that both workers take tasks
    return worker_slot(), os.getpid()


@pytest.fixture(scope="module")
def dask_executor():
    pytest.importorskip("distributed")
    from spikevid.dask_executor import DaskExecutor

    # Workers unpickle every task argument in a helper thread (by default only those over
    # 10 MiB, a fitted reservoir of 1,000 neurons): Brian2 must be imported before that.
    old = os.environ.get("DASK_DISTRIBUTED__COMM__OFFLOAD")
    os.environ["DASK_DISTRIBUTED__COMM__OFFLOAD"] = "1"
    try:
        with DaskExecutor(workers=2) as ex:
            yield ex
    finally:
        if old is None:
            os.environ.pop("DASK_DISTRIBUTED__COMM__OFFLOAD")
        else:
            os.environ["DASK_DISTRIBUTED__COMM__OFFLOAD"] = old


@pytest.fixture(scope="module")
def process_executor():
    with ProcessExecutor(2) as ex:
        yield ex


@pytest.fixture
def executors(process_executor, dask_executor):
    return [SerialExecutor(), process_executor, dask_executor]


def test_map_returns_every_result_with_its_index(executors):
    for ex in executors:
        got = dict(ex.map(_square, range(7), shared=10))
        assert got == {k: 10 + k * k for k in range(7)}, ex


def test_failures_raise_or_come_back_in_place(executors):
    for ex in executors:
        with pytest.raises(ValueError, match="three"):
            dict(ex.map(_fail_on_three, range(6)))
        got = dict(ex.map(_fail_on_three, range(6), errors="yield"))
        assert isinstance(got.pop(3), TaskFailed) and got == {k: k for k in (0, 1, 2, 4, 5)}, ex


def test_workers_know_their_slot(process_executor, dask_executor):
    for ex in (process_executor, dask_executor):
        pairs = set(dict(ex.map(_slot, range(8))).values())
        assert {s for s, _ in pairs} == {0, 1}, ex  # each worker its own number
        assert len(pairs) == 2 and len({pid for _, pid in pairs}) == 2, ex  # one number per process
    assert dict(SerialExecutor().map(_slot, [0]))[0] == (0, os.getpid())


def test_bad_executor_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown 'threads'"):
        make_executor("threads")
    with pytest.raises(ValueError, match="--scheduler"):
        make_executor("processes", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="workers"):
        ProcessExecutor(workers=-2)
    with pytest.raises(ValueError, match="errors"):
        dict(SerialExecutor().map(_square, [1], shared=0, errors="ignore"))


def test_an_absent_scheduler_is_named():
    pytest.importorskip("distributed")
    from spikevid.dask_executor import DaskExecutor

    with pytest.raises(OSError, match="tcp://127.0.0.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", timeout=1)


def _features(out):
    with np.load(out / "features.npz") as z:
        feats = {k: z[k] for k in z.files}
    with np.load(out / "raster.npz") as z:
        raster = {k: z[k] for k in z.files if k != "provenance"}
    return feats, raster


def test_every_executor_gives_the_serial_features(tmp_path, process_executor, dask_executor):
    """The issue's check: serial, local-process and Dask LocalCluster(2 workers) runs agree exactly."""
    from spikevid.experiments.config import resolve_config
    from spikevid.experiments.runner import run_experiment

    cfg = resolve_config(TINY, ["model.n_jobs=1"])
    results = {}
    for name, ex in (("serial", SerialExecutor()), ("processes", process_executor), ("dask", dask_executor)):
        metrics = run_experiment(cfg, tmp_path / name, executor=ex)
        results[name] = (metrics["test_predictions"], *_features(tmp_path / name))
        chunks = sorted(p.name for p in (tmp_path / name / "features").iterdir())
        assert chunks == ["test_0000.npz", "test_0001.npz", "train_0000.npz", "train_0001.npz", "train_0002.npz"]
    ref_pred, ref_feats, ref_raster = results["serial"]
    assert ref_feats["X_train_reservoir"].sum() > 0
    for name in ("processes", "dask"):
        pred, feats, raster = results[name]
        assert pred == ref_pred, name
        assert feats.keys() == ref_feats.keys() and raster.keys() == ref_raster.keys()
        for k in ref_feats:
            np.testing.assert_array_equal(feats[k], ref_feats[k], err_msg=f"{name}: {k}")
        for k in ref_raster:
            np.testing.assert_array_equal(raster[k], ref_raster[k], err_msg=f"{name}: raster {k}")


@pytest.mark.slow  # two tiny runs (~30 s); the default tier keeps the features check above
def test_a_study_on_dask_equals_one_in_this_process(tmp_path, dask_executor):
    from spikevid.experiments.config import resolve_config
    from spikevid.experiments.studies import heterogeneity_ablation

    cfg = resolve_config(TINY)
    kw = {"seeds": 1, "variants": ["HoNHoS"], "progress": False}
    here = heterogeneity_ablation(cfg, tmp_path / "here", jobs=1, **kw)
    there = heterogeneity_ablation(cfg, tmp_path / "dask", executor=dask_executor, **kw)
    assert here["run"]["failed"] == there["run"]["failed"] == {}
    assert there["run"]["executed"] == ["HoNHoS/seed0"]
    for cell in there["run"]["executed"]:
        a = np.load(tmp_path / "here" / cell / "features.npz")
        b = np.load(tmp_path / "dask" / cell / "features.npz")
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{cell}: {k}")


def test_cli_refuses_a_scheduler_without_dask(tmp_path, capsys):
    import yaml

    from spikevid.cli import main as cli_main

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    argv = ["run", str(cfg), "--out", str(tmp_path / "o"), "--executor", "processes", "--scheduler", "tcp://h:1"]
    assert cli_main(argv) == 2
    assert "--scheduler tcp://h:1: a scheduler address needs --executor dask" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


_CTRL_C_SCRIPT = """
import os, signal, sys, time
from spikevid.executors import ProcessExecutor

def task(_, seconds):
    time.sleep(seconds)
    return seconds

if __name__ == "__main__":
    try:
        with ProcessExecutor(workers=2) as ex:
            for index, _ in ex.map(task, [0.0, 60.0]):
                time.sleep(1.0)  # one worker idle now, the other in its task
                os.killpg(0, signal.SIGINT)  # a terminal's Ctrl-C: every process of the group
                time.sleep(10)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
"""


def test_ctrl_c_stops_the_task_and_leaves_idle_workers_quiet(tmp_path):
    """Ctrl-C with one worker idle: the running task stops, and no worker prints a traceback."""
    import subprocess
    import sys
    import time

    script = tmp_path / "ctrl_c.py"
    script.write_text(_CTRL_C_SCRIPT)
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, start_new_session=True
    )
    assert proc.returncode == 130 and "interrupted" in proc.stdout, proc.stderr[-2000:]
    assert time.monotonic() - t0 < 30  # the 60-second task did not run to its end
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
