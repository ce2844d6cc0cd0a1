"""Shared figure style and saving: paper-sized figures written as PNG and PDF.

Every plotting function of :mod:`analysis` draws inside :func:`paper_style`
(8-9 pt fonts, 7 in wide figures) and returns ``(fig, data)`` where ``data`` holds
the numbers it drew, so tests and reports can check them against a run's files.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from stimuli.io import atomic_write_bytes

__all__ = [
    "PAPER_WIDTH",
    "STYLE",
    "COLORS",
    "VARIANT_COLORS",
    "paper_style",
    "save_figure",
    "raster_marker_size",
    "draw_spikes",
    "MARKER_LIMIT",
]

#: Width of a full-width figure in a two-column paper, inches.
PAPER_WIDTH = 7.0
#: Matplotlib rc settings of every figure.
STYLE = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "figure.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": 200,
    "figure.dpi": 100,
    "pdf.fonttype": 42,
    "lines.linewidth": 1.0,
}
#: Population colours: input black, excitatory blue, inhibitory red.
COLORS = {"input": "0.15", "exc": "#1f5fbf", "inh": "#d1352b"}
#: One colour per heterogeneity variant (used by every multi-variant figure).
VARIANT_COLORS = {"HoNHoS": "#7f7f7f", "HeNHoS": "#2a9d8f", "HoNHeS": "#e9c46a", "HeNHeS": "#6a3d9a"}


@contextmanager
def paper_style():
    """Context in which figures get the project's paper style."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    with plt.rc_context(STYLE):
        yield


def save_figure(fig, stem, formats=("png", "pdf"), *, close: bool = True) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.pdf`` (atomically); return the paths.

    Parameters
    ----------
    fig : matplotlib Figure
    stem : path
        Output path without suffix (a suffix, if given, is replaced).
    formats : sequence of str
    close : bool
        Close the figure afterwards.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    stem = Path(stem)
    paths = []
    try:
        for fmt in formats:
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt)
            paths.append(atomic_write_bytes(stem.with_suffix(f".{fmt}"), buf.getvalue()))
    finally:
        if close:
            plt.close(fig)
    return paths


#: Above this many spikes in one panel, markers shrink below a pixel: rasters draw density instead.
MARKER_LIMIT = 20_000


def draw_spikes(
    ax,
    t,
    channels,
    *,
    t_max: float,
    n_channels: int,
    color="k",
    cmap: str = "Greys",
    marker_limit: int = MARKER_LIMIT,
    offset: int = 0,
    n_panel: int | None = None,
) -> str:
    """Draw spikes as raster markers, or, past ``marker_limit``, as a spike-density image.

    Markers for many spikes on many channels shrink below a pixel and vanish (a raster
    that says "no spikes" when there are 76,000); the density image (a 2-D histogram
    of every spike on a grid of about one bin per pixel, zero bins blank) keeps all of
    them visible.

    Parameters
    ----------
    ax : matplotlib Axes
    t, channels : array
        Spike times (ms) and channels (rows).
    t_max : float
        End of the time axis, ms.
    n_channels : int
        Rows of this population; drawn at ``offset .. offset + n_channels``.
    color, cmap : str
        Marker colour; colour map of the density image.
    marker_limit : int
        Most spikes drawn as markers.
    n_panel : int, optional
        Spikes in the whole panel (sets the marker size); default ``len(t)``.

    Returns
    -------
    str
        ``""`` for markers, else a note for the title ("density, 2.5 ms x 128 channels per bin").
    """
    t, channels = np.asarray(t, dtype=float), np.asarray(channels)
    n_panel = len(t) if n_panel is None else n_panel
    if n_panel <= marker_limit:
        ax.scatter(
            t,
            channels + offset,
            s=raster_marker_size(n_panel),
            marker="|",
            linewidths=0.5,
            color=color,
            rasterized=True,
        )
        return ""
    from matplotlib.colors import LogNorm  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    n_t, n_c = max(1, min(600, int(np.ceil(t_max)) or 1)), max(1, min(300, int(n_channels)))
    counts, t_edges, c_edges = np.histogram2d(t, channels, bins=(n_t, n_c), range=((0, t_max), (0, n_channels)))
    image = np.ma.masked_equal(counts.T, 0)
    ax.imshow(
        image,
        origin="lower",
        aspect="auto",
        cmap=cmap,
        interpolation="nearest",
        norm=LogNorm(vmin=0.5, vmax=max(2.0, float(counts.max()))),  # a single spike stays visible
        extent=(0, t_max, offset - 0.5, offset + n_channels - 0.5),
    )
    return f"density, {t_max / n_t:.3g} ms x {n_channels / n_c:.3g} channels per bin"


def raster_marker_size(n_spikes: int) -> float:
    """Marker size of a raster with ``n_spikes`` points (as in :mod:`analysis.stimulus_plots`)."""
    return float(np.clip(2e4 / max(n_spikes, 1), 0.3, 6.0))
