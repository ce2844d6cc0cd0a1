"""Summaries of multi-run studies: statistics over seeds, tables, energy per variant.

A study (:mod:`spikevid.experiments.studies`) is a grid of *cells*, each a run folder
with its ``metrics.json``.  The functions here read those folders only: a cell is
anything with ``out`` (its run folder) and ``overrides`` (the config entries it sets,
``{"model.variant": "HeNHeS", "model.seed": 0, ...}``).
"""

from __future__ import annotations

import json

import numpy as np
from scipy import stats

from .energy import energy_estimate, format_nj, run_timing

__all__ = [
    "mean_ci",
    "cell_metrics",
    "summarize_ablation",
    "summarize_train_fraction",
    "ablation_table",
    "fraction_table",
    "summarize_encoders",
    "encoder_table",
    "summarize_readouts",
    "readouts_table",
]


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


def cell_metrics(cell) -> dict | None:
    path = cell.out / "metrics.json"
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError):  # missing or half-written: the cell is not finished
        return None
    return metrics if isinstance(metrics, dict) and "test_accuracy" in metrics else None


def _energy(cells: list, sops: float, n_synapses: float) -> dict | None:
    """Energy estimate for mean activity, timed by the first cell that has a raster."""
    for c in cells:
        timing = run_timing(c.out)
        if timing is not None:
            return energy_estimate(sops, int(round(n_synapses)), **timing)
    return None


def _cv(metrics: dict, feature_set: str) -> float | None:
    """A run's cross-validated accuracy on its training split for one feature set (None if not run)."""
    cv = (metrics.get("readouts", {}).get(feature_set) or {}).get("cv") or {}
    return cv.get("mean")


def _cv_stats(values: list) -> dict:
    """``cv_per_seed``, ``cv_mean``, ``cv_ci95`` over seeds: only where every run cross-validated.

    A mean over the runs that happen to have a CV figure would describe another set of
    seeds than the test accuracy beside it: where some runs lack one, only ``cv_missing``
    (their number) is returned; where none has one (or there are no runs), nothing.
    """
    missing = sum(v is None for v in values)
    if missing == len(values):
        return {}
    if missing:
        return {"cv_missing": missing}
    stat = mean_ci(values, bounds=(0.0, 1.0))
    return {"cv_per_seed": list(values), "cv_mean": stat["mean"], "cv_ci95": stat["ci"]}


def _cv_gain(pairs: list) -> dict:
    """``cv_gain_per_seed``, ``cv_gain_mean``, ``cv_gain_ci95``: reservoir CV minus input CV, run by run.

    Both figures of a run come from the same folds, so the difference is paired: its
    interval is narrower than the two CV intervals side by side suggest.  Only where
    every run has both figures.
    """
    if not pairs or any(r is None or i is None for r, i in pairs):
        return {}
    gains = [r - i for r, i in pairs]
    stat = mean_ci(gains, bounds=(-1.0, 1.0))
    return {"cv_gain_per_seed": gains, "cv_gain_mean": stat["mean"], "cv_gain_ci95": stat["ci"]}


def _group(cells_metrics: list[tuple]) -> dict:
    accs = [m["test_accuracy"] for _, m in cells_metrics]
    stat = mean_ci(accs, bounds=(0.0, 1.0))
    spn = [m.get("spikes_per_neuron_per_sample") for _, m in cells_metrics]
    syn = [m.get("synaptic_events_per_sample") for _, m in cells_metrics]
    n_syn = [sum(m.get("n_synapses", {}).values()) for _, m in cells_metrics]
    out = {
        "n_seeds": stat["n"],
        "seeds": [c.overrides["model.seed"] for c, _ in cells_metrics],
        "accuracy_per_seed": accs,
        "accuracy_mean": stat["mean"],
        "accuracy_std": stat["std"],
        "accuracy_ci95": stat["ci"],
        "train_accuracy_mean": mean_ci([m["train_accuracy"] for _, m in cells_metrics])["mean"],
        "n_train": [m["n_train"] for _, m in cells_metrics],
        "spikes_per_neuron_per_sample": mean_ci(spn)["mean"],
        "synaptic_events_per_sample": mean_ci(syn)["mean"],
        **_cv_stats([_cv(m, "reservoir") for _, m in cells_metrics]),
        **_cv_gain([(_cv(m, "reservoir"), _cv(m, "input")) for _, m in cells_metrics]),
    }
    if cells_metrics and out["synaptic_events_per_sample"] is not None:
        out["energy"] = _energy([c for c, _ in cells_metrics], out["synaptic_events_per_sample"], float(np.mean(n_syn)))
    return out


