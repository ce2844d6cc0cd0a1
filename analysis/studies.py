"""Multi-run studies: the heterogeneity ablation and the training-fraction study.

Every study is a grid of *cells*, each one :func:`networks.experiment.run_experiment`
into its own folder::

    DIR/<variant>/seed<k>/                 heterogeneity ablation
    DIR/<variant>/frac<f>/seed<k>/         training-fraction study
    DIR/cache/                             encoded stimuli, shared by all cells
    DIR/build/worker<w>/                   standalone projects, one per worker process

Cells run in parallel worker processes; a cell whose ``metrics.json`` exists is
not run again, and an interrupted cell resumes through the runner (cached stimuli,
saved model, finished feature chunks).  Summaries (JSON, Markdown table, figure
and ``report.md``) are written atomically at the end from the cells' ``metrics.json``.
"""
from __future__ import annotations

import copy
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Cell", "mean_ci", "ablation_cells", "fraction_cells", "run_cells", "summarize_ablation",
           "summarize_train_fraction", "heterogeneity_ablation", "train_fraction_study",
           "ABLATION_VARIANTS", "FRACTION_VARIANTS"]

#: Variants of the heterogeneity ablation, homogeneous first.
ABLATION_VARIANTS = ("HoNHoS", "HeNHoS", "HoNHeS", "HeNHeS")
#: Default variants of the training-fraction study.
FRACTION_VARIANTS = ("HeNHeS", "HoNHoS")


@dataclass(frozen=True)
class Cell:
    """One run of a study: where it goes and which config entries it overrides."""

    name: str
    out: Path
    overrides: dict = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return (self.out / "metrics.json").is_file()


def mean_ci(values, level: float = 0.95, bounds=None) -> dict:
    """Mean, sample standard deviation and t-distribution confidence interval.

    Parameters
    ----------
    values : sequence of float (None entries are ignored)
    level : float
        Confidence level.
    bounds : (float, float), optional
        Range of the quantity (``(0, 1)`` for an accuracy); the interval is clipped to it.

    Returns
    -------
    dict
        ``n``, ``mean``, ``std`` (ddof=1; 0 for one value), ``ci`` ((low, high), or
        None with fewer than two values).
    """
    from scipy import stats
    x = np.asarray([v for v in values if v is not None], dtype=float)
    n = len(x)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci": None}
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if n > 1 else 0.0
    if n < 2:
        return {"n": n, "mean": mean, "std": std, "ci": None}
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * std / np.sqrt(n))
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return {"n": n, "mean": mean, "std": std, "ci": [low, high]}


# ---------------------------------------------------------------------------- cells
def ablation_cells(out, seeds, variants=ABLATION_VARIANTS) -> list[Cell]:
    """Cells ``out/<variant>/seed<k>`` for every variant and seed."""
    out = Path(out)
    return [Cell(f"{v}/seed{k}", out / v / f"seed{k}", {"model.variant": v, "model.seed": int(k)})
            for v in variants for k in _seed_list(seeds)]


def fraction_cells(out, fractions, seeds, variants=FRACTION_VARIANTS) -> list[Cell]:
    """Cells ``out/<variant>/frac<f>/seed<k>``; seed ``k`` draws both the subset and the network."""
    out = Path(out)
    return [Cell(f"{v}/frac{f:g}/seed{k}", out / v / f"frac{f:g}" / f"seed{k}",
                 {"model.variant": v, "model.seed": int(k), "dataset.train_fraction": float(f),
                  "dataset.fraction_seed": int(k)})
            for v in variants for f in fractions for k in _seed_list(seeds)]


def _seed_list(seeds) -> list[int]:
    return list(range(int(seeds))) if np.isscalar(seeds) else [int(s) for s in seeds]


def _cell_config(base: dict, cell: Cell, cache) -> dict:
    from networks.config import resolve_config
    cfg = copy.deepcopy(base)
    for key, value in cell.overrides.items():
        node = cfg
        *head, last = key.split(".")
        for part in head:
            node = node.setdefault(part, {})
        node[last] = value
    cfg["run"]["cache"] = str(cache) if cache else cfg["run"]["cache"]
    cfg["run"]["progress"] = False
    return resolve_config(cfg)


# ---------------------------------------------------------------------------- workers
_WORKER: dict = {"build_dir": None}


def _init_worker(slots, build_root):
    """Give this worker process its own standalone build folder (kept for its lifetime)."""
    index = slots.get()
    _WORKER["build_dir"] = str(Path(build_root) / f"worker{index}")
    os.environ.setdefault("MPLBACKEND", "Agg")


