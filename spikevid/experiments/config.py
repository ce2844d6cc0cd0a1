"""Experiment configuration: YAML in, a validated nested dict out.

A config has six sections; any key not listed here is an error that names it
(``model.tau_mem``), so a typo never silently falls back to a default::

    dataset:   name, root, split {train, test}, split_options {..}, options {..},
               max_per_class, train_fraction (stratified subset of the training
               split, drawn with fraction_seed), fraction_seed
    encoder:   name, params {..}
    model:     kind (hrsnn | column | hybrid | input), and every hyperparameter of that
               model (networks.models.MODELS: HRSNN's n, variant, tau_m, ...;
               ColumnClassifier's n_layer, tiles, ...; device, dt, seed).
               kind hybrid (ReSpike; encoder residual) takes: branch (hrsnn |
               column: the residual frames' network), network {..} (its
               hyperparameters), scales (grid sizes of both branches), frames {..}
               (KeyFrameFeatures hyperparameters)
    readout:   kind (logistic | ridge | svm | attention | populations), scale, C,
               alpha, cv (auto | subject | none | k: cross-validation of every
               readout on the training split, spikevid.experiments.crossval),
               attention {..} (AttentionReadout hyperparameters: width,
               n_layers, ...); populations (model.kind column only): the vote of
               the R-STDP class populations; hybrid {..} (HybridClassifier
               hyperparameters of model.kind hybrid: mode frames | spikes | concat
               | cross, width, ...)
    baseline:  enabled, bins
    run:       chunk, cache (true: DIR/cache, false: none, or a folder to share),
               memory_mb (MB of encoded spikes held in memory; the rest is read
               from the cache as used), progress

``--set key.sub=value`` overrides use the same dotted paths; values are parsed
as YAML (``--set model.n=200``, ``--set dataset.options.size=[45,36]``).  Times are
in ms everywhere (:mod:`stimuli.timebase`): ``model.dt``, ``model.gap``,
``encoder.params.frame_duration``, ``encoder.params.dt``.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import yaml

from networks.attention import AttentionReadout
from networks.features import MAX_BINS
from networks.hybrid import HybridClassifier
from networks.keyframes import KeyFrameFeatures
from networks.models import MODELS
from networks.readouts import READOUTS, SCALES, make_readout
from networks.validation import Interval, Options, validate_params
from stimuli.datasets import DATASETS, dataset_class, dataset_options
from stimuli.encoders import ENCODERS, get_encoder
from stimuli.options import annotations_of, mismatch

from .crossval import CV_CHOICES

__all__ = [
    "DEFAULTS",
    "MODEL_KINDS",
    "POPULATIONS",
    "model_keys",
    "model_estimator",
    "spiking_kind",
    "model_params",
    "HYBRID_KEYS",
    "ConfigError",
    "load_config",
    "resolve_config",
    "apply_overrides",
    "set_dotted",
    "check_train_fraction",
    "dump_config",
    "ConfigLoader",
    "parse_value",
]


class ConfigLoader(yaml.SafeLoader):
    """YAML 1.2 (core schema) scalars, and duplicate keys are an error.

    PyYAML follows YAML 1.1, where ``5e-1`` is a string, ``040`` is octal 32, ``1:30``
    is 90 (base 60) and ``yes``/``no``/``on``/``off`` are booleans.  Here, as in YAML
    1.2: numbers are decimal (``0o17`` and ``0x1f`` for octal and hex), exponents
    need no dot, booleans are ``true``/``false`` only, and ``yes`` is a string (which
    the config check then rejects where a boolean is expected, naming the key).
    """

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # unhashable key: the base class reports it
                    continue
                if first is not key_node:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"found the key {key!r} twice (first{first.start_mark})",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node)
        sign, digits = (-1, text[1:]) if text[0] == "-" else (1, text.lstrip("+"))
        if digits.startswith("0o"):
            return sign * int(digits[2:], 8)
        if digits.startswith("0x"):
            return sign * int(digits[2:], 16)
        return sign * int(digits, 10)


ConfigLoader.yaml_implicit_resolvers = {}
for _tag, _regex, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
):
    ConfigLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_regex), list(_first))
ConfigLoader.add_constructor("tag:yaml.org,2002:int", ConfigLoader.construct_yaml_int)


def parse_value(text: str):
    """One YAML value as a config holds it (``--set`` values, command-line assignments)."""
    return yaml.load(text, Loader=ConfigLoader)  # noqa: S506 -- ConfigLoader is a SafeLoader


class ConfigError(ValueError):
    """An invalid configuration; the message names the key."""


#: Every section and key with its default.  ``model`` accepts the hyperparameters of
#: its kind in addition (:func:`model_keys`).
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
    "readout": {
        "kind": "logistic",
        "scale": "standard",
        "C": 1.0,
        "alpha": 1.0,
        "cv": "auto",
        "attention": {},
        "hybrid": {},
    },
    "baseline": {"enabled": True, "bins": None},
    "run": {"chunk": 200, "cache": True, "memory_mb": 256, "progress": True},
}
#: Sections whose values are free-form mappings checked by their consumer.
_OPEN = {
    ("dataset", "options"),
    ("dataset", "split_options"),
    ("encoder", "params"),
    ("readout", "attention"),
    ("readout", "hybrid"),
}
MODEL_KINDS = (*MODELS, "hybrid", "input")
#: Keys of ``model`` with ``kind: hybrid`` (the spiking branch's own keys go under ``network``).
HYBRID_KEYS = {"kind": "hybrid", "branch": "hrsnn", "network": {}, "scales": (4, 2, 1), "frames": {}}
#: ``readout.kind`` of the column's own answer (its class populations' vote), beside :data:`READOUTS`.
POPULATIONS = "populations"


def model_keys(kind: str) -> set[str]:
    """Keys ``model.*`` may hold for ``kind`` (``input`` takes those of any spiking model)."""
    if kind == "hybrid":
        return set(HYBRID_KEYS)
    classes = MODELS.values() if kind == "input" else [MODELS[kind]]
    return {"kind"}.union(*(c().get_params() for c in classes))


def spiking_kind(model: dict) -> str | None:
    """The spiking network a ``model`` section runs: ``hrsnn``, ``column`` (a hybrid's branch), or None."""
    kind = model.get("kind", "hrsnn")
    return model.get("branch", HYBRID_KEYS["branch"]) if kind == "hybrid" else kind if kind in MODELS else None


def model_params(model: dict) -> dict:
    """The hyperparameters a ``model`` section gives its spiking model (a hybrid's: ``network``)."""
    if model.get("kind", "hrsnn") == "hybrid":
        return dict(model.get("network") or {})
    return {k: v for k, v in model.items() if k != "kind"}


def readout_estimator(readout: dict, *, seed: int, n_tokens: int):
    """The unfitted readout of a ``readout`` section (``populations``: logistic regression on the features)."""
    kind = "logistic" if readout["kind"] == POPULATIONS else readout["kind"]
    return make_readout(
        kind,
        scale=readout["scale"],
        C=float(readout["C"]),
        alpha=float(readout["alpha"]),
        seed=seed,
        n_tokens=n_tokens,
        attention=readout["attention"],
    )


def model_estimator(model: dict):
    """The unfitted spiking model of a ``model`` section.

    ``kind: hybrid``: its branch network (``network`` holds the parameters);
    ``kind: input``: the model its keys belong to.
    """
    kind = model.get("kind", "hrsnn")
    params = model_params(model)
    if kind == "hybrid":
        return MODELS[spiking_kind(model)](**params)
    if kind == "input":
        kind = next((k for k, c in MODELS.items() if set(params) <= set(c().get_params())), None)
        if kind is None:
            raise ConfigError(
                "'model' mixes keys of different models ("
                + ", ".join(f"{k}: {sorted(set(params) - set(c().get_params()))}" for k, c in MODELS.items())
                + " are not theirs)"
            )
    return MODELS[kind](**params)


def _check_keys(cfg: dict, ref: dict, path: tuple[str, ...] = ()) -> None:
    for key, value in cfg.items():
        where = ".".join(path + (str(key),))
        if path == ("model",):
            kind = cfg.get("kind", "hrsnn")
            if key not in model_keys(kind):
                raise ConfigError(
                    f"unknown config key '{where}'; keys of model.kind {kind}: {sorted(model_keys(kind))}"
                )
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
    """Set ``cfg["a"]["b"]["c"] = value`` for ``key = "a.b.c"`` (sections created as needed).

    A section that holds None (an empty ``params:`` in YAML) becomes a mapping.
    """
    parts = [p for p in str(key).strip().split(".") if p]
    if not parts:
        raise ConfigError(f"empty config key {key!r}")
    node = cfg
    for p in parts[:-1]:
        if node.get(p) is None:
            node[p] = {}
        if not isinstance(node[p], dict):
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
            value = parse_value(raw)
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
    kind = (cfg.get("model") or {}).get("kind", "hrsnn") if isinstance(cfg.get("model"), dict) else "hrsnn"
    if kind not in MODEL_KINDS:
        raise ConfigError(f"'model.kind' must be one of {MODEL_KINDS}, got {kind!r}")
    _check_keys(cfg, DEFAULTS)
    out = _merge(DEFAULTS, cfg)
    if not out["dataset"]["name"]:
        raise ConfigError("'dataset.name' is required")
    split = out["dataset"]["split"]
    if set(split) != {"train", "test"}:
        raise ConfigError(f"'dataset.split' needs exactly the keys train and test, got {sorted(split)}")
    _check_values(out)
    if isinstance(out["dataset"]["root"], str):
        out["dataset"]["root"] = os.path.expanduser(out["dataset"]["root"])
    if isinstance(out["run"]["cache"], str):
        out["run"]["cache"] = os.path.expanduser(out["run"]["cache"])
    return out


#: Type and range of every fixed config entry (``dataset.split.*`` and the open mappings
#: are checked separately, the model by its estimator's ``validate_params``).
SCHEMA = {
    "dataset": {
        "name": Options(tuple(DATASETS)),
        "root": (None, str),
        "max_per_class": (None, Interval(int, 1, None)),
        "train_fraction": Interval(float, 0, 1, "right", "a fraction"),
        "fraction_seed": Interval(int, 0, None),
    },
    "encoder": {"name": Options(tuple(ENCODERS))},
    "readout": {
        "kind": Options((*READOUTS, POPULATIONS)),
        "scale": Options(SCALES),
        "C": Interval(float, 0, None, "neither", "an inverse regularisation strength"),
        "alpha": Interval(float, 0, None, what="a regularisation strength"),
        "cv": (Options(CV_CHOICES), Interval(int, 2, None, what="a number of folds")),
    },
    "baseline": {"enabled": Options((True, False)), "bins": (None, Interval(int, 1, MAX_BINS))},
    "run": {
        "chunk": Interval(int, 1, None),
        "cache": (bool, str),
        "memory_mb": Interval(float, 0, None, what="MB of encoded spikes held in memory"),
        "progress": Options((True, False)),
    },
}


def _check_values(cfg: dict) -> None:
    """Fail before any work on a value of the wrong type or range; the message names the key."""
    for section, rules in SCHEMA.items():
        for key, rule in rules.items():
            _check_entry(f"{section}.{key}", cfg[section][key], rule)
    _check_dataset(cfg["dataset"])
    try:
        encoder = get_encoder(cfg["encoder"]["name"], **(cfg["encoder"]["params"] or {}))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"encoder.params: {exc}") from None
    _check_model(cfg, float(encoder.dt))
    _check_attention(cfg["readout"])


