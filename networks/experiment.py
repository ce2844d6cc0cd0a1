"""The experiment runner: dataset -> encoder -> reservoir -> readout -> metrics.

``run_experiment(cfg, out_dir)`` runs four timed phases and writes into ``out_dir``::

    config.yaml          the resolved configuration
    log.txt              what happened, with timings
    cache/               encoded stimuli, one file per sample (reused on resume)
    model.npz            learned weights, weights before learning, weight
                         snapshots, connectivity and neuron parameters
    features/            reservoir features per chunk of clips (resume points)
    features.npz         X_train, y_train, X_test, y_test (+ baseline features)
    raster.npz           spikes of the first test clips (input, exc, inh)
    metrics.json         accuracies, confusion matrix, activity, timings

Every file is written atomically.  Started again on the same directory with the
same configuration, the runner reuses the cached stimuli, the trained model and
every finished feature chunk, and ends with the same metrics; a different
configuration is refused (the message lists the differing keys).
"""
from __future__ import annotations

import logging
import platform
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import yaml

from .baseline import InputCounts
from .config import ConfigError, dump_config
from .hrsnn import HRSNN, _Timeline
from stimuli.io import atomic_savez, atomic_write_json, atomic_write_text
from .readouts import evaluate, make_readout

__all__ = ["run_experiment", "run_logger", "load_split", "encode_all", "summary_table"]

#: Config entries that may change between a run and its resumption.
_VOLATILE = (("run", "progress"), ("model", "build_dir"))
RASTER_CLIPS = 3


def run_logger(out: Path, *, console: bool = True) -> logging.Logger:
    """A logger writing to ``out/log.txt`` (and to stderr with ``console=True``).

    Parallel study workers use ``console=False`` so their lines do not interleave.
    """
    out.mkdir(parents=True, exist_ok=True)
    log = logging.getLogger(f"spikevid.run.{out.resolve()}")
    log.setLevel(logging.INFO)
    log.propagate = False
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    fh = logging.FileHandler(out / "log.txt")
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(fh)
    if console:
        sh = logging.StreamHandler()
        sh.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(sh)
    return log


@contextmanager
def _timed(seconds: dict, name: str, log):
    t0 = time.perf_counter()
    log.info(f"[{name}] started")
    yield
    seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0
    log.info(f"[{name}] done in {seconds[name]:.1f} s")


def _strip(cfg: dict) -> dict:
    out = yaml.safe_load(dump_config(cfg))
    for section, key in _VOLATILE:
        out.get(section, {}).pop(key, None)
    return out


def _diff(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in _diff(a.get(k), b.get(k), f"{path}.{k}" if path else k)]
    return [] if a == b else [path]


def load_split(cfg: dict):
    """The train and test datasets the config names (after ``max_per_class``)."""
    from stimuli.datasets import get_dataset
    d = cfg["dataset"]
    ds = get_dataset(d["name"], d["root"], **(d["options"] or {}))
    opts = d["split_options"] or {}
    train, test = ds.split(d["split"]["train"], **opts), ds.split(d["split"]["test"], **opts)
    if d["max_per_class"]:
        train, test = (_per_class(s, int(d["max_per_class"])) for s in (train, test))
    if float(d["train_fraction"]) < 1.0:
        train = _fraction(train, float(d["train_fraction"]), d["fraction_seed"])
    if len(train) == 0 or len(test) == 0:
        raise ConfigError(f"dataset '{d['name']}': empty split (train {len(train)}, test {len(test)})")
    return ds, train, test


def _fraction(ds, fraction: float, seed):
    """Stratified subset: ``ceil(fraction * n_c)`` items of each class c (at least one)."""
    rng = np.random.default_rng(seed)
    labels = ds.labels
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = max(1, int(np.ceil(fraction * len(idx))))
        keep.append(rng.choice(idx, size=k, replace=False))
    return ds.subset(np.sort(np.concatenate(keep)))