def _run_cell(cfg: dict, out: str) -> tuple[float, float]:
    """Run one cell (in a worker or in-process); returns (test accuracy, seconds)."""
    from cortex.devices import STANDALONE_DEVICES
    from networks.experiment import run_experiment, run_logger
    t0 = time.perf_counter()
    if cfg["model"].get("device") in STANDALONE_DEVICES and _WORKER["build_dir"]:
        cfg = copy.deepcopy(cfg)
        cfg["model"]["build_dir"] = _WORKER["build_dir"]
    out = Path(out)
    metrics = run_experiment(cfg, out, log=run_logger(out, console=False))
    return float(metrics["test_accuracy"]), time.perf_counter() - t0


class _Slots:
    """Worker numbers handed out in order (the in-process stand-in of a queue)."""

    def __init__(self, n):
        self.items = list(range(n))

    def get(self):
        return self.items.pop(0)


def run_cells(base_cfg: dict, cells: list[Cell], out, *, jobs: int | None = None,
              progress: bool = True, desc: str = "cells") -> dict:
    """Run every unfinished cell, ``jobs`` at a time; finished cells are skipped.

    Parameters
    ----------
    base_cfg : dict
        A resolved config; each cell applies its overrides to it.
    cells : list of Cell
    out : path
        Study folder (holds the shared ``cache/`` and ``build/``).
    jobs : int, optional
        Worker processes (default: CPU cores).  ``1`` runs in this process.
    progress : bool
        Progress bar over cells.

    Returns
    -------
    dict
        ``executed`` and ``skipped`` (cell names), ``failed`` (name -> message),
        ``seconds`` (name -> wall time of executed cells).
    """
    from tqdm.auto import tqdm
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = max(1, int(jobs or os.cpu_count() or 1))
    cache, build_root = out / "cache", Path(base_cfg["model"].get("build_dir") or out / "build")
    todo = [c for c in cells if not c.done]
    report = {"executed": [], "skipped": [c.name for c in cells if c.done], "failed": {}, "seconds": {}}
    configs = {c.name: _cell_config(base_cfg, c, cache) for c in todo}
    bar = tqdm(total=len(cells), initial=len(cells) - len(todo), desc=desc, unit="cell", disable=not progress)

    def finished(name, fn):
        try:
            acc, sec = fn()
            report["executed"].append(name)
            report["seconds"][name] = round(sec, 2)
            bar.set_postfix_str(f"{name}: {acc:.1%}")
        except Exception as exc:  # one failed cell must not stop the study
            report["failed"][name] = f"{type(exc).__name__}: {exc}"
            bar.set_postfix_str(f"{name}: failed")
        bar.update(1)

    try:
        if jobs == 1 or len(todo) <= 1:
            _init_worker(_Slots(1), build_root)
            for c in todo:
                finished(c.name, lambda c=c: _run_cell(configs[c.name], str(c.out)))
        else:
            import multiprocessing as mp
            ctx = mp.get_context("spawn")  # a clean interpreter: no inherited Brian2 state
            n = min(jobs, len(todo))
            slots = ctx.Queue()
            for k in range(n):
                slots.put(k)
            with ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                                     initargs=(slots, build_root)) as pool:
                futures = {pool.submit(_run_cell, configs[c.name], str(c.out)): c.name for c in todo}
                for fut in as_completed(futures):
                    finished(futures[fut], fut.result)
    finally:
        bar.close()
    return report


# ---------------------------------------------------------------------------- summaries
def _metrics(cell: Cell) -> dict | None:
    import json
    path = cell.out / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _energy(cells: list[Cell], sops: float, n_synapses: float) -> dict | None:
    """Energy estimate for mean activity, with the clip length of the first cell that has a raster."""
    from .energy import energy_estimate
    from .rundata import clip_duration, load_config_file, load_raster
    for c in cells:
        raster = load_raster(c.out)
        if raster is not None and (c.out / "config.yaml").is_file():
            cfg = load_config_file(c.out)
            frame = (cfg.get("encoder", {}).get("params") or {}).get("frame_duration")
            dt = float(cfg.get("model", {}).get("dt") or 0.5) * 1e-3
            return energy_estimate(sops, int(round(n_synapses)), clip_duration=clip_duration(raster),
                                   frame_duration=frame, dt=dt)
    return None


