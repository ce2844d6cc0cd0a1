"""The experiment runner: dataset -> encoder -> network -> readout -> metrics, in phases.

``run_experiment(cfg, out_dir)`` runs six small phases, each a public function that
reads and extends the :class:`Run` it is given:

1. :func:`prepare`     -- the result folder, its ``config.yaml`` (a different config is
   refused) and ``log.txt``;
2. :func:`encode`      -- the configured splits, encoded through the stimulus cache;
3. :func:`reservoir`   -- ``model.kind: hrsnn``: unsupervised STDP phase (``model.npz``,
   reused on resume), then features in chunks (``features/``, each a resume point)
   and a raster of the first test clips;
4. :func:`baseline`    -- the same reduction of the input spikes (no network);
5. :func:`readouts`    -- a scikit-learn readout per feature set;
6. :func:`write_results` -- ``features.npz`` and ``metrics.json``.

Files written into ``out_dir``::

    config.yaml          the resolved configuration
    log.txt              what happened, with timings
    cache/               encoded stimuli, one file per sample (reused on resume)
    model.npz            learned weights, weights before learning, weight
                         snapshots, connectivity and neuron parameters
    features/            reservoir features per chunk of clips (resume points)
    features.npz         X_train, y_train, X_test, y_test (+ baseline features)
    raster.npz           spikes of the first test clips (input, exc, inh); times in steps, dt in ms
    attention.npz        readout.kind attention: attention per time bin of each test clip and class
    metrics.json         accuracies, confusion matrix, activity, timings

Every file is written atomically.  Started again on the same directory with the
same configuration, the runner reuses the cached stimuli, the trained model and
every finished feature chunk, and ends with the same metrics.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from analysis.attention import attention_per_bin, class_means
from analysis.report import summary_table
from networks.baseline import InputCounts
from networks.hrsnn import HRSNN
from networks.persistence import read_metadata
from networks.readouts import evaluate, make_readout
from networks.simulation import SimulationResult
from networks.timeline import Timeline
from stimuli.cache import StimulusCache
from stimuli.encoders import get_encoder
from stimuli.io import atomic_savez, atomic_write_json
from stimuli.timebase import ms_to_seconds
from stimuli.types import SpikeStimulus, StimulusError

from .. import __version__
from .data import check_split_contents, encode_all, load_split
from .provenance import Provenance, digest, input_identities
from .runfolder import claim_config, locked, stripped
from .runlog import FILE_ONLY, close_logger, run_logger, timed

__all__ = [
    "Run",
    "EncodedData",
    "run_experiment",
    "prepare",
    "encode",
    "reservoir",
    "baseline",
    "readouts",
    "write_results",
    "RASTER_CLIPS",
]

#: Test clips saved in ``raster.npz``.
RASTER_CLIPS = 3


@dataclass
class Run:
    """What the phases of one run share: config, folder, log and phase timings (seconds)."""

    cfg: dict
    out: Path
    log: logging.Logger
    seconds: dict[str, float] = field(default_factory=dict)
    #: Version and config digest every artefact of this run is made from (set by :func:`encode`).
    provenance: Provenance | None = None

    @property
    def progress(self) -> bool:
        return bool(self.cfg["run"]["progress"])

    @property
    def kind(self) -> str:
        return self.cfg["model"].get("kind", "hrsnn")


@dataclass
class EncodedData:
    """The encoded splits of a run."""

    classes: list
    train: list[SpikeStimulus]
    test: list[SpikeStimulus]
    #: ``(path, reason)`` of files dropped with ``skip_bad``.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: ``dataset.train_fraction`` requested and in effect (one clip per class at least), if below 1.
    fraction: dict | None = None

    @property
    def y_train(self) -> np.ndarray:
        return np.array([s.label for s in self.train])

    @property
    def y_test(self) -> np.ndarray:
        return np.array([s.label for s in self.test])

    @property
    def n_input(self) -> int:
        return self.train[0].n_channels


def run_experiment(cfg: dict, out_dir, *, log=None) -> dict:
    """Run the configured experiment into ``out_dir`` (resumable); return the metrics.

    The folder is locked for the whole run (:func:`~spikevid.experiments.runfolder.locked`);
    an interruption (``KeyboardInterrupt``) or a failure is recorded in ``log.txt`` and
    re-raised, and everything finished before it is reused by the next run.

    Parameters
    ----------
    cfg : dict
        A resolved config (:func:`spikevid.experiments.config.load_config`).
    out_dir : path
        Result directory; created if needed.
    log : logging.Logger, optional
        Default: :func:`~spikevid.experiments.runlog.run_logger` on ``out_dir``.

    Returns
    -------
    dict
        The content of ``metrics.json``.
    """
    with locked(out_dir):
        run = prepare(cfg, out_dir, log)
        try:
            data = encode(run)
            features, activity = reservoir(run, data) if run.kind == "hrsnn" else ({}, {})
            features.update(baseline(run, data))
            results = readouts(run, data, features)
            metrics = write_results(run, data, features, results, activity)
        except KeyboardInterrupt:
            run.log.warning("interrupted -- rerun the same command to resume; finished parts are kept")
            close_logger(run.log)
            raise
        except BaseException as exc:
            run.log.error(f"run failed: {type(exc).__name__}: {exc}", exc_info=True, extra=FILE_ONLY)
            close_logger(run.log)
            raise
    run.log.info("\n" + summary_table(metrics))
    written = ("metrics.json", "features.npz") + (("model.npz",) if run.kind == "hrsnn" else ()) + ("log.txt",)
    run.log.info(f"results in {run.out}/ ({', '.join(written)})")
    close_logger(run.log)
    return metrics


# ---------------------------------------------------------------------------- 1. prepare
def prepare(cfg: dict, out_dir, log=None) -> Run:
    """Claim the result folder for ``cfg`` (refused if it holds results of another config); open the log."""
    out = Path(out_dir)
    note = claim_config(out, cfg)
    run = Run(cfg, out, log or run_logger(out))
    run.log.info(f"spikevid run -> {out}")
    if note:
        run.log.info(f"  {note}")
    return run


# ---------------------------------------------------------------------------- 2. encode
def encode(run: Run) -> EncodedData:
    """Load the splits and encode them; record the run's fingerprint (``fingerprint.json``).

    With ``dataset.options.skip_bad`` unreadable files are dropped and listed in
    ``data.skipped`` (and in ``metrics.json``).
    """
    with timed(run.seconds, "encode", run.log):
        ds, train_ds, test_ds = load_split(run.cfg)
        for warning in check_split_contents(ds, train_ds, test_ds):
            run.log.warning(f"  {warning}")
        fraction = getattr(train_ds, "fraction", None)
        if fraction and fraction["effective"] > 1.25 * fraction["requested"]:
            run.log.warning(
                f"  train_fraction {fraction['requested']:g} keeps at least one clip per class: "
                f"{len(train_ds)} training clips, an effective fraction of {fraction['effective']:.3g}"
            )
        encoder = get_encoder(run.cfg["encoder"]["name"], **(run.cfg["encoder"]["params"] or {}))
        where = run.cfg["run"]["cache"]
        cache = StimulusCache(run.out / "cache") if where is True else StimulusCache(Path(where)) if where else None
        train = encode_all(train_ds, encoder, cache, desc="encode train", progress=run.progress)
        test = encode_all(test_ds, encoder, cache, desc="encode test", progress=run.progress)
        skipped = sorted({path: reason for path, reason in train_ds.bad_files + test_ds.bad_files}.items())
        if not train or not test:
            raise StimulusError(
                f"dataset '{ds.name}': no readable clip left in the train or test split ({len(skipped)} skipped)"
            )
        data = EncodedData(list(ds.classes), train, test, skipped, fraction)
        for split, stims in (("train", train), ("test", test)):
            empty = [str(s.meta.get("id", k)) for k, s in enumerate(stims) if s.n_spikes == 0]
            if len(empty) == len(stims):
                raise StimulusError(
                    f"every {split} clip encodes to zero spikes (encoder {run.cfg['encoder']['name']} with "
                    f"{run.cfg['encoder']['params'] or 'default parameters'}): check the encoder's threshold, "
                    f"rate and the clip length"
                )
            if empty:
                shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
                run.log.warning(f"  {len(empty)} of {len(stims)} {split} clips have no input spike ({shown})")
        rate = np.mean([s.n_spikes / (s.n_channels * ms_to_seconds(s.duration)) for s in train])
        run.log.info(
            f"  {len(train)} train / {len(test)} test clips, {data.n_input} input channels, "
            f"mean input rate {rate:.2f} Hz" + (f"; cache hits {cache.hits}, misses {cache.misses}" if cache else "")
        )
        for path, reason in skipped:
            run.log.warning(f"  skipped {path}: {reason}")
        run.provenance = _record_fingerprint(run, data)
    return data


def _record_fingerprint(run: Run, data: EncodedData) -> Provenance:
    """Write ``fingerprint.json``; log what changed since the run that wrote the last one."""
    config = digest(stripped(run.cfg))
    inputs = {"train": input_identities(data.train), "test": input_identities(data.test)}
    overlap = sorted(set(inputs["train"]) & set(inputs["test"]))
    if overlap:
        raise StimulusError(
            f"clips in both the train and the test split: {', '.join(overlap[:5])}"
            + (f" and {len(overlap) - 5} more" if len(overlap) > 5 else "")
        )
    path = run.out / "fingerprint.json"
    current = {"spikevid": __version__, "config": config, "inputs": inputs}
    if path.exists():
        try:
            old = json.loads(path.read_text())
            for split in ("train", "test"):
                before = Provenance(old["spikevid"], old["config"], old["inputs"][split])
                for change in Provenance(__version__, config, inputs[split]).changes(before):
                    run.log.info(f"  since the last run ({split}): {change}")
        except (OSError, ValueError, KeyError, TypeError):
            run.log.warning(f"  {path.name} was unreadable; every result is checked against the data anyway")
    atomic_write_json(path, current)
    return Provenance(__version__, config)


# ---------------------------------------------------------------------------- 3. reservoir
def reservoir(run: Run, data: EncodedData) -> tuple[dict, dict]:
    """Train the HRSNN without labels (or reuse a matching ``model.npz``), then extract features in chunks.

    Returns
    -------
    features : dict
        ``{"reservoir": (X_train, X_test)}``.
    activity : dict
        Spikes per neuron and synaptic events per clip, network size.
    """
    params = {k: v for k, v in run.cfg["model"].items() if k != "kind"}
    params.setdefault("progress", run.progress)
    model = HRSNN(**params)
    expected = replace(run.provenance, inputs=input_identities(data.train))
    model_path = run.out / "model.npz"
    with timed(run.seconds, "train", run.log):
        if _reusable(run, model_path, expected, "the trained model", lambda: read_metadata(model_path)):
            model.load_state(model_path)
            run.log.info(f"  reused the trained model {model_path.name}")
        else:
            model.fit(data.train)
            model.save_state(model_path, metadata={"provenance": expected.to_json()})
            run.log.info(
                f"  unsupervised phase: {len(data.train)} clips x {model.epochs} epoch(s), {model.fit_seconds_:.1f} s"
            )
    trained = model_digest(model)
    with timed(run.seconds, "extract", run.log):
        chunk = int(run.cfg["run"]["chunk"])
        X_tr, spn_tr, syn_tr, _ = _extract(run, model, data.train, "train", chunk, trained)
        X_te, spn_te, syn_te, first = _extract(run, model, data.test, "test", chunk, trained)
        _write_raster(run, model, data.test[:RASTER_CLIPS], trained, first)
    n_tr, n_te = len(data.train), len(data.test)
    activity = {
        "spikes_per_neuron_per_sample": (spn_tr * n_tr + spn_te * n_te) / (n_tr + n_te),
        "synaptic_events_per_sample": (syn_tr * n_tr + syn_te * n_te) / (n_tr + n_te),
        "n_neurons": int(model.n),
        "n_synapses": {k: int(len(i)) for k, (i, _) in model.structure_.items()},
    }
    return {"reservoir": (X_tr, X_te)}, activity


def model_digest(model: HRSNN) -> str:
    """Digest of a fitted network: its drawn seed, connectivity and learned weights.

    Feature chunks and the raster record it as their parent, so they are reused only
    with the very network that computed them (with ``model.seed`` unset, a refit draws
    another network even from the same config).
    """
    h = hashlib.sha256(f"seed={model.seed_};n_input={model.n_input_}".encode())
    for name in sorted(model.structure_):
        for part in model.structure_[name]:
            h.update(np.ascontiguousarray(part, dtype=np.int64).tobytes())
    for name in sorted(model.weights_):
        h.update(name.encode() + np.ascontiguousarray(model.weights_[name], dtype=np.float64).tobytes())
    return h.hexdigest()


def _reusable(run: Run, path: Path, expected: Provenance, what: str, read_metadata_fn) -> bool:
    """Whether the artefact at ``path`` exists, is readable and was made from ``expected``'s inputs.

    Says in the log why not (stale: what changed; damaged: the error) and removes it.
    """
    if not path.exists():
        return False
    try:
        stored = Provenance.from_json(read_metadata_fn()["provenance"])
    except Exception as exc:  # noqa: BLE001 -- any unreadable file is recomputed
        run.log.warning(f"  {path.name} ({what}) is unreadable ({type(exc).__name__}: {exc}); computing it again")
        path.unlink(missing_ok=True)
        return False
    changes = expected.changes(stored)
    if changes:
        run.log.info(f"  {path.name} ({what}) is out of date ({'; '.join(changes)}); computing it again")
        path.unlink(missing_ok=True)
        return False
    return True


def _extract(run: Run, model: HRSNN, stims: list, split: str, chunk: int, trained: str):
    """Features of ``stims`` in chunks, each saved with its provenance (reused on resume when it matches).

    Returns the features, spikes per neuron and synaptic events per clip, and the
    simulation result of the first chunk when it was computed now (else None).
    """
    feats, spikes_total, syn_total, first = [], 0.0, 0.0, None
    chunks = [(a, min(a + chunk, len(stims))) for a in range(0, len(stims), chunk)]
    for k, (a, b) in enumerate(chunks):
        path = run.out / "features" / f"{split}_{k:04d}.npz"
        expected = replace(run.provenance, inputs=input_identities(stims[a:b]), parent=trained)
        loaded = _load_chunk(run, path, expected, (b - a, model.n_features_out_))
        if loaded is not None:
            F, spn, syn = loaded
            run.log.info(f"  {split} chunk {k + 1}/{len(chunks)}: reused {path.name}")
        else:
            res = model.simulate(stims[a:b])
            F = res.features[0]
            if F.shape != (b - a, model.n_features_out_):
                raise RuntimeError(f"{split} chunk {k + 1}: {F.shape[0]} feature rows for {b - a} clips")
            spn, syn = float(res.extra["spikes_per_neuron"]), float(res.extra["synaptic_events"])
            first = res if k == 0 else first
            atomic_savez(
                path,
                features=F,
                spikes_per_neuron=spn,
                synaptic_events=syn,
                labels=np.array([s.label for s in stims[a:b]]),
                provenance=np.array(expected.to_json()),
            )
            run.log.info(f"  {split} chunk {k + 1}/{len(chunks)}: clips {a}-{b - 1}, {spn:.2f} spikes/neuron/clip")
        feats.append(F)
        spikes_total += spn * (b - a)
        syn_total += syn
    n = max(len(stims), 1)
    return np.vstack(feats), spikes_total / n, syn_total / n, first


def _load_chunk(run: Run, path: Path, expected: Provenance, shape: tuple[int, int]):
    """``(features, spikes per neuron, synaptic events)`` of a matching, intact chunk file, else None."""
    if not _reusable(run, path, expected, "a feature chunk", lambda: _npz_metadata(path)):
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            F, spn, syn = z["features"], float(z["spikes_per_neuron"]), float(z["synaptic_events"])
        if F.shape != shape or not np.isfinite(F).all():
            raise ValueError(f"features of shape {F.shape}, expected {shape}")
    except Exception as exc:  # noqa: BLE001 -- a damaged chunk is recomputed
        run.log.warning(f"  {path.name} is damaged ({type(exc).__name__}: {exc}); computing it again")
        path.unlink(missing_ok=True)
        return None
    return F, spn, syn


def _npz_metadata(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {"provenance": str(z["provenance"])}


def _write_raster(run: Run, model: HRSNN, clips: list[SpikeStimulus], trained: str, res) -> None:
    """``raster.npz`` of the first test clips, unless a matching one exists.

    Taken from ``res`` (the first test chunk's simulation) when that was run now; after
    a resume that reused the chunk, only these clips are simulated again (every clip
    starts from the reset state, so their spikes are the same).
    """
    path = run.out / "raster.npz"
    expected = replace(run.provenance, inputs=input_identities(clips), parent=trained)
    if res is None and _reusable(run, path, expected, "the raster", lambda: _npz_metadata(path)):
        return
    raster = raster_record(res if res is not None else model.simulate(clips), clips, model)
    atomic_savez(path, **raster, provenance=np.array(expected.to_json()))


def raster_record(res: SimulationResult, stims: list[SpikeStimulus], model: HRSNN) -> dict:
    """``raster.npz`` content: spikes of the first clips of a feature phase, steps from the first window.

    Keys: ``windows`` (steps), ``dt`` (ms), ``labels``, ``<pop>_i``/``<pop>_t`` for
    ``input``, ``exc`` and ``inh``, population sizes, and ``v`` (mV) / ``v_i`` where
    membranes were recorded.
    """
    win = res.windows[-1][:RASTER_CLIPS]
    lo, hi = int(win[0, 0]), int(win[-1, 1])
    out = {"windows": win - lo, "dt": float(res.dt), "labels": np.array([s.label for s in stims[: len(win)]])}
    for pop, (idx, stp) in res.spikes.items():
        keep = (stp >= lo) & (stp < hi)
        out[f"{pop}_i"], out[f"{pop}_t"] = idx[keep], stp[keep] - lo
    # input spikes of the same clips, placed in their windows
    ii, tt = [], []
    for (a, _), s in zip(win - lo, stims, strict=False):
        ii.append(s.indices)
        tt.append(Timeline.net_steps(s, res.dt) + a)
    out["input_i"], out["input_t"] = np.concatenate(ii), np.concatenate(tt)
    out["n_exc"], out["n_inh"], out["n_input"] = model.n_exc, model.n_inh, model.n_input_
    if "v" in res.extra:  # membrane traces, one row per recorded neuron, steps lo..hi
        out["v"], out["v_i"] = res.extra["v"][:, lo:hi], res.extra["v_i"]
    return out


# ---------------------------------------------------------------------------- 4. baseline
def baseline(run: Run, data: EncodedData) -> dict:
    """``{"input": (X_train, X_test)}``: binned input counts, when enabled (always for ``kind: input``)."""
    if run.kind != "input" and not run.cfg["baseline"]["enabled"]:
        return {}
    reduction = run.cfg["model"].get("reduction", HRSNN().reduction)
    base = InputCounts(bins=feature_bins(run.cfg, "input"), reduction=reduction).fit(data.train)
    return {"input": (base.transform(data.train), base.transform(data.test))}


# ---------------------------------------------------------------------------- 5. readouts
def readouts(run: Run, data: EncodedData, features: dict) -> dict:
    """Fit the configured readout on each feature set; accuracies and confusion matrices."""
    r = run.cfg["readout"]
    with timed(run.seconds, "readout", run.log):
        out, maps = {}, {}
        for name, (X_tr, X_te) in features.items():
            clf = make_readout(
                r["kind"],
                scale=r["scale"],
                C=float(r["C"]),
                alpha=float(r["alpha"]),
                seed=int(run.cfg["model"].get("seed") or 0),
                n_tokens=feature_bins(run.cfg, name),
                attention=r["attention"],
            )
            clf.fit(X_tr, data.y_train)
            train = evaluate(clf, X_tr, data.y_train, data.classes)
            test = evaluate(clf, X_te, data.y_test, data.classes)
            if r["kind"] == "attention":
                per_clip = attention_per_bin(clf.attention_maps(X_te), clf.pooling)
                maps[f"{name}_per_clip"] = per_clip
                maps[f"{name}_per_class"] = class_means(per_clip, data.y_test, len(data.classes))
            out[name] = {
                "train_accuracy": train["accuracy"],
                "test_accuracy": test["accuracy"],
                "per_class_accuracy": test["per_class_accuracy"],
                "confusion_matrix": test["confusion_matrix"],
                "test_predictions": test["predictions"],
                "n_features": int(X_tr.shape[1]),
            }
        if maps:  # which time bins the attention readout looks at (spikevid plot attention)
            atomic_savez(
                run.out / "attention.npz", **maps, labels=data.y_test, bin_ms=_bin_ms(data, feature_bins(run.cfg, name))
            )
    return out


def _bin_ms(data: EncodedData, bins: int) -> float:
    """Mean width (ms) of a time bin over the test clips."""
    return float(np.mean([s.duration for s in data.test]) / bins)


def feature_bins(cfg: dict, name: str) -> int:
    """Time bins per clip of feature set ``name`` (``reservoir`` or ``input``): the tokens of an attention readout."""
    bins = cfg["model"].get("bins", HRSNN().bins)
    if name == "input":
        bins = cfg["baseline"]["bins"] or bins
    return int(bins)


# ---------------------------------------------------------------------------- 6. results
def write_results(run: Run, data: EncodedData, features: dict, results: dict, activity: dict) -> dict:
    """Write ``features.npz`` and ``metrics.json``; return the metrics."""
    arrays = {"y_train": data.y_train, "y_test": data.y_test}
    for name, (X_tr, X_te) in features.items():
        arrays[f"X_train_{name}"], arrays[f"X_test_{name}"] = X_tr, X_te
    atomic_savez(run.out / "features.npz", **arrays)
    main = results["reservoir" if run.kind == "hrsnn" else "input"]
    defaults = HRSNN().get_params()
    model = {"kind": run.kind}
    if run.kind == "hrsnn":
        model.update({k: run.cfg["model"].get(k, defaults[k]) for k in ("variant", "n", "device", "dt", "seed")})
    metrics = {
        "test_accuracy": main["test_accuracy"],
        "train_accuracy": main["train_accuracy"],
        "n_train": len(data.train),
        "n_test": len(data.test),
        "classes": data.classes,
        "confusion_matrix": main["confusion_matrix"],
        "per_class_accuracy": main["per_class_accuracy"],
        "test_predictions": main["test_predictions"],
        "n_features": main["n_features"],
        "model": model,
        "dataset": run.cfg["dataset"]["name"],
        "encoder": run.cfg["encoder"]["name"],
        "n_input": int(data.n_input),
        **activity,
        "seconds": {k: round(v, 3) for k, v in run.seconds.items()},
        "environment": {"python": platform.python_version(), "machine": platform.machine(), "spikevid": __version__},
        "skipped_files": {"count": len(data.skipped), "files": [{"path": p, "reason": r} for p, r in data.skipped]},
    }
    if data.fraction:
        metrics["train_fraction"] = data.fraction
    if run.kind == "hrsnn" and "input" in results:
        b = results["input"]
        metrics["baseline"] = {
            "kind": "input_counts",
            "test_accuracy": b["test_accuracy"],
            "train_accuracy": b["train_accuracy"],
            "n_features": b["n_features"],
            "confusion_matrix": b["confusion_matrix"],
            "per_class_accuracy": b["per_class_accuracy"],
        }
    atomic_write_json(run.out / "metrics.json", metrics)
    return metrics