def _per_class(ds, n):
    labels = ds.labels
    keep = np.concatenate([np.flatnonzero(labels == c)[:n] for c in np.unique(labels)])
    return ds.subset(np.sort(keep))


def encode_all(dataset, encoder, cache, *, desc="encode", progress=True):
    """Encode every sample (through the cache when given); list of SpikeStimulus."""
    from tqdm.auto import tqdm
    out = []
    for sample in tqdm(dataset, total=len(dataset), desc=desc, disable=not progress, unit="clip"):
        out.append(cache.get_or_encode(sample, encoder) if cache is not None
                   else encoder(sample.data, label=sample.label, meta=sample.meta))
    return out


def _hrsnn(cfg: dict) -> HRSNN:
    params = {k: v for k, v in cfg["model"].items() if k != "kind"}
    params.setdefault("progress", cfg["run"]["progress"])
    return HRSNN(**params)


def _chunks(n: int, size: int):
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def _extract(model: HRSNN, stims: list, split: str, out: Path, chunk: int, log, progress: bool):
    """Features of ``stims`` in chunks, each saved (and reused on resume)."""
    feats, spikes_total, syn_total, raster = [], 0.0, 0.0, None
    chunks = _chunks(len(stims), chunk)
    for k, (a, b) in enumerate(chunks):
        path = out / "features" / f"{split}_{k:04d}.npz"
        if path.exists():
            with np.load(path) as z:
                F, spn, syn = z["features"], float(z["spikes_per_neuron"]), float(z["synaptic_events"])
            log.info(f"  {split} chunk {k + 1}/{len(chunks)}: reused {path.name}")
        else:
            F = model.transform(stims[a:b])
            res = model.last_result_
            spn, syn = float(res.extra["spikes_per_neuron"]), float(res.extra["synaptic_events"])
            atomic_savez(path, features=F, spikes_per_neuron=spn, synaptic_events=syn,
                         labels=np.array([s.label for s in stims[a:b]]))
            log.info(f"  {split} chunk {k + 1}/{len(chunks)}: clips {a}-{b - 1}, "
                     f"{spn:.2f} spikes/neuron/clip")
            if split == "test" and k == 0:
                raster = _raster(res, stims[a:b], model)
        feats.append(F)
        spikes_total += spn * (b - a)
        syn_total += syn
    n = max(len(stims), 1)
    return np.vstack(feats), spikes_total / n, syn_total / n, raster


def _raster(res, stims, model: HRSNN) -> dict:
    """Spikes of the first clips of a feature phase, times relative to the first window."""
    win = res.windows[-1][:RASTER_CLIPS]
    lo, hi = int(win[0, 0]), int(win[-1, 1])
    out = {"windows": win - lo, "dt": float(model.dt) * 1e-3, "labels": np.array([s.label for s in stims[:len(win)]])}
    for pop, (idx, stp) in res.spikes.items():
        keep = (stp >= lo) & (stp < hi)
        out[f"{pop}_i"], out[f"{pop}_t"] = idx[keep], stp[keep] - lo
    # input spikes of the same clips, placed in their windows
    ii, tt = [], []
    for (a, _), s in zip(win - lo, stims):
        st = _Timeline.net_steps(s, float(model.dt) * 1e-3)
        ii.append(s.indices)
        tt.append(st + a)
    out["input_i"], out["input_t"] = np.concatenate(ii), np.concatenate(tt)
    out["n_exc"], out["n_inh"], out["n_input"] = model.n_exc, model.n_inh, model.n_input_
    if "v" in res.extra:  # membrane traces (volts), one row per recorded neuron, steps lo..hi
        out["v"], out["v_i"] = res.extra["v"][:, lo:hi], res.extra["v_i"]
    return out


