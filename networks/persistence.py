"""Saving and loading a fitted reservoir's learned state (one ``.npz`` file).

The file holds what :meth:`~networks.hrsnn.HRSNN.fit` learned or drew -- weights after
and before learning, weight snapshots, connectivity, per-neuron parameters, the seed
and the input size -- not the hyperparameters, which live in the run's config.  Keys
are ``<attribute>/<name>`` (``weights_/ee``, ``structure_/ee/i``, ``neuron_params_/exc/tau_m``).
Times are in ms, potentials in mV.  Files are written atomically.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sklearn.utils.validation import check_is_fitted

from stimuli.io import atomic_savez

if TYPE_CHECKING:
    from .hrsnn import HRSNN

__all__ = ["STATE_FORMAT", "save_state", "load_state"]

#: Version of the file layout (2: times in ms, potentials in mV).
STATE_FORMAT = 2
_STATE_DICTS = ("weights_", "weights_init_", "snapshots_")


def save_state(model: HRSNN, path) -> None:
    """Write the learned state of a fitted ``model`` to ``path`` (.npz), atomically."""
    check_is_fitted(model, "weights_")
    arrays = {
        "format": np.int64(STATE_FORMAT),
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
    atomic_savez(path, **arrays)


def load_state(model: HRSNN, path) -> HRSNN:
    """Restore into ``model`` what :func:`save_state` wrote; returns ``model`` (fitted)."""
    with np.load(path) as data:
        keys = list(data.keys())
        model.seed_ = int(data["seed_"])
        model.n_input_ = int(data["n_input_"])
        model.snapshot_times_ = data["snapshot_times_"]
        model.fit_seconds_ = float(data["fit_seconds_"])
        model.spikes_per_neuron_ = float(data["spikes_per_neuron_"])
        for attr in _STATE_DICTS:
            setattr(model, attr, {k.split("/", 1)[1]: data[k] for k in keys if k.startswith(attr + "/")})
        model.structure_, model.neuron_params_ = {}, {}
        for k in keys:
            if k.startswith("structure_/") and k.endswith("/i"):
                name = k.split("/")[1]
                model.structure_[name] = (data[k], data[f"structure_/{name}/j"])
            elif k.startswith("neuron_params_/"):
                _, pop, pname = k.split("/")
                model.neuron_params_.setdefault(pop, {})[pname] = data[k]
    model.n_features_out_ = model.n_population * int(model.bins)
    return model