def _group(cells_metrics: list[tuple[Cell, dict]]) -> dict:
    accs = [m["test_accuracy"] for _, m in cells_metrics]
    stat = mean_ci(accs, bounds=(0.0, 1.0))
    spn = [m.get("spikes_per_neuron_per_sample") for _, m in cells_metrics]
    syn = [m.get("synaptic_events_per_sample") for _, m in cells_metrics]
    n_syn = [sum(m.get("n_synapses", {}).values()) for _, m in cells_metrics]
    out = {"n_seeds": stat["n"], "seeds": [c.overrides["model.seed"] for c, _ in cells_metrics],
           "accuracy_per_seed": accs, "accuracy_mean": stat["mean"], "accuracy_std": stat["std"],
           "accuracy_ci95": stat["ci"],
           "train_accuracy_mean": mean_ci([m["train_accuracy"] for _, m in cells_metrics])["mean"],
           "n_train": [m["n_train"] for _, m in cells_metrics],
           "spikes_per_neuron_per_sample": mean_ci(spn)["mean"],
           "synaptic_events_per_sample": mean_ci(syn)["mean"]}
    if cells_metrics and out["synaptic_events_per_sample"] is not None:
        out["energy"] = _energy([c for c, _ in cells_metrics], out["synaptic_events_per_sample"],
                                float(np.mean(n_syn)))
    return out


def _baseline(cells_metrics: list[tuple[Cell, dict]]) -> dict:
    """Baseline (input counts) accuracy: one value per seed (the same for every variant)."""
    per_seed: dict[int, list[float]] = {}
    for c, m in cells_metrics:
        if "baseline" in m:
            per_seed.setdefault(c.overrides["model.seed"], []).append(m["baseline"]["test_accuracy"])
    accs = [float(np.mean(v)) for _, v in sorted(per_seed.items())]
    stat = mean_ci(accs, bounds=(0.0, 1.0))
    return {"kind": "input_counts", "n_seeds": stat["n"], "accuracy_per_seed": accs,
            "accuracy_mean": stat["mean"], "accuracy_std": stat["std"], "accuracy_ci95": stat["ci"]}


def summarize_ablation(cells: list[Cell]) -> dict:
    """Per-variant accuracy statistics, activity and energy of finished ablation cells."""
    have = [(c, m) for c in cells if (m := _metrics(c)) is not None]
    variants = list(dict.fromkeys(c.overrides["model.variant"] for c in cells))
    summary = {"study": "heterogeneity_ablation", "n_cells": len(cells), "n_finished": len(have),
               "variants": {v: _group([(c, m) for c, m in have if c.overrides["model.variant"] == v])
                            for v in variants},
               "baseline": _baseline(have)}
    return summary


def summarize_train_fraction(cells: list[Cell]) -> dict:
    """Per variant and fraction accuracy statistics of finished training-fraction cells."""
    have = [(c, m) for c in cells if (m := _metrics(c)) is not None]
    variants = list(dict.fromkeys(c.overrides["model.variant"] for c in cells))
    fractions = sorted(set(c.overrides["dataset.train_fraction"] for c in cells))
    out = {"study": "train_fraction", "n_cells": len(cells), "n_finished": len(have),
           "fractions": fractions, "variants": {}, "baseline": []}
    for v in variants:
        rows = []
        for f in fractions:
            sel = [(c, m) for c, m in have
                   if c.overrides["model.variant"] == v and c.overrides["dataset.train_fraction"] == f]
            rows.append({"fraction": f, **_group(sel)})
        out["variants"][v] = rows
    for f in fractions:
        out["baseline"].append({"fraction": f, **_baseline([(c, m) for c, m in have
                                                              if c.overrides["dataset.train_fraction"] == f])})
    return out


# ---------------------------------------------------------------------------- tables
def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}"


def _ci(ci) -> str:
    return "n/a" if ci is None else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def ablation_table(summary: dict) -> str:
    """Markdown table of :func:`summarize_ablation`."""
    from .energy import format_nj
    lines = ["| variant | seeds | test accuracy (%) mean \u00b1 std | 95 % CI (%) | per seed (%) | "
             "spikes/neuron/clip | synaptic ops/clip | SNN energy/clip (nJ, est.) |",
             "|---|---|---|---|---|---|---|---|"]
    for v, s in summary["variants"].items():
        e = (s.get("energy") or {}).get("snn_nJ")
        lines.append(f"| {v} | {s['n_seeds']} | {_pct(s['accuracy_mean'])} \u00b1 {_pct(s['accuracy_std'])} | "
                     f"{_ci(s['accuracy_ci95'])} | {', '.join(_pct(a) for a in s['accuracy_per_seed'])} | "
                     f"{_num(s['spikes_per_neuron_per_sample'], '.2f')} | "
                     f"{_num(s['synaptic_events_per_sample'], ',.0f')} | {format_nj(e)} |")
    b = summary["baseline"]
    if b["n_seeds"]:
        lines.append(f"| input counts (no SNN) | {b['n_seeds']} | {_pct(b['accuracy_mean'])} \u00b1 "
                     f"{_pct(b['accuracy_std'])} | {_ci(b['accuracy_ci95'])} | "
                     f"{', '.join(_pct(a) for a in b['accuracy_per_seed'])} | | | |")
    return "\n".join(lines) + "\n"


