"""``spikevid tune --space``: a YAML file changes the search space; bad entries are named before any trial."""

from __future__ import annotations

import pytest
import yaml
from test_experiment import TINY

from spikevid.experiments.config import ConfigError, resolve_config
from spikevid.experiments.searchspace import SEARCH_SPACE, apply_params, check_space, load_space, params_of

TINY_CFG = resolve_config(TINY, ["readout.cv=2"])


def test_a_space_file_adds_narrows_and_removes_dimensions(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(
        "readout.C: {low: 0.01, high: 100, log: true}\n"
        "encoder.params.threshold: {low: 0.05, high: 0.3}\n"
        "encoder.params.pool: {low: 3, high: 8, type: int}\n"
        "model.neuron_dist: {choices: [gamma, uniform]}\n"
        "model.bins: {low: 1, high: 4}\n"  # an int of the default space stays an int
        "model.rf_tiles: null\n"
    )
    space = load_space(path)
    assert space["readout.C"] == ("float", (0.01, 100.0), True)
    assert space["encoder.params.threshold"] == ("float", (0.05, 0.3), False)
    assert space["encoder.params.pool"] == ("int", (3, 8), False)
    assert space["model.neuron_dist"] == ("categorical", ("gamma", "uniform"), False)
    assert space["model.bins"] == ("int", (1, 4), False)
    assert "model.rf_tiles" not in space
    assert space["model.tau_m"] == SEARCH_SPACE["model.tau_m"]  # the rest as it was
    assert "model.rf_tiles" in SEARCH_SPACE  # the default is not changed


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ({"dataset.root": {"low": 0, "high": 1}}, "dataset.root: searched keys lie under"),
        ({"model.seed": {"low": 0, "high": 9, "type": "int"}}, "model.seed: defines the study"),
        ({"readout.cv": {"choices": [2, 3]}}, "readout.cv: defines the study"),
        ({"readout.kind": {"choices": ["logistic", "svm"]}}, "readout.kind: defines the study"),
        ({"readout.C": None}, "readout.C: null removes a searched key"),
        ({"readout.C": [0.1, 10]}, "readout.C: expected null"),
        ({"readout.C": {"low": 0.1}}, "readout.C: a range takes low, high"),
        ({"readout.C": {"low": 0.1, "high": 10, "step": 1}}, r"readout.C: a range takes .* \['high', 'low', 'step'\]"),
        ({"readout.C": {"low": 10, "high": 0.1}}, "readout.C: low must lie below high"),
        ({"readout.C": {"low": 0, "high": 10, "log": True}}, "readout.C: a log scale needs low > 0"),
        ({"readout.C": {"low": 0.1, "high": 10, "log": "yes"}}, "readout.C: log is true or false"),
        ({"readout.C": {"low": 0.1, "high": ".inf"}}, "readout.C: high must be a finite number"),
        ({"encoder.params.pool": {"low": 1.5, "high": 4, "type": "int"}}, "pool: low must be a finite integer"),
        ({"encoder.params.pool": {"low": 1, "high": 4, "type": "long"}}, "pool: type is float or int"),
        ({"model.neuron_dist": {"choices": []}}, "neuron_dist: choices must be a non-empty list"),
        ({"model.neuron_dist": {"choices": ["gamma", "gamma"]}}, "distinct values"),
        ({"model.neuron_dist": {"choices": ["gamma"], "low": 1}}, "takes only 'choices'"),
    ],
)
def test_bad_entries_are_named(entry, match):
    with pytest.raises(ConfigError, match=match):
        load_space(entry)


def test_a_space_that_removes_everything_or_is_not_a_mapping_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="nothing left to search"):
        load_space(dict.fromkeys(SEARCH_SPACE))
    path = tmp_path / "list.yaml"
    path.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(ConfigError, match=r"list\.yaml: a search space is a mapping"):
        load_space(path)
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read"):
        load_space(tmp_path / "missing.yaml")


def test_ends_of_a_range_that_make_no_config_are_named_before_a_trial():
    with pytest.raises(ConfigError, match=r"model\.tau_mem = 5\.0 makes no valid config: .*tau_mem"):
        check_space(TINY_CFG, load_space({"model.tau_mem": {"low": 5, "high": 9}}))
    with pytest.raises(ConfigError, match=r"encoder\.params\.pool = 0 makes no valid config: .*pool"):
        check_space(TINY_CFG, load_space({"encoder.params.pool": {"low": 0, "high": 3, "type": "int"}}))
    with pytest.raises(ConfigError, match=r"readout\.scale = 'log2' makes no valid config"):
        check_space(TINY_CFG, load_space({"readout.scale": {"choices": ["log", "log2"]}}))
    check_space(TINY_CFG, load_space({"readout.C": {"low": 0.01, "high": 100, "log": True}}))  # fine


def test_encoder_and_readout_keys_round_trip_through_a_config():
    space = load_space(
        {
            "readout.C": {"low": 0.01, "high": 100, "log": True},
            "encoder.params.threshold": {"low": 0.05, "high": 0.3},
            "encoder.params.polarity": {"choices": [True, False]},
        }
    )
    point = {**params_of(TINY_CFG, space=space), "readout.C": 3.0, "encoder.params.threshold": 0.1}
    cfg = apply_params(TINY_CFG, point)
    assert cfg["readout"]["C"] == 3.0 and cfg["encoder"]["params"]["threshold"] == 0.1
    assert params_of(cfg, space=space) == point
    # a key the config leaves out takes the encoder's default (polarity: true)
    assert params_of(TINY_CFG, space=space)["encoder.params.polarity"] is True
    with pytest.raises(ConfigError, match=r"readout\.C = 1000\.0 lies outside"):
        params_of(resolve_config(TINY_CFG, ["readout.C=1000"]), space=space)


def test_shipped_spaces_hold_the_configs_they_were_made_for():
    """Each shipped space against the configs its studies started from (``--enqueue``) or chose."""
    from pathlib import Path

    from spikevid.experiments.config import load_config

    root = Path(__file__).resolve().parents[1] / "configs"
    made_for = {
        "encoder.yaml": ["weizmann_tuned.yaml", "weizmann_encoder_tuned.yaml"],
        "encoder_uncentred.yaml": ["demo_tuned.yaml"],
        "nmnist_local.yaml": ["nmnist_tuned.yaml", "nmnist_retuned.yaml"],
        "demo_local.yaml": ["demo_tuned.yaml"],
    }
    assert sorted(p.name for p in (root / "spaces").glob("*.yaml")) == sorted(made_for)
    for name, configs in made_for.items():
        space = load_space(root / "spaces" / name)
        for config in configs:
            cfg = load_config(root / config)
            check_space(cfg, space, source=name)
            assert set(params_of(cfg, space=space, source=config)) == set(space)  # inside the space


def test_an_empty_section_takes_a_drawn_value_and_a_missing_value_is_named():
    cfg = resolve_config({**TINY, "encoder": {"name": "delta", "params": None}}, ["readout.cv=2"])
    assert cfg["encoder"]["params"] is None
    assert apply_params(cfg, {"encoder.params.threshold": 0.2})["encoder"]["params"]["threshold"] == 0.2
    space = load_space({"readout.attention.width": {"low": 4, "high": 16, "type": "int"}})
    with pytest.raises(ConfigError, match=r"start\.yaml: readout\.attention\.width: the config gives no such value"):
        params_of(TINY_CFG, space=space, source="start.yaml")
