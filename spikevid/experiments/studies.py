"""Multi-run studies: the heterogeneity ablation, the training-fraction, encoding and hybrid studies.

Every study is a grid of *cells*, each one :func:`~spikevid.experiments.runner.run_experiment`
into its own folder::

    DIR/<variant>/seed<k>/                 heterogeneity ablation
    DIR/<variant>/frac<f>/seed<k>/         training-fraction study
    DIR/<encoder>/seed<k>/                 encoding study
    DIR/seed<k>/                           hybrid ablation (every mode in each run)
    DIR/cache/                             encoded stimuli, shared by all cells
    DIR/build/worker<w>/                   standalone projects, one per worker process

Cells run through an executor (:mod:`spikevid.executors`: local worker processes by
default, a Dask cluster with ``--executor dask``); a cell whose ``metrics.json`` exists is
not run again, and an interrupted cell resumes through the runner (cached stimuli,
saved model, finished feature chunks).  Summaries (JSON, Markdown table, figure
and ``report.md``, from :mod:`analysis.summaries`) are written atomically at the end
from the cells' ``metrics.json``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from tqdm.auto import tqdm

from analysis.accuracy import plot_ablation, plot_accuracy_vs_fraction, plot_encoder_study, plot_readouts
from analysis.figures import save_figure
from analysis.report import (
    result_label,
    write_ablation_report,
    write_encoder_report,
    write_fraction_report,
    write_hybrid_report,
)
from analysis.summaries import (
    ablation_table,
    cell_metrics,
    encoder_table,
    fraction_table,
    readouts_table,
    summarize_ablation,
    summarize_encoders,
    summarize_readouts,
    summarize_train_fraction,
)
from cortex.devices import STANDALONE_DEVICES
from stimuli.cache import StimulusCache
from stimuli.encoders import ENCODERS, get_encoder
from stimuli.io import atomic_write_json, atomic_write_text
from stimuli.types import StimulusError

from .. import __version__, interrupts
from ..executors import Executor, TaskFailed, make_executor, worker_slot
from .config import ConfigError, check_train_fraction, dump_config, parse_value, resolve_config, set_dotted
from .data import encode_all, load_split
from .provenance import input_identities
from .runfolder import CONFIG_HEADER, config_diff, locked
from .runlog import run_logger
from .runner import run_experiment

__all__ = [
    "Cell",
    "ablation_cells",
    "fraction_cells",
    "run_cells",
    "heterogeneity_ablation",
    "train_fraction_study",
    "encoder_cells",
    "encoder_params",
    "applicable_encoders",
    "encoder_study",
    "hybrid_study",
    "ABLATION_VARIANTS",
    "STUDY_ENCODERS",
    "SHARED_ENCODER_PARAMS",
    "FRACTION_VARIANTS",
]

#: Variants of the heterogeneity ablation, homogeneous first.
ABLATION_VARIANTS = ("HoNHoS", "HeNHoS", "HoNHeS", "HeNHeS")
#: Default variants of the training-fraction study.
FRACTION_VARIANTS = ("HeNHeS", "HoNHoS")
#: Default encoders of the encoding study (the cortical-column paper's codes and DVS-like events).
STUDY_ENCODERS = ("poisson", "ttfs", "gaussian", "delta")
#: Encoder parameters every encoder of the study takes from the config's encoder (its timing).
SHARED_ENCODER_PARAMS = ("frame_duration", "dt")


@dataclass(frozen=True)
class Cell:
    """One run of a study: where it goes and which config entries it overrides."""

    name: str
    out: Path
    overrides: dict = field(default_factory=dict)

    @property
    def done(self) -> bool:
        """Whether the cell has a readable ``metrics.json`` (see :func:`stale_cells` for whether it still holds)."""
        return cell_metrics(self) is not None


# ---------------------------------------------------------------------------- cells
def ablation_cells(out, seeds, variants=ABLATION_VARIANTS) -> list[Cell]:
    """Cells ``out/<variant>/seed<k>`` for every variant and seed."""
    out = Path(out)
    variants = _unique(list(variants), "--variants")
    return [
        Cell(f"{v}/seed{k}", out / v / f"seed{k}", {"model.variant": v, "model.seed": int(k)})
        for v in variants
        for k in _seed_list(seeds)
    ]


def fraction_cells(out, fractions, seeds, variants=FRACTION_VARIANTS) -> list[Cell]:
    """Cells ``out/<variant>/frac<f>/seed<k>``; seed ``k`` draws both the subset and the network."""
    out = Path(out)
    variants = _unique(list(variants), "--variants")
    fractions = _unique([float(f) for f in fractions], "--fractions")
    return [
        Cell(
            f"{v}/frac{f:g}/seed{k}",
            out / v / f"frac{f:g}" / f"seed{k}",
            {
                "model.variant": v,
                "model.seed": int(k),
                "dataset.train_fraction": float(f),
                "dataset.fraction_seed": int(k),
            },
        )
        for v in variants
        for f in fractions
        for k in _seed_list(seeds)
    ]


def encoder_params(base_cfg: dict, name: str, settings: list[str] | None = None) -> dict:
    """Parameters of encoder ``name`` in the encoding study.

    The config's own encoder keeps all its parameters; every other encoder takes the
    config's timing (:data:`SHARED_ENCODER_PARAMS`, where it has them) and its own
    defaults otherwise.  ``settings`` (``"name.key=value"``, as ``--encoder-set``) then
    set single parameters of single encoders.

    Raises
    ------
    ConfigError
        A setting names an encoder outside the study's or a parameter the encoder
        does not have.
    """
    enc = base_cfg["encoder"]
    if name == enc["name"]:
        params = dict(enc["params"] or {})
    else:
        accepted = set(get_encoder(name).params())
        params = {k: v for k, v in (enc["params"] or {}).items() if k in SHARED_ENCODER_PARAMS and k in accepted}
    for item in settings or []:
        key, sep, raw = item.partition("=")
        target, dot, param = key.strip().partition(".")
        if not sep or not dot or not param:
            raise ConfigError(f"--encoder-set expects encoder.param=value, got {item!r}")
        if target == name:
            params[param] = parse_value(raw)
    try:
        get_encoder(name, **params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"encoder {name}: {exc}") from None
    return params


def applicable_encoders(base_cfg: dict, encoders, params: dict[str, dict]) -> tuple[list[str], dict[str, str]]:
    """The encoders of ``encoders`` that can encode the dataset, and why the others cannot.

    Each encoder encodes the first training sample; one that raises (a frame encoder on
    event recordings, an event binner on frames, delta on colour frames) or gives no
    spike (delta on a still image) is left out.
    """
    _, train, _ = load_split({**base_cfg, "dataset": {**base_cfg["dataset"], "train_fraction": 1.0}})
    sample = train[0]
    ok, skipped = [], {}
    for name in encoders:
        try:
            stim = get_encoder(name, **params[name])(sample.data, label=sample.label, meta=sample.meta)
        except (StimulusError, ValueError, TypeError) as exc:
            skipped[name] = f"does not apply to {base_cfg['dataset']['name']} ({str(exc).strip()[:160]})"
            continue
        if stim.n_channels == 0 or stim.n_spikes == 0:
            skipped[name] = (
                f"gives no input spike on the first {base_cfg['dataset']['name']} training clip "
                f"({sample.meta.get('id', 'sample 0')}; a change code on a still image, or parameters to check)"
            )
            continue
        ok.append(name)
    return ok, skipped


def encoder_cells(out, encoders, seeds, params: dict[str, dict]) -> list[Cell]:
    """Cells ``out/<encoder>/seed<k>`` for every encoder and seed."""
    out = Path(out)
    encoders = _unique(list(encoders), "--encoders")
    return [
        Cell(
            f"{e}/seed{k}",
            out / e / f"seed{k}",
            {"encoder.name": e, "encoder.params": dict(params[e]), "model.seed": int(k)},
        )
        for e in encoders
        for k in _seed_list(seeds)
    ]


def _seed_list(seeds) -> list[int]:
    out = list(range(int(seeds))) if np.isscalar(seeds) else [int(s) for s in seeds]
    return _unique(out, "seeds")


def _unique(values: list, what: str) -> list:
    """``values`` unchanged; ValueError naming a repeated entry (one run would count as several)."""
    seen = []
    for v in values:
        if v in seen:
            raise ValueError(f"{what} lists {v!r} twice; each entry is a separate group of runs")
        seen.append(v)
    return values


def _cell_config(base: dict, cell: Cell, cache) -> dict:
    cfg = copy.deepcopy(base)
    for key, value in cell.overrides.items():
        set_dotted(cfg, key, value)
    cfg["run"]["cache"] = str(cache) if cache else cfg["run"]["cache"]
    cfg["run"]["progress"] = False
    return resolve_config(cfg)


def current_inputs(base_cfg: dict, cache) -> dict[str, dict[str, str]]:
    """``{"train"|"test": {sample id: stimulus key}}`` of the study's data as it is now (through ``cache``)."""
    _, train, test = load_split({**base_cfg, "dataset": {**base_cfg["dataset"], "train_fraction": 1.0}})
    enc = get_encoder(base_cfg["encoder"]["name"], **(base_cfg["encoder"]["params"] or {}))
    store = StimulusCache(cache) if cache else None
    return {
        "train": input_identities(encode_all(train, enc, store, progress=False)),
        "test": input_identities(encode_all(test, enc, store, progress=False)),
    }


