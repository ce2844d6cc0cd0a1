"""Accuracy figures: confusion matrix, heterogeneity ablation, accuracy against training fraction."""

from __future__ import annotations

import numpy as np

from .figures import PAPER_WIDTH, VARIANT_COLORS, paper_style

__all__ = ["plot_confusion", "plot_ablation", "plot_encoder_study", "plot_readouts", "plot_accuracy_vs_fraction"]


def plot_confusion(confusion, classes):
    """Confusion matrix: counts written in each cell, colour = row-normalised fraction.

    Parameters
    ----------
    confusion : array-like, shape (n_classes, n_classes)
        Rows: true class; columns: predicted class.
    classes : sequence of str

    Returns
    -------
    fig : matplotlib Figure
    data : dict
        ``counts`` (int array) and ``normalised`` (each non-empty row sums to 1).
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    cm = np.asarray(confusion, dtype=np.int64)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    n = len(classes)
    size = min(max(2.6, 0.45 * n + 1.6), PAPER_WIDTH)
    with paper_style():
        fig, ax = plt.subplots(figsize=(size + 0.8, size), layout="constrained")
        im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for (r, c), v in np.ndenumerate(cm):
            if v or r == c:
                ax.text(
                    c, r, str(v), ha="center", va="center", fontsize=7, color="white" if norm[r, c] > 0.6 else "black"
                )
        ax.set_xticks(range(n), classes, rotation=40, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(n), classes)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        acc = np.trace(cm) / max(cm.sum(), 1)
        ax.set_title(f"test accuracy {acc:.1%} ({np.trace(cm)}/{cm.sum()} clips)", loc="left")
        ax.spines[["top", "right"]].set_visible(True)
        fig.colorbar(im, ax=ax, label="fraction of true class", shrink=0.85)
    return fig, {"counts": cm, "normalised": norm}


def plot_ablation(summary: dict):
    """Each heterogeneity variant's test accuracy, CV accuracy on the training split and activity.

    Accuracy panels: bar = mean over seeds, whisker = 95 % CI, dots = seeds, dashed line =
    the input baseline (no network).  The CV panel appears when the runs cross-validated;
    the last panel gives spikes per neuron per clip.

    Parameters
    ----------
    summary : dict
        ``ablation.json`` content (:func:`analysis.summaries.summarize_ablation`).

    Returns
    -------
    fig : matplotlib Figure
    data : dict
        ``variants``, ``mean``, ``ci`` ((low, high) or None), ``seeds`` (accuracies per variant),
        ``baseline``; ``cv_mean``, ``cv_ci``, ``cv_seeds``, ``cv_baseline`` (None without CV);
        ``spikes`` (per neuron per clip).
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    groups = {v: g for v, g in summary["variants"].items() if g["n_seeds"]}
    variants = list(groups)
    base = summary.get("baseline", {})
    data = {
        "variants": variants,
        "mean": [g["accuracy_mean"] for g in groups.values()],
        "ci": [g["accuracy_ci95"] for g in groups.values()],
        "seeds": [g["accuracy_per_seed"] for g in groups.values()],
        "baseline": base.get("accuracy_mean"),
        "cv_mean": None,
        "cv_ci": None,
        "cv_seeds": None,
        "cv_baseline": base.get("cv_mean"),
        "spikes": [g.get("spikes_per_neuron_per_sample") for g in groups.values()],
    }
    if variants and all("cv_mean" in g for g in groups.values()):
        data["cv_mean"] = [g["cv_mean"] for g in groups.values()]
        data["cv_ci"] = [g["cv_ci95"] for g in groups.values()]
        data["cv_seeds"] = [g["cv_per_seed"] for g in groups.values()]
    panels = [("test accuracy", data["mean"], data["ci"], data["seeds"], data["baseline"])]
    if data["cv_mean"] is not None:
        panels.append(
            ("CV accuracy, training split", data["cv_mean"], data["cv_ci"], data["cv_seeds"], data["cv_baseline"])
        )
    colors = [VARIANT_COLORS.get(v, "0.5") for v in variants]
    x = np.arange(len(variants))
    with paper_style():
        fig, axes = plt.subplots(1, len(panels) + 1, figsize=(2.6 * (len(panels) + 1), 2.9), layout="constrained")
        # one choice for the figure: bars from 0 where some value lies in the lower half, else fitted axes
        from_zero = min((v for _, _, cis, seeds, line in panels for v in _drawn(cis, seeds, line)), default=0.0) < 0.5
        for k, (ax, (label, means, cis, seeds, line)) in enumerate(zip(axes, panels, strict=False)):
            _variant_bars(ax, x, means, cis, seeds, colors, line, from_zero=from_zero, legend=k == 0)
            ax.set_xticks(x, variants, rotation=30)
            ax.set_ylabel(label)
        spikes = [np.nan if v is None else v for v in data["spikes"]]
        axes[-1].bar(x, spikes, color=colors, width=0.6, alpha=0.85)
        axes[-1].set_xticks(x, variants, rotation=30)
        axes[-1].set_ylabel("spikes / neuron / clip")
        n_seeds = max((len(s) for s in data["seeds"]), default=0)
        seeds_text = f"{n_seeds} seed{'s' if n_seeds != 1 else ''}"
        fig.suptitle(
            f"heterogeneity ablation, {seeds_text} (mean, whiskers: 95 % CI, dots: seeds)",
            fontsize=8,
        )
        fig.legend(loc="outside lower center", ncols=2)
    return fig, data