def _baseline(cells_metrics: list[tuple]) -> dict:
    """Baseline (input counts) accuracy: one value per seed (the same for every variant)."""
    per_seed: dict[int, list[float]] = {}
    cv_per_seed: dict[int, list[float | None]] = {}
    for c, m in cells_metrics:
        if "baseline" in m:
            per_seed.setdefault(c.overrides["model.seed"], []).append(m["baseline"]["test_accuracy"])
            cv_per_seed.setdefault(c.overrides["model.seed"], []).append(_cv(m, "input"))
    accs = [float(np.mean(v)) for _, v in sorted(per_seed.items())]
    stat = mean_ci(accs, bounds=(0.0, 1.0))
    return {
        "kind": "input_counts",
        "n_seeds": stat["n"],
        "accuracy_per_seed": accs,
        "accuracy_mean": stat["mean"],
        "accuracy_std": stat["std"],
        "accuracy_ci95": stat["ci"],
        **_cv_stats([None if None in v else float(np.mean(v)) for _, v in sorted(cv_per_seed.items())]),
    }


def summarize_ablation(cells: list) -> dict:
    """Per-variant accuracy statistics, activity and energy of finished ablation cells."""
    have = [(c, m) for c in cells if (m := cell_metrics(c)) is not None]
    variants = list(dict.fromkeys(c.overrides["model.variant"] for c in cells))
    summary = {
        "study": "heterogeneity_ablation",
        "n_cells": len(cells),
        "n_finished": len(have),
        "variants": {v: _group([(c, m) for c, m in have if c.overrides["model.variant"] == v]) for v in variants},
        "baseline": _baseline(have),
    }
    return summary


def summarize_train_fraction(cells: list) -> dict:
    """Per variant and fraction accuracy statistics of finished training-fraction cells."""
    have = [(c, m) for c in cells if (m := cell_metrics(c)) is not None]
    variants = list(dict.fromkeys(c.overrides["model.variant"] for c in cells))
    fractions = sorted(set(c.overrides["dataset.train_fraction"] for c in cells))
    out = {
        "study": "train_fraction",
        "n_cells": len(cells),
        "n_finished": len(have),
        "fractions": fractions,
        "variants": {},
        "baseline": [],
    }
    for v in variants:
        rows = []
        for f in fractions:
            sel = [
                (c, m)
                for c, m in have
                if c.overrides["model.variant"] == v and c.overrides["dataset.train_fraction"] == f
            ]
            rows.append({"fraction": f, **_group(sel)})
        out["variants"][v] = rows
    for f in fractions:
        out["baseline"].append(
            {"fraction": f, **_baseline([(c, m) for c, m in have if c.overrides["dataset.train_fraction"] == f])}
        )
    return out