def stale_cells(cells: list[Cell], inputs_of) -> dict[str, str]:
    """Finished cells whose results no longer match the data or the spikevid version: name -> why.

    A cell's ``fingerprint.json`` lists the identity of every clip it used; a cell is
    stale if one of them changed or disappeared, or if it was made by another version.
    ``inputs_of(cell)`` gives the current identities (:func:`current_inputs` of the
    cell's config; a dict: the same for every cell).
    """
    out = {}
    for c in cells:
        if not c.done:
            continue
        inputs = inputs_of if isinstance(inputs_of, dict) else inputs_of(c)
        try:
            fp = json.loads((c.out / "fingerprint.json").read_text())
            if fp["spikevid"] != __version__:
                out[c.name] = f"made by spikevid {fp['spikevid']}"
                continue
            changed = [
                sid
                for split in ("train", "test")
                for sid, key in fp["inputs"][split].items()
                if inputs[split].get(sid) != key
            ]
        except (OSError, ValueError, KeyError, TypeError):
            out[c.name] = "its fingerprint.json is missing or unreadable"
            continue
        if changed:
            out[c.name] = f"{len(changed)} input clip(s) changed or gone ({', '.join(changed[:3])})"
    return out


def claim_study_config(out: Path, base_cfg: dict, cells: list[Cell], configs: dict[str, dict]) -> None:
    """Refuse a study folder whose finished cells were made with another configuration; record this one.

    Compares the study's ``config.yaml`` and each finished cell's ``config.yaml`` with what
    the cells would run now, and names the differing keys.  A study with no finished
    cell is taken over.
    """
    finished = [c for c in cells if c.done]
    if finished:
        problems = []
        study_cfg = out / "config.yaml"
        if study_cfg.exists():
            problems += _config_diff(study_cfg, base_cfg)
        for c in finished:
            problems += [f"{c.name}: {k}" for k in _config_diff(c.out / "config.yaml", configs[c.name])]
        if problems:
            shown = ", ".join(problems[:6]) + (f" and {len(problems) - 6} more" if len(problems) > 6 else "")
            raise ConfigError(
                f"{out} holds study results of a different configuration (differs in: {shown}); "
                "choose another --out or delete it"
            )
    atomic_write_text(out / "config.yaml", CONFIG_HEADER + dump_config(base_cfg))


