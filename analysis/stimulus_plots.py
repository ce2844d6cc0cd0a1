"""Figures of one encoded sample: a spike raster beside the sample's first and last frame."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from stimuli.io import atomic_write_bytes
from stimuli.types import Sample, SpikeStimulus

from .figures import MARKER_LIMIT, draw_spikes

__all__ = [
    "event_frame",
    "sample_frames",
    "plot_spike_raster",
    "plot_stimulus",
    "save_stimulus_figure",
]


def event_frame(events: np.ndarray, sensor_size=None, *, window=(0.0, 0.1)) -> np.ndarray:
    """Accumulate the events of a fraction of the recording into one image.

    Parameters
    ----------
    events : ndarray, EVENT_DTYPE
        Time-sorted events.
    sensor_size : (width, height, polarities), optional
        Default: ``max x + 1, max y + 1``.
    window : (float, float)
        Start and end of the window as fractions of the recording's time span.

    Returns
    -------
    ndarray, shape (height, width), float
        ON minus OFF event counts per pixel.
    """
    ev = np.asarray(events)
    if sensor_size is None:
        w = int(ev["x"].max()) + 1 if ev.size else 1
        h = int(ev["y"].max()) + 1 if ev.size else 1
    else:
        w, h = int(sensor_size[0]), int(sensor_size[1])
    img = np.zeros((h, w))
    if ev.size == 0:
        return img
    t0, t1 = int(ev["t"][0]), int(ev["t"][-1])
    lo, hi = (t0 + f * (t1 - t0) for f in window)
    sel = ev[(ev["t"] >= lo) & (ev["t"] <= hi)]
    sel = sel[(sel["x"] < w) & (sel["y"] < h)]
    sign = np.where(sel["p"] > 0, 1.0, -1.0)
    np.add.at(img, (sel["y"].astype(np.int64), sel["x"].astype(np.int64)), sign)
    return img


def sample_frames(sample: Sample) -> tuple[np.ndarray, np.ndarray, str]:
    """First and last image of a sample and what they show (for display).

    Clips give their first and last frame; event recordings the ON-minus-OFF counts
    of their first and last 10 % of time.
    """
    if sample.is_events:
        size = sample.meta.get("sensor_size")
        return (
            event_frame(sample.data, size, window=(0.0, 0.1)),
            event_frame(sample.data, size, window=(0.9, 1.0)),
            "events (ON - OFF)",
        )
    clip = np.asarray(sample.data)
    return clip[0], clip[-1], "frame"


def plot_spike_raster(stimulus: SpikeStimulus, ax=None, *, max_spikes: int = MARKER_LIMIT, title: str | None = None):
    """Draw a spike raster: time (ms) against input channel.

    Parameters
    ----------
    stimulus : SpikeStimulus
    ax : matplotlib Axes, optional
        Created if not given.
    max_spikes : int
        Past this many spikes, draw their density (a 2-D histogram of all of them)
        instead of markers that would shrink out of sight; the title says so.
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    note = draw_spikes(
        ax,
        stimulus.times,
        stimulus.indices,
        t_max=stimulus.duration,
        n_channels=stimulus.n_channels,
        marker_limit=max_spikes,
    )
    ax.set_xlim(0, stimulus.duration)
    ax.set_ylim(-0.5, stimulus.n_channels - 0.5)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("input channel")
    ax.set_title(
        title
        or f"{stimulus.n_spikes:,} spikes, {stimulus.n_channels:,} channels, dt {stimulus.dt:g} ms"
        + (f"\nspike {note}" if note else ""),
        fontsize=9,
    )
    return ax


def plot_stimulus(sample: Sample, stimulus: SpikeStimulus, *, class_name: str | None = None):
    """Figure with the sample's first and last image (left) and its spike raster (right).

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    first, last, what = sample_frames(sample)
    fig = plt.figure(figsize=(10, 4.2), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=[1, 3.2])
    events = sample.is_events
    lim = max(float(np.abs(first).max()), float(np.abs(last).max()), 1.0) if events else None
    for row, (img, label) in enumerate(((first, "first"), (last, "last"))):
        ax = fig.add_subplot(grid[row, 0])
        if events:
            ax.imshow(img, cmap="bwr", vmin=-lim, vmax=lim, interpolation="nearest")
        else:
            ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{label} {what}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    raster = fig.add_subplot(grid[:, 1])
    plot_spike_raster(stimulus, raster)
    sid = sample.meta.get("id", "sample")
    cname = class_name or sample.meta.get("class_name", sample.label)
    enc = stimulus.meta.get("encoder", "encoder")
    fig.suptitle(f"{sid} (class {cname}) encoded by {enc}", fontsize=10)
    return fig


def save_stimulus_figure(
    sample: Sample, stimulus: SpikeStimulus, path, *, dpi: int = 120, class_name: str | None = None
) -> Path:
    """Write :func:`plot_stimulus` to ``path``; returns the path written.

    The format follows the suffix (``.png``, ``.pdf``, ``.svg``, ...); without a suffix
    ``.png`` is added, and an existing folder receives ``<sample id>.png``.  The file
    is written atomically.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    path = Path(path)
    if path.is_dir():
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(sample.meta.get("id", "stimulus"))).strip("._") or "stimulus"
        path = path / f"{name}.png"
    elif not path.suffix:
        path = path.with_suffix(".png")
    fmt = path.suffix[1:].lower()
    fig = plot_stimulus(sample, stimulus, class_name=class_name)
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi)
    finally:
        plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