def _check_dataset(d: dict) -> None:
    for which in ("train", "test"):
        if not isinstance(d["split"][which], str) or not d["split"][which]:
            raise ConfigError(f"'dataset.split.{which}' must be a split name, got {d['split'][which]!r}")
    if d["split"]["train"] == d["split"]["test"]:
        raise ConfigError(f"'dataset.split': train and test are the same split ({d['split']['train']!r})")
    unknown = sorted(set(d["options"] or {}) - set(dataset_options(d["name"])))
    if unknown:
        raise ConfigError(
            f"'dataset.options': unknown option(s) {unknown} for {d['name']}; "
            f"known: {', '.join(dataset_options(d['name']))}"
        )
    cls = dataset_class(d["name"])
    for section, func in (("options", cls.__init__), ("split_options", cls._split_indices)):
        rules = annotations_of(func)
        for key, value in (d[section] or {}).items():
            problem = mismatch(value, rules.get(key))
            if problem:
                raise ConfigError(f"'dataset.{section}.{key}' {problem}")


def _check_attention(readout: dict) -> None:
    attention = readout["attention"] or {}
    fixed = sorted({"scale", "n_tokens", "random_state"} & set(attention))
    if fixed:
        raise ConfigError(
            f"'readout.attention.{fixed[0]}' is set by the run (readout.scale, the bins, model.seed); remove it"
        )
    known = set(AttentionReadout().get_params()) - {"scale", "n_tokens", "random_state"}
    unknown = sorted(set(attention) - known)
    if unknown:
        raise ConfigError(
            f"unknown config key 'readout.attention.{unknown[0]}' (known here: {', '.join(sorted(known))})"
        )
    try:
        make_readout("attention", scale=readout["scale"], attention=attention)
    except ValueError as exc:
        raise ConfigError(f"readout.attention.{str(exc).removeprefix('attention: ')}") from None