def _drawn(cis, seeds, line) -> list:
    """Every value a panel of :func:`_variant_bars` draws: seeds, interval ends, the baseline."""
    return (
        [v for acc in seeds for v in acc] + [v for ci in cis if ci for v in ci] + ([line] if line is not None else [])
    )


def _variant_bars(ax, x, means, cis, seeds, colors, line, *, from_zero: bool, legend: bool) -> None:
    """Each variant's mean with 95 % CI whiskers, one dot per seed, the input baseline dashed.

    ``from_zero``: means as bars on an axis from 0; otherwise as short thick lines on an
    axis fitted to the values (a bar cut off by the axis would misstate their ratios).
    """
    values = _drawn(cis, seeds, line)
    if from_zero:
        ax.bar(x, means, color=colors, width=0.6, alpha=0.85, zorder=1)
        ax.set_ylim(0.0, 1.02)
    else:
        ax.hlines(means, x - 0.3, x + 0.3, colors=colors, lw=3, zorder=1)
        ax.set_ylim(max(0.0, min(values) - 0.05), min(1.0, max(values)) + 0.02)
    for k, (m, ci) in enumerate(zip(means, cis, strict=True)):
        if ci is not None:
            ax.errorbar(k, m, yerr=[[m - ci[0]], [ci[1] - m]], color="black", capsize=3, lw=1, zorder=3)
    rng = np.random.default_rng(0)
    for k, acc in enumerate(seeds):
        label = "seed" if k == 0 and legend else None
        ax.scatter(k + rng.uniform(-0.12, 0.12, len(acc)), acc, s=9, color="black", zorder=4, label=label)
    if line is not None:
        label = "input counts (no SNN)" if legend else None
        ax.axhline(line, color="#c0392b", ls="--", lw=1, label=label, zorder=2)


