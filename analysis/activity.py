"""Reservoir activity: firing-rate and ISI-CV distributions, tau_m heterogeneity, membrane traces."""

from __future__ import annotations

import numpy as np

from stimuli.timebase import ms_to_seconds

from .figures import COLORS, PAPER_WIDTH, VARIANT_COLORS, paper_style

__all__ = ["spike_statistics", "plot_activity", "plot_membrane_traces"]

#: Neurons with fewer inter-spike intervals than this get no ISI CV.
MIN_ISIS = 2


def spike_statistics(raster: dict) -> dict:
    """Per-neuron firing rates and ISI CVs inside the clip windows of a raster.

    Intervals are taken within a clip only (never across the gap between clips)
    and pooled over clips; a neuron needs at least ``MIN_ISIS`` intervals for a CV.

    Parameters
    ----------
    raster : dict
        Content of ``raster.npz``.

    Returns
    -------
    dict
        ``rate`` (Hz per reservoir neuron, E then I), ``cv`` (NaN where undefined),
        ``population`` ("exc"/"inh" per neuron), ``spike_counts`` per population
        (spikes inside the windows), ``duration`` (ms of clip time).
    """
    dt = float(raster["dt"])
    win = np.asarray(raster["windows"], dtype=np.int64)
    duration = float((win[:, 1] - win[:, 0]).sum() * dt)
    rates, cvs, pops, counts = [], [], [], {}
    for pop in ("exc", "inh"):
        n = int(raster[f"n_{pop}"])
        idx = np.asarray(raster[f"{pop}_i"], dtype=np.int64)
        t = np.asarray(raster[f"{pop}_t"], dtype=np.int64)
        clip = np.searchsorted(win[:, 0], t, side="right") - 1
        inside = (clip >= 0) & (t < win[np.clip(clip, 0, None), 1])
        idx, t, clip = idx[inside], t[inside], clip[inside]
        counts[pop] = int(len(idx))
        rates.append(np.bincount(idx, minlength=n)[:n] / ms_to_seconds(duration))
        order = np.lexsort((t, clip, idx))
        idx, t, clip = idx[order], t[order], clip[order]
        same = (idx[1:] == idx[:-1]) & (clip[1:] == clip[:-1])
        isi, owner = (t[1:] - t[:-1])[same] * dt, idx[1:][same]
        n_isi = np.bincount(owner, minlength=n)[:n]
        s1 = np.bincount(owner, weights=isi, minlength=n)[:n]
        s2 = np.bincount(owner, weights=isi**2, minlength=n)[:n]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s1 / n_isi
            var = np.maximum(s2 / n_isi - mean**2, 0.0)
            cv = np.where(n_isi >= MIN_ISIS, np.sqrt(var) / mean, np.nan)
        cvs.append(cv)
        pops.append(np.full(n, pop))
    return {
        "rate": np.concatenate(rates),
        "cv": np.concatenate(cvs),
        "population": np.concatenate(pops),
        "spike_counts": counts,
        "duration": duration,
    }


def _hist(ax, values, bins, color, label):
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    counts, _ = np.histogram(values, bins=bins)
    ax.stairs(counts, bins, color=color, lw=1.2, label=label, fill=False)
    return counts


