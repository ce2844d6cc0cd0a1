"""Saving and loading a fitted network's learned state (one ``.npz`` file).

The file holds what :meth:`~networks.hrsnn.HRSNN.fit` (:func:`save_state`) or
:meth:`~networks.column.ColumnClassifier.fit` (:func:`save_column_state`) learned or
drew -- weights after and before learning, weight snapshots, connectivity, per-neuron
parameters, the seed and the input size; for a column also the learned thresholds,
the classes and the columns' receptive fields -- and the hyperparameters it was
fitted with, which loading compares with the estimator it loads into.  Keys are
``<attribute>/<name>`` (``weights_/ee``, ``structure_/ee/i``,
``neuron_params_/exc/tau_m``); ``estimator`` names the class that saved the file.
Times are in ms, potentials in mV.  Files are written atomically.
"""

from __future__ import annotations

import inspect
import json
import warnings
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from stimuli.io import atomic_savez

from .features import features_per_neuron
from .topology import PATHWAYS

if TYPE_CHECKING:
    from .column import ColumnClassifier
    from .hrsnn import HRSNN

__all__ = [
    "STATE_FORMAT",
    "COLUMN_STATE_FORMAT",
    "PRESENTATION_PARAMS",
    "COLUMN_PRESENTATION_PARAMS",
    "StateFileError",
    "save_state",
    "load_state",
    "save_column_state",
    "load_column_state",
    "read_metadata",
]

#: Version of the file layout (2: times in ms, potentials in mV, hyperparameters stored).
STATE_FORMAT = 2
#: Hyperparameters that only change how a fitted reservoir is run or read out, not what
#: it learned: they may differ between the estimator that saved a state and the one
#: that loads it.
PRESENTATION_PARAMS = frozenset(
    {
        "device",
        "build_dir",
        "batch",
        "n_jobs",
        "progress",
        "record_v",
        "bins",
        "reduction",
        "populations",
        "snapshots",
        "seed",
    }
)
_STATE_DICTS = ("weights_", "weights_init_", "snapshots_")
#: Version of the column file layout.
COLUMN_STATE_FORMAT = 1
#: Column hyperparameters that may differ between saving and loading (as :data:`PRESENTATION_PARAMS`).
COLUMN_PRESENTATION_PARAMS = frozenset({"device", "build_dir", "progress", "bins", "reduction", "snapshots", "seed"})


class StateFileError(ValueError):
    """A state file that cannot be loaded into this estimator; the message names the file and why."""


def save_state(model: HRSNN, path, *, metadata: dict | None = None) -> None:
    """Write the learned state of a fitted ``model`` to ``path`` (.npz), atomically.

    Parameters
    ----------
    model : HRSNN
        A fitted reservoir.
    path : path
    metadata : dict, optional
        JSON-serialisable data stored beside the state (read back with :func:`read_metadata`).
    """
    check_is_fitted(model, "weights_")
    arrays = {
        "format": np.int64(STATE_FORMAT),
        "estimator": np.array("HRSNN"),
        "hyperparameters": np.array(json.dumps(_jsonable_params(model), sort_keys=True)),
        "metadata": np.array(json.dumps(metadata or {}, sort_keys=True, default=str)),
        "seed_": np.int64(model.seed_),
        "n_input_": np.int64(model.n_input_),
        "snapshot_times_": model.snapshot_times_,
        "fit_seconds_": np.float64(model.fit_seconds_),
        "spikes_per_neuron_": np.float64(model.spikes_per_neuron_),
    }
    for attr in _STATE_DICTS:
        for name, arr in getattr(model, attr).items():
            arrays[f"{attr}/{name}"] = arr
    for name, (i, j) in model.structure_.items():
        arrays[f"structure_/{name}/i"], arrays[f"structure_/{name}/j"] = i, j
    for pop, params in model.neuron_params_.items():
        for pname, values in params.items():
            arrays[f"neuron_params_/{pop}/{pname}"] = values
    if getattr(model, "channel_positions_", None) is not None:  # topographic input wiring
        arrays["channel_positions_"] = model.channel_positions_
    atomic_savez(path, **arrays)