def fraction_table(summary: dict) -> str:
    """Markdown table of :func:`summarize_train_fraction`."""
    names = list(summary["variants"]) + (["input counts (no SNN)"] if summary["baseline"] else [])
    lines = ["| fraction | training clips | " + " | ".join(f"{n} acc. (%) [95 % CI]" for n in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for k, f in enumerate(summary["fractions"]):
        rows = [summary["variants"][v][k] for v in summary["variants"]]
        rows += [summary["baseline"][k]] if summary["baseline"] else []
        n_train = sorted({n for r in rows for n in r.get("n_train", [])})
        cells = [f"{_pct(r['accuracy_mean'])} {_ci(r['accuracy_ci95'])}" if r["n_seeds"] else "n/a" for r in rows]
        lines.append(f"| {f:g} | {', '.join(map(str, n_train)) or 'n/a'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _num(x, fmt) -> str:
    return "n/a" if x is None else format(x, fmt)


# ---------------------------------------------------------------------------- studies
def _write(out: Path, stem: str, summary: dict, table: str, fig_fn, report_fn, run_report: dict,
           base_cfg: dict) -> list[Path]:
    from networks.config import dump_config
    from stimuli.io import atomic_write_json, atomic_write_text

    from .figures import save_figure
    summary = {**summary, "run": run_report}
    paths = [atomic_write_json(out / f"{stem}.json", summary), atomic_write_text(out / f"{stem}.md", table)]
    atomic_write_text(out / "config.yaml", dump_config(base_cfg))
    if summary["n_finished"]:
        fig, _ = fig_fn(summary)
        paths += save_figure(fig, out / stem)
    paths.append(report_fn(out, summary, table))
    return paths


def heterogeneity_ablation(base_cfg: dict, out, *, seeds=3, jobs: int | None = None,
                           variants=ABLATION_VARIANTS, progress: bool = True) -> dict:
    """Run the four heterogeneity variants x ``seeds`` and write the summary files.

    Writes ``ablation.json``, ``ablation.md``, ``ablation.png``/``.pdf`` and
    ``report.md`` into ``out``.

    Returns
    -------
    dict
        The summary (``ablation.json`` content, with ``run``: executed/skipped/failed cells).
    """
    from .accuracy import plot_ablation
    from .report import write_ablation_report
    out = Path(out)
    cells = ablation_cells(out, seeds, variants)
    run = run_cells(base_cfg, cells, out, jobs=jobs, progress=progress, desc="ablation")
    summary = summarize_ablation(cells)
    _write(out, "ablation", summary, ablation_table(summary), plot_ablation, write_ablation_report, run,
           base_cfg)
    return {**summary, "run": run}


def train_fraction_study(base_cfg: dict, out, *, fractions=(0.1, 0.25, 0.5, 1.0), seeds=3,
                         variants=FRACTION_VARIANTS, jobs: int | None = None, progress: bool = True) -> dict:
    """Accuracy against the fraction of training clips (unsupervised phase and readout alike).

    Writes ``train_fraction.json``, ``train_fraction.md``, ``train_fraction.png``/``.pdf``
    and ``report.md`` into ``out``.
    """
    from .accuracy import plot_accuracy_vs_fraction
    from .report import write_fraction_report
    bad = [f for f in fractions if not 0 < float(f) <= 1]
    if bad:
        raise ValueError(f"--fractions: each fraction must lie in (0, 1], got {bad}")
    out = Path(out)
    cells = fraction_cells(out, [float(f) for f in fractions], seeds, variants)
    run = run_cells(base_cfg, cells, out, jobs=jobs, progress=progress, desc="train-fraction")
    summary = summarize_train_fraction(cells)
    _write(out, "train_fraction", summary, fraction_table(summary), plot_accuracy_vs_fraction,
           write_fraction_report, run, base_cfg)
    return {**summary, "run": run}
