"""Bayesian optimisation of a config on its training split (``spikevid tune``).

Each trial draws hyperparameters from the study's search space (default
:data:`SEARCH_SPACE`; ``--space FILE`` changes it, :mod:`~spikevid.experiments.searchspace`)
with Optuna (its Gaussian-process sampler where PyTorch is installed, TPE otherwise or on request),
fits the network without labels on the training clips, and scores it by the
cross-validated accuracy of the configured readout on the network's features
(:mod:`spikevid.experiments.crossval`: leave-one-subject-out where the dataset names
subjects, else stratified 5-fold).  The test split is never listed, let alone read
(:func:`~spikevid.experiments.data.load_train_split`).  A trial reports its running
accuracy after every fold and, from the third fold on and once five trials are done,
is pruned when it falls below the median of earlier trials at that fold.  Membrane
time constants are kept at or above :data:`TAU_M_FLOOR` (``model.tau_m_min``; a
config's own value wins): a heterogeneous draw may not reach below a plausible
membrane.  Where the floor cuts a gamma or lognormal tail, the simulated mean lies
above the drawn ``tau_m`` and the CV below ``cv_neuron``; each trial records the
simulated ones (``tau_m_drawn`` in ``tune.json``).

The study lives in ``DIR/study.db`` (SQLite): a second invocation continues it, and
several workers share it -- local processes (``--jobs N``) or Dask workers
(``--executor dask``, ``--scheduler ADDRESS``; each worker opens the same file, so a
remote one needs ``DIR`` and the dataset at the same paths, and SQLite over a network
file system is not reliable).  After every trial ``DIR/best.yaml``
holds the config with the best parameters so far, ready for ``spikevid run``;
``DIR/tune.json`` the trials; at the end ``DIR/history.png``, ``DIR/importances.png``
and ``DIR/tau_m.png`` (the tuned membrane time constants against the config's) show
the search.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import threading
import warnings
from pathlib import Path

import numpy as np
import yaml

from networks.baseline import InputCounts
from networks.features import DEFAULT_TAUS
from stimuli.cache import StimulusCache
from stimuli.encoders import get_encoder
from stimuli.io import atomic_write_json, atomic_write_text, locked
from stimuli.sequence import stimulus_headers

from .. import interrupts
from ..executors import Executor, SerialExecutor
from .config import ConfigError, model_estimator, readout_estimator, spiking_kind
from .crossval import cv_folds
from .data import clip_subjects, encode_all, load_train_split
from .provenance import digest
from .runfolder import stripped
from .runner import feature_bins
from .searchspace import (
    SEARCH_SPACE,
    UNIFORM_MAX_CV,
    apply_params,
    check_space,
    load_space,
    params_of,
    space_from_json,
    space_to_json,
    suggest,
)

__all__ = [
    "SEARCH_SPACE",
    "SAMPLERS",
    "TAU_M_FLOOR",
    "UNIFORM_MAX_CV",
    "tune",
    "suggest",
    "apply_params",
    "params_of",
    "load_space",
]

#: Shortest membrane time constant (ms) a trial's network may draw (``model.tau_m_min`` of every
#: trial; studies begun before it existed keep none, so that they continue as they began).
TAU_M_FLOOR = 2.0
#: Mean rate (spikes per neuron per second) above which a trial's network counts as runaway.
MAX_RATE_HZ = 100.0
#: Clips of the activity probe that runs before a trial's full fit.
PROBE_CLIPS = 16
#: Seconds between a running trial's heartbeats; after three missed ones (its worker died) the next trial
#: any worker starts marks it failed.
HEARTBEAT_S = 60
#: Samplers of ``--sampler``.
SAMPLERS = ("auto", "gp", "tpe")
_STUDY = "spikevid"


def _tau_m_values(model: dict, n: int) -> tuple[np.ndarray, object]:
    """``n`` membrane time constants (ms) as the network of a ``model`` section draws them, and their spec."""
    from brian2 import ms  # noqa: PLC0415 -- heavy (Brian2)

    spec = model_estimator(model).neuron_params().tau_m
    return np.asarray(spec.sample(n, seed=0) / ms), spec


def _tau_m_drawn(cfg: dict, n: int = 20_000) -> dict:
    """Mean (ms), CV and minimum (ms) of ``n`` membrane time constants as the config's network draws them."""
    values, _ = _tau_m_values(cfg["model"], n)
    return {"mean": float(values.mean()), "cv": float(values.std() / values.mean()), "min": float(values.min())}