def read_metadata(path) -> dict:
    """The ``metadata`` stored by :func:`save_state` (``{}`` when none); raises :class:`StateFileError`."""
    with _open(path) as data:
        return json.loads(str(data["metadata"])) if "metadata" in data.files else {}


def load_state(model: HRSNN, path, *, strict: bool = True) -> HRSNN:
    """Restore into ``model`` what :func:`save_state` wrote; returns ``model`` (fitted).

    Nothing of ``model`` changes unless the whole file loads and fits it.

    Parameters
    ----------
    model : HRSNN
    path : path
    strict : bool
        Refuse a state saved by an estimator whose hyperparameters differ from
        ``model``'s (other than :data:`PRESENTATION_PARAMS`); with False, warn instead.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    StateFileError
        Not a state file, damaged, of another format, saved with other hyperparameters
        (``strict``), or inconsistent with ``model``'s sizes; the message names the file
        and the difference.
    """
    with _open(path) as data:
        _check_estimator(data, "HRSNN", path, required=False)
        state = _read(data, path)
    _check_hyperparameters(model, state.pop("hyperparameters"), path, strict)
    _check_shapes(model, state, path)
    for name, value in state.items():
        setattr(model, name, value)
    model.n_features_out_ = model.n_population * features_per_neuron(model.reduction, model.bins, model.taus)
    return model