def _readout(cfg, X_tr, y_tr, X_te, y_te, classes) -> dict:
    r = cfg["readout"]
    clf = make_readout(r["kind"], scale=r["scale"], C=float(r["C"]), alpha=float(r["alpha"]),
                       seed=int(cfg["model"].get("seed") or 0))
    clf.fit(X_tr, y_tr)
    train, test = evaluate(clf, X_tr, y_tr, classes), evaluate(clf, X_te, y_te, classes)
    return {"train_accuracy": train["accuracy"], "test_accuracy": test["accuracy"],
            "per_class_accuracy": test["per_class_accuracy"], "confusion_matrix": test["confusion_matrix"],
            "test_predictions": test["predictions"], "n_features": int(X_tr.shape[1])}


def run_experiment(cfg: dict, out_dir, *, log=None) -> dict:
    """Run the configured experiment into ``out_dir`` (resumable); return the metrics.

    Parameters
    ----------
    cfg : dict
        A resolved config (:func:`networks.config.load_config`).
    out_dir : path
        Result directory; created if needed.

    Returns
    -------
    dict
        The content of ``metrics.json``.
    """
    from stimuli.cache import StimulusCache
    from stimuli.encoders import get_encoder

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "config.yaml"
    if cfg_path.exists():
        old = yaml.safe_load(cfg_path.read_text()) or {}
        diff = _diff(_strip(old), _strip(cfg))
        if diff:
            raise ConfigError(f"{out} holds a run of a different configuration (differs in: "
                              f"{', '.join(diff)}); choose another --out or delete it")
    atomic_write_text(cfg_path, dump_config(cfg))
    log = log or run_logger(out)
    progress = bool(cfg["run"]["progress"])
    seconds: dict[str, float] = {}
    log.info(f"spikevid run -> {out}")

    with _timed(seconds, "encode", log):
        ds, train_ds, test_ds = load_split(cfg)
        encoder = get_encoder(cfg["encoder"]["name"], **(cfg["encoder"]["params"] or {}))
        where = cfg["run"]["cache"]
        cache = (StimulusCache(out / "cache") if where is True else
                 StimulusCache(Path(where)) if where else None)
        train = encode_all(train_ds, encoder, cache, desc="encode train", progress=progress)
        test = encode_all(test_ds, encoder, cache, desc="encode test", progress=progress)
        y_tr = np.array([s.label for s in train])
        y_te = np.array([s.label for s in test])
        n_in = train[0].n_channels
        in_rate = np.mean([s.n_spikes / (s.n_channels * s.duration) for s in train])
        log.info(f"  {len(train)} train / {len(test)} test clips, {n_in} input channels, "
                 f"mean input rate {in_rate:.2f} Hz" + (f"; cache hits {cache.hits}, misses {cache.misses}"
                                                         if cache else ""))
    classes = list(ds.classes)
    kind = cfg["model"].get("kind", "hrsnn")
    features = {}
    activity = {}
    if kind == "hrsnn":
        model = _hrsnn(cfg)
        model_path = out / "model.npz"
        with _timed(seconds, "train", log):
            if model_path.exists():
                model.load_state(model_path)
                log.info(f"  reused the trained model {model_path.name}")
            else:
                model.fit(train)
                model.save_state(model_path)
                log.info(f"  unsupervised phase: {len(train)} clips x {model.epochs} epoch(s), "
                         f"{model.fit_seconds_:.1f} s")
        with _timed(seconds, "extract", log):
            chunk = int(cfg["run"]["chunk"])
            X_tr, spn_tr, syn_tr, _ = _extract(model, train, "train", out, chunk, log, progress)
            X_te, spn_te, syn_te, raster = _extract(model, test, "test", out, chunk, log, progress)
            if raster is not None:
                atomic_savez(out / "raster.npz", **raster)
        features["reservoir"] = (X_tr, X_te)
        n_total = len(train) + len(test)
        activity = {"spikes_per_neuron_per_sample": (spn_tr * len(train) + spn_te * len(test)) / n_total,
                    "synaptic_events_per_sample": (syn_tr * len(train) + syn_te * len(test)) / n_total,
                    "n_neurons": int(model.n), "n_synapses": {k: int(len(i)) for k, (i, _) in model.structure_.items()}}
    bins = cfg["baseline"]["bins"] or cfg["model"].get("bins", HRSNN().bins)
    if kind == "input" or cfg["baseline"]["enabled"]:
        base = InputCounts(bins=int(bins)).fit(train)
        features["input"] = (base.transform(train), base.transform(test))

    with _timed(seconds, "readout", log):
        results = {name: _readout(cfg, Xa, y_tr, Xb, y_te, classes) for name, (Xa, Xb) in features.items()}
    main = results["reservoir" if kind == "hrsnn" else "input"]
    arrays = {"y_train": y_tr, "y_test": y_te}
    for name, (Xa, Xb) in features.items():
        arrays[f"X_train_{name}"], arrays[f"X_test_{name}"] = Xa, Xb
    atomic_savez(out / "features.npz", **arrays)

    metrics = {
        "test_accuracy": main["test_accuracy"], "train_accuracy": main["train_accuracy"],
        "n_train": len(train), "n_test": len(test), "classes": classes,
        "confusion_matrix": main["confusion_matrix"], "per_class_accuracy": main["per_class_accuracy"],
        "test_predictions": main["test_predictions"], "n_features": main["n_features"],
        "model": {"kind": kind, **({k: cfg["model"].get(k, HRSNN().get_params()[k])
                                    for k in ("variant", "n", "device", "dt", "seed")} if kind == "hrsnn" else {})},
        "dataset": cfg["dataset"]["name"], "encoder": cfg["encoder"]["name"], "n_input": int(n_in),
        **activity,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "environment": {"python": platform.python_version(), "machine": platform.machine()},
    }
    if kind == "hrsnn" and "input" in results:
        b = results["input"]
        metrics["baseline"] = {"kind": "input_counts", "test_accuracy": b["test_accuracy"],
                               "train_accuracy": b["train_accuracy"], "n_features": b["n_features"],
                               "confusion_matrix": b["confusion_matrix"],
                               "per_class_accuracy": b["per_class_accuracy"]}
    atomic_write_json(out / "metrics.json", metrics)
    log.info("\n" + summary_table(metrics))
    log.info(f"results in {out}/ (metrics.json, features.npz, model.npz, log.txt)")
    for h in list(log.handlers):
        h.close()
        log.removeHandler(h)
    return metrics