def _check_model(cfg: dict, enc_dt: float) -> None:
    """Check every model key, whatever the kind.

    ``kind: input`` uses only ``bins``, ``reduction`` and ``seed``, but a config switched
    to it with ``--set model.kind=input`` keeps its network's keys: they must still be valid.
    """
    model = cfg["model"]
    kind = model.get("kind", "hrsnn")
    if kind == "hybrid":
        _check_hybrid(cfg)
    elif cfg["readout"]["hybrid"]:
        raise ConfigError(f"'readout.hybrid' configures the classifier of model.kind hybrid, not of {kind}; remove it")
    model_obj = model_estimator(model)
    try:
        model_obj.validate_params()
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model.{exc}") from None
    if cfg["readout"]["kind"] == POPULATIONS and kind != "column":
        raise ConfigError(
            f"'readout.kind' populations is the vote of a column's class populations; model.kind {kind} has none "
            f"(use {', '.join(READOUTS)})"
        )
    if kind == "input":
        return
    if enc_dt < model_obj.dt * (1 - 1e-9):
        raise ConfigError(
            f"'encoder.params.dt' ({enc_dt} ms) is finer than 'model.dt' ({model_obj.dt} ms): the network would "
            f"merge input spikes that fall in one of its steps; use encoder dt >= model dt"
        )