@contextmanager
def _open(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: state file not found")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise StateFileError(f"{path}: not a readable .npz state file ({exc})") from None
    try:
        yield data
    finally:
        data.close()


def _read(data, path) -> dict:
    try:
        keys = list(data.files)
        fmt = int(data["format"]) if "format" in keys else 1
        if fmt != STATE_FORMAT:
            raise StateFileError(f"{path}: state file format {fmt}, this spikevid reads {STATE_FORMAT}; fit again")
        state = {
            "hyperparameters": json.loads(str(data["hyperparameters"])),
            "seed_": int(data["seed_"]),
            "n_input_": int(data["n_input_"]),
            "snapshot_times_": data["snapshot_times_"],
            "fit_seconds_": float(data["fit_seconds_"]),
            "spikes_per_neuron_": float(data["spikes_per_neuron_"]),
            "channel_positions_": data["channel_positions_"] if "channel_positions_" in keys else None,
        }
        state.update(_nested_arrays(data, keys, _STATE_DICTS))
    except StateFileError:
        raise
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise StateFileError(f"{path}: damaged state file ({type(exc).__name__}: {exc})") from None
    return state


def _nested_arrays(data, keys, dict_attrs) -> dict:
    """The dict-valued state of a state file: ``<attr>/<name>`` arrays, ``structure_`` (i, j) and ``neuron_params_``."""
    out = {attr: {k.split("/", 1)[1]: data[k] for k in keys if k.startswith(attr + "/")} for attr in dict_attrs}
    out["structure_"], out["neuron_params_"] = {}, {}
    for k in keys:
        if k.startswith("structure_/") and k.endswith("/i"):
            name = k.split("/")[1]
            out["structure_"][name] = (data[k], data[f"structure_/{name}/j"])
        elif k.startswith("neuron_params_/"):
            _, part, pname = k.split("/")
            out["neuron_params_"].setdefault(part, {})[pname] = data[k]
    return out


_SCALARS = (bool, int, float, str, type(None))


def _init_params(model) -> dict:
    """The ``__init__`` parameters of ``model``'s class that have a default."""
    return {
        k: v
        for k, v in inspect.signature(type(model).__init__).parameters.items()
        if k != "self" and v.default is not inspect.Parameter.empty
    }


def _jsonable_params(model) -> dict:
    """Hyperparameters that JSON keeps exactly: scalars, and tuples/lists of scalars (as lists)."""
    out = {}
    for k, v in model.get_params().items():
        if isinstance(v, _SCALARS):
            out[k] = v
        elif isinstance(v, (tuple, list)) and all(isinstance(x, _SCALARS) for x in v):
            out[k] = list(v)
    return out


def _check_estimator(data, expected: str, path, *, required: bool) -> None:
    """Refuse a file saved by another estimator class (files of format 2 name none: HRSNN)."""
    saved = str(data["estimator"]) if "estimator" in data.files else ("HRSNN" if not required else None)
    if saved != expected:
        raise StateFileError(f"{path}: saved by a {saved or 'unknown estimator'}, not a {expected}; fit again")


def _check_hyperparameters(model, saved: dict, path, strict: bool, presentation=PRESENTATION_PARAMS) -> None:
    current = _jsonable_params(model)
    # a hyperparameter added since the file was saved: the file's model had its default
    defaults = _jsonable_params(clone(model).set_params(**{k: v.default for k, v in _init_params(model).items()}))
    saved = {**{k: defaults[k] for k in current if k not in saved and k in defaults}, **saved}
    diff = [
        f"{k}={saved.get(k)!r} (this estimator: {current.get(k)!r})"
        for k in sorted(set(saved) | set(current))
        if k not in presentation and saved.get(k) != current.get(k)
    ]
    if not diff:
        return
    text = f"{path}: saved by a {type(model).__name__} with other hyperparameters: " + "; ".join(diff)
    if strict:
        raise StateFileError(text + " (load_state(..., strict=False) to load anyway)")
    warnings.warn(text, RuntimeWarning, stacklevel=3)


def _check_shapes(model, state: dict, path) -> None:
    sizes = {"input": state["n_input_"], "exc": model.n_exc, "inh": model.n_inh}
    problems = []
    for pop in ("exc", "inh"):
        for pname, values in state["neuron_params_"].get(pop, {}).items():
            if len(values) != sizes[pop]:
                problems.append(f"{pop} {pname} has {len(values)} values for {sizes[pop]} neurons")
    for name, (i, j) in state["structure_"].items():
        if name not in PATHWAYS or len(i) != len(j):
            problems.append(f"pathway {name!r} is malformed")
            continue
        src, tgt, _ = PATHWAYS[name]
        if len(i) and (int(np.max(i)) >= sizes[src] or int(np.max(j)) >= sizes[tgt]):
            problems.append(f"pathway {name} connects neurons beyond {sizes[src]} {src} -> {sizes[tgt]} {tgt}")
    for attr in ("weights_", "weights_init_"):
        for name, w in state[attr].items():
            n_syn = len(state["structure_"].get(name, ((), ()))[0])
            if len(w) != n_syn:
                problems.append(f"{attr}{name} has {len(w)} weights for {n_syn} synapses")
    if problems:
        raise StateFileError(f"{path}: does not fit this estimator: " + "; ".join(problems))


# -- cortical columns ------------------------------------------------------------------

_COLUMN_DICTS = ("weights_", "weights_init_", "snapshots_")
_COLUMN_ARRAYS = ("classes_", "columns_", "theta_", "snapshot_times_", "reward_accuracy_")
_COLUMN_SCALARS = {"seed_": int, "n_input_": int, "fit_seconds_": float, "spikes_per_neuron_": float}


def save_column_state(model: ColumnClassifier, path, *, metadata: dict | None = None) -> None:
    """Write the learned state of a fitted :class:`~networks.column.ColumnClassifier` to ``path`` (.npz).

    Parameters
    ----------
    model : ColumnClassifier
    path : path
    metadata : dict, optional
        JSON-serialisable data stored beside the state (:func:`read_metadata`).
    """
    check_is_fitted(model, "weights_")
    arrays = {
        "format": np.int64(COLUMN_STATE_FORMAT),
        "estimator": np.array("ColumnClassifier"),
        "hyperparameters": np.array(json.dumps(_jsonable_params(model), sort_keys=True)),
        "metadata": np.array(json.dumps(metadata or {}, sort_keys=True, default=str)),
    }
    for name, kind in _COLUMN_SCALARS.items():
        arrays[name] = np.asarray(kind(getattr(model, name)))
    for name in _COLUMN_ARRAYS:
        value = np.asarray(getattr(model, name))
        arrays[name] = np.asarray(value.tolist()) if value.dtype == object else value
    if model.channel_positions_ is not None:
        arrays["channel_positions_"] = model.channel_positions_
    for attr in _COLUMN_DICTS:
        for name, arr in getattr(model, attr).items():
            arrays[f"{attr}/{name}"] = arr
    for name, (i, j) in model.structure_.items():
        arrays[f"structure_/{name}/i"], arrays[f"structure_/{name}/j"] = i, j
    for part, params in model.neuron_params_.items():
        for pname, values in params.items():
            arrays[f"neuron_params_/{part}/{pname}"] = values
    atomic_savez(path, **arrays)


def load_column_state(model: ColumnClassifier, path, *, strict: bool = True) -> ColumnClassifier:
    """Restore into ``model`` what :func:`save_column_state` wrote; returns ``model`` (fitted).

    Nothing of ``model`` changes unless the whole file loads and fits it.

    Parameters
    ----------
    model : ColumnClassifier
    path : path
    strict : bool
        Refuse a state saved with other hyperparameters (other than
        :data:`COLUMN_PRESENTATION_PARAMS`); with False, warn instead.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    StateFileError
        Not a column state file, damaged, of another format, saved with other
        hyperparameters (``strict``), or inconsistent with ``model``'s sizes; the
        message names the file and the difference.
    """
    with _open(path) as data:
        _check_estimator(data, "ColumnClassifier", path, required=True)
        state = _read_column(data, path)
    _check_hyperparameters(model, state.pop("hyperparameters"), path, strict, COLUMN_PRESENTATION_PARAMS)
    _check_column_shapes(model, state, path)
    for name, value in state.items():
        setattr(model, name, value)
    model.n_features_in_ = model.n_input_
    model.n_layer_total_ = len(model.columns_)
    model.n_features_out_ = model.n_layer_total_ * int(model.bins)
    return model


def _read_column(data, path) -> dict:
    try:
        keys = list(data.files)
        fmt = int(data["format"])
        if fmt != COLUMN_STATE_FORMAT:
            raise StateFileError(f"{path}: column state format {fmt}, this spikevid reads {COLUMN_STATE_FORMAT}")
        state = {"hyperparameters": json.loads(str(data["hyperparameters"]))}
        state.update({name: kind(data[name]) for name, kind in _COLUMN_SCALARS.items()})
        state.update({name: data[name] for name in _COLUMN_ARRAYS})
        state["channel_positions_"] = data["channel_positions_"] if "channel_positions_" in keys else None
        state.update(_nested_arrays(data, keys, _COLUMN_DICTS))
    except StateFileError:
        raise
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise StateFileError(f"{path}: damaged state file ({type(exc).__name__}: {exc})") from None
    return state


def _check_column_shapes(model, state: dict, path) -> None:
    gx, gy = (int(v) for v in model.tiles)
    n_layer = int(model.n_layer) * gx * gy
    n_class = len(state["classes_"]) * int(model.n_per_class)
    sizes = {"input": (state["n_input_"], n_layer), "class": (n_layer, n_class)}
    problems = []
    if len(state["columns_"]) != n_layer or len(state["theta_"]) != n_layer:
        problems.append(
            f"{len(state['columns_'])} layer neurons saved for {n_layer} (n_layer={model.n_layer}, tiles={model.tiles})"
        )
    for name, (n_pre, n_post) in sizes.items():
        i, j = state["structure_"].get(name, (np.zeros(0, int), np.zeros(0, int)))
        if len(i) != len(j) or (len(i) and (int(np.max(i)) >= n_pre or int(np.max(j)) >= n_post)):
            problems.append(f"pathway {name} does not connect {n_pre} -> {n_post} neurons")
        for attr in ("weights_", "weights_init_"):
            w = state[attr].get(name)
            if w is None or len(w) != len(i):
                problems.append(f"{attr}{name} has {0 if w is None else len(w)} weights for {len(i)} synapses")
    if problems:
        raise StateFileError(f"{path}: does not fit this estimator: " + "; ".join(problems))
