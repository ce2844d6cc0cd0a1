"""Weight dynamics of the unsupervised (STDP) phase and weight matrices before/after."""

from __future__ import annotations

import numpy as np

from networks.topology import PATHWAYS
from stimuli.timebase import ms_to_seconds

from .figures import PAPER_WIDTH, paper_style

__all__ = ["weight_histograms", "plot_weight_dynamics", "weight_matrix", "plot_weight_matrices"]

#: Readable names of pathways.
PATHWAY_NAMES = {
    "in_exc": "input \u2192 E",
    "in_inh": "input \u2192 I",
    "ee": "E \u2192 E",
    "ei": "E \u2192 I",
    "ie": "I \u2192 E",
    "ii": "I \u2192 I",
}

_POP = {"input": "input", "exc": "E", "inh": "I"}


def weight_histograms(snapshots: np.ndarray, w_max: float = 1.0, n_bins: int = 40):
    """Histogram of the weights of every snapshot on a common grid over ``[0, w_max]``.

    Returns
    -------
    counts : ndarray, shape (n_snapshots, n_bins)
        Synapses per bin (each row sums to the number of synapses).
    edges : ndarray, shape (n_bins + 1,)
    """
    snaps = np.atleast_2d(np.asarray(snapshots, dtype=float))
    hi = max(float(w_max), float(snaps.max()) if snaps.size else 0.0)
    edges = np.linspace(0.0, hi, n_bins + 1)
    counts = (
        np.stack([np.histogram(np.clip(s, 0.0, hi), bins=edges)[0] for s in snaps])
        if len(snaps)
        else np.zeros((0, n_bins), dtype=int)
    )
    return counts, edges


