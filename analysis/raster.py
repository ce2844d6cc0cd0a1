"""Spike rasters of a run.

:func:`plot_run_raster`: a reservoir run's input on top, reservoir (E blue, I red) below,
population rate underneath; :func:`plot_column_raster`: a column run's input, layer and
class populations, with each clip's vote.
"""

from __future__ import annotations

import numpy as np

from networks.column import population_vote
from networks.features import first_spike_steps
from stimuli.timebase import ms_to_seconds

from .figures import COLORS, MARKER_LIMIT, PAPER_WIDTH, draw_spikes, paper_style

__all__ = ["population_rate", "plot_run_raster", "plot_column_raster"]


def population_rate(
    steps: np.ndarray, n_neurons: int, dt: float, n_steps: int, bin_width: float = 10.0
) -> tuple[np.ndarray, np.ndarray]:
    """Population firing rate in Hz, in bins of ``bin_width`` ms.

    Parameters
    ----------
    steps : ndarray of int
        Spike times in steps of ``dt``.
    n_neurons : int
    dt : float
        Step, ms.
    n_steps : int
        Length of the recording in steps.
    bin_width : float
        ms.

    Returns
    -------
    centres : ndarray
        Bin centres, ms.
    rate : ndarray
        Spikes per neuron per second in each bin.
    """
    per_bin = max(int(round(bin_width / dt)), 1)
    n_bins = max(int(np.ceil(n_steps / per_bin)), 1)
    counts = np.bincount(np.asarray(steps, dtype=np.int64) // per_bin, minlength=n_bins)[:n_bins]
    edges = np.arange(n_bins + 1) * per_bin
    widths = (np.minimum(edges[1:], n_steps) - edges[:-1]) * dt
    rate = counts / (max(n_neurons, 1) * ms_to_seconds(widths))
    return (edges[:-1] * dt + widths / 2), rate


_CMAPS = {"input": "Greys", "exc": "Blues", "inh": "Reds"}


def _shown_spikes(raster: dict, pops, n_steps: int) -> dict:
    """``(indices, steps)`` of each population's spikes in ``[0, n_steps)``, int64."""
    out = {}
    for pop in pops:
        i, t = np.asarray(raster[f"{pop}_i"], dtype=np.int64), np.asarray(raster[f"{pop}_t"], dtype=np.int64)
        keep = (t >= 0) & (t < n_steps)
        out[pop] = (i[keep], t[keep])
    return out


def _note(mode: str) -> str:
    return "" if mode == "markers" else f" ({mode})"


def plot_run_raster(
    raster: dict, *, class_names: list[str] | None = None, bin_width: float = 10.0, max_spikes: int = MARKER_LIMIT
):
    """Raster of input and reservoir spikes of a run's first test clips, rate underneath.

    Parameters
    ----------
    raster : dict
        Content of ``raster.npz`` (see :func:`analysis.rundata.load_raster`).
    class_names : list of str, optional
        Name of each clip's class (default: the label numbers).
    bin_width : float
        Bin of the population rate, ms.
    max_spikes : int
        A panel with more spikes shows their density instead of markers (every spike
        counted either way; the panel title says so).

    Returns
    -------
    fig : matplotlib Figure
    data : dict
        ``spike_counts`` per population (all spikes inside the plotted range),
        ``drawn`` per population (spikes shown: all of them), ``mode`` per panel
        (``"markers"`` or the density note), ``rate_t`` (ms), ``rate_exc``/``rate_inh``/``rate_all`` (Hz),
        ``windows`` (ms).
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    dt = float(raster["dt"])
    win = np.asarray(raster["windows"], dtype=np.int64)
    n_steps = int(win[-1, 1])
    n_exc, n_inh, n_in = int(raster["n_exc"]), int(raster["n_inh"]), int(raster["n_input"])
    names = class_names or [str(int(x)) for x in raster["labels"]]
    data = {"spike_counts": {}, "drawn": {}, "mode": {}, "windows": win * dt}
    sel = _shown_spikes(raster, ("input", "exc", "inh"), n_steps)
    data["spike_counts"].update({pop: len(i) for pop, (i, _) in sel.items()})
    with paper_style():
        fig, axes = plt.subplots(
            3,
            1,
            figsize=(PAPER_WIDTH, 5.2),
            sharex=True,
            layout="constrained",
            gridspec_kw={"height_ratios": [1.0, 1.3, 0.7]},
        )
        ax_in, ax_res, ax_rate = axes
        rows = {"input": n_in, "exc": n_exc, "inh": n_inh}
        for panel, ax, pops in (("input", ax_in, ("input",)), ("reservoir", ax_res, ("exc", "inh"))):
            total = sum(len(sel[p][0]) for p in pops)
            for p in pops:
                i, t = sel[p]
                data["drawn"][p] = int(len(i))
                note = draw_spikes(
                    ax,
                    t * dt,
                    i,
                    t_max=n_steps * dt,
                    n_channels=rows[p],
                    color=COLORS[p],
                    cmap=_CMAPS[p],
                    marker_limit=max_spikes,
                    offset=n_exc if p == "inh" else 0,
                    n_panel=total,
                )
                data["mode"][panel] = note or "markers"
                label = {"input": "input", "exc": f"E ({n_exc})", "inh": f"I ({n_inh})"}[p]
                if p != "input":
                    ax.plot([], [], "s", color=COLORS[p], label=label, markersize=4)
        ax_in.set_ylim(-0.5, n_in - 0.5)
        ax_in.set_ylabel("input channel")
        ax_in.set_title(
            f"input: {data['spike_counts']['input']:,} spikes on {n_in} channels" + _note(data["mode"]["input"]),
            loc="left",
        )
        ax_res.set_ylim(-0.5, n_exc + n_inh - 0.5)
        ax_res.axhline(n_exc - 0.5, color="0.6", lw=0.5)
        ax_res.set_ylabel("reservoir neuron")
        ax_res.set_title(
            f"reservoir: {data['spike_counts']['exc']:,} E and {data['spike_counts']['inh']:,} I spikes"
            + _note(data["mode"]["reservoir"]),
            loc="left",
        )
        ax_res.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, handlelength=1, borderaxespad=0.1)
        t_c, r_e = population_rate(sel["exc"][1], n_exc, dt, n_steps, bin_width)
        _, r_i = population_rate(sel["inh"][1], n_inh, dt, n_steps, bin_width)
        _, r_a = population_rate(np.concatenate([sel["exc"][1], sel["inh"][1]]), n_exc + n_inh, dt, n_steps, bin_width)
        ax_rate.plot(t_c, r_e, color=COLORS["exc"], label="E")
        ax_rate.plot(t_c, r_i, color=COLORS["inh"], label="I")
        ax_rate.set_ylabel(f"rate (Hz)\n{bin_width:g} ms bins")
        ax_rate.set_xlabel("time (ms)")
        ax_rate.set_ylim(bottom=0)
        ax_rate.set_title(f"population rate (mean {r_a.mean():.1f} Hz over the shown time)", loc="left")
        ax_rate.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, borderaxespad=0.1)
        data.update(rate_t=t_c, rate_exc=r_e, rate_inh=r_i, rate_all=r_a)
        for ax in axes:
            for a, b in win * dt:
                ax.axvspan(a, b, color="0.93", zorder=-1, lw=0)
                ax.axvline(a, color="0.45", lw=0.6, ls="--")
                ax.axvline(b, color="0.45", lw=0.6, ls=":")
        for (a, b), name in zip(win * dt, names, strict=False):
            ax_in.annotate(
                name,
                xy=((a + b) / 2, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
        ax_rate.set_xlim(0, n_steps * dt)
        ax_in.set_title(ax_in.get_title(loc="left"), loc="left", pad=12)
    return fig, data


def plot_column_raster(raster: dict, *, class_names: list[str] | None = None, max_spikes: int = MARKER_LIMIT):
    """Input, layer and class-population spikes of a column run's first test clips.

    Parameters
    ----------
    raster : dict
        ``raster.npz`` of a ``model.kind: column`` run (``layer_*``, ``classes_*``,
        ``n_layer``, ``n_per_class``, ``n_class_pops``).
    class_names : list of str, optional
        Names of the class populations (default their indices).
    max_spikes : int
        A panel with more spikes shows their density instead of markers.

    Returns
    -------
    fig : matplotlib Figure
    data : dict
        ``spike_counts`` per population, ``class_counts`` (clips x class populations),
        ``winners`` (the voted class index per clip, :func:`networks.column.population_vote`),
        ``windows`` (ms).
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    dt = float(raster["dt"])
    win = np.asarray(raster["windows"], dtype=np.int64)
    n_steps = int(win[-1, 1])
    n_in, n_layer = int(raster["n_input"]), int(raster["n_layer"])
    n_per, n_pops = int(raster["n_per_class"]), int(raster["n_class_pops"])
    labels = np.asarray(raster["labels"], dtype=np.int64)
    names = class_names or [str(c) for c in range(n_pops)]
    sel = _shown_spikes(raster, ("input", "layer", "classes"), n_steps)
    data = {"spike_counts": {pop: len(i) for pop, (i, _) in sel.items()}, "windows": win * dt}
    ci, ct = sel["classes"]
    counts = np.stack([np.bincount(ci[(ct >= a) & (ct < b)] // n_per, minlength=n_pops)[:n_pops] for a, b in win])
    data["class_counts"] = counts
    data["winners"] = population_vote(counts, first_spike_steps(ci // n_per, ct, win, n_pops))
    rows = {"input": n_in, "layer": n_layer, "classes": n_pops * n_per}
    colours = {
        "input": (COLORS["input"], "Greys"),
        "layer": (COLORS["exc"], "Blues"),
        "classes": ("#6a3d9a", "Purples"),
    }
    with paper_style():
        fig, axes = plt.subplots(
            3,
            1,
            figsize=(PAPER_WIDTH, 5.0),
            sharex=True,
            layout="constrained",
            gridspec_kw={"height_ratios": [1.0, 1.2, 0.9]},
        )
        for ax, pop in zip(axes, ("input", "layer", "classes"), strict=True):
            for a, b in win * dt:
                ax.axvspan(a, b, color="0.93", zorder=-1, lw=0)
            i, t = sel[pop]
            note = draw_spikes(
                ax,
                t * dt,
                i,
                t_max=n_steps * dt,
                n_channels=rows[pop],
                color=colours[pop][0],
                cmap=colours[pop][1],
                marker_limit=max_spikes,
            )
            ax.set_ylim(-0.5, rows[pop] - 0.5)
            ax.set_title(
                f"{pop}: {data['spike_counts'][pop]:,} spikes on {rows[pop]} "
                + ("channels" if pop == "input" else "neurons")
                + (f" ({note})" if note else ""),
                loc="left",
            )
        ax_cls = axes[2]
        for (a, b), c, won in zip(win * dt, labels, data["winners"], strict=True):
            ax_cls.fill_between([a, b], c * n_per - 0.5, (c + 1) * n_per - 0.5, color="#e9c46a", alpha=0.5, lw=0)
            verdict = "\u2713" if won == c else "\u2717"
            ax_cls.annotate(
                f"{names[c]} \u2192 {names[won]} {verdict}",
                xy=((a + b) / 2, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
        if n_pops <= 12:
            ax_cls.set_yticks([(c + 0.5) * n_per - 0.5 for c in range(n_pops)], names[:n_pops])
        for ax in axes:
            for b in win[:, 1] * dt:
                ax.axvline(b, color="0.45", lw=0.6, ls=":")
        axes[0].set_ylabel("input channel")
        axes[1].set_ylabel("layer neuron")
        ax_cls.set_ylabel("class population")
        ax_cls.set_title(
            ax_cls.get_title(loc="left") + "; shaded: the clip's class, above: true \u2192 voted",
            loc="left",
            pad=12,
        )
        ax_cls.set_xlabel("time (ms)")
        ax_cls.set_xlim(0, n_steps * dt)
    return fig, data
