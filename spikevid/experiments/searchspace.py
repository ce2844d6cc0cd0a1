"""What ``spikevid tune`` may change: the search space, its draws and their configs.

A search space maps a dotted config key to one dimension ``(kind, space, log)``:
``("float", (low, high), log scale)``, ``("int", (low, high), False)`` or
``("categorical", choices, False)``.  :data:`SEARCH_SPACE` is the default (the
reservoir's heterogeneity, input gain and wiring, recurrence and readout bins);
``spikevid tune --space FILE`` changes it with a YAML mapping (:func:`load_space`)::

    readout.C: {low: 0.01, high: 100, log: true}       # a new dimension (float unless type: int)
    encoder.params.threshold: {low: 0.05, high: 0.3}
    encoder.params.pool: {low: 3, high: 8, type: int}
    model.neuron_dist: {choices: [gamma, uniform]}     # a default dimension narrowed
    model.bins: null                                  # not searched: the config's value stands

Keys lie under ``model.``, ``encoder.params.`` or ``readout.`` (not ``model.kind``,
``model.seed``, ``readout.kind`` or ``readout.cv``, which define the study itself: its model,
networks and folds).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import yaml

from stimuli.encoders import get_encoder

from .config import ConfigError, ConfigLoader, model_estimator, resolve_config, set_dotted

__all__ = ["SEARCH_SPACE", "UNIFORM_MAX_CV", "suggest", "apply_params", "params_of", "load_space", "check_space"]

#: What a trial may change, per config key: ``(kind, choices or (low, high), log scale)``.
SEARCH_SPACE = {
    "model.tau_m": ("float", (5.0, 60.0), True),
    "model.cv_neuron": ("float", (0.0, 1.5), False),
    "model.neuron_dist": ("categorical", ("gamma", "lognormal", "uniform"), False),
    "model.cv_synapse": ("float", (0.0, 1.5), False),
    "model.J_in": ("float", (0.5, 8.0), True),
    "model.p_in": ("float", (0.02, 0.5), True),
    "model.p_ee": ("float", (0.02, 0.3), True),
    "model.input_wiring": ("categorical", ("random", "topographic"), False),
    "model.rf_tiles": ("int", (1, 6), False),  # a square grid of k x k tiles
    "model.bins": ("int", (1, 8), False),
}
#: Largest CV of a uniform distribution of positive values is 1/sqrt(3); a little below it.
UNIFORM_MAX_CV = 0.57
#: Where a searched key may lie, and the keys that define a study rather than a point in it.
_SECTIONS = ("model.", "encoder.params.", "readout.")
_FIXED = ("model.kind", "model.seed", "readout.cv", "readout.kind")


def suggest(trial, space: Mapping | None = None) -> dict:
    """One draw of ``space`` (default :data:`SEARCH_SPACE`) from an Optuna trial: ``{config key: value}``."""
    out = {}
    for key, (kind, values, log) in (SEARCH_SPACE if space is None else space).items():
        if kind == "float":
            out[key] = trial.suggest_float(key, *values, log=log)
        elif kind == "int":
            out[key] = trial.suggest_int(key, *values)
        else:
            out[key] = trial.suggest_categorical(key, list(values))
    return out


def apply_params(cfg: dict, params: dict, *, tau_m_min: float | None = None) -> dict:
    """``cfg`` with the drawn ``params`` set (dotted keys), resolved.

    ``model.rf_tiles: k`` becomes ``[k, k]``.  ``tau_m_min`` (ms) becomes
    ``model.tau_m_min`` unless the config sets one (``null`` counts as unset).  A
    uniform ``tau_m`` takes a CV of at most :data:`UNIFORM_MAX_CV` (a wider uniform
    would reach negative values) and, where ``model.tau_m_min`` is set, one small
    enough that the uniform starts at or above it (so it stays a uniform; other
    distributions are truncated there).
    """
    out = copy.deepcopy(cfg)
    for key, value in params.items():
        if key == "model.rf_tiles":
            value = [int(value), int(value)]
        set_dotted(out, key, value)
    model = out.setdefault("model", {})
    if tau_m_min is not None and model.get("tau_m_min") is None:  # unset or null: the floor
        model["tau_m_min"] = float(tau_m_min)
    if model.get("neuron_dist") == "uniform" and "cv_neuron" in model:
        cap = UNIFORM_MAX_CV
        if model.get("tau_m_min") is not None:
            tau_m = float(model.get("tau_m", model_estimator(model).get_params()["tau_m"]))
            cap = min(cap, max(0.0, 1.0 - float(model["tau_m_min"]) / tau_m) / 3.0**0.5)
        model["cv_neuron"] = min(float(model["cv_neuron"]), cap)
    return resolve_config(out)


def _value_at(cfg: dict, key: str):
    """The value ``cfg`` gives a searched key: its own, else the model's or the encoder's default."""
    if key.startswith("model."):
        name = key.removeprefix("model.")
        return cfg["model"].get(name, model_estimator(cfg["model"]).get_params().get(name))
    if key.startswith("encoder.params."):
        encoder = get_encoder(cfg["encoder"]["name"], **(cfg["encoder"]["params"] or {}))
        return getattr(encoder, key.removeprefix("encoder.params."))
    node = cfg
    for part in key.split("."):
        node = node[part]
    return node


def params_of(cfg: dict, *, source: str = "config", space: Mapping | None = None) -> dict:
    """The point of ``space`` (default :data:`SEARCH_SPACE`) a config stands for.

    The inverse of :func:`apply_params`: ``model.rf_tiles: [k, k]`` becomes ``k``; a key
    the config leaves out takes the model's (or the encoder's) default.

    Raises
    ------
    ConfigError
        Naming ``source`` and the key, where a value lies outside the search space
        (or ``rf_tiles`` is not square).
    """
    out = {}
    for key, (kind, values, _) in (SEARCH_SPACE if space is None else space).items():
        try:
            value = _value_at(cfg, key)
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ConfigError(
                f"{source}: {key}: the config gives no such value (another encoder or readout?)"
            ) from None
        if key == "model.rf_tiles":
            tiles = [int(v) for v in np.atleast_1d(value)]
            if len(set(tiles)) != 1:
                raise ConfigError(f"{source}: {key}: the search draws square grids of k x k tiles, got {value}")
            value = tiles[0]
        if kind == "categorical":
            ok = value in values
        else:
            value = int(value) if kind == "int" else float(value)
            ok = values[0] <= value <= values[1]
        if not ok:
            raise ConfigError(f"{source}: {key} = {value!r} lies outside the search space {tuple(values)}")
        out[key] = value
    return out


def load_space(spec, *, base: Mapping | None = None, source: str = "--space") -> dict:
    """A search space: ``base`` (default :data:`SEARCH_SPACE`) changed by ``spec``.

    Parameters
    ----------
    spec : mapping or path
        ``{config key: entry}`` (or a YAML file of it).  An entry is ``null`` (the key
        is not searched), ``{choices: [...]}`` or ``{low, high[, log][, type]}``; ``type``
        is ``float`` or ``int``, by default the base dimension's kind, else ``float``.
    base : mapping, optional
        The space changed.
    source : str
        Named in errors.

    Raises
    ------
    ConfigError
        Naming ``source`` and the key, for an entry of the wrong form.
    """
    base = SEARCH_SPACE if base is None else base
    if isinstance(spec, str | Path):
        source = str(spec)
        try:
            spec = yaml.load(Path(spec).read_text(), Loader=ConfigLoader)  # noqa: S506 -- a SafeLoader
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read the search space ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML ({exc})") from None
    if not isinstance(spec, Mapping) or not spec:
        raise ConfigError(f"{source}: a search space is a mapping of config keys to ranges, got {spec!r}")
    space = dict(base)
    for key, entry in spec.items():
        where = f"{source}: {key}"
        if not isinstance(key, str) or not key.startswith(_SECTIONS) or key.count(".") < 1:
            raise ConfigError(f"{where}: searched keys lie under {', '.join(_SECTIONS)} (e.g. readout.C)")
        if key in _FIXED:
            raise ConfigError(f"{where}: defines the study itself, so it cannot be searched")
        if entry is None:
            if key not in space:
                raise ConfigError(f"{where}: null removes a searched key, but this one is not searched")
            del space[key]
            continue
        space[key] = _dimension(entry, base.get(key), where)
    if not space:
        raise ConfigError(f"{source}: nothing left to search")
    return space


def _dimension(entry, known, where: str) -> tuple:
    """One ``(kind, values, log)`` from a ``--space`` entry."""
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected null, {{choices: [...]}} or {{low, high[, log][, type]}}, got {entry!r}")
    if "choices" in entry:
        return _categorical(entry, where)
    unknown = sorted(set(entry) - {"low", "high", "log", "type"})
    if unknown or not {"low", "high"} <= set(entry):
        raise ConfigError(f"{where}: a range takes low, high and optionally log and type; got {sorted(entry)}")
    default = known[0] if known is not None and known[0] != "categorical" else "float"
    kind, log, low, high = entry.get("type", default), entry.get("log", False), entry["low"], entry["high"]
    if kind not in ("float", "int"):
        raise ConfigError(f"{where}: type is float or int, got {kind!r}")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log is true or false, got {log!r}")
    what = "integer" if kind == "int" else "number"
    for name, value in (("low", low), ("high", high)):
        numeric = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not numeric or (kind == "int" and int(value) != value):
            raise ConfigError(f"{where}: {name} must be a finite {what}, got {value!r}")
    if not low < high:
        raise ConfigError(f"{where}: low must lie below high, got {low} and {high}")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log scale needs low > 0, got {low}")
    cast = int if kind == "int" else float
    return (kind, (cast(low), cast(high)), log)


def _categorical(entry: Mapping, where: str) -> tuple:
    """``("categorical", choices, False)`` from a ``{choices: [...]}`` entry."""
    extra = sorted(set(entry) - {"choices"})
    choices = entry["choices"]
    if extra:
        raise ConfigError(f"{where}: a categorical entry takes only 'choices', not {extra}")
    if not isinstance(choices, list) or not choices or len(set(map(repr, choices))) != len(choices):
        raise ConfigError(f"{where}: choices must be a non-empty list of distinct values, got {choices!r}")
    if not all(c is None or isinstance(c, bool | int | float | str) for c in choices):
        raise ConfigError(f"{where}: choices must be scalars (numbers, strings, true/false, null)")
    return ("categorical", tuple(choices), False)


def check_space(cfg: dict, space: Mapping, *, source: str = "--space") -> None:
    """Fail before any trial where an end of a range or a choice makes no valid config of ``cfg``.

    Raises
    ------
    ConfigError
        Naming the key and the value, with the config's own complaint.
    """
    for key, (kind, values, _) in space.items():
        for value in values:
            try:
                apply_params(cfg, {key: value})
            except (TypeError, ValueError) as exc:  # ConfigError among them
                hint = " (type: int draws integers)" if kind == "float" and "integer" in str(exc) else ""
                raise ConfigError(f"{source}: {key} = {value!r} makes no valid config: {exc}{hint}") from None


def space_to_json(space: Mapping) -> dict:
    """``space`` as JSON data (a study keeps its space in its user attributes)."""
    return {key: [kind, list(values), bool(log)] for key, (kind, values, log) in space.items()}


def space_from_json(data: Mapping) -> dict:
    """The inverse of :func:`space_to_json`."""
    return {key: (kind, tuple(values), bool(log)) for key, (kind, values, log) in data.items()}
