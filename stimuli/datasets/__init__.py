"""Dataset loaders: a registry of :class:`~stimuli.datasets.base.ClipDataset` types.

>>> ds = get_dataset("synthetic", n_subjects=6, seed=1)
>>> train, test = ds.split("train"), ds.split("test")

Every loader indexes files at construction (nothing is decoded), yields
:class:`~stimuli.types.Sample` objects on ``ds[i]`` and knows its official split
protocol through ``ds.split(name, **protocol_options)``.
"""

from __future__ import annotations

import inspect
import os

from ..options import annotations_of, check_options
from .base import BadFileWarning, ClipDataset, Item
from .dvs_gesture import DVSGesture
from .folder import ClipFolder
from .images import Digits
from .kth import KTH
from .nmnist import NMNIST
from .synthetic import SyntheticActions, render_action
from .ucf11 import UCF11
from .ucf101 import UCF101
from .weizmann import Weizmann

#: Registry name -> dataset class.
DATASETS: dict[str, type[ClipDataset]] = {
    "kth": KTH,
    "ucf11": UCF11,
    "ucf101": UCF101,
    "dvs_gesture": DVSGesture,
    "nmnist": NMNIST,
    "weizmann": Weizmann,
    "folder": ClipFolder,
    "synthetic": SyntheticActions,
    "images": Digits,
}


def dataset_options(name: str) -> list[str]:
    """Keyword options accepted by dataset ``name`` (besides ``root``)."""
    cls = _lookup(name)
    params = inspect.signature(cls.__init__).parameters
    return [p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY]


def dataset_class(name: str) -> type[ClipDataset]:
    """The class registered as dataset ``name`` (ValueError naming the known ones)."""
    return _lookup(name)


def _lookup(name: str) -> type[ClipDataset]:
    key = str(name).lower().replace("-", "_")
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[key]


def get_dataset(name: str, root=None, **options) -> ClipDataset:
    """Build dataset ``name`` from the files under ``root``.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    root : path, optional
        Dataset folder (required by every dataset except ``synthetic``).
    **options
        Keyword options of the dataset class (e.g. ``size``, ``step``,
        ``max_frames``, ``skip_bad``); see :func:`dataset_options`.

    Raises
    ------
    ValueError
        Unknown dataset name or option (naming it).
    FileNotFoundError
        ``root`` does not exist.
    stimuli.types.StimulusError
        Unrecognised layout or bad files.
    """
    cls = _lookup(name)
    allowed = dataset_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"{cls.name}: unknown option(s) {', '.join(unknown)}; known: {', '.join(allowed)}")
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"{cls.name}: root must be a path, got {type(root).__name__}")
    check_options(cls.name, options, annotations_of(cls.__init__))
    return cls(root, **options)


__all__ = [
    "DATASETS",
    "get_dataset",
    "dataset_class",
    "dataset_options",
    "ClipDataset",
    "Item",
    "BadFileWarning",
    "KTH",
    "UCF11",
    "UCF101",
    "DVSGesture",
    "NMNIST",
    "Weizmann",
    "ClipFolder",
    "Digits",
    "SyntheticActions",
    "render_action",
]
