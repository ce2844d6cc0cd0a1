"""The data of an experiment: the configured dataset's splits and their encoded stimuli."""

from __future__ import annotations

import os
import warnings

import numpy as np
from tqdm.auto import tqdm

from stimuli.cache import stimulus_key
from stimuli.datasets import BadFileWarning, get_dataset
from stimuli.sequence import RESIDENT_MB, StoredStimuli
from stimuli.types import StimulusError

from .config import ConfigError

__all__ = [
    "load_split",
    "load_train_split",
    "check_split_contents",
    "stratified_fraction",
    "first_per_class",
    "encode_all",
]


def load_split(cfg: dict):
    """The dataset and its train and test splits as the config names them.

    ``max_per_class`` keeps the first items of each class; ``train_fraction`` a
    stratified subset of the training split (:func:`stratified_fraction`).

    Returns
    -------
    dataset, train, test
    """
    ds, train = load_train_split(cfg)
    d = cfg["dataset"]
    test = ds.split(d["split"]["test"], **(d["split_options"] or {}))
    if d["max_per_class"]:
        test = first_per_class(test, int(d["max_per_class"]))
    if len(test) == 0:
        raise ConfigError(f"dataset '{d['name']}': empty split (train {len(train)}, test {len(test)})")
    return ds, train, test


def load_train_split(cfg: dict):
    """The dataset and its training split alone (the test split is not even listed): ``(dataset, train)``.

    What a search over hyperparameters may see (``spikevid tune``).
    """
    d = cfg["dataset"]
    ds = get_dataset(d["name"], d["root"], **(d["options"] or {}))
    train = ds.split(d["split"]["train"], **(d["split_options"] or {}))
    if d["max_per_class"]:
        train = first_per_class(train, int(d["max_per_class"]))
    if float(d["train_fraction"]) < 1.0:
        n_full = len(train)
        train = stratified_fraction(train, float(d["train_fraction"]), d["fraction_seed"])
        train.fraction = {"requested": float(d["train_fraction"]), "effective": len(train) / max(n_full, 1)}
    if len(train) == 0:
        raise ConfigError(f"dataset '{d['name']}': empty split (train {len(train)})")
    return ds, train


def check_split_contents(ds, train, test) -> list[str]:
    """Refuse splits that cannot give an honest test score; return warnings for odd ones.

    Errors (``ConfigError``, naming the items): fewer than two classes in the training
    split; a class that occurs in the test split but not in training (it could never be
    predicted); a test clip read from the same file or frame folder (and frame range) as
    a training clip, e.g. two index rows or a symlink pointing at one recording.
    Warnings: a class with training clips but none in the test split.
    """
    name = ds.name
    tr, te = set(np.unique(train.labels).tolist()), set(np.unique(test.labels).tolist())
    unseen = sorted(te - tr)
    if unseen:
        raise ConfigError(
            f"dataset '{name}': class(es) {', '.join(ds.classes[c] for c in unseen)} have test clips but no "
            f"training clip (they could never be predicted); check the split lists"
        )
    if len(tr) < 2:
        raise ConfigError(
            f"dataset '{name}': the training split has {len(tr)} class(es) "
            f"({', '.join(ds.classes[c] for c in sorted(tr)) or 'none'}); a classifier needs at least two"
        )
    seen: dict[tuple, str] = {}
    for item in train.items:
        key = _source_key(item)
        if key is not None:
            seen[key] = str(item.meta.get("id", item.path))
    for item in test.items:
        key = _source_key(item)
        if key in seen:
            raise ConfigError(
                f"dataset '{name}': test clip {item.meta.get('id', item.path)} is read from the same recording "
                f"as training clip {seen[key]} ({key[0]}): train/test leakage; check the index or links"
            )
    untested = sorted(tr - te)
    return [f"class {ds.classes[c]} has training clips but no test clip" for c in untested]


def _source_key(item) -> tuple | None:
    """(real path, frame range) of the recording an item is read from, or None when it has no file."""
    path = getattr(item, "path", None)
    if path is None or not os.path.exists(path):
        return None
    frames = item.meta.get("frames")
    return os.path.realpath(path), tuple(frames) if frames is not None else None


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


def encode_all(dataset, encoder, cache, *, desc="encode", progress=True, resident_mb=RESIDENT_MB):
    """Encode every sample (through the cache when given).

    With a cache, a :class:`~stimuli.sequence.StoredStimuli` that keeps up to
    ``resident_mb`` MB of spikes in memory and reads the rest from the cache as they
    are used (memory does not grow with the data); without, a list of SpikeStimulus.

    With the dataset's ``skip_bad``, a sample the encoder rejects (``StimulusError``:
    events outside the sensor, a clip of the wrong shape) is skipped and listed in the
    dataset's ``bad_files``; otherwise the error names the file.

    Every stimulus carries ``meta["cache_key"]`` (:func:`stimuli.cache.stimulus_key`): the
    identity of its input file, data and encoding, which runs record as their fingerprint.
    """
    bad = []

    def encoded():
        for sample in tqdm(dataset, total=len(dataset), desc=desc, disable=not progress, unit="clip"):
            try:
                if cache is not None:
                    yield cache.get_or_encode(sample, encoder)
                else:
                    stim = encoder(sample.data, label=sample.label, meta=sample.meta)
                    stim.meta["cache_key"] = stimulus_key(sample, encoder)
                    yield stim
            except StimulusError as exc:
                if not getattr(dataset, "skip_bad", False):
                    raise
                bad.append((str(sample.meta.get("path", sample.meta.get("id"))), f"cannot encode: {exc}"))

    out = list(encoded()) if cache is None else StoredStimuli.collect(cache.root, encoded(), resident_mb=resident_mb)
    if bad:
        dataset.bad_files.extend(bad)
        warnings.warn(
            f"{dataset.name}: skipped {len(bad)} clip(s) the encoder rejected: {bad[0][0]} ({bad[0][1]})"
            + (f" and {len(bad) - 1} more" if len(bad) > 1 else ""),
            BadFileWarning,
            stacklevel=2,
        )
    return out


def clip_subjects(dataset, stims) -> list | None:
    """``meta["subject"]`` of every encoded clip (matched by id), or None if the dataset names none."""
    if not hasattr(dataset, "meta_values"):
        return None
    by_id = dict(zip(dataset.ids, dataset.meta_values("subject"), strict=True))
    if isinstance(stims, StoredStimuli):
        ids = stims.ids
    else:
        ids = [str(s.meta.get("id", k)) for k, s in enumerate(stims)]
    subjects = [by_id.get(i) for i in ids]
    return subjects if any(v is not None for v in subjects) else None
