"""The experiment runner: dataset -> encoder -> network -> readout -> metrics, in phases.

``run_experiment(cfg, out_dir)`` runs six small phases, each a public function that
reads and extends the :class:`Run` it is given:

1. :func:`prepare`     -- the result folder, its ``config.yaml`` (a different config is
   refused) and ``log.txt``;
2. :func:`encode`      -- the configured splits, encoded through the stimulus cache;
3. :func:`reservoir`   -- ``model.kind: hrsnn``: unsupervised STDP phase (``model.npz``,
   reused on resume), then features in chunks (``features/``, each a resume point)
   and a raster of the first test clips;
   :func:`column` -- ``model.kind: column``: STDP and R-STDP epochs (``model.npz``),
   then layer features and class-population votes in chunks, and a raster;
   ``model.kind: hybrid`` runs its branch network (either of the two) on the
   residual spikes;
4. :func:`baseline`    -- the same reduction of the input spikes (no network);
5. :func:`readouts`    -- a scikit-learn readout per feature set (and a column's
   population vote); :func:`hybrid` -- ``model.kind: hybrid``: key-frame tokens and
   the branch's spike tokens at every scale, and the hybrid classifier in each of
   its four modes (``hybrid_tokens.npz``);
6. :func:`write_results` -- ``features.npz`` and ``metrics.json``.

Files written into ``out_dir``::

    config.yaml          the resolved configuration
    log.txt              what happened, with timings
    cache/               encoded stimuli, one file per sample (reused on resume)
    model.npz            learned weights, weights before learning, weight
                         snapshots, connectivity and neuron parameters
    features/            network features per chunk of clips (resume points; a column's
                         chunks also hold its class populations' spike counts)
    features.npz         X_train, y_train, X_test, y_test (+ baseline features)
    raster.npz           spikes of the first test clips (input, exc, inh; a column's input,
                         layer, classes); times in steps, dt in ms
    attention.npz        readout.kind attention: attention per time bin of each test clip and class
    hybrid_tokens.npz    model.kind hybrid: spike and key-frame tokens of every scale, both splits
    metrics.json         accuracies, confusion matrix, activity, timings

Every file is written atomically.  Started again on the same directory with the
same configuration, the runner reuses the cached stimuli, the trained model and
every finished feature chunk, and ends with the same metrics.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import platform
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from analysis.attention import attention_per_bin, class_means
from analysis.report import summary_table
from networks.attention import AttentionReadout
from networks.baseline import InputCounts
from networks.column import ColumnClassifier, population_vote
from networks.features import DEFAULT_TAUS, as_tokens
from networks.hybrid import MODES, HybridClassifier
from networks.hybrid_tokens import HybridInputs, time_bin_tokens
from networks.keyframes import KeyFrameFeatures
from networks.persistence import read_metadata
from networks.readouts import evaluate, score_predictions
from networks.simulation import SimulationResult
from networks.timeline import Timeline
from networks.training import split_problem
from stimuli.cache import StimulusCache
from stimuli.encoders import get_encoder
from stimuli.io import atomic_savez, atomic_write_json
from stimuli.sequence import StoredStimuli, stimulus_headers
from stimuli.timebase import ms_to_seconds
from stimuli.types import SpikeStimulus, StimulusError

from .. import __version__, interrupts
from ..executors import Executor, SerialExecutor
from .config import (
    HYBRID_KEYS,
    POPULATIONS,
    ConfigError,
    model_estimator,
    model_params,
    readout_estimator,
    spiking_kind,
)
from .crossval import cv_accuracy, cv_folds
from .data import check_split_contents, clip_subjects, encode_all, load_split
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
    "column",
    "baseline",
    "readouts",
    "write_results",
    "RASTER_CLIPS",
    "main_result",
    "check_validation_split",
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
    #: Where feature chunks are simulated (:mod:`spikevid.executors`; results do not depend on it).
    executor: Executor = field(default_factory=SerialExecutor)
    #: The readouts' cross-validation folds on the training clips and their description (set
    #: by :func:`run_experiment` once the training split is known).
    folds: list = field(default_factory=list)
    cv: str = ""

    @property
    def progress(self) -> bool:
        return bool(self.cfg["run"]["progress"])

    @property
    def kind(self) -> str:
        return self.cfg["model"].get("kind", "hrsnn")

    @property
    def network(self) -> str | None:
        """The spiking network the run simulates (``hrsnn``, ``column``; a hybrid's branch), or None."""
        return spiking_kind(self.cfg["model"])

    @property
    def seed(self) -> int:
        """The network's seed (0 if unset): also the seed of every readout."""
        return int(model_estimator(self.cfg["model"]).seed or 0)


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
    #: Subject of every training clip (None where the dataset names none): cross-validation folds.
    subjects: list | None = None

    @property
    def y_train(self) -> np.ndarray:
        return stimulus_headers(self.train)["label"]

    @property
    def y_test(self) -> np.ndarray:
        return stimulus_headers(self.test)["label"]

    @property
    def n_input(self) -> int:
        return int(stimulus_headers(self.train[:1])["n_channels"][0])


def run_experiment(cfg: dict, out_dir, *, log=None, executor: Executor | None = None) -> dict:
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
    executor : spikevid.executors.Executor, optional
        Where feature chunks are simulated (default: serially, here); the caller
        closes it.  Training runs here.

    Returns
    -------
    dict
        The content of ``metrics.json``.
    """
    with locked(out_dir):
        run = prepare(cfg, out_dir, log)
        run.executor = executor or run.executor
        try:
            data = encode(run)
            check_validation_split(run.cfg, data.y_train)
            # a readout.cv the training split cannot give fails here, before any simulation
            run.folds, run.cv = cv_folds(
                run.cfg["readout"]["cv"], data.y_train, data.subjects, seed=run.seed, readout=_readout_kind(run.cfg)
            )
            features, activity, votes = {}, {}, None
            if run.network == "hrsnn":
                features, activity = reservoir(run, data)
            elif run.network == "column":
                features, activity, votes = column(run, data)
            features.update(baseline(run, data))
            features.update(combined(run, features))
            results = readouts(run, data, features, votes)
            if run.kind == "hybrid":
                results.update(hybrid(run, data, features[FEATURE_NAMES[run.network]]))
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
    written = ("metrics.json", "features.npz") + (("model.npz",) if run.network else ()) + ("log.txt",)
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
        memory = float(run.cfg["run"]["memory_mb"])
        train = encode_all(train_ds, encoder, cache, desc="encode train", progress=run.progress, resident_mb=memory)
        test = encode_all(
            test_ds, encoder, cache, desc="encode test", progress=run.progress, resident_mb=memory - _held_mb(train)
        )
        skipped = sorted({path: reason for path, reason in train_ds.bad_files + test_ds.bad_files}.items())
        if not train or not test:
            raise StimulusError(
                f"dataset '{ds.name}': no readable clip left in the train or test split ({len(skipped)} skipped)"
            )
        data = EncodedData(list(ds.classes), train, test, skipped, fraction, clip_subjects(train_ds, train))
        for split, stims in (("train", train), ("test", test)):
            empty = [name for name, n in zip(_ids(stims), stimulus_headers(stims)["n_spikes"], strict=True) if n == 0]
            if len(empty) == len(stims):
                raise StimulusError(
                    f"every {split} clip encodes to zero spikes (encoder {run.cfg['encoder']['name']} with "
                    f"{run.cfg['encoder']['params'] or 'default parameters'}): check the encoder's threshold, "
                    f"rate and the clip length"
                )
            if empty:
                shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
                run.log.warning(f"  {len(empty)} of {len(stims)} {split} clips have no input spike ({shown})")
        head = stimulus_headers(train)
        rate = np.mean(head["n_spikes"] / (head["n_channels"] * ms_to_seconds(head["n_steps"] * head["dt"])))
        run.log.info(
            f"  {len(train)} train / {len(test)} test clips, {data.n_input} input channels, "
            f"mean input rate {rate:.2f} Hz" + (f"; cache hits {cache.hits}, misses {cache.misses}" if cache else "")
        )
        if isinstance(train, StoredStimuli):
            held = train.n_resident + test.n_resident
            if held < len(train) + len(test):
                run.log.info(
                    f"  {held} of {len(train) + len(test)} clips held in memory (run.memory_mb "
                    f"{memory:g}); the others are read from {cache.root} as they are used"
                )
        for path, reason in skipped:
            run.log.warning(f"  skipped {path}: {reason}")
        run.provenance = _record_fingerprint(run, data)
    return data


def _readout_kind(cfg: dict) -> str:
    """The readout fitted on the feature sets (``populations`` runs read them by logistic regression)."""
    return "logistic" if cfg["readout"]["kind"] == POPULATIONS else cfg["readout"]["kind"]


def _held_mb(stims) -> float:
    """MB of spikes a :class:`~stimuli.sequence.StoredStimuli` holds in memory (0 for a list)."""
    return stims.resident_bytes / 2**20 if isinstance(stims, StoredStimuli) else 0.0


def _ids(stims) -> list[str]:
    """Sample id of every clip (read from the headers of a :class:`~stimuli.sequence.StoredStimuli`)."""
    if isinstance(stims, StoredStimuli):
        return list(stims.ids)
    return [str(s.meta.get("id", k)) for k, s in enumerate(stims)]


def check_validation_split(cfg: dict, y_train) -> None:
    """Fail before any simulation when an early-stopping readout cannot split the training clips.

    The attention readout and the hybrid classifier hold out a stratified
    ``validation_fraction`` of the training clips; that needs one clip per class on
    each side and two per class in all.  Raises :class:`ConfigError` naming the key.
    """
    r = cfg["readout"]
    checks = []
    if r["kind"] == "attention":
        checks.append(("readout.attention", AttentionReadout(**(r["attention"] or {}))))
    if cfg["model"].get("kind") == "hybrid":
        checks.append(("readout.hybrid", HybridClassifier(**(r["hybrid"] or {}))))
    counts = np.unique(np.asarray(y_train), return_counts=True)[1]
    n, k = int(counts.sum()), len(counts)
    for key, est in checks:
        if est.early_stopping and split_problem(counts, est.validation_fraction):
            n_val = int(np.ceil(float(est.validation_fraction) * n))
            least = np.ceil(100 * k / n) / 100
            raise ConfigError(
                f"'{key}.validation_fraction' {est.validation_fraction}: early stopping would hold out {n_val} of "
                f"{n} training clips for {k} classes (at least one per class on each side, two per class in all; "
                f"the smallest class has {counts.min()}); set it to at least {least:g}, or {key}.early_stopping false"
            )


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


# ---------------------------------------------------------------------------- 3. network
def reservoir(run: Run, data: EncodedData) -> tuple[dict, dict]:
    """Train the HRSNN without labels (or reuse a matching ``model.npz``), then extract features in chunks.

    Returns
    -------
    features : dict
        ``{"reservoir": (X_train, X_test)}``.
    activity : dict
        Spikes per neuron and synaptic events per clip, network size.
    """
    model, trained = _trained_model(run, data)
    with timed(run.seconds, "extract", run.log):
        chunk = int(run.cfg["run"]["chunk"])
        tr = _extract(run, model, data.train, "train", chunk, trained)
        te = _extract(run, model, data.test, "test", chunk, trained, raster=RASTER_CLIPS)
        _write_raster(run, model, data.test[:RASTER_CLIPS], trained, te.raster)
    activity = {
        **_activity(data, tr, te),
        "n_neurons": int(model.n),
        "n_synapses": {k: int(len(i)) for k, (i, _) in model.structure_.items()},
    }
    return {"reservoir": (tr.features, te.features)}, activity


def column(run: Run, data: EncodedData) -> tuple[dict, dict, dict]:
    """Train the cortical columns (STDP, then R-STDP with the labels), then features and votes in chunks.

    Returns
    -------
    features : dict
        ``{"column": (X_train, X_test)}``, the layer's spike features.
    activity : dict
        Layer spikes per neuron per clip, network size.
    votes : dict
        ``{"train"|"test": predicted class indices}``: the class populations' vote
        (:func:`networks.column.population_vote`).
    """
    model, trained = _trained_model(run, data)
    with timed(run.seconds, "extract", run.log):
        chunk = int(run.cfg["run"]["chunk"])
        votes_of = ("class_counts", "first_spikes")
        tr = _extract(run, model, data.train, "train", chunk, trained, votes_of)
        te = _extract(run, model, data.test, "test", chunk, trained, votes_of, raster=RASTER_CLIPS)
        _write_raster(run, model, data.test[:RASTER_CLIPS], trained, te.raster)
    votes = {
        split: model.classes_[population_vote(r.arrays["class_counts"], r.arrays["first_spikes"])]
        for split, r in (("train", tr), ("test", te))
    }
    activity = {
        **_activity(data, tr, te),
        "n_neurons": int(model.n_layer_total_ + len(model.classes_) * int(model.n_per_class)),
        "n_synapses": {k: int(len(i)) for k, (i, _) in model.structure_.items()},
        "reward_accuracy": [round(float(a), 4) for a in model.reward_accuracy_],
    }
    return {"column": (tr.features, te.features)}, activity, votes


def _trained_model(run: Run, data: EncodedData):
    """The configured model, fitted on the training clips or loaded from a matching ``model.npz``.

    Returns the model and its :func:`model_digest` (the parent of every feature chunk).
    """
    model = model_estimator(run.cfg["model"])
    if "progress" not in model_params(run.cfg["model"]):
        model.set_params(progress=run.progress)
    expected = replace(run.provenance, inputs=input_identities(data.train))
    model_path = run.out / "model.npz"
    with timed(run.seconds, "train", run.log):
        if _reusable(run, model_path, expected, "the trained model", lambda: read_metadata(model_path)):
            model.load_state(model_path)
            run.log.info(f"  reused the trained model {model_path.name}")
        elif run.network == "column":
            model.fit(data.train, data.y_train)
            model.save_state(model_path, metadata={"provenance": expected.to_json()})
            run.log.info(
                f"  STDP {model.epochs_stdp} + R-STDP {model.epochs_reward} epoch(s) over {len(data.train)} clips, "
                f"{model.fit_seconds_:.1f} s; rewarded class won "
                + ", ".join(f"{a:.0%}" for a in model.reward_accuracy_)
                + " of the clips per reward epoch"
            )
        else:
            model.fit(data.train)
            model.save_state(model_path, metadata={"provenance": expected.to_json()})
            run.log.info(
                f"  unsupervised phase: {len(data.train)} clips x {model.epochs} epoch(s), {model.fit_seconds_:.1f} s"
            )
    return model, model_digest(model)


def _activity(data: EncodedData, tr: Extracted, te: Extracted) -> dict:
    """Spikes per neuron and synaptic events per clip over both splits."""
    n_tr, n_te = len(data.train), len(data.test)
    out = {"spikes_per_neuron_per_sample": (tr.spikes_per_neuron * n_tr + te.spikes_per_neuron * n_te) / (n_tr + n_te)}
    if np.isfinite(tr.synaptic_events) and np.isfinite(te.synaptic_events):
        out["synaptic_events_per_sample"] = (tr.synaptic_events * n_tr + te.synaptic_events * n_te) / (n_tr + n_te)
    return out


def model_digest(model) -> str:
    """Digest of a fitted network: its drawn seed, connectivity, learned weights (and thresholds).

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
    if hasattr(model, "theta_"):
        h.update(b"theta" + np.ascontiguousarray(model.theta_, dtype=np.float64).tobytes())
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


@dataclass
class Extracted:
    """Features of one split, gathered over its chunks."""

    features: np.ndarray
    spikes_per_neuron: float
    #: Synaptic events per clip (NaN where the model does not count them).
    synaptic_events: float
    #: Per-clip arrays a model returns beside its features (a column's class counts), stacked.
    arrays: dict[str, np.ndarray]
    #: ``raster.npz`` content from the first chunk when it was simulated now (else None).
    raster: dict | None


def _extract(run: Run, model, stims: list, split: str, chunk: int, trained: str, extra=(), raster=0) -> Extracted:
    """Features of ``stims`` in chunks through ``run.executor``, each saved with its provenance.

    A chunk whose file matches (same clips, same trained network, same config) is
    reused; the others are simulated, each a task of the run's executor, and saved as
    they finish (resume points).  With several workers the chunks are made small
    enough to give every worker one.  ``extra`` names per-clip arrays of
    ``SimulationResult.extra`` saved with each chunk and returned stacked; ``raster``
    first clips of the first chunk come back as a raster record when simulated now.
    """
    workers = run.executor.workers
    if workers > 1:
        chunk = min(chunk, max(1, -(-len(stims) // workers)))
    chunks = [(a, min(a + chunk, len(stims))) for a in range(0, len(stims), chunk)]
    expected = [replace(run.provenance, inputs=input_identities(stims[a:b]), parent=trained) for a, b in chunks]
    paths = [run.out / "features" / f"{split}_{k:04d}.npz" for k in range(len(chunks))]
    X = np.empty((len(stims), model.n_features_out_))  # filled chunk by chunk: held once
    done, todo = {}, []
    for k, (a, b) in enumerate(chunks):
        loaded = _load_chunk(run, paths[k], expected[k], (b - a, model.n_features_out_), extra)
        if loaded is None:
            todo.append(k)
        else:
            X[a:b] = loaded[0]
            done[k] = (None, *loaded[1:], None)
            run.log.info(f"  {split} chunk {k + 1}/{len(chunks)}: reused {paths[k].name}")
    if todo and workers > 1:
        run.log.info(f"  {split}: {len(todo)} chunk(s) of up to {chunk} clips on {run.executor!r}")
    # a StoredStimuli chunk is read where it is simulated; a worker on another machine gets the clips
    part = (lambda a, b: stims[a:b]) if run.executor.local else (lambda a, b: list(stims[a:b]))
    tasks = [(part(a, b), tuple(extra), raster if k == 0 else 0) for k in todo for a, b in [chunks[k]]]
    bar = tqdm(total=len(chunks), initial=len(done), desc=f"extract {split}", unit="chunk", disable=not run.progress)
    try:
        for j, (F, spn, syn, more, record) in run.executor.map(simulate_chunk, tasks, shared=_task_model(run, model)):
            k = todo[j]
            a, b = chunks[k]
            if F.shape != (b - a, model.n_features_out_):
                raise RuntimeError(f"{split} chunk {k + 1}: {F.shape[0]} feature rows for {b - a} clips")
            atomic_savez(
                paths[k],
                features=F,
                spikes_per_neuron=spn,
                synaptic_events=syn,
                labels=stimulus_headers(stims[a:b])["label"],
                provenance=np.array(expected[k].to_json()),
                **more,
            )
            X[a:b] = F
            done[k] = (None, spn, syn, more, record)
            bar.update(1)
            interrupts.check()
            run.log.info(
                f"  {split} chunk {k + 1}/{len(chunks)}: clips {a}-{b - 1}, {spn:.2f} spikes/neuron/clip",
                extra=FILE_ONLY if run.progress else None,
            )
    finally:
        bar.close()
    parts = [done[k] for k in range(len(chunks))]
    n = max(len(stims), 1)
    sizes = [b - a for a, b in chunks]
    return Extracted(
        X,
        sum(p[1] * m for p, m in zip(parts, sizes, strict=True)) / n,
        sum(p[2] for p in parts) / n,
        {name: np.concatenate([p[3][name] for p in parts]) for name in extra},
        parts[0][4] if parts else None,
    )


def _task_model(run: Run, model):
    """The fitted model as the executor's tasks get it: no progress bars in workers, one binary each."""
    if run.executor.workers <= 1:
        return model
    task_model = copy.copy(model)
    params = task_model.get_params()
    task_model.set_params(**{k: v for k, v in (("progress", False), ("n_jobs", 1)) if k in params})
    return task_model


def simulate_chunk(model, task) -> tuple:
    """One extraction task: ``(clips, extra names, raster clips)`` -> the chunk's results.

    Returns
    -------
    tuple
        ``(features, spikes per neuron per clip, synaptic events, {name: per-clip array},
        raster record or None)``.
    """
    stims, extra, n_raster = task
    res = model.simulate(stims)
    F = res.features[0]
    spn = float(res.extra["spikes_per_neuron"])
    syn = float(res.extra.get("synaptic_events", np.nan))
    more = {name: np.asarray(res.extra[name][0]) for name in extra}
    record = raster_record(res, stims[:n_raster], model) if n_raster else None
    return F, spn, syn, more, record


def _load_chunk(run: Run, path: Path, expected: Provenance, shape: tuple[int, int], extra=()):
    """``(features, spikes per neuron, synaptic events, extra arrays)`` of a matching, intact chunk, else None."""
    if not _reusable(run, path, expected, "a feature chunk", lambda: _npz_metadata(path)):
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            F, spn, syn = z["features"], float(z["spikes_per_neuron"]), float(z["synaptic_events"])
            more = {name: z[name] for name in extra}
        if F.shape != shape or not np.isfinite(F).all():
            raise ValueError(f"features of shape {F.shape}, expected {shape}")
        for name, arr in more.items():
            if len(arr) != shape[0]:
                raise ValueError(f"{name} has {len(arr)} rows for {shape[0]} clips")
    except Exception as exc:  # noqa: BLE001 -- a damaged chunk is recomputed
        run.log.warning(f"  {path.name} is damaged ({type(exc).__name__}: {exc}); computing it again")
        path.unlink(missing_ok=True)
        return None
    return F, spn, syn, more


def _npz_metadata(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {"provenance": str(z["provenance"])}


def _write_raster(run: Run, model, clips: list[SpikeStimulus], trained: str, record: dict | None) -> None:
    """``raster.npz`` of the first test clips, unless a matching one exists.

    ``record`` comes from the first test chunk's simulation when that was run now;
    after a resume that reused the chunk, only these clips are simulated again (every
    clip starts from the reset state, so their spikes are the same).
    """
    path = run.out / "raster.npz"
    expected = replace(run.provenance, inputs=input_identities(clips), parent=trained)
    if record is None and _reusable(run, path, expected, "the raster", lambda: _npz_metadata(path)):
        return
    if record is None:
        record = raster_record(model.simulate(clips), clips, model)
    atomic_savez(path, **record, provenance=np.array(expected.to_json()))


def raster_record(res: SimulationResult, stims: list[SpikeStimulus], model) -> dict:
    """``raster.npz`` content: spikes of the first clips of a feature phase, steps from the first window.

    Keys: ``windows`` (steps), ``dt`` (ms), ``labels``, ``<pop>_i``/``<pop>_t`` for
    ``input`` and every population the model records (a reservoir's ``exc`` and
    ``inh``; a column's ``layer`` and ``classes``), population sizes (``n_exc``,
    ``n_inh``; ``n_layer``, ``n_per_class``, ``n_class_pops``), ``n_input``, and
    ``v`` (mV) / ``v_i`` where membranes were recorded.
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
    out["n_input"] = model.n_input_
    if isinstance(model, ColumnClassifier):
        out["n_layer"], out["n_per_class"], out["n_class_pops"] = (
            model.n_layer_total_,
            int(model.n_per_class),
            len(model.classes_),
        )
    else:
        out["n_exc"], out["n_inh"] = model.n_exc, model.n_inh
    if "v" in res.extra:  # membrane traces, one row per recorded neuron, steps lo..hi
        out["v"], out["v_i"] = res.extra["v"][:, lo:hi], res.extra["v_i"]
    return out


# ---------------------------------------------------------------------------- 4. baseline
def baseline(run: Run, data: EncodedData) -> dict:
    """``{"input": (X_train, X_test)}``: binned input counts, when enabled (always for ``kind: input``)."""
    if run.kind != "input" and not run.cfg["baseline"]["enabled"]:
        return {}
    est = model_estimator(run.cfg["model"])
    taus = getattr(est, "taus", DEFAULT_TAUS)
    base = InputCounts(bins=feature_bins(run.cfg, "input"), reduction=est.reduction, taus=taus).fit(data.train)
    return {"input": (base.transform(data.train), base.transform(data.test))}


def combined(run: Run, features: dict) -> dict:
    """``{"<network>+input": (X_train, X_test)}``: the network's features beside the input baseline's.

    With equal time bins the two are joined bin by bin (each bin's token holds both);
    otherwise side by side, which the attention readout (tokens per bin) cannot take:
    then nothing is returned.
    """
    name = FEATURE_NAMES.get(run.network or "")
    if name not in features or "input" not in features:
        return {}
    bins, bins_in = feature_bins(run.cfg, name), feature_bins(run.cfg, "input")
    if bins != bins_in and run.cfg["readout"]["kind"] == "attention":
        run.log.info(f"  no {name}+input set for the attention readout: {bins} network bins, {bins_in} input bins")
        return {}

    def join(a, b):
        if bins != bins_in:
            return np.hstack([a, b])
        return np.concatenate([as_tokens(a, bins), as_tokens(b, bins)], axis=2).reshape(len(a), -1)

    (a_tr, a_te), (b_tr, b_te) = features[name], features["input"]
    return {f"{name}+input": (join(a_tr, b_tr), join(a_te, b_te))}


# ---------------------------------------------------------------------------- 5. readouts
def readouts(run: Run, data: EncodedData, features: dict, votes: dict | None = None) -> dict:
    """Fit the configured readout on each feature set; accuracies and confusion matrices.

    A column run adds ``populations``, the vote of its class populations (``votes``);
    with ``readout.kind: populations`` the feature sets are read out by logistic regression.
    """
    r = run.cfg["readout"]
    kind = _readout_kind(run.cfg)
    folds = run.folds
    with timed(run.seconds, "readout", run.log):
        out, maps = {}, {}
        for name, (X_tr, X_te) in features.items():

            def make(name=name):
                return readout_estimator(r, seed=run.seed, n_tokens=feature_bins(run.cfg, name))

            clf = make()
            clf.fit(X_tr, data.y_train)
            train = evaluate(clf, X_tr, data.y_train, data.classes)
            test = evaluate(clf, X_te, data.y_test, data.classes)
            if kind == "attention":
                per_clip = attention_per_bin(clf.attention_maps(X_te), clf.pooling)
                maps[f"{name}_per_clip"] = per_clip
                maps[f"{name}_per_class"] = class_means(per_clip, data.y_test, len(data.classes))
            out[name] = _result(train, test, int(X_tr.shape[1]), kind)
            if folds:
                out[name]["cv"] = cv_accuracy(make, X_tr, data.y_train, folds)
        if votes is not None:
            train = score_predictions(data.y_train, votes["train"], data.classes)
            test = score_predictions(data.y_test, votes["test"], data.classes)
            n_class_neurons = len(data.classes) * int(model_estimator(run.cfg["model"]).n_per_class)
            out[POPULATIONS] = _result(train, test, n_class_neurons, POPULATIONS)
        if folds:
            run.log.info(f"  cross-validation on the training split: {run.cv}")
        if maps:  # which time bins the attention readout looks at (spikevid plot attention)
            atomic_savez(
                run.out / "attention.npz", **maps, labels=data.y_test, bin_ms=_bin_ms(data, feature_bins(run.cfg, name))
            )
    return out


def _result(train: dict, test: dict, n_features, readout: str) -> dict:
    return {
        "readout": readout,
        "train_accuracy": train["accuracy"],
        "test_accuracy": test["accuracy"],
        "per_class_accuracy": test["per_class_accuracy"],
        "confusion_matrix": test["confusion_matrix"],
        "test_predictions": test["predictions"],
        "n_features": n_features,
    }


def _bin_ms(data: EncodedData, bins: int) -> float:
    """Mean width (ms) of a time bin over the test clips."""
    head = stimulus_headers(data.test)
    return float(np.mean(head["n_steps"] * head["dt"]) / bins)


#: Hyperparameters of each network that ``metrics.json`` states under ``model``.
MODEL_SUMMARY_KEYS = {
    "hrsnn": ("variant", "n", "device", "dt", "seed"),
    "column": ("variant", "n_layer", "tiles", "n_per_class", "lateral", "device", "dt", "seed"),
}
#: Name of each network's feature set (in ``features.npz``, ``metrics["readouts"]``).
FEATURE_NAMES = {"hrsnn": "reservoir", "column": "column"}


def main_result(cfg: dict) -> str:
    """Which result a run reports as its accuracy.

    ``reservoir`` or ``column`` (the readout of the network's features), ``populations``
    (a column's vote), ``hybrid_<mode>`` (the hybrid classifier in its configured
    mode), or ``input`` (no network).
    """
    kind = cfg["model"].get("kind", "hrsnn")
    if kind == "column" and cfg["readout"]["kind"] == POPULATIONS:
        return POPULATIONS
    if kind == "hybrid":
        return f"hybrid_{(cfg['readout']['hybrid'] or {}).get('mode', HybridClassifier().mode)}"
    return FEATURE_NAMES.get(kind, "input")


def feature_bins(cfg: dict, name: str) -> int:
    """Time bins per clip of feature set ``name`` (``reservoir``, ``column``, ``input``): attention tokens."""
    bins = model_estimator(cfg["model"]).bins
    if name == "input":
        bins = cfg["baseline"]["bins"] or bins
    return int(bins)


def hybrid(run: Run, data: EncodedData, network_features: tuple) -> dict:
    """The ReSpike hybrid on the branch's features: key-frame and spike tokens, four classifier modes.

    Frame tokens: :class:`~networks.keyframes.KeyFrameFeatures` of the key frames the
    residual encoder kept (``meta["key_frames"]``), fitted on the training clips.
    Spike tokens: the network's time bins (:func:`~networks.hybrid_tokens.time_bin_tokens`),
    the same set at every scale.  Each mode of :data:`networks.hybrid.MODES` is
    fitted with ``readout.hybrid`` (seeded by the network's seed) and reported as
    ``hybrid_<mode>``; the configured mode is the run's result.  Writes
    ``hybrid_tokens.npz`` (``spike_<split>``, ``frames_<split>_<scale>``).
    """
    scales = _scales(run.cfg)
    with timed(run.seconds, "hybrid", run.log):
        frames = KeyFrameFeatures(scales=scales, **(run.cfg["model"].get("frames") or {}))
        frames_tr, frames_te = frames.fit_transform(data.train), frames.transform(data.test)
        bins = int(model_estimator(run.cfg["model"]).bins)
        X_tr, X_te = network_features
        spikes_tr, spikes_te = time_bin_tokens(X_tr, bins, len(scales)), time_bin_tokens(X_te, bins, len(scales))
        atomic_savez(
            run.out / "hybrid_tokens.npz",
            spike_train=spikes_tr[0],
            spike_test=spikes_te[0],
            **{
                f"frames_{split}_{g}": a
                for split, fr in (("train", frames_tr), ("test", frames_te))
                for g, a in zip(scales, fr, strict=True)
            },
            scales=np.asarray(scales),
        )
        train_in, test_in = HybridInputs(spikes_tr, frames_tr), HybridInputs(spikes_te, frames_te)
        settings = dict(run.cfg["readout"]["hybrid"] or {})
        out = {}
        for mode in MODES:
            clf = HybridClassifier(**{**settings, "mode": mode}, random_state=run.seed).fit(train_in, data.y_train)
            train = score_predictions(data.y_train, clf.predict(train_in), data.classes)
            test = score_predictions(data.y_test, clf.predict(test_in), data.classes)
            out[f"hybrid_{mode}"] = _result(train, test, _token_shapes(clf), f"hybrid {mode}")
            run.log.info(
                f"  hybrid {mode:6s}: test {test['accuracy']:.1%} (train {train['accuracy']:.1%}), "
                f"{clf.n_epochs_} epochs, {clf.fit_seconds_:.1f} s"
            )
    return out


def _scales(cfg: dict) -> tuple[int, ...]:
    return tuple(int(g) for g in cfg["model"].get("scales", HYBRID_KEYS["scales"]))


def _token_shapes(clf: HybridClassifier) -> str:
    """The hybrid's inputs in words: tokens x features of each branch and scale."""
    parts = [f"spikes {s[0]}x{s[1]}" for s in clf.spike_shapes_[:1]] + [f"frames {t}x{f}" for t, f in clf.frame_shapes_]
    return ", ".join(parts)


# ---------------------------------------------------------------------------- 6. results
def write_results(run: Run, data: EncodedData, features: dict, results: dict, activity: dict) -> dict:
    """Write ``features.npz`` and ``metrics.json``; return the metrics."""
    arrays = {"y_train": data.y_train, "y_test": data.y_test}
    for name, (X_tr, X_te) in features.items():
        arrays[f"X_train_{name}"], arrays[f"X_test_{name}"] = X_tr, X_te
    atomic_savez(run.out / "features.npz", **arrays)
    main_name = main_result(run.cfg)
    main = results[main_name]
    params = model_estimator(run.cfg["model"]).get_params()
    model = {"kind": run.kind, "result": main_name, "readout": main["readout"]}
    if run.network in MODEL_SUMMARY_KEYS:
        model.update({k: params[k] for k in MODEL_SUMMARY_KEYS[run.network]})
    if run.kind == "hybrid":
        model.update(branch=run.network, scales=list(_scales(run.cfg)))
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
    metrics["readouts"] = {
        name: {k: r[k] for k in ("readout", "train_accuracy", "test_accuracy", "n_features", "cv") if k in r}
        for name, r in results.items()
    }
    if run.cv:
        metrics["cv"] = run.cv
    if run.network and "input" in results:
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
