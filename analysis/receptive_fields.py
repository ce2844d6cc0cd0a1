"""Cortical columns on paper: receptive fields, class-population rasters, R-STDP dynamics.

A layer neuron's *receptive field* is its input weights drawn on the frame: channel
``(map, row, col)`` (:func:`stimuli.types.channel_positions`) becomes pixel
``(row, col)`` of map ``map`` (a polarity, a Gaussian field).  Pixels it has no
synapse from (outside its column's tile) are blank.  :func:`receptive_field_images`
computes them, :func:`plot_receptive_fields` draws one small image per neuron in a
grid, one grid per map; :func:`plot_column_receptive_fields` does both for a fitted
:class:`~networks.column.ColumnClassifier`.  :func:`plot_class_raster` shows the class
populations' spikes over a few clips, :func:`plot_reward_dynamics` the layer -> class
weights and the rewarded class's wins over the reward phase.
"""

from __future__ import annotations

import numpy as np

from stimuli.timebase import ms_to_seconds

from .figures import PAPER_WIDTH, draw_spikes, paper_style

__all__ = [
    "receptive_field_images",
    "mosaic",
    "plot_receptive_fields",
    "plot_column_receptive_fields",
    "plot_class_raster",
    "plot_reward_dynamics",
]


def receptive_field_images(
    weights: np.ndarray, i: np.ndarray, j: np.ndarray, positions: np.ndarray | None, n_neurons: int
) -> np.ndarray:
    """Input weights of every post neuron on the frame grid.

    Parameters
    ----------
    weights, i, j : ndarray, shape (n_synapses,)
        Weight, input channel and post neuron of each synapse.
    positions : ndarray of int, shape (n_channels, 3) or None
        ``(map, row, col)`` of every channel; None: channels laid out on one map, as a
        square if their number is one, else as a single row.
    n_neurons : int

    Returns
    -------
    ndarray, shape (n_neurons, n_maps, height, width)
        NaN where a neuron has no synapse from the pixel.
    """
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    if positions is None:
        n_ch = int(i.max()) + 1 if i.size else 1
        side = int(round(np.sqrt(n_ch)))
        shape = (side, side) if side * side == n_ch else (1, n_ch)
        c = np.arange(n_ch)
        positions = np.stack([np.zeros(n_ch, int), c // shape[1], c % shape[1]], axis=1)
    positions = np.asarray(positions, dtype=np.int64)
    n_maps, height, width = (int(positions[:, k].max()) + 1 for k in range(3))
    images = np.full((int(n_neurons), n_maps, height, width), np.nan)
    m, r, c = positions[i].T
    images[j, m, r, c] = np.asarray(weights, dtype=float)
    return images


def mosaic(images: np.ndarray, n_cols: int | None = None, gap: int = 1) -> np.ndarray:
    """Small images ``(n, height, width)`` as one grid image, NaN between and after them.

    Parameters
    ----------
    images : ndarray, shape (n, height, width)
    n_cols : int, optional
        Images per row (default: about ``sqrt(n)``).
    gap : int
        Blank pixels between images.

    Returns
    -------
    ndarray, shape (rows * (height + gap) - gap, n_cols * (width + gap) - gap)
    """
    n, h, w = images.shape
    n_cols = int(n_cols or max(int(np.ceil(np.sqrt(n))), 1))
    n_rows = max(int(np.ceil(n / n_cols)), 1)
    out = np.full((n_rows * (h + gap) - gap, n_cols * (w + gap) - gap), np.nan)
    for k in range(n):
        r, c = divmod(k, n_cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = images[k]
    return out


def plot_receptive_fields(
    images: np.ndarray,
    *,
    map_names: list[str] | None = None,
    w_max: float | None = None,
    max_neurons: int = 400,
    title: str = "receptive fields",
):
    """One small image per layer neuron, in a grid; one grid per map (polarity).

    Parameters
    ----------
    images : ndarray, shape (n_neurons, n_maps, height, width)
        From :func:`receptive_field_images`.
    map_names : list of str, optional
        Title of each map's grid (default ``OFF``/``ON`` for two maps).
    w_max : float, optional
        Colour scale maximum (default: the largest weight).
    max_neurons : int
        At most this many neurons (the first ones) are drawn.
    title : str

    Returns
    -------
    fig : matplotlib Figure
    data : dict
        ``mosaics`` (one grid image per map), ``n_neurons`` drawn, ``w_max``.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    images = np.asarray(images, dtype=float)[: int(max_neurons)]
    n, n_maps, h, w = images.shape
    if map_names is None:
        map_names = ["OFF", "ON"] if n_maps == 2 else [f"map {m}" for m in range(n_maps)] if n_maps > 1 else [""]
    finite = images[np.isfinite(images)]
    vmax = float(w_max if w_max is not None else (finite.max() if finite.size and finite.max() > 0 else 1.0))
    grids = [mosaic(images[:, m]) for m in range(n_maps)]
    with paper_style():
        aspect = grids[0].shape[0] / grids[0].shape[1]
        width = PAPER_WIDTH if n_maps > 1 else PAPER_WIDTH * 0.6
        fig, axes = plt.subplots(
            1, n_maps, figsize=(width, 0.6 + 0.85 * width / n_maps * aspect), layout="constrained", squeeze=False
        )
        cmap = plt.get_cmap("hot_r").with_extremes(bad="#dfe7ef")
        im = None
        for m, ax in enumerate(axes[0]):
            im = ax.imshow(grids[m], cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.spines[:].set_visible(False)
            if map_names[m]:
                ax.set_title(map_names[m])
        fig.colorbar(im, ax=axes[0].tolist(), label="input weight", shrink=0.8, pad=0.01)
        fig.suptitle(f"{title}\n{n} neurons, {h} x {w} pixels each (grey: no synapse)")
    return fig, {"mosaics": grids, "n_neurons": n, "w_max": vmax}


def plot_column_receptive_fields(model, *, initial: bool = False, **kwargs):
    """:func:`plot_receptive_fields` of a fitted :class:`~networks.column.ColumnClassifier`.

    Parameters
    ----------
    model : ColumnClassifier
        Fitted (``weights_``, ``structure_``, ``channel_positions_``, ``n_layer_total_``).
    initial : bool
        Draw the weights before learning instead.
    **kwargs
        Passed to :func:`plot_receptive_fields` (``w_max`` defaults to ``model.w_max``).
    """
    i, j = model.structure_["input"]
    w = (model.weights_init_ if initial else model.weights_)["input"]
    images = receptive_field_images(w, i, j, model.channel_positions_, model.n_layer_total_)
    kwargs.setdefault("w_max", None)
    kwargs.setdefault("title", "receptive fields before learning" if initial else "learned receptive fields")
    return plot_receptive_fields(images, **kwargs)


def plot_class_raster(
    spikes: tuple[np.ndarray, np.ndarray],
    windows: np.ndarray,
    labels,
    *,
    n_classes: int,
    n_per_class: int,
    dt: float,
    class_names: list[str] | None = None,
    max_clips: int = 8,
):
    """Spikes of the class populations over the first clips, the clip's class shaded.

    Parameters
    ----------
    spikes : (indices, steps)
        Class-neuron spikes (``SimulationResult.spikes["classes"]``).
    windows : ndarray, shape (n_clips, 2)
        ``[start, end)`` steps of the clips (``SimulationResult.windows[k]``).
    labels : array of int, shape (n_clips,)
        Class index of each clip (its population's rows are shaded).
    n_classes, n_per_class : int
    dt : float
        Step, ms.
    class_names : list of str, optional
    max_clips : int

    Returns
    -------
    fig : matplotlib Figure
    data : dict
        ``counts`` (clips x classes), ``t`` and ``i`` of the drawn spikes (ms, neuron).
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    idx, steps = (np.asarray(a, dtype=np.int64) for a in spikes)
    windows = np.asarray(windows, dtype=np.int64)[:max_clips]
    labels = np.asarray(labels)[: len(windows)]
    names = class_names or [str(c) for c in range(n_classes)]
    lo, hi = (windows[0, 0], windows[-1, 1]) if len(windows) else (0, 1)
    keep = (steps >= lo) & (steps < hi)
    t, i = (steps[keep] - lo) * dt, idx[keep]
    counts = (
        np.stack(
            [
                np.bincount(i[(steps[keep] >= a) & (steps[keep] < b)] // n_per_class, minlength=n_classes)
                for a, b in windows
            ]
        )
        if len(windows)
        else np.zeros((0, n_classes), int)
    )
    with paper_style():
        fig, ax = plt.subplots(figsize=(PAPER_WIDTH, 0.9 + 0.12 * n_classes * n_per_class), layout="constrained")
        for (a, b), c in zip(windows, labels, strict=True):
            ax.axvspan((a - lo) * dt, (b - lo) * dt, color="0.93", lw=0)
            ax.fill_between(
                [(a - lo) * dt, (b - lo) * dt],
                c * n_per_class - 0.5,
                (c + 1) * n_per_class - 0.5,
                color="#e9c46a",
                alpha=0.5,
                lw=0,
            )
        draw_spikes(ax, t, i, t_max=(hi - lo) * dt, n_channels=n_classes * n_per_class, color="#1f5fbf")
        ax.set_yticks([(c + 0.5) * n_per_class - 0.5 for c in range(n_classes)], names)
        ax.set_ylim(-0.5, n_classes * n_per_class - 0.5)
        ax.set_xlim(0, (hi - lo) * dt)
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("class population")
        ax.set_title("class populations (shaded: the clip's class)", loc="left")
    return fig, {"counts": counts, "t": t, "i": i}


def plot_reward_dynamics(model):
    """Layer -> class weights over learning, and how often the rewarded class won each reward epoch.

    Parameters
    ----------
    model : ColumnClassifier
        Fitted, with weight snapshots (``snapshots_["class"]``, ``snapshot_times_``)
        and ``reward_accuracy_``.

    Returns
    -------
    fig : matplotlib Figure
    data : dict
        ``times`` (ms), ``mean_weight`` (snapshots x classes: mean weight onto each
        population), ``reward_accuracy``.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    n_classes, n_per = len(model.classes_), int(model.n_per_class)
    snaps = np.asarray(model.snapshots_.get("class", np.zeros((0, 0))))
    _, j = model.structure_["class"]
    population = np.asarray(j) // n_per
    mean_w = (
        np.stack([snaps[:, population == c].mean(axis=1) for c in range(n_classes)], axis=1)
        if snaps.size
        else np.zeros((0, n_classes))
    )
    times = np.asarray(model.snapshot_times_, dtype=float)
    acc = np.asarray(model.reward_accuracy_, dtype=float)
    with paper_style():
        fig, (ax_w, ax_a) = plt.subplots(1, 2, figsize=(PAPER_WIDTH, 2.4), layout="constrained")
        for c in range(n_classes):
            ax_w.plot(ms_to_seconds(times), mean_w[:, c], label=str(model.classes_[c]))
        ax_w.set_xlabel("time (s)")
        ax_w.set_ylabel("mean layer \u2192 class weight")
        ax_w.set_title("(a) R-STDP weights per class population", loc="left")
        if n_classes <= 10:
            ax_w.legend(loc="best", ncols=2)
        ax_a.plot(np.arange(1, len(acc) + 1), acc, marker="o", color="#6a3d9a")
        ax_a.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_a.set_xlim(0.5, max(len(acc), 1) + 0.5)
        ax_a.axhline(1 / n_classes, color="0.6", lw=0.8, ls="--", label="chance")
        ax_a.set_ylim(0, 1.02)
        ax_a.set_xlabel("reward epoch")
        ax_a.set_ylabel("rewarded class won")
        ax_a.set_title("(b) votes during the reward phase", loc="left")
        ax_a.legend(loc="best")
    return fig, {"times": times, "mean_weight": mean_w, "reward_accuracy": acc}