def _check_hybrid(cfg: dict) -> None:
    """``model.kind: hybrid``: the branch, its network's keys, the scales, frame features, classifier, encoder."""
    model, readout = cfg["model"], cfg["readout"]
    branch = model.get("branch", HYBRID_KEYS["branch"])
    if branch not in MODELS:
        raise ConfigError(
            f"'model.branch' must be one of {tuple(MODELS)} (the residual frames' network), got {branch!r}"
        )
    for key in ("network", "frames"):
        if model.get(key) is not None and not isinstance(model[key], dict):
            raise ConfigError(f"'model.{key}' must be a mapping, got {type(model[key]).__name__}")
    known = set(MODELS[branch]().get_params())
    unknown = sorted(set(model.get("network") or {}) - known)
    if unknown:
        raise ConfigError(f"unknown config key 'model.network.{unknown[0]}' (keys of a {branch}: {sorted(known)})")
    frames = dict(model.get("frames") or {})
    if "scales" in frames:
        raise ConfigError("'model.frames.scales' is set by 'model.scales' (both branches share the grids); remove it")
    try:
        KeyFrameFeatures(scales=model.get("scales", HYBRID_KEYS["scales"]), **frames).validate_params()
    except TypeError as exc:
        raise ConfigError(f"model.frames: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"model.frames.{exc}".replace("model.frames.scales", "model.scales")) from None
    hybrid = dict(readout["hybrid"] or {})
    if "random_state" in hybrid:
        raise ConfigError("'readout.hybrid.random_state' is set by the run (model.network.seed); remove it")
    try:
        HybridClassifier(**hybrid).validate_params()
    except TypeError as exc:
        raise ConfigError(f"readout.hybrid: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"readout.hybrid.{exc}") from None
    if cfg["encoder"]["name"] != "residual":
        raise ConfigError(
            f"'encoder.name' must be residual for model.kind hybrid (key frames and residual spikes), "
            f"got {cfg['encoder']['name']!r}"
        )


def _check_entry(key: str, value, rule) -> None:
    alternatives = rule if isinstance(rule, tuple) else (rule,)
    if any(alt is None and value is None or isinstance(alt, type) and isinstance(value, alt) for alt in alternatives):
        return
    constraints = tuple(a for a in alternatives if a is not None and not isinstance(a, type))
    types = [a.__name__ for a in alternatives if isinstance(a, type)]
    if constraints:
        try:
            validate_params({key: value}, {key: (None,) * (None in alternatives) + constraints})
            return
        except ValueError as exc:
            if not types:
                raise ConfigError(f"'{key}'{str(exc)[len(key) :]}") from None
    raise ConfigError(f"'{key}' must be {' or '.join(['None'] * (None in alternatives) + types)}, got {value!r}")


def load_config(path, overrides: list[str] | None = None) -> dict:
    """Read a YAML config file and resolve it (see :func:`resolve_config`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        raw = yaml.load(path.read_text(), Loader=ConfigLoader) or {}  # noqa: S506 -- a SafeLoader
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a text file ({exc.reason})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        return resolve_config(raw, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def dump_config(cfg: dict) -> str:
    """The config as YAML text (section order kept)."""
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None)
