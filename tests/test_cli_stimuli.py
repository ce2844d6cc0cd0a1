"""``spikevid stimuli list`` and ``spikevid stimuli show``."""

from __future__ import annotations

import numpy as np
import pytest

from spikevid.cli import main
from spikevid.cli.stimuli import parse_assignments
from stimuli.events import write_nmnist
from stimuli.types import make_events

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_parse_assignments_reads_yaml_values():
    assert parse_assignments(["a=1", "b=0.5", "c=[2, 3]", "d=true", "e=delta"], "--set") == {
        "a": 1,
        "b": 0.5,
        "c": [2, 3],
        "d": True,
        "e": "delta",
    }
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_assignments(["novalue"], "--set")


def test_list_prints_classes_counts_and_splits(capsys):
    assert main(["stimuli", "list", "--dataset", "synthetic", "--option", "n_subjects=6"]) == 0
    out = capsys.readouterr().out
    assert "synthetic: 72 clips, 6 classes" in out
    lines = {ln.split()[0]: ln.split()[1:] for ln in out.splitlines()[2:] if ln.strip()}
    assert lines["running"] == ["12", "8", "4"]  # all, train, test
    assert lines["total"] == ["72", "48", "24"]
    assert main(["stimuli", "list", "--dataset", "synthetic", "--option", "n_subjects=6", "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "[test]: 24 clips" in out


def test_show_writes_a_png_raster(tmp_path, capsys):
    out = tmp_path / "figs" / "raster.png"
    rc = main(
        [
            "stimuli",
            "show",
            "--dataset",
            "synthetic",
            "--option",
            "n_subjects=3",
            "--encoder",
            "delta",
            "--index",
            "4",
            "--set",
            "threshold=0.2",
            "--set",
            "pool=2",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    assert out.read_bytes()[:8] == PNG_MAGIC and out.stat().st_size > 5000
    text = capsys.readouterr().out
    assert "person01_handwaving_d1" in text and "spikes" in text and "1152 channels" in text  # 24*24*2


def test_show_events_dataset_defaults_to_the_event_binner(tmp_path, capsys):
    root = tmp_path / "nm"
    rng = np.random.default_rng(0)
    n = 200
    write_nmnist(
        root / "1.bs2",
        make_events(
            rng.integers(0, 34, n), rng.integers(0, 34, n), np.sort(rng.integers(0, 100_000, n)), rng.integers(0, 2, n)
        ),
    )
    (root / "train1K.txt").write_text("#sample #class\n1\t4\n")
    out = tmp_path / "ev.png"
    assert main(["stimuli", "show", "--dataset", "nmnist", "--root", str(root), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert "2312 channels" in capsys.readouterr().out  # 34 * 34 * 2


def test_stimulus_figure_has_labelled_axes():
    import matplotlib

    matplotlib.use("Agg")
    from analysis.stimulus_plots import plot_stimulus
    from stimuli.datasets import get_dataset
    from stimuli.encoders import get_encoder

    sample = get_dataset("synthetic", n_subjects=2)[0]
    stim = get_encoder("delta", threshold=0.2)(sample.data, label=sample.label, meta=sample.meta)
    fig = plot_stimulus(sample, stim)
    raster = fig.axes[-1]
    assert raster.get_xlabel() == "time (ms)" and raster.get_ylabel() == "input channel"
    assert raster.get_xlim()[1] == pytest.approx(stim.duration)
    assert len(fig.axes) == 3 and "first frame" in fig.axes[0].get_title()
    import matplotlib.pyplot as plt

    plt.close(fig)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["stimuli", "list", "--dataset", "nope"], "unknown dataset 'nope'"),
        (["stimuli", "list", "--dataset", "kth", "--root", "/no/such/dir"], "/no/such/dir"),
        (["stimuli", "list", "--dataset", "synthetic", "--option", "colour=1"], "colour"),
        (["stimuli", "list", "--dataset", "synthetic", "--split", "holdout"], "holdout"),
        (["stimuli", "show", "--dataset", "synthetic", "--encoder", "magic", "--out", "x.png"], "magic"),
        (["stimuli", "show", "--dataset", "synthetic", "--set", "bogus=1", "--out", "x.png"], "bogus"),
        (["stimuli", "show", "--dataset", "synthetic", "--index", "9999", "--out", "x.png"], "9999"),
    ],
)
def test_bad_input_gives_one_clear_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()