def _model_seed(cfg: dict) -> int:
    """The config's model seed (0 where none is set): the first network's seed and the folds'."""
    return int(model_estimator(cfg["model"]).seed or 0)


def _sampler(kind: str, seed: int):
    import optuna  # noqa: PLC0415 -- optional dependency (pip install 'spikevid[tune]')

    torch = importlib.util.find_spec("torch") is not None
    if kind == "gp" and not torch:
        raise ConfigError("--sampler gp: Optuna's Gaussian-process sampler needs PyTorch (pip install torch)")
    if kind == "gp" or (kind == "auto" and torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.GPSampler(seed=seed), "gp"
    return optuna.samplers.TPESampler(seed=seed, multivariate=True), "tpe"


class _Objective:
    """A trial: fit the network on the training clips, cross-validate the readout on its features.

    With ``networks`` > 1 a trial fits that many networks (model seeds ``seed``, ``seed + 1``,
    ...) and scores the accuracy pooled over all of them: a search that scores one network
    per trial selects lucky network draws as well as parameters.

    Parameters
    ----------
    cfg : dict
        The resolved config being tuned (its training split, encoder, readout and folds).
    out : Path
        The study folder (the config's encoding is cached in ``out / "cache"``, a drawn
        encoder's in ``out / "scratch"`` while its trials run: :meth:`clips`).
    networks : int
        Networks fitted per trial.
    max_rate : float or None
        Spikes per neuron per second above which the activity probe prunes a draw.
    tau_m_min : float or None
        The study's floor on membrane time constants, ms (:func:`apply_params`).
    gate : spikevid.interrupts.Gate, optional
        Where a worker's gate is entered, Ctrl-C cuts only the simulations and readout fits,
        never Optuna's writes to the study (cut, they could leave a trial "running").
    space : dict, optional
        The study's search space (default :data:`SEARCH_SPACE`); where it holds a key outside
        the default, each trial also scores its own input baseline (``input_cv``).
    """

    def __init__(
        self,
        cfg: dict,
        out: Path,
        networks: int = 1,
        max_rate: float | None = MAX_RATE_HZ,
        tau_m_min: float | None = None,
        gate: interrupts.Gate | None = None,
        space: dict | None = None,
    ):
        self.cfg, self.out, self.networks, self.max_rate = cfg, out, int(networks), max_rate
        self.tau_m_min = tau_m_min
        self.space = SEARCH_SPACE if space is None else space
        self.gate = gate or interrupts.Gate()  # not entered: its open() changes nothing
        _, self.train_ds = load_train_split(cfg)
        # one folder per worker: per host, process and thread (a Dask worker may run tasks in threads)
        self.scratch = out / "scratch" / f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"
        self.train = self._encode(cfg["encoder"], StimulusCache(out / "cache"))
        self._encoded = (cfg["encoder"], self.train)  # the last encoder drawn and its clips
        self.y = stimulus_headers(self.train)["label"]
        subjects = clip_subjects(self.train_ds, self.train)
        self.seed = _model_seed(cfg)
        kind = cfg["readout"]["kind"]
        self.folds, self.how = cv_folds(cfg["readout"]["cv"], self.y, subjects, seed=self.seed, readout=kind)
        if not self.folds:
            raise ConfigError(f"readout.cv: tuning needs cross-validation folds, got {self.how}")

    def _encode(self, section: dict, cache: StimulusCache):
        """The training clips under an ``encoder`` section, through ``cache``."""
        encoder = get_encoder(section["name"], **(section["params"] or {}))
        return encode_all(self.train_ds, encoder, cache, desc="encode train", progress=False)

    def clips(self, cfg: dict):
        """The training clips under ``cfg``'s encoder.

        The config's own encoding lives in ``out / "cache"`` (kept: every worker and a
        continued study read it).  A drawn encoder's lives in this worker's :attr:`scratch`
        folder, emptied when it draws another encoder (or the config's own) and by
        :meth:`drop_scratch` when the worker ends:
        a drawn threshold rarely repeats, and a cache of every draw grows with the trials.
        """
        if cfg["encoder"] == self._encoded[0]:
            return self._encoded[1]
        self.drop_scratch()  # the last draw's clips are done with; back to the config's own
        if cfg["encoder"] == self.cfg["encoder"]:
            return self.train
        clips = self._encode(cfg["encoder"], StimulusCache(self.scratch))
        if not np.array_equal(stimulus_headers(clips)["label"], self.y):  # the folds index the first encoding
            raise ValueError(f"encoder.params {cfg['encoder']['params']}: the training clips changed (skipped?)")
        self._encoded = (cfg["encoder"], clips)
        return clips

    def drop_scratch(self) -> None:
        """Delete this worker's drawn encoding (``out / "scratch" / "<host>-<pid>-<thread>"``) and forget it."""
        self._encoded = (self.cfg["encoder"], self.train)
        # the parent stays: removing it could pull the ground from under a worker creating its own folder
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __call__(self, trial) -> float:
        try:
            cfg = apply_params(self.cfg, suggest(trial, self.space), tau_m_min=self.tau_m_min)
            if "cv_neuron" in cfg["model"]:
                trial.set_user_attr("cv_neuron", float(cfg["model"]["cv_neuron"]))  # as set (uniform: capped)
            trial.set_user_attr("tau_m_drawn", _tau_m_drawn(cfg))
            return self._evaluate(cfg, trial)
        except ValueError as exc:  # a draw the network refuses: the trial fails (caught by optimize), saying why
            trial.set_user_attr("failed_because", str(exc))
            raise

    def _evaluate(self, cfg: dict, trial) -> float:
        import optuna  # noqa: PLC0415 -- optional dependency

        train = self.clips(cfg)
        self._probe(cfg, trial, train)
        correct, seen, step, spikes, per_seed = 0, 0, 0, [], []
        for seed in range(self.seed, self.seed + self.networks):
            model = model_estimator(cfg["model"]).set_params(progress=False, seed=seed)
            with self.gate.open():
                X = model.fit(train).transform(train)
            spikes.append(float(model.spikes_per_neuron_))
            c0, n0 = correct, seen
            for c, n in self._fold_counts(X, int(model.bins), seed, cfg["readout"]):
                correct, seen = correct + c, seen + n
                trial.report(correct / seen, step)
                step += 1
                if trial.should_prune():
                    raise optuna.TrialPruned()
            per_seed.append((correct - c0) / (seen - n0))
        trial.set_user_attr("spikes_per_neuron", float(np.mean(spikes)))
        trial.set_user_attr("cv_per_seed", per_seed)
        if set(self.space) - set(SEARCH_SPACE):  # an encoder, readout or feature key: not the study's baseline
            bins = feature_bins(cfg, "input")  # as the run bins its input baseline
            trial.set_user_attr("input_cv", self.score(self._input_counts(model, train, bins), bins, cfg["readout"]))
        return correct / seen

    def _probe(self, cfg: dict, trial, train) -> None:
        """Prune a draw whose network runs away: learn on :data:`PROBE_CLIPS` clips, measure its rate.

        A network in runaway excitation (strong, dense recurrence) can take hours on a
        large training split and is useless as a reservoir; the probe costs a few clips.
        Training splits under ``8 * PROBE_CLIPS`` clips are not probed (at most 1/8 extra).
        """
        import optuna  # noqa: PLC0415 -- optional dependency

        n = len(train)
        if not self.max_rate or n < 8 * PROBE_CLIPS:  # small sets: a runaway fit is short, the probe is not cheap
            return
        clips = [train[int(i)] for i in np.linspace(0, n - 1, PROBE_CLIPS).astype(int)]
        with self.gate.open():
            model = model_estimator(cfg["model"]).set_params(progress=False, seed=self.seed).fit(clips)
        head = stimulus_headers(clips)
        seconds = float(np.mean(head["n_steps"] * head["dt"])) / 1000.0  # dt in ms
        rate = float(model.spikes_per_neuron_) / seconds
        trial.set_user_attr("probe_rate_hz", rate)
        if rate > self.max_rate:
            trial.set_user_attr("pruned_because", f"runaway activity: {rate:.0f} Hz > {self.max_rate:g} Hz")
            raise optuna.TrialPruned(f"runaway activity: {rate:.0f} spikes/s per neuron")

    def _fold_counts(self, X: np.ndarray, bins: int, seed: int, readout: dict | None = None):
        """``(correct, tested)`` of a readout section (default the config's; seeded as the runner seeds it) per fold."""
        for tr, te in self.folds:
            clf = readout_estimator(readout or self.cfg["readout"], seed=seed, n_tokens=bins)
            with self.gate.open():
                correct = int(np.sum(clf.fit(X[tr], self.y[tr]).predict(X[te]) == self.y[te]))
            yield correct, len(te)

    def score(self, X: np.ndarray, bins: int, readout: dict | None = None) -> float:
        """Pooled accuracy over the folds of a readout section (default the config's) on ``X`` (n_clips, n_features)."""
        counts = np.array(list(self._fold_counts(X, int(bins), self.seed, readout)))
        return float(counts[:, 0].sum() / counts[:, 1].sum())

    @staticmethod
    def _input_counts(model, clips, bins: int | None = None) -> np.ndarray:
        """The binned input spikes of ``clips`` as ``model`` reduces its own (no network)."""
        counts = InputCounts(
            bins=int(model.bins if bins is None else bins),
            reduction=model.reduction,
            taus=getattr(model, "taus", DEFAULT_TAUS),
        )
        return counts.fit(clips).transform(clips)

    def input_baseline(self) -> dict:
        """The same readout's CV accuracy on the binned input spikes (no network), per number of bins.

        Returns ``{"config_bins": the config's own input bins, "by_bins": {"1": accuracy, ...}}``
        over every ``model.bins`` the search may draw (and the config's): the reservoir's
        tuned bins have a baseline to face.  Under the config's encoder and
        readout: where a study searches those, each trial records its own (``input_cv``).
        """
        est = model_estimator(self.cfg["model"])
        kind, values, _ = self.space.get("model.bins", ("categorical", (), False))  # not searched: the config's
        drawn = range(values[0], values[1] + 1) if kind == "int" else values
        own = feature_bins(self.cfg, "input")
        out = {}
        for bins in sorted({own, *map(int, drawn)}):
            out[str(bins)] = self.score(self._input_counts(est, self.train, bins), bins)
        return {"config_bins": own, "by_bins": out}


def tune(
    cfg: dict,
    out,
    *,
    trials: int,
    sampler: str = "auto",
    executor: Executor | None = None,
    seed: int = 0,
    networks: int = 1,
    max_rate: float | None = MAX_RATE_HZ,
    space: dict | None = None,
    enqueue: tuple = (),
    enqueue_configs: dict | None = None,
    log=print,
) -> dict:
    """Run ``trials`` more trials of the study in ``out`` (created or continued); write ``best.yaml``.

    Parameters
    ----------
    cfg : dict
        A resolved config (``model.kind`` hrsnn: a reservoir to tune).
    out : path
        The study folder.
    trials : int
        Trials to add, split over the executor's workers.
    sampler : {"auto", "gp", "tpe"}
        ``auto``: GP where PyTorch is installed, else TPE.
    executor : spikevid.executors.Executor, optional
        Where the trials run (default: here, one after another).  Each worker runs
        its share of the trials against the same SQLite study.  One worker gives the
        same draws for the same ``seed``; with several, the draws depend on which
        trials finished first.
    seed : int
        Seeds the samplers: each worker's seed derives from ``seed``, its index and the
        number of trials already in the study (so a continued study draws new points).
    networks : int
        Networks fitted per trial (model seeds ``model.seed`` onwards); the trial's score
        is the CV accuracy pooled over them.  Part of the study's identity.
    max_rate : float or None
        Spikes per neuron per second above which a draw is pruned before its full fit
        (measured on :data:`PROBE_CLIPS` training clips, where the training split has at
        least eight times as many; None or 0: no probe).
    space : dict, optional
        The search space of a new study (:func:`~spikevid.experiments.searchspace.load_space`;
        default :data:`SEARCH_SPACE`).  A study keeps the space it began with: continuing it,
        leave ``space`` out or give the same one.
    enqueue : sequence of dict
        Points to try first, before the sampler draws (``{search-space key: value}``, as
        :func:`params_of` gives them).
    enqueue_configs : dict, optional
        ``{name: resolved config}``: configs (e.g. tuned on a similar data set) whose values
        of the study's searched keys are tried first, after ``enqueue``.
    log : callable
        Where the progress lines go (default: printed).

    Returns
    -------
    dict
        The content of ``tune.json``.
    """
    import optuna  # noqa: PLC0415 -- optional dependency

    if spiking_kind(cfg["model"]) != "hrsnn" or cfg["model"].get("kind", "hrsnn") != "hrsnn":
        raise ConfigError("model.kind: spikevid tune searches the reservoir's hyperparameters (model.kind hrsnn)")
    if sampler not in SAMPLERS:
        raise ConfigError(f"--sampler: choose one of {SAMPLERS}, got {sampler!r}")
    if max_rate is not None and not float(max_rate) >= 0:
        raise ConfigError(f"--max-rate: a rate in spikes per neuron per second >= 0, got {max_rate}")
    networks = int(networks)
    if networks < 1:
        raise ConfigError(f"--seeds: networks per trial must be >= 1, got {networks}")
    executor = executor or SerialExecutor()
    _, used = _sampler(sampler, seed)  # before the folder: a sampler this machine lacks leaves nothing behind
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = Path(out).resolve()  # workers (processes, Dask) open the same file
    # the folds and the networks per trial are the objective: a study is of one config, readout.cv
    # and --seeds (one network per trial keeps the identity of studies made before --seeds existed)
    config_digest = digest(
        {**stripped(cfg), "cv": cfg["readout"]["cv"], **({"networks": networks} if networks > 1 else {})}
    )
    storage = _storage(out)
    study = _open_study(out, config_digest)
    space = _study_space(study, out, cfg, space)
    # every point checked before the study is set up or any point queued
    points = [dict(point) for point in enqueue]
    points += [params_of(config, source=name, space=space) for name, config in (enqueue_configs or {}).items()]
    unknown = sorted({key for point in points for key in point} - set(space))
    if unknown:
        raise ConfigError(f"--enqueue: {unknown} are not searched in this study")
    if study is None:
        study = _new_study(cfg, out, config_digest, space)
    for point in points:
        study.enqueue_trial(point, skip_if_exists=True)
    jobs = max(1, min(int(executor.workers), int(trials)))
    trials_now = study.get_trials(deepcopy=False)
    waiting = sum(1 for t in trials_now if t.state == optuna.trial.TrialState.WAITING)
    # each worker's sampler seed depends on the trials already in the study: a continued study
    # must not draw its first (random, startup) trials again
    phases = _phases(int(trials), jobs, waiting, seed, len(trials_now))
    workers = max(len(shares) for shares in phases)
    where = "" if workers == 1 else f" on {workers} workers of {executor!r}"
    if len(phases) > 1:
        where += f", the {phases[0][0][0]} enqueued first on one of them"
    so_far = f"{len(trials_now) - waiting} trials so far" + (f", {waiting} enqueued" if waiting else "")
    log(f"spikevid tune -> {out} ({used} sampler, {so_far}, {trials} more{where})")
    study.set_user_attr("networks_per_trial", networks)
    (own_bins, own), (best_bins, best_input) = _baselines(study.user_attrs["input_baseline"])
    log(
        f"input baseline (no network), CV on the training split: {own:.1%} with the config's {own_bins} bins, "
        f"{best_input:.1%} with the best ({best_bins})"
    )
    for shares in phases:
        for _ in executor.map(_optimize, shares, shared=(cfg, str(out), storage, sampler, networks, max_rate)):
            pass
    study = optuna.load_study(study_name=_STUDY, storage=storage)
    summary = _summarise(study, cfg, out, used)
    _figures(study, out, cfg)
    best = summary.get("best")
    if best:
        faced = "" if best["input_cv"] is None else f", its input counts {best['input_cv']:.1%}"
        log(f"best CV accuracy {best['value']:.1%} (trial {best['number']}{faced}); config: {out / 'best.yaml'}")
    return summary


def _storage(out: Path) -> str:
    """The SQLAlchemy URL of the study file in ``out``."""
    return f"sqlite:///{out / 'study.db'}"


def _study_space(study, out: Path, cfg: dict, space: dict | None) -> dict:
    """The search space of the study in ``out`` (None: a new one, which takes ``space`` or the default).

    Raises
    ------
    ConfigError
        Where a study exists with another ``space`` (None: any), or an end of a new space's
        ranges makes no valid config.
    """
    if study is None:
        given = space is not None
        space = SEARCH_SPACE if space is None else space
        check_space(cfg, space, source="--space" if given else "search space")
        return space
    stored = _space_of(study)
    if space is not None and space_to_json(space) != space_to_json(stored):
        raise ConfigError(
            f"{out}: holds a study of another search space (tune.json's search_space); leave --space out to "
            "continue it, or tune into another folder"
        )
    return stored


def _new_study(cfg: dict, out: Path, config_digest: str, space: dict):
    """Set up the study in ``out``: the data and folds must stand before the folder is claimed."""
    import optuna  # noqa: PLC0415 -- optional dependency

    baseline = _Objective(cfg, out, space=space).input_baseline()  # once: the workers find the clips encoded
    out.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(study_name=_STUDY, storage=_storage(out), direction="maximize", load_if_exists=True)
    study.set_user_attr("input_baseline", baseline)
    study.set_user_attr("tau_m_floor", TAU_M_FLOOR)
    study.set_user_attr("search_space", space_to_json(space))
    atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    study.set_user_attr("config_digest", config_digest)  # last: the study is set up
    return study


def _open_study(out: Path, config_digest: str):
    """The study in ``out``, or None where there is none yet or it was never set up.

    Raises
    ------
    ConfigError
        Where ``out`` holds a study of another config digest.
    """
    import optuna  # noqa: PLC0415 -- optional dependency

    if not (out / "study.db").is_file():
        return None
    study = optuna.create_study(study_name=_STUDY, storage=_storage(out), direction="maximize", load_if_exists=True)
    known = study.user_attrs.get("config_digest")
    if known is None:
        return None  # a study whose first invocation stopped before it was set up: set up anew
    if known != config_digest:
        raise ConfigError(
            f"{out}: holds a study of another config or --seeds (see {out / 'config.yaml'}); tune into another folder"
        )
    return study


def _input_faced(baseline: dict | None, trial, tuned: dict) -> float | None:
    """The input baseline's CV accuracy that ``trial``'s score faces (None where the study holds none).

    Under the trial's own encoder and readout where the study records one (``input_cv``),
    else the study's input ``baseline`` (its user attribute) at the input bins of the
    trial's config ``tuned``.
    """
    own = trial.user_attrs.get("input_cv")
    if own is not None:
        return float(own)
    value = (baseline or {}).get("by_bins", {}).get(str(feature_bins(tuned, "input")))
    return None if value is None else float(value)


def _baselines(base: dict) -> tuple:
    """``((config's bins, accuracy), (best bins, accuracy))`` of a study's input baseline."""
    best = max(base["by_bins"], key=base["by_bins"].get)
    return (int(base["config_bins"]), base["by_bins"][str(base["config_bins"])]), (int(best), base["by_bins"][best])


def _space_of(study) -> dict:
    """The study's search space (:data:`SEARCH_SPACE` for one begun before spaces were kept)."""
    stored = study.user_attrs.get("search_space")
    return SEARCH_SPACE if stored is None else space_from_json(stored)


def _tau_m_floor(study) -> float | None:
    """The study's floor on ``tau_m`` (ms): None for a study begun before floors existed."""
    return study.user_attrs.get("tau_m_floor")


def _phases(trials: int, jobs: int, waiting: int, seed: int, done: int) -> list[list[tuple]]:
    """The workers' shares ``(n_trials, sampler seed)``, phase by phase, of ``trials`` more trials.

    One phase of ``jobs`` shares, except where several workers would start while the study
    holds ``waiting`` enqueued trials: those run first, on one worker, since Optuna's queue in
    SQLite can hand one enqueued trial to two workers at once (SQLite ignores the row lock
    Optuna takes; optuna/optuna#4002), and the second to tell its result fails.  ``done``
    counts the study's trials, enqueued ones included.
    """
    phases, phase = [], 0
    if jobs > 1 and waiting:
        first = min(waiting, trials)
        phases.append([(first, _worker_seed(seed, 0, done))])
        # the enqueued trials add no rows: the later phase is told apart by its tag, not by the count
        trials, jobs, phase = trials - first, min(jobs, trials - first), 1
    if trials:
        phases.append(
            [
                (trials // jobs + (1 if k < trials % jobs else 0), _worker_seed(seed, k, done, phase))
                for k in range(jobs)
            ]
        )
    return phases


def _worker_seed(seed: int, worker: int, done: int, phase: int = 0) -> int:
    """Sampler seed of worker ``worker`` joining a study that holds ``done`` trials (in ``phase`` of the call)."""
    entropy = [int(seed), int(worker), int(done)] + ([int(phase)] if phase else [])
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def _optimize(shared: tuple, share: tuple) -> int:
    """A worker's task: ``share = (n_trials, sampler seed)`` trials of the study; returns how many ran."""
    import optuna  # noqa: PLC0415 -- optional dependency

    cfg, out, storage, sampler, networks, max_rate = shared
    n_trials, seed = share
    # Optuna's own warnings would print a traceback per trial running at Ctrl-C; report() says why trials end
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # pruning: below the median of earlier trials at the same fold, once 5 trials and 3 folds are done
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    # a worker killed mid-trial stops its heartbeat: the next worker to start marks that trial failed
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(storage, heartbeat_interval=HEARTBEAT_S, grace_period=3 * HEARTBEAT_S)
    chosen, used = _sampler(sampler, seed)
    study = optuna.load_study(study_name=_STUDY, storage=storage, sampler=chosen, pruner=pruner)
    # Ctrl-C cuts a trial's simulations and readout fits (Optuna marks the trial failed); elsewhere (Optuna
    # asking for a trial, writing to the study) it waits, and stops the study at the next of those or after
    # the trial being recorded: an interrupted write would leave a trial "running" or the database locked
    gate = interrupts.Gate()
    objective = _Objective(
        cfg, Path(out), networks, max_rate, tau_m_min=_tau_m_floor(study), gate=gate, space=_space_of(study)
    )

    def report(study, trial) -> None:
        summary = _summarise(study, cfg, Path(out), used)
        best = summary.get("best", {}).get("value")
        why = trial.user_attrs.get("pruned_because") or trial.user_attrs.get("failed_because")
        what = f"CV {trial.value:.1%}" if trial.value is not None else trial.state.name.lower()
        what += f" ({why})" if why and trial.value is None else ""
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
        print(
            f"  trial {trial.number}: {what} in {seconds:.0f} s" + (f" (best {best:.1%})" if best is not None else ""),
            flush=True,
        )

    def stop_if_interrupted(study, trial) -> None:
        if gate.pending:
            study.stop()

    with gate:
        try:
            # a draw the network refuses (a ValueError naming the key) fails its trial, not the study
            study.optimize(
                objective,
                n_trials=n_trials,
                callbacks=[report, stop_if_interrupted],
                catch=(ValueError,),
                show_progress_bar=False,
            )
        finally:  # within the gate, outside its open() blocks: a signal now cannot cut the deletion short
            objective.drop_scratch()
    if gate.pending:
        raise KeyboardInterrupt("interrupted between two trials")
    return n_trials


def _summarise(study, cfg: dict, out: Path, sampler: str) -> dict:
    """Write ``tune.json`` and (once a trial finished) ``best.yaml``; return the summary.

    Workers summarise after each of their trials; under a lock on ``DIR/.summary.lock``
    a summary of fewer finished trials than the one on disk is not written (a slower
    worker cannot put back an older best).
    """
    import optuna  # noqa: PLC0415 -- optional dependency

    trials = study.get_trials(deepcopy=False)  # one read: the rows, the count and the best agree
    rows = [
        {
            "number": t.number,
            "state": t.state.name.lower(),
            "value": t.value,
            "params": t.params,
            "tau_m_drawn": t.user_attrs.get("tau_m_drawn"),
            "spikes_per_neuron": t.user_attrs.get("spikes_per_neuron"),
            "cv_per_seed": t.user_attrs.get("cv_per_seed"),
            "input_cv": t.user_attrs.get("input_cv"),
            "probe_rate_hz": t.user_attrs.get("probe_rate_hz"),
            "pruned_because": t.user_attrs.get("pruned_because"),
            "failed_because": t.user_attrs.get("failed_because"),
        }
        for t in trials
    ]
    networks = int(study.user_attrs.get("networks_per_trial", 1))
    finished = sum(1 for t in trials if t.state.is_finished())
    summary = {
        "sampler": sampler,
        "networks_per_trial": networks,
        "n_trials": len(rows),
        "n_finished": finished,
        "input_baseline": study.user_attrs.get("input_baseline"),
        "tau_m_floor": _tau_m_floor(study),
        "search_space": space_to_json(_space_of(study)),
        "trials": rows,
    }
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if complete:
        best = max(complete, key=lambda t: t.value)
        tuned = apply_params(cfg, best.params, tau_m_min=_tau_m_floor(study))
        summary["best"] = {
            "number": best.number,
            "value": best.value,
            "params": best.params,
            "input_cv": _input_faced(summary["input_baseline"], best, tuned),
        }
    with locked(out / ".summary.lock"):
        try:
            on_disk = json.loads((out / "tune.json").read_text()).get("n_finished", -1)
        except (OSError, ValueError):
            on_disk = -1
        if finished < on_disk:
            return summary
        if complete:
            seed = _model_seed(cfg)
            over = f" pooled over {networks} networks (model.seed {seed}-{seed + networks - 1})" if networks > 1 else ""
            head = f"# tuned by spikevid tune: CV accuracy {best.value:.4f}{over} on the training split"
            faced = summary["best"]["input_cv"]
            head += f" (trial {best.number})" + (f"; its input counts: {faced:.4f}" if faced is not None else "") + "\n"
            atomic_write_text(out / "best.yaml", head + yaml.safe_dump(tuned, sort_keys=False))
        atomic_write_json(out / "tune.json", json.loads(json.dumps(summary, default=str)))
    return summary


def _figures(study, out: Path, cfg: dict) -> None:
    """``history.png`` (accuracy per trial, best so far), ``tau_m.png`` and ``importances.png`` (fANOVA)."""
    import matplotlib  # noqa: PLC0415 -- only for the figures
    import matplotlib.ticker  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import optuna  # noqa: PLC0415 -- optional dependency

    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        return
    fig, ax = plt.subplots(figsize=(7.5, 3.5))
    x = [t.number for t in done]
    y = [t.value for t in done]
    ax.plot(x, y, "o", label="trial")
    ax.plot(x, np.maximum.accumulate(y), "-", label="best so far")
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    folds = [(t.number, t.intermediate_values[max(t.intermediate_values)]) for t in pruned if t.intermediate_values]
    if folds:
        ax.plot(*zip(*folds, strict=True), "x", color="0.5", label="pruned (at its last fold)")
    own_input = [(t.number, t.user_attrs["input_cv"]) for t in done if t.user_attrs.get("input_cv") is not None]
    if own_input:  # a study that searches the encoder or readout: each trial's own input baseline
        ax.plot(*zip(*own_input, strict=True), "_", color="0.35", ms=10, label="its input counts")
    probed = sum(1 for t in pruned if not t.intermediate_values)
    failed = sum(1 for t in trials if t.state == optuna.trial.TrialState.FAIL)
    if study.user_attrs.get("input_baseline"):
        (own_bins, own), (best_bins, best_input) = _baselines(study.user_attrs["input_baseline"])
        ax.axhline(own, color="0.4", ls="--", lw=1, label=f"input counts, {own_bins} bins")
        if best_input > own:
            ax.axhline(best_input, color="0.4", ls=":", lw=1, label=f"input counts, {best_bins} bins")
    title = f"optimisation history: {len(done)} trials scored"
    title += f", {len(pruned)} pruned" if pruned else ""
    title += f" ({probed} by the activity probe)" if probed else ""
    title += f", {failed} failed" if failed else ""
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # trials are numbered
    ax.set(xlabel="trial", ylabel="CV accuracy (training split)", title=title)
    ax.title.set_fontsize(10)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(out / "history.png", dpi=120)
    plt.close(fig)
    _tau_m_figure(cfg, max(done, key=lambda t: t.value).params, out / "tau_m.png", plt, _tau_m_floor(study))
    if len(done) < 2:
        return
    try:
        importances = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError):  # too few distinct values to tell
        return
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(importances) + 1.2))
    names = list(importances)[::-1]
    ax.barh(names, [importances[n] for n in names])
    ax.set(xlabel="importance (fANOVA)", title="what mattered")
    fig.tight_layout()
    fig.savefig(out / "importances.png", dpi=120)
    plt.close(fig)


def _tau_m_figure(cfg: dict, params: dict, path: Path, plt, tau_m_min: float | None = None) -> None:
    """The membrane time constants of the tuned config against the config's own.

    Cumulative fractions of 4,000 draws each on a log time axis, so a homogeneous (one step),
    a narrow and a wide distribution, and the floor, show side by side.
    """
    tuned = apply_params(cfg, params, tau_m_min=tau_m_min)["model"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for label, model_cfg in (("as configured", cfg["model"]), ("tuned", tuned)):
        values, spec = _tau_m_values(model_cfg, 4000)
        values = np.sort(values)
        fraction = np.arange(1, len(values) + 1) / len(values)
        ax.step(values, fraction, where="post", lw=1.5, label=f"{label}: {spec.describe()}")
    if tuned.get("tau_m_min") is not None:
        ax.axvline(float(tuned["tau_m_min"]), color="0.5", ls=":", lw=1, label=f"floor, {tuned['tau_m_min']:g} ms")
    ax.set_xscale("log")
    ax.set(xlabel="tau_m (ms, log scale)", ylabel="fraction of neurons with tau_m <= x", ylim=(0, 1.02))
    ax.set_title("membrane time constants (4,000 draws each)", fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