def summarize_encoders(cells: list, skipped: dict | None = None) -> dict:
    """Per-encoder accuracy statistics of finished encoding-study cells, each beside its own input baseline.

    Parameters
    ----------
    cells : list of Cell
        With overrides ``encoder.name`` and ``model.seed``.
    skipped : dict of str -> str, optional
        Encoders left out of the study and why (they do not apply to the dataset).
    """
    have = [(c, m) for c in cells if (m := cell_metrics(c)) is not None]
    encoders = list(dict.fromkeys(c.overrides["encoder.name"] for c in cells))
    groups = {}
    for e in encoders:
        sel = [(c, m) for c, m in have if c.overrides["encoder.name"] == e]
        groups[e] = {
            **_group(sel),
            "params": next((c.overrides["encoder.params"] for c in cells if c.overrides["encoder.name"] == e), {}),
            "n_input": next((m["n_input"] for _, m in sel if "n_input" in m), None),
            "baseline": _baseline(sel),
        }
    kinds = {m["model"]["kind"] for _, m in have}
    return {
        "study": "encoder",
        "model": sorted(kinds)[0] if len(kinds) == 1 else sorted(kinds),
        "n_cells": len(cells),
        "n_finished": len(have),
        "encoders": groups,
        "skipped": dict(skipped or {}),
    }


def summarize_readouts(cells: list, study: str = "hybrid") -> dict:
    """Accuracy statistics of every readout the finished cells report (``metrics["readouts"]``), over seeds.

    For studies whose cells differ only in their seed and whose runs report several
    results each (the hybrid's four modes, its branch network and the input baseline).
    Readouts keep the order of the first finished cell, the reported one first.
    """
    have = [(c, m) for c in cells if (m := cell_metrics(c)) is not None]
    names = list(dict.fromkeys(n for _, m in have for n in m.get("readouts", {})))
    groups = {}
    for name in names:
        accs = [m["readouts"][name]["test_accuracy"] for _, m in have if name in m.get("readouts", {})]
        stat = mean_ci(accs, bounds=(0.0, 1.0))
        groups[name] = {
            "n_seeds": stat["n"],
            "accuracy_per_seed": accs,
            "accuracy_mean": stat["mean"],
            "accuracy_std": stat["std"],
            "accuracy_ci95": stat["ci"],
            "train_accuracy_mean": mean_ci(
                [m["readouts"][name]["train_accuracy"] for _, m in have if name in m.get("readouts", {})]
            )["mean"],
            "readout": next(m["readouts"][name]["readout"] for _, m in have if name in m.get("readouts", {})),
        }
    return {
        "study": study,
        "n_cells": len(cells),
        "n_finished": len(have),
        "seeds": [c.overrides.get("model.network.seed", c.overrides.get("model.seed")) for c, _ in have],
        "model": have[0][1]["model"] if have else None,
        "readouts": groups,
    }


# ---------------------------------------------------------------------------- tables
def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}"


def _ci(ci) -> str:
    return "n/a" if ci is None else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def ablation_table(summary: dict) -> str:
    """Markdown table of :func:`summarize_ablation`."""
    groups = list(summary["variants"].values()) + [summary["baseline"]]
    with_cv = any("cv_mean" in g for g in groups)
    cv_head, cv_rule = (
        (" CV on the training split (%) [95 % CI] | CV gain over input (points) [95 % CI] |", "---|---|")
        if with_cv
        else ("", "")
    )
    lines = [
        "| variant | seeds | test accuracy (%) mean \u00b1 std | 95 % CI (%) | per seed (%) |"
        + cv_head
        + " spikes/neuron/clip | synaptic ops/clip | SNN energy/clip (nJ, est.) |",
        "|---|---|---|---|---|" + cv_rule + "---|---|---|",
    ]

    def cv_cell(g):
        if not with_cv:
            return ""
        cell = f" {_pct(g['cv_mean'])} {_ci(g['cv_ci95'])} |" if "cv_mean" in g else " n/a |"
        if g is summary["baseline"]:
            return cell + " |"
        gain = f" {100 * g['cv_gain_mean']:+.1f} {_ci(g['cv_gain_ci95'])} |" if "cv_gain_mean" in g else " n/a |"
        return cell + gain

    for v, s in summary["variants"].items():
        e = (s.get("energy") or {}).get("snn_nJ")
        lines.append(
            f"| {v} | {s['n_seeds']} | {_pct(s['accuracy_mean'])} \u00b1 {_pct(s['accuracy_std'])} | "
            f"{_ci(s['accuracy_ci95'])} | {', '.join(_pct(a) for a in s['accuracy_per_seed'])} |"
            + cv_cell(s)
            + f" {_num(s['spikes_per_neuron_per_sample'], '.2f')} | "
            f"{_num(s['synaptic_events_per_sample'], ',.0f')} | {format_nj(e)} |"
        )
    b = summary["baseline"]
    if b["n_seeds"]:
        lines.append(
            f"| input counts (no SNN) | {b['n_seeds']} | {_pct(b['accuracy_mean'])} \u00b1 "
            f"{_pct(b['accuracy_std'])} | {_ci(b['accuracy_ci95'])} | "
            f"{', '.join(_pct(a) for a in b['accuracy_per_seed'])} |" + cv_cell(b) + " | | |"
        )
    return "\n".join(lines) + "\n"