def _config_diff(path: Path, cfg: dict) -> list[str]:
    try:
        old = yaml.safe_load(path.read_text()) or {}
    except (OSError, ValueError, yaml.YAMLError):
        return [f"{path.name} (missing or unreadable)"]
    return config_diff(old, cfg) if isinstance(old, dict) else ["(whole file)"]


def _stale(base_cfg: dict, cells: list[Cell], configs: dict[str, dict], cache) -> dict[str, str]:
    """:func:`stale_cells` with each cell's data encoded by its own encoder (one encoding per encoder)."""
    if not any(c.done for c in cells):
        return {}
    by_encoder: dict[str, dict] = {}

    def inputs_of(cell: Cell) -> dict:
        encoder = configs[cell.name]["encoder"]
        key = json.dumps(encoder, sort_keys=True, default=str)
        if key not in by_encoder:
            by_encoder[key] = current_inputs({**base_cfg, "encoder": encoder}, cache)
        return by_encoder[key]

    return stale_cells(cells, inputs_of)


# ---------------------------------------------------------------------------- workers
def run_cell(build_root: str, task: tuple[str, dict]) -> tuple[float, float]:
    """Run one cell on any executor: ``(out, config)`` -> (test accuracy, seconds).

    Standalone devices build in ``build_root/worker<slot>``, one folder per worker.
    """
    out, cfg = task
    t0 = time.perf_counter()
    if cfg["model"].get("device") in STANDALONE_DEVICES:
        cfg = copy.deepcopy(cfg)
        cfg["model"]["build_dir"] = str(Path(build_root) / f"worker{worker_slot()}")
    out = Path(out)
    metrics = run_experiment(cfg, out, log=run_logger(out, console=False))
    return float(metrics["test_accuracy"]), time.perf_counter() - t0


