"""Read what ``spikevid run`` wrote into a run directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from networks.models import model_class

__all__ = [
    "RunFileError",
    "load_metrics",
    "load_config_file",
    "load_raster",
    "load_model",
    "load_attention",
    "clip_duration",
    "class_names",
    "METRICS_KEYS",
]

#: Entries every ``metrics.json`` of a finished run has.
METRICS_KEYS = ("test_accuracy", "train_accuracy", "classes", "confusion_matrix", "per_class_accuracy")


class RunFileError(ValueError):
    """A file of a run folder is damaged or not what spikevid writes (the message names it)."""


def _need(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} not found in {path.parent} (is it a finished run directory?)")
    return path


def load_metrics(run_dir) -> dict:
    """``metrics.json`` of a run.

    Raises
    ------
    FileNotFoundError
        No ``metrics.json`` (not a finished run).
    RunFileError
        Not JSON, or without the entries of :data:`METRICS_KEYS`.
    """
    path = _need(Path(run_dir) / "metrics.json")
    try:
        metrics = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunFileError(f"{path}: not a valid metrics file ({exc}); rerun the run to rewrite it") from None
    if not isinstance(metrics, dict):
        raise RunFileError(f"{path}: not a metrics file (a JSON {type(metrics).__name__}, expected an object)")
    missing = [k for k in METRICS_KEYS if k not in metrics]
    if missing:
        raise RunFileError(f"{path}: not a complete metrics file (no {', '.join(missing)})")
    return metrics


def load_config_file(run_dir) -> dict:
    """The resolved ``config.yaml`` of a run."""
    path = _need(Path(run_dir) / "config.yaml")
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RunFileError(f"{path}: not a valid config file ({exc})") from None
    if not isinstance(cfg, dict):
        raise RunFileError(f"{path}: not a run configuration (a YAML {type(cfg).__name__})")
    return cfg


#: Arrays every ``raster.npz`` has, and those of a reservoir's and of a column's.
_RASTER_KEYS = ("windows", "dt", "input_i", "input_t")
_POPULATION_KEYS = {
    "reservoir": ("exc_i", "exc_t", "n_exc"),
    "column": ("layer_i", "layer_t", "classes_i", "classes_t"),
}


def load_raster(run_dir) -> dict | None:
    """``raster.npz`` as a dict of arrays (scalars as Python numbers); None if absent.

    Raises
    ------
    RunFileError
        The file is not a raster spikevid wrote (damaged, or arrays missing).
    """
    path = Path(run_dir) / "raster.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: (z[k].item() if z[k].ndim == 0 else z[k]) for k in z.files}
    except Exception as exc:  # noqa: BLE001 -- zip, pickle and format errors alike
        raise RunFileError(f"{path}: not a readable raster file ({type(exc).__name__}); rerun the run") from None
    missing = [k for k in _RASTER_KEYS if k not in out]
    if not missing and not any(all(k in out for k in keys) for keys in _POPULATION_KEYS.values()):
        missing = ["reservoir or column spikes"]
    if missing:
        raise RunFileError(f"{path}: not a complete raster file (no {', '.join(missing)})")
    return out


def load_attention(run_dir) -> dict:
    """``attention.npz`` of a run with ``readout.kind: attention`` (arrays; ``bin_ms`` a float).

    Raises
    ------
    FileNotFoundError
        The run has no attention readout.
    RunFileError
        The file is damaged.
    """
    path = Path(run_dir) / "attention.npz"
    if not path.is_file():
        raise FileNotFoundError(f"attention.npz not found in {path.parent} (was readout.kind attention?)")
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: (z[k].item() if z[k].ndim == 0 else z[k]) for k in z.files}
    except Exception as exc:  # noqa: BLE001 -- zip, pickle and format errors alike
        raise RunFileError(f"{path}: not a readable attention file ({type(exc).__name__}); rerun the run") from None
    if not any(k.endswith("_per_class") for k in out):
        raise RunFileError(f"{path}: no attention maps in it")
    return out


def load_model(run_dir):
    """The trained network of a run: an :class:`~networks.hrsnn.HRSNN` or a :class:`~networks.column.ColumnClassifier`.

    Built from the run's config (``model.kind`` and its parameters), then loaded from ``model.npz``.
    """
    run_dir = Path(run_dir)
    path = _need(run_dir / "model.npz")
    model = load_config_file(run_dir).get("model") or {}
    params = {k: v for k, v in model.items() if k != "kind"}
    return model_class(model.get("kind", "hrsnn"))(**params).load_state(path)


def clip_duration(raster: dict) -> float:
    """Mean clip duration (ms) of the clips in a raster."""
    win = np.asarray(raster["windows"])
    return float(np.mean(win[:, 1] - win[:, 0]) * raster["dt"])


def class_names(metrics: dict | None, labels) -> list[str]:
    """Names of the class indices ``labels`` (the indices themselves if unknown)."""
    classes = (metrics or {}).get("classes") or []
    return [classes[int(c)] if 0 <= int(c) < len(classes) else str(int(c)) for c in labels]