def summary_table(metrics: dict) -> str:
    """A small text table of a run's accuracies (reservoir beside baseline)."""
    rows = [("model", "train acc", "test acc", "features")]
    name = metrics["model"]["kind"]
    if name == "hrsnn":
        name = f"HRSNN {metrics['model'].get('variant', '')} (n={metrics['model'].get('n')})"
    else:
        name = "input counts"
    rows.append((name, f"{metrics['train_accuracy']:.1%}", f"{metrics['test_accuracy']:.1%}",
                 str(metrics["n_features"])))
    if "baseline" in metrics:
        b = metrics["baseline"]
        rows.append(("input counts (no SNN)", f"{b['train_accuracy']:.1%}", f"{b['test_accuracy']:.1%}",
                     str(b["n_features"])))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    line = lambda r: "  ".join(v.ljust(w) for v, w in zip(r, widths))  # noqa: E731
    text = [f"{metrics['dataset']}: {metrics['n_train']} train / {metrics['n_test']} test clips, "
            f"{len(metrics['classes'])} classes", line(rows[0]), line(["-" * w for w in widths])]
    text += [line(r) for r in rows[1:]]
    if "spikes_per_neuron_per_sample" in metrics:
        text.append(f"reservoir activity: {metrics['spikes_per_neuron_per_sample']:.2f} spikes/neuron/clip; "
                    f"time (s): " + ", ".join(f"{k} {v:.1f}" for k, v in metrics["seconds"].items()))
    return "\n".join(text)