def plot_weight_dynamics(
    snapshots: np.ndarray,
    times: np.ndarray,
    *,
    pathway: str = "ee",
    w_max: float = 1.0,
    n_bins: int = 40,
    n_traces: int = 30,
    seed: int = 0,
):
    """Four panels of one plastic pathway over the unsupervised phase.

    (a) weight distribution against time (heatmap of per-snapshot histograms),
    (b) mean +- std against time, (c) a random sample of synapse trajectories,
    (d) the distribution before and after learning.

    Parameters
    ----------
    snapshots : ndarray, shape (n_snapshots, n_synapses)
    times : ndarray, shape (n_snapshots,)
        Simulated time, ms (drawn in seconds).
    pathway : str
    w_max : float
        Upper weight bound.
    n_bins : int
    n_traces : int
        Synapses drawn in (c).
    seed : int
        Chooses the synapses of (c).

    Returns
    -------
    fig : matplotlib Figure
    data : dict
        ``counts`` (n_snapshots, n_bins), ``edges``, ``times``, ``mean``, ``std``,
        ``traced`` (synapse indices of (c)).
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing
    from matplotlib.colors import LogNorm  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    snaps = np.atleast_2d(np.asarray(snapshots, dtype=float))
    times = np.asarray(times, dtype=float)
    if snaps.shape[0] != len(times):
        raise ValueError(f"snapshots: {snaps.shape[0]} snapshots but {len(times)} times")
    t_s = ms_to_seconds(times)  # training lasts seconds: the axes show seconds
    n_syn = snaps.shape[1]
    counts, edges = weight_histograms(snaps, w_max, n_bins)
    mean, std = snaps.mean(axis=1), snaps.std(axis=1)
    rng = np.random.default_rng(seed)
    traced = np.sort(rng.choice(n_syn, size=min(n_traces, n_syn), replace=False)) if n_syn else np.zeros(0, int)
    name = PATHWAY_NAMES.get(pathway, pathway)
    with paper_style():
        fig, axes = plt.subplots(2, 2, figsize=(PAPER_WIDTH, 4.6), layout="constrained")
        (ax_h, ax_m), (ax_t, ax_d) = axes
        # (a) heatmap: time on x (snapshot edges), weight on y, fraction of synapses as colour
        if len(t_s) > 1:
            mid = (t_s[1:] + t_s[:-1]) / 2
            t_edges = np.concatenate([[t_s[0] - (mid[0] - t_s[0])], mid, [t_s[-1] + (t_s[-1] - mid[-1])]])
        else:
            t_edges = np.array([t_s[0] - 0.5, t_s[0] + 0.5]) if len(t_s) else np.array([0.0, 1.0])
        frac = counts / max(n_syn, 1)
        positive = frac[frac > 0]
        norm = LogNorm(vmin=max(positive.min(), 1e-4), vmax=1.0) if positive.size else None
        mesh = ax_h.pcolormesh(
            t_edges, edges, np.ma.masked_equal(frac, 0).T, cmap="viridis", norm=norm, rasterized=True
        )
        fig.colorbar(mesh, ax=ax_h, label="fraction of synapses", pad=0.01)
        ax_h.set_xlabel("time (s)")
        ax_h.set_ylabel("weight")
        ax_h.set_title(f"(a) {name}: weight distribution", loc="left")
        # (b) mean +- std
        ax_m.fill_between(t_s, mean - std, mean + std, color="#6a3d9a", alpha=0.25, lw=0, label="\u00b1 std")
        ax_m.plot(t_s, mean, color="#6a3d9a", marker="o", ms=2, label="mean")
        ax_m.set_xlabel("time (s)")
        ax_m.set_ylabel("weight")
        ax_m.set_ylim(0, max(w_max, float((mean + std).max()) if n_syn else w_max) * 1.02)
        ax_m.legend(loc="best")
        ax_m.set_title(f"(b) mean \u00b1 std over {n_syn} synapses", loc="left")
        # (c) trajectories
        for k in traced:
            ax_t.plot(t_s, snaps[:, k], lw=0.6, alpha=0.7)
        ax_t.set_xlabel("time (s)")
        ax_t.set_ylabel("weight")
        ax_t.set_ylim(0, w_max * 1.02)
        ax_t.set_title(f"(c) {len(traced)} random synapses", loc="left")
        # (d) before / after
        width = np.diff(edges)
        ax_d.bar(
            edges[:-1],
            counts[0],
            width=width,
            align="edge",
            color="0.6",
            alpha=0.7,
            label=f"before (t = {t_s[0]:.2g} s)",
        )
        ax_d.stairs(counts[-1], edges, color="#6a3d9a", lw=1.2, label=f"after (t = {t_s[-1]:.2g} s)")
        ax_d.set_xlabel("weight")
        ax_d.set_ylabel("synapses")
        ax_d.legend(loc="best")
        ax_d.set_title("(d) before and after learning", loc="left")
    return fig, {"counts": counts, "edges": edges, "times": times, "mean": mean, "std": std, "traced": traced}


def weight_matrix(i: np.ndarray, j: np.ndarray, w: np.ndarray, n_pre: int, n_post: int) -> np.ndarray:
    """Dense ``(n_pre, n_post)`` matrix of synapse weights; NaN where no synapse.

    Multiple synapses between one pair are summed.
    """
    mat = np.full((int(n_pre), int(n_post)), np.nan)
    i, j, w = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64), np.asarray(w, dtype=float)
    if len(i):
        flat = i * int(n_post) + j
        sums = np.bincount(flat, weights=w, minlength=mat.size)
        has = np.bincount(flat, minlength=mat.size) > 0
        mat.ravel()[has] = sums[has]
    return mat


def plot_weight_matrices(model, pathways=("ee", "in_exc"), *, w_max: float | None = None):
    """Weight matrices before and after learning (rows: pathways; columns: before, after).

    Parameters
    ----------
    model : HRSNN
        A fitted reservoir (``structure_``, ``weights_init_``, ``weights_``, ``n_exc``,
        ``n_inh``, ``n_input_``).
    pathways : sequence of str
        Plastic pathways to show (those without learned weights are skipped).
    w_max : float, optional
        Colour scale maximum (default ``model.w_max``).

    Returns
    -------
    fig : matplotlib Figure
    data : dict of str -> (before, after)
        Dense matrices, NaN where no synapse.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- heavy, only when drawing

    sizes = {"input": model.n_input_, "exc": model.n_exc, "inh": model.n_inh}
    shown = [p for p in pathways if p in model.weights_ and p in model.weights_init_]
    if not shown:
        raise ValueError(
            f"none of the pathways {list(pathways)} is plastic in this model (plastic: {sorted(model.weights_)})"
        )
    vmax = float(model.w_max if w_max is None else w_max)
    data = {}
    with paper_style():
        heights = [min(max(sizes[PATHWAYS[p][0]] / max(sizes[PATHWAYS[p][1]], 1), 0.6), 1.6) for p in shown]
        fig, axes = plt.subplots(
            len(shown),
            2,
            figsize=(PAPER_WIDTH, 0.8 + 2.4 * sum(heights)),
            layout="constrained",
            squeeze=False,
            gridspec_kw={"height_ratios": heights},
        )
        cmap = plt.get_cmap("magma_r").with_extremes(bad="#dfe7ef")
        im = None
        for row, p in enumerate(shown):
            src, tgt, _ = PATHWAYS[p]
            i, j = model.structure_[p]
            before = weight_matrix(i, j, model.weights_init_[p], sizes[src], sizes[tgt])
            after = weight_matrix(i, j, model.weights_[p], sizes[src], sizes[tgt])
            data[p] = (before, after)
            for col, (mat, when) in enumerate(((before, "before"), (after, "after"))):
                ax = axes[row, col]
                im = ax.imshow(mat, cmap=cmap, vmin=0, vmax=vmax, aspect="auto", interpolation="nearest")
                ax.set_title(f"{PATHWAY_NAMES.get(p, p)} {when} learning ({len(i)} synapses)", loc="left")
                ax.set_xlabel(f"postsynaptic {_POP[tgt]} neuron")
                ax.set_ylabel(f"presynaptic {_POP[src]} {'channel' if src == 'input' else 'neuron'}")
                ax.spines[["top", "right"]].set_visible(True)
        fig.colorbar(im, ax=axes, label="weight (no synapse: grey)", shrink=0.8, pad=0.01)
    return fig, data
