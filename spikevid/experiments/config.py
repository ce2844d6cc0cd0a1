"""Experiment configuration: YAML in, a validated nested dict out.

A config has six sections; any key not listed here is an error that names it
(``model.tau_mem``), so a typo never silently falls back to a default::

    dataset:   name, root, split {train, test}, split_options {..}, options {..},
               max_per_class, train_fraction (stratified subset of the training
               split, drawn with fraction_seed), fraction_seed
    encoder:   name, params {..}
    model:     kind (hrsnn | input), and every HRSNN hyperparameter
               (n, variant, tau_m, ..., device, dt, seed)
    readout:   kind (logistic | ridge | svm), scale, C, alpha
    baseline:  enabled, bins
    run:       chunk, cache (true: DIR/cache, false: none, or a folder to share),
               progress

``--set key.sub=value`` overrides use the same dotted paths; values are parsed
as YAML (``--set model.n=200``, ``--set dataset.options.size=[45,36]``).  Times are
in ms everywhere (:mod:`stimuli.timebase`): ``model.dt``, ``model.gap``,
``encoder.params.frame_duration``, ``encoder.params.dt``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from networks.hrsnn import HRSNN
from networks.readouts import READOUTS, SCALES

__all__ = [
    "DEFAULTS",
    "MODEL_KINDS",
    "ConfigError",
    "load_config",
    "resolve_config",
    "apply_overrides",
    "set_dotted",
    "check_train_fraction",
    "dump_config",
]


class ConfigError(ValueError):
    """An invalid configuration; the message names the key."""


#: Every section and key with its default.  ``model`` accepts the HRSNN
#: hyperparameters in addition (checked against ``HRSNN().get_params()``).
DEFAULTS: dict[str, dict[str, Any]] = {
    "dataset": {
        "name": None,
        "root": None,
        "split": {"train": "train", "test": "test"},
        "split_options": {},
        "options": {},
        "max_per_class": None,
        "train_fraction": 1.0,
        "fraction_seed": 0,
    },
    "encoder": {"name": "delta", "params": {}},
    "model": {"kind": "hrsnn"},
    "readout": {"kind": "logistic", "scale": "standard", "C": 1.0, "alpha": 1.0},
    "baseline": {"enabled": True, "bins": None},
    "run": {"chunk": 200, "cache": True, "progress": True},
}
#: Sections whose values are free-form mappings checked by their consumer.
_OPEN = {("dataset", "options"), ("dataset", "split_options"), ("encoder", "params")}
MODEL_KINDS = ("hrsnn", "input")


def _model_keys() -> set[str]:
    return {"kind"} | set(HRSNN().get_params())


def _check_keys(cfg: dict, ref: dict, path: tuple[str, ...] = ()) -> None:
    for key, value in cfg.items():
        where = ".".join(path + (str(key),))
        if path == ("model",):
            if key not in _model_keys():
                raise ConfigError(f"unknown config key '{where}'; model keys: {sorted(_model_keys())}")
            continue
        if key not in ref:
            known = ", ".join(sorted(ref)) if ref else "none"
            raise ConfigError(f"unknown config key '{where}' (known here: {known})")
        if path + (key,) in _OPEN:
            if value is not None and not isinstance(value, dict):
                raise ConfigError(f"'{where}' must be a mapping, got {type(value).__name__}")
            continue
        if isinstance(ref[key], dict):
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"'{where}' must be a mapping, got {type(value).__name__}")
            _check_keys(value, ref[key], path + (key,))


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def set_dotted(cfg: dict, key: str, value) -> None:
    """Set ``cfg["a"]["b"]["c"] = value`` for ``key = "a.b.c"`` (sections created as needed)."""
    parts = [p for p in str(key).strip().split(".") if p]
    if not parts:
        raise ConfigError(f"empty config key {key!r}")
    node = cfg
    for p in parts[:-1]:
        if not isinstance(node.setdefault(p, {}), dict):
            raise ConfigError(f"config key {key}: '{p}' is not a section")
        node = node[p]
    node[parts[-1]] = value


def apply_overrides(cfg: dict, overrides: list[str] | None) -> dict:
    """Apply ``key.sub=value`` strings (values parsed as YAML) to a copy of ``cfg``."""
    cfg = copy.deepcopy(cfg)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key.sub=value, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {key}: cannot parse value {raw!r}: {exc}") from None
        set_dotted(cfg, key, value)
    return cfg


def check_train_fraction(fraction, name: str = "dataset.train_fraction") -> float:
    """``fraction`` as a float in (0, 1], else a :class:`ConfigError` naming ``name``."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ConfigError(f"'{name}' must lie in (0, 1], got {fraction!r}")
    return float(fraction)


def resolve_config(cfg: dict, overrides: list[str] | None = None) -> dict:
    """Validate, apply overrides and fill defaults; return the full config."""
    if not isinstance(cfg, dict):
        raise ConfigError("a config must be a mapping of sections")
    cfg = apply_overrides(cfg, overrides)
    _check_keys(cfg, DEFAULTS)
    out = _merge(DEFAULTS, cfg)
    if not out["dataset"]["name"]:
        raise ConfigError("'dataset.name' is required")
    if out["model"].get("kind", "hrsnn") not in MODEL_KINDS:
        raise ConfigError(f"'model.kind' must be one of {MODEL_KINDS}, got {out['model']['kind']!r}")
    split = out["dataset"]["split"]
    if set(split) != {"train", "test"}:
        raise ConfigError(f"'dataset.split' needs exactly the keys train and test, got {sorted(split)}")
    _check_values(out)
    check_train_fraction(out["dataset"]["train_fraction"])
    if int(out["run"]["chunk"]) < 1:
        raise ConfigError(f"'run.chunk' must be >= 1, got {out['run']['chunk']}")
    return out


def _check_values(cfg: dict) -> None:
    """Fail before any work on values the readout or the model would reject."""
    r = cfg["readout"]
    if r["kind"] not in READOUTS:
        raise ConfigError(f"'readout.kind' must be one of {READOUTS}, got {r['kind']!r}")
    if r["scale"] not in SCALES:
        raise ConfigError(f"'readout.scale' must be one of {SCALES}, got {r['scale']!r}")
    if cfg["model"].get("kind", "hrsnn") == "hrsnn":
        params = {k: v for k, v in cfg["model"].items() if k != "kind"}
        try:
            HRSNN(**params).validate_params()
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"model.{exc}") from None


def load_config(path, overrides: list[str] | None = None) -> dict:
    """Read a YAML config file and resolve it (see :func:`resolve_config`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        return resolve_config(raw, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def dump_config(cfg: dict) -> str:
    """The config as YAML text (section order kept)."""
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None)