def run_cells(
    base_cfg: dict,
    cells: list[Cell],
    out,
    *,
    jobs: int | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    desc: str = "cells",
) -> dict:
    """Run every unfinished cell through an executor; finished cells are skipped.

    Parameters
    ----------
    base_cfg : dict
        A resolved config; each cell applies its overrides to it.
    cells : list of Cell
    out : path
        Study folder (holds the shared ``cache/`` and ``build/``).
    jobs : int, optional
        Without ``executor``: local worker processes (default: CPU cores; ``1`` runs
        the cells in this process).
    executor : spikevid.executors.Executor, optional
        Where the cells run (local processes, a Dask cluster); the caller closes it.
        Every cell runs with the same result on any executor.
    progress : bool
        Progress bar over cells.

    Returns
    -------
    dict
        ``executed`` and ``skipped`` (cell names), ``failed`` (name -> message),
        ``seconds`` (name -> wall time of executed cells).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cache, build_root = out / "cache", Path(base_cfg["model"].get("build_dir") or out / "build")
    configs = {c.name: _cell_config(base_cfg, c, cache) for c in cells}
    claim_study_config(out, base_cfg, cells, configs)
    stale = _stale(base_cfg, cells, configs, cache)
    for name, why in stale.items():
        print(f"{desc}: cell {name} is out of date ({why}); running it again", file=sys.stderr)
    todo = [c for c in cells if not c.done or c.name in stale]
    for c in todo:  # a stale cell's old metrics must not be summarised if its rerun fails
        if c.name in stale:
            (c.out / "metrics.json").unlink(missing_ok=True)
    report = {
        "executed": [],
        "skipped": [c.name for c in cells if c not in todo],
        "failed": {},
        "seconds": {},
        "stale": stale,
    }
    with contextlib.ExitStack() as stack:
        if executor is None:
            jobs = max(1, int(jobs or os.cpu_count() or 1))
            kind = "serial" if jobs == 1 or len(todo) <= 1 else "processes"
            executor = stack.enter_context(make_executor(kind, workers=min(jobs, len(todo)) or 1))
        _run_all(executor, todo, configs, build_root, report, progress, desc, len(cells))
    return report


def _run_all(executor: Executor, todo: list[Cell], configs, build_root, report, progress, desc, n_cells) -> None:
    bar = tqdm(total=n_cells, initial=n_cells - len(todo), desc=desc, unit="cell", disable=not progress)
    tasks = [(str(c.out), configs[c.name]) for c in todo]
    try:
        for k, value in executor.map(run_cell, tasks, shared=str(build_root), errors="yield"):
            name = todo[k].name
            if isinstance(value, TaskFailed):  # one failed cell must not stop the study
                report["failed"][name] = str(value)
                bar.set_postfix_str(f"{name}: failed")
            else:
                acc, sec = value
                report["executed"].append(name)
                report["seconds"][name] = round(sec, 2)
                bar.set_postfix_str(f"{name}: {acc:.1%}")
            bar.update(1)
            interrupts.check()
    finally:
        bar.close()


# ---------------------------------------------------------------------------- studies
def _write(
    out: Path, stem: str, summary: dict, table: str, fig_fn, report_fn, run_report: dict, base_cfg: dict
) -> list[Path]:
    summary = {**summary, "run": run_report}
    paths = [atomic_write_json(out / f"{stem}.json", summary), atomic_write_text(out / f"{stem}.md", table)]
    atomic_write_text(out / "config.yaml", CONFIG_HEADER + dump_config(base_cfg))
    if summary["n_finished"]:
        fig, _ = fig_fn(summary)
        paths += save_figure(fig, out / stem)
    paths.append(report_fn(out, summary, table))
    return paths


def heterogeneity_ablation(
    base_cfg: dict,
    out,
    *,
    seeds=3,
    jobs: int | None = None,
    variants=ABLATION_VARIANTS,
    progress: bool = True,
    executor: Executor | None = None,
) -> dict:
    """Run the four heterogeneity variants x ``seeds`` and write the summary files.

    Writes ``ablation.json``, ``ablation.md``, ``ablation.png``/``.pdf`` and
    ``report.md`` into ``out``.

    Returns
    -------
    dict
        The summary (``ablation.json`` content, with ``run``: executed/skipped/failed cells).
    """
    out = Path(out)
    cells = ablation_cells(out, seeds, variants)
    with locked(out, "study"):
        run = run_cells(base_cfg, cells, out, jobs=jobs, executor=executor, progress=progress, desc="ablation")
        summary = summarize_ablation(cells)
        _write(out, "ablation", summary, ablation_table(summary), plot_ablation, write_ablation_report, run, base_cfg)
    return {**summary, "run": run}


def encoder_study(
    base_cfg: dict,
    out,
    *,
    encoders=STUDY_ENCODERS,
    seeds=3,
    settings: list[str] | None = None,
    jobs: int | None = None,
    progress: bool = True,
    executor: Executor | None = None,
) -> dict:
    """Run the configured model with each encoder x ``seeds``; write the summary files.

    Encoders that cannot encode the dataset are skipped with a message (printed and in
    the summary).  Writes ``encoders.json``, ``encoders.md``, ``encoders.png``/``.pdf``
    and ``report.md`` into ``out``.

    Parameters
    ----------
    base_cfg : dict
        A resolved config (any ``model.kind``).
    encoders : sequence of str
        Encoder names (:data:`stimuli.encoders.ENCODERS`).
    seeds : int or sequence of int
    settings : list of str, optional
        ``"encoder.param=value"`` for single encoders (:func:`encoder_params`).
    """
    unknown = [e for e in encoders if e not in ENCODERS]
    if unknown:
        raise ConfigError(f"--encoders: unknown encoder(s) {unknown}; known: {sorted(ENCODERS)}")
    encoders = _unique(list(encoders), "--encoders")
    for item in settings or []:
        target = item.partition("=")[0].partition(".")[0].strip()
        if target not in encoders:
            raise ConfigError(f"--encoder-set {item!r}: {target!r} is not one of the study's encoders {encoders}")
    params = {e: encoder_params(base_cfg, e, settings) for e in encoders}
    out = Path(out)
    with locked(out, "study"):
        usable, skipped = applicable_encoders(base_cfg, encoders, params)
        for name, why in skipped.items():
            print(f"encoder study: skipping {name}: {why}", file=sys.stderr)
        if not usable:
            raise ConfigError(f"--encoders: none of {encoders} applies to dataset {base_cfg['dataset']['name']}")
        cells = encoder_cells(out, usable, seeds, params)
        run = run_cells(base_cfg, cells, out, jobs=jobs, executor=executor, progress=progress, desc="encoders")
        summary = summarize_encoders(cells, skipped)
        _write(
            out, "encoders", summary, encoder_table(summary), plot_encoder_study, write_encoder_report, run, base_cfg
        )
    return {**summary, "run": run}


def hybrid_study(
    base_cfg: dict,
    out,
    *,
    seeds=3,
    jobs: int | None = None,
    progress: bool = True,
    executor: Executor | None = None,
) -> dict:
    """The hybrid ablation: ``model.kind: hybrid`` with seeds ``0..seeds-1``, every mode of each run summarised.

    Each run fits all four modes of the hybrid classifier on one simulation of its
    branch network, so the study needs one cell per seed (``out/seed<k>``; the seed
    draws the network and the classifiers).  Writes ``hybrid.json``, ``hybrid.md``,
    ``hybrid.png``/``.pdf`` and ``report.md``.
    """
    if base_cfg["model"].get("kind") != "hybrid":
        raise ConfigError(f"ablate hybrid: the config must use model.kind: hybrid, not {base_cfg['model'].get('kind')}")
    out = Path(out)
    cells = [Cell(f"seed{k}", out / f"seed{k}", {"model.network.seed": int(k)}) for k in _seed_list(seeds)]
    with locked(out, "study"):
        run = run_cells(base_cfg, cells, out, jobs=jobs, executor=executor, progress=progress, desc="hybrid")
        summary = summarize_readouts(cells, "hybrid")
        labels = (
            {name: result_label(summary["model"], name, g["readout"]) for name, g in summary["readouts"].items()}
            if summary["model"]
            else {}
        )
        _write(
            out,
            "hybrid",
            {**summary, "labels": labels},
            readouts_table(summary, labels),
            lambda s: plot_readouts(s, labels),
            write_hybrid_report,
            run,
            base_cfg,
        )
    return {**summary, "labels": labels, "run": run}


def train_fraction_study(
    base_cfg: dict,
    out,
    *,
    fractions=(0.1, 0.25, 0.5, 1.0),
    seeds=3,
    variants=FRACTION_VARIANTS,
    jobs: int | None = None,
    progress: bool = True,
    executor: Executor | None = None,
) -> dict:
    """Accuracy against the fraction of training clips (unsupervised phase and readout alike).

    Writes ``train_fraction.json``, ``train_fraction.md``, ``train_fraction.png``/``.pdf``
    and ``report.md`` into ``out``.
    """
    fractions = [check_train_fraction(f, "--fractions") for f in fractions]
    out = Path(out)
    cells = fraction_cells(out, fractions, seeds, variants)
    with locked(out, "study"):
        run = run_cells(base_cfg, cells, out, jobs=jobs, executor=executor, progress=progress, desc="train-fraction")
        summary = summarize_train_fraction(cells)
        _write(
            out,
            "train_fraction",
            summary,
            fraction_table(summary),
            plot_accuracy_vs_fraction,
            write_fraction_report,
            run,
            base_cfg,
        )
    return {**summary, "run": run}