def plot_activity(runs: dict, *, n_bins: int = 20):
    """Firing-rate, ISI-CV and tau_m distributions of one or several runs.

    Parameters
    ----------
    runs : dict of str -> dict
        Label (e.g. the variant) -> ``{"raster": raster dict, "tau_m": ndarray (ms)}``;
        ``tau_m`` holds every reservoir neuron's membrane time constant.
    n_bins : int

    Returns
    -------
    fig : matplotlib Figure
    data : dict of str -> dict
        Per label: ``stats`` (:func:`spike_statistics`), ``tau_m_ms``, and the histogram
        ``counts`` and ``edges`` of each panel (``rate``, ``cv``, ``tau_m``).
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    if not runs:
        raise ValueError("plot_activity: no runs given")
    stats = {k: spike_statistics(v["raster"]) for k, v in runs.items()}
    taus = {k: np.asarray(v["tau_m"], dtype=float) for k, v in runs.items()}
    all_rates = np.concatenate([s["rate"] for s in stats.values()])
    all_cv = np.concatenate([s["cv"] for s in stats.values()])
    all_cv = all_cv[np.isfinite(all_cv)]
    all_tau = np.concatenate(list(taus.values()))
    edges = {
        "rate": np.linspace(0, max(float(all_rates.max()), 1.0) * 1.001, n_bins + 1),
        "cv": np.linspace(0, max(float(all_cv.max()) if all_cv.size else 1.0, 1.0) * 1.001, n_bins + 1),
        "tau_m": np.linspace(
            min(float(all_tau.min()) * 0.98, float(all_tau.min()) - 0.5),
            max(float(all_tau.max()) * 1.02, float(all_tau.max()) + 0.5),
            n_bins + 1,
        ),
    }
    palette = list(VARIANT_COLORS.values()) + ["#1f77b4", "#ff7f0e", "#2ca02c"]
    data = {}
    with paper_style():
        fig, axes = plt.subplots(1, 3, figsize=(PAPER_WIDTH, 2.4), layout="constrained")
        for n, label in enumerate(runs):
            color = VARIANT_COLORS.get(label, palette[n % len(palette)]) if len(runs) > 1 else None
            s = stats[label]
            d = {"stats": s, "tau_m_ms": taus[label], "edges": edges, "counts": {}}
            if len(runs) == 1:  # one run: E and I separately
                for pop in ("exc", "inh"):
                    m = s["population"] == pop
                    name = "E" if pop == "exc" else "I"
                    d["counts"][f"rate_{pop}"] = _hist(axes[0], s["rate"][m], edges["rate"], COLORS[pop], name)
                    d["counts"][f"cv_{pop}"] = _hist(axes[1], s["cv"][m], edges["cv"], COLORS[pop], name)
                d["counts"]["tau_m"] = _hist(axes[2], taus[label], edges["tau_m"], "0.2", label)
            else:
                d["counts"]["rate"] = _hist(axes[0], s["rate"], edges["rate"], color, label)
                d["counts"]["cv"] = _hist(axes[1], s["cv"], edges["cv"], color, label)
                d["counts"]["tau_m"] = _hist(axes[2], taus[label], edges["tau_m"], color, label)
            data[label] = d
        n_cv = {k: int(np.isfinite(s["cv"]).sum()) for k, s in stats.items()}
        axes[0].set_xlabel("firing rate (Hz)")
        axes[0].set_ylabel("neurons")
        axes[0].set_title("(a) firing rate during clips", loc="left")
        axes[1].set_xlabel("ISI coefficient of variation")
        axes[1].set_ylabel("neurons")
        axes[1].set_title(f"(b) ISI CV (\u2265 {MIN_ISIS + 1} spikes)", loc="left")
        axes[1].axvline(1.0, color="0.6", lw=0.6, ls=":")
        axes[2].set_xlabel("membrane time constant \u03c4$_m$ (ms)")
        axes[2].set_ylabel("neurons")
        axes[2].set_title("(c) \u03c4$_m$ heterogeneity", loc="left")
        for ax in axes:
            ax.set_ylim(bottom=0)
        handles, labels = axes[0 if len(runs) == 1 else 2].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper right", ncols=len(labels), handlelength=1.5)
        for label in runs:
            data[label]["n_cv"] = n_cv[label]
    return fig, data


def plot_membrane_traces(t: np.ndarray, v: np.ndarray, *, neurons=None, v_th=None, windows=None):
    """Membrane potential of a few neurons against time.

    Parameters
    ----------
    t : ndarray, shape (n_steps,)
        ms.
    v : ndarray, shape (n_neurons, n_steps)
        mV.
    neurons : sequence of int, optional
        Neuron numbers for the labels.
    v_th : ndarray or float, optional
        Firing threshold(s), mV (drawn dotted).
    windows : ndarray, shape (n_clips, 2), optional
        Clip windows, ms (shaded).

    Returns
    -------
    fig : matplotlib Figure
    data : dict
        ``t_ms``, ``v_mV`` (what was drawn).
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    v = np.atleast_2d(np.asarray(v, dtype=float))
    t_ms, v_mv = np.asarray(t, dtype=float), v
    neurons = list(range(len(v))) if neurons is None else list(neurons)
    thr = None if v_th is None else np.broadcast_to(np.asarray(v_th, dtype=float), (len(v),))
    with paper_style():
        fig, axes = plt.subplots(
            len(v), 1, figsize=(PAPER_WIDTH, 0.4 + 0.9 * len(v)), sharex=True, layout="constrained", squeeze=False
        )
        for k, ax in enumerate(axes[:, 0]):
            ax.plot(t_ms, v_mv[k], color=COLORS["exc"], lw=0.6)
            if thr is not None:
                ax.axhline(thr[k], color="0.4", lw=0.6, ls=":")
            if windows is not None:
                for a, b in np.asarray(windows):
                    ax.axvspan(a, b, color="0.93", zorder=-1, lw=0)
            ax.set_ylabel(f"E{neurons[k]}\nv (mV)")
        axes[-1, 0].set_xlabel("time (ms)")
        axes[0, 0].set_title("membrane potential (dotted: threshold)", loc="left")
    return fig, {"t_ms": t_ms, "v_mV": v_mv}
