"""Read what ``spikevid run`` wrote into a run directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from networks.hrsnn import HRSNN

__all__ = ["load_metrics", "load_config_file", "load_raster", "load_model", "clip_duration", "class_names"]


def _need(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} not found in {path.parent} (is it a finished run directory?)")
    return path


def load_metrics(run_dir) -> dict:
    """``metrics.json`` of a run."""
    return json.loads(_need(Path(run_dir) / "metrics.json").read_text())


def load_config_file(run_dir) -> dict:
    """The resolved ``config.yaml`` of a run."""
    return yaml.safe_load(_need(Path(run_dir) / "config.yaml").read_text()) or {}


def load_raster(run_dir) -> dict | None:
    """``raster.npz`` as a dict of arrays (scalars as Python numbers); None if absent."""
    path = Path(run_dir) / "raster.npz"
    if not path.is_file():
        return None
    with np.load(path) as z:
        return {k: (z[k].item() if z[k].ndim == 0 else z[k]) for k in z.files}


def load_model(run_dir):
    """The trained :class:`networks.hrsnn.HRSNN` of a run (parameters from its config)."""
    run_dir = Path(run_dir)
    path = _need(run_dir / "model.npz")
    cfg = load_config_file(run_dir)
    params = {k: v for k, v in (cfg.get("model") or {}).items() if k != "kind"}
    return HRSNN(**params).load_state(path)


def clip_duration(raster: dict) -> float:
    """Mean clip duration (ms) of the clips in a raster."""
    win = np.asarray(raster["windows"])
    return float(np.mean(win[:, 1] - win[:, 0]) * raster["dt"])


def class_names(metrics: dict | None, labels) -> list[str]:
    """Names of the class indices ``labels`` (the indices themselves if unknown)."""
    classes = (metrics or {}).get("classes") or []
    return [classes[int(c)] if 0 <= int(c) < len(classes) else str(int(c)) for c in labels]