def fraction_table(summary: dict) -> str:
    """Markdown table of :func:`summarize_train_fraction`."""
    names = list(summary["variants"]) + (["input counts (no SNN)"] if summary["baseline"] else [])
    lines = [
        "| fraction | training clips | " + " | ".join(f"{n} acc. (%) [95 % CI]" for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for k, f in enumerate(summary["fractions"]):
        rows = [summary["variants"][v][k] for v in summary["variants"]]
        rows += [summary["baseline"][k]] if summary["baseline"] else []
        n_train = sorted({n for r in rows for n in r.get("n_train", [])})
        cells = [f"{_pct(r['accuracy_mean'])} {_ci(r['accuracy_ci95'])}" if r["n_seeds"] else "n/a" for r in rows]
        lines.append(f"| {f:g} | {', '.join(map(str, n_train)) or 'n/a'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def encoder_table(summary: dict) -> str:
    """Markdown table of :func:`summarize_encoders`: the network beside each encoder's input baseline."""
    lines = [
        "| encoder | input channels | seeds | network test acc. (%) mean \u00b1 std | 95 % CI (%) | per seed (%) | "
        "input counts (no SNN) (%) | network \u2212 input (points) | spikes/neuron/clip |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e, s in summary["encoders"].items():
        b = s["baseline"]
        gap = (
            None
            if s["accuracy_mean"] is None or b["accuracy_mean"] is None
            else s["accuracy_mean"] - b["accuracy_mean"]
        )
        lines.append(
            f"| {e} | {s['n_input'] if s['n_input'] is not None else 'n/a'} | {s['n_seeds']} | "
            f"{_pct(s['accuracy_mean'])} \u00b1 {_pct(s['accuracy_std'])} | {_ci(s['accuracy_ci95'])} | "
            f"{', '.join(_pct(a) for a in s['accuracy_per_seed'])} | {_pct(b['accuracy_mean'])} | "
            f"{'n/a' if gap is None else f'{100 * gap:+.1f}'} | {_num(s['spikes_per_neuron_per_sample'], '.2f')} |"
        )
    for e, why in summary.get("skipped", {}).items():
        lines.append(f"| {e} | skipped: {why} | | | | | | | |")
    return "\n".join(lines) + "\n"


def readouts_table(summary: dict, labels: dict | None = None) -> str:
    """Markdown table of :func:`summarize_readouts` (``labels``: readout name -> words)."""
    labels = labels or {}
    lines = [
        "| result | readout | seeds | test accuracy (%) mean \u00b1 std | 95 % CI (%) | per seed (%) |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in summary["readouts"].items():
        lines.append(
            f"| {labels.get(name, name)} | {s['readout']} | {s['n_seeds']} | {_pct(s['accuracy_mean'])} \u00b1 "
            f"{_pct(s['accuracy_std'])} | {_ci(s['accuracy_ci95'])} | "
            f"{', '.join(_pct(a) for a in s['accuracy_per_seed'])} |"
        )
    return "\n".join(lines) + "\n"


def _num(x, fmt) -> str:
    return "n/a" if x is None else format(x, fmt)