def plot_encoder_study(summary: dict):
    """Test accuracy per encoder: the network (bar = mean, whisker = 95 % CI, dots = seeds) beside its input baseline.

    Parameters
    ----------
    summary : dict
        ``encoders.json`` content (:func:`analysis.summaries.summarize_encoders`).

    Returns
    -------
    fig : matplotlib Figure
    data : dict
        ``encoders``, ``mean``, ``ci``, ``seeds`` (network accuracies per encoder),
        ``baseline`` (input-count accuracy per encoder, None where missing).
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    groups = summary["encoders"]
    encoders = [e for e in groups if groups[e]["n_seeds"]]
    means = [groups[e]["accuracy_mean"] for e in encoders]
    cis = [groups[e]["accuracy_ci95"] for e in encoders]
    seeds = [groups[e]["accuracy_per_seed"] for e in encoders]
    base = [groups[e]["baseline"]["accuracy_mean"] for e in encoders]
    model = summary.get("model")
    with paper_style():
        fig, ax = plt.subplots(figsize=(3.6, 2.9), layout="constrained")
        x = np.arange(len(encoders))
        ax.bar(x - 0.18, means, width=0.36, color="#6a3d9a", alpha=0.85, label=f"{model} (network)", zorder=1)
        ax.bar(
            x + 0.18,
            [b if b is not None else np.nan for b in base],
            width=0.36,
            color="#c0392b",
            alpha=0.55,
            label="input counts (no SNN)",
            zorder=1,
        )
        for k, (m, ci) in enumerate(zip(means, cis, strict=True)):
            if ci is not None:
                ax.errorbar(k - 0.18, m, yerr=[[m - ci[0]], [ci[1] - m]], color="black", capsize=3, lw=1, zorder=3)
        rng = np.random.default_rng(0)
        for k, acc in enumerate(seeds):
            ax.scatter(k - 0.18 + rng.uniform(-0.07, 0.07, len(acc)), acc, s=9, color="black", zorder=4)
        ax.set_xticks(x, encoders)
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1.08)
        n_seeds = max((len(s) for s in seeds), default=0)
        skipped = summary.get("skipped") or {}
        ax.set_title(
            f"encoding study, {n_seeds} seed{'s' if n_seeds != 1 else ''}\nbars: mean; whiskers: 95 % CI"
            + (f"\nnot applicable here: {', '.join(skipped)}" if skipped else ""),
            loc="left",
            fontsize=8,
        )
        fig.legend(loc="outside lower center", ncols=2)
    return fig, {"encoders": encoders, "mean": means, "ci": cis, "seeds": seeds, "baseline": base}


def plot_readouts(summary: dict, labels: dict | None = None, *, title: str = "hybrid ablation"):
    """Test accuracy of every result of a multi-seed study: bar = mean, whisker = 95 % CI, dots = seeds.

    Parameters
    ----------
    summary : dict
        :func:`analysis.summaries.summarize_readouts` content.
    labels : dict, optional
        Result name -> tick label.
    title : str

    Returns
    -------
    fig : matplotlib Figure
    data : dict
        ``names``, ``mean``, ``ci``, ``seeds`` (accuracies per result).
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    labels = labels or {}
    groups = summary["readouts"]
    names = [n for n in groups if groups[n]["n_seeds"]]
    means = [groups[n]["accuracy_mean"] for n in names]
    cis = [groups[n]["accuracy_ci95"] for n in names]
    seeds = [groups[n]["accuracy_per_seed"] for n in names]
    palette = {"input": "#c0392b", "populations": "#e9c46a"}
    with paper_style():
        fig, ax = plt.subplots(figsize=(PAPER_WIDTH, 3.0), layout="constrained")
        y = np.arange(len(names))[::-1]
        colors = [palette.get(n, "#6a3d9a" if n.startswith("hybrid_") else "#2a9d8f") for n in names]
        ax.barh(y, means, color=colors, height=0.6, alpha=0.85, zorder=1)
        rng = np.random.default_rng(0)
        for k, (m, ci, acc) in enumerate(zip(means, cis, seeds, strict=True)):
            if ci is not None:
                ax.errorbar(m, y[k], xerr=[[m - ci[0]], [ci[1] - m]], color="black", capsize=3, lw=1, zorder=3)
            ax.scatter(acc, y[k] + rng.uniform(-0.12, 0.12, len(acc)), s=9, color="black", zorder=4)
            ax.annotate(f"{100 * m:.1f}", (0.005, y[k]), va="center", ha="left", fontsize=7, color="white", zorder=5)
        ax.set_yticks(y, [labels.get(n, n) for n in names])
        ax.set_xlabel("test accuracy")
        ax.set_xlim(0, 1.0)
        n_seeds = max((len(s) for s in seeds), default=0)
        ax.set_title(
            f"{title}, {n_seeds} seed{'s' if n_seeds != 1 else ''}; bars: mean, whiskers: 95 % CI, dots: seeds",
            loc="left",
            fontsize=8,
        )
    return fig, {"names": names, "mean": means, "ci": cis, "seeds": seeds}


def plot_accuracy_vs_fraction(summary: dict):
    """Test accuracy against the fraction of training clips, one line (mean, 95 % CI band) per variant.

    Parameters
    ----------
    summary : dict
        ``train_fraction.json`` content (:func:`analysis.studies.summarize_train_fraction`).

    Returns
    -------
    fig : matplotlib Figure
    data : dict of str -> dict
        Per variant (and ``baseline``): ``fraction``, ``mean``, ``low``, ``high``.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    data = {}
    with paper_style():
        fig, ax = plt.subplots(figsize=(3.4, 2.9), layout="constrained")
        markers = ["o", "s", "^", "D", "v"]
        series = dict(summary["variants"])
        if summary.get("baseline"):
            series["input counts (no SNN)"] = summary["baseline"]
        for n, (name, rows) in enumerate(series.items()):
            rows = sorted((r for r in rows if r["n_seeds"]), key=lambda r: r["fraction"])
            if not rows:
                continue
            f = np.array([r["fraction"] for r in rows])
            m = np.array([r["accuracy_mean"] for r in rows])
            lo = np.array([r["accuracy_ci95"][0] if r["accuracy_ci95"] else r["accuracy_mean"] for r in rows])
            hi = np.array([r["accuracy_ci95"][1] if r["accuracy_ci95"] else r["accuracy_mean"] for r in rows])
            is_base = name not in summary["variants"]
            color = "#c0392b" if is_base else VARIANT_COLORS.get(name)
            ax.plot(
                f,
                m,
                marker="x" if is_base else markers[n % len(markers)],
                ms=4 if is_base else 7 - 1.5 * n,
                mfc="none" if n == 0 and not is_base else color,
                color=color,
                ls="--" if is_base else "-",
                lw=0.8 if is_base else 1.2,
                label=name,
                zorder=1 if is_base else 3 - 0.1 * n,
            )
            ax.fill_between(f, lo, hi, color=color, alpha=0.15, lw=0)
            data[name] = {"fraction": f, "mean": m, "low": lo, "high": hi}
        ax.set_xlabel("fraction of training clips")
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1.08)
        ax.set_xlim(0, 1.03)
        ax.set_title("accuracy vs training data\nlines: mean; bands: 95 % CI", loc="left", fontsize=8)
        fig.legend(loc="outside lower center", ncols=min(len(data), 3))
    return fig, data
