"""The data of an experiment: the configured dataset's splits and their encoded stimuli."""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from stimuli.cache import stimulus_key
from stimuli.datasets import get_dataset

from .config import ConfigError

__all__ = ["load_split", "stratified_fraction", "first_per_class", "encode_all"]


def load_split(cfg: dict):
    """The dataset and its train and test splits as the config names them.

    ``max_per_class`` keeps the first items of each class; ``train_fraction`` a
    stratified subset of the training split (:func:`stratified_fraction`).

    Returns
    -------
    dataset, train, test
    """
    d = cfg["dataset"]
    ds = get_dataset(d["name"], d["root"], **(d["options"] or {}))
    opts = d["split_options"] or {}
    train, test = ds.split(d["split"]["train"], **opts), ds.split(d["split"]["test"], **opts)
    if d["max_per_class"]:
        train, test = (first_per_class(s, int(d["max_per_class"])) for s in (train, test))
    if float(d["train_fraction"]) < 1.0:
        train = stratified_fraction(train, float(d["train_fraction"]), d["fraction_seed"])
    if len(train) == 0 or len(test) == 0:
        raise ConfigError(f"dataset '{d['name']}': empty split (train {len(train)}, test {len(test)})")
    return ds, train, test


def stratified_fraction(ds, fraction: float, seed):
    """Stratified subset: ``ceil(fraction * n_c)`` items of each class c (at least one), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    labels = ds.labels
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = max(1, int(np.ceil(fraction * len(idx))))
        keep.append(rng.choice(idx, size=k, replace=False))
    return ds.subset(np.sort(np.concatenate(keep)))


def first_per_class(ds, n: int):
    """The first ``n`` items of each class."""
    labels = ds.labels
    keep = np.concatenate([np.flatnonzero(labels == c)[:n] for c in np.unique(labels)])
    return ds.subset(np.sort(keep))


def encode_all(dataset, encoder, cache, *, desc="encode", progress=True):
    """Encode every sample (through the cache when given); list of SpikeStimulus.

    Every stimulus carries ``meta["cache_key"]`` (:func:`stimuli.cache.stimulus_key`): the
    identity of its input file, data and encoding, which runs record as their fingerprint.
    """
    out = []
    for sample in tqdm(dataset, total=len(dataset), desc=desc, disable=not progress, unit="clip"):
        if cache is not None:
            out.append(cache.get_or_encode(sample, encoder))
        else:
            stim = encoder(sample.data, label=sample.label, meta=sample.meta)
            stim.meta["cache_key"] = stimulus_key(sample, encoder)
            out.append(stim)
    return out
