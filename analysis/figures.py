"""Shared figure style and saving: paper-sized figures written as PNG and PDF.

Every plotting function of :mod:`analysis` draws inside :func:`paper_style`
(8-9 pt fonts, 7 in wide figures) and returns ``(fig, data)`` where ``data`` holds
the numbers it drew, so tests and reports can check them against a run's files.
"""

from __future__ import annotations

import io
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = [
    "PAPER_WIDTH",
    "STYLE",
    "COLORS",
    "VARIANT_COLORS",
    "paper_style",
    "save_figure",
    "raster_marker_size",
    "thin",
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
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    try:
        for fmt in formats:
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt)
            path = stem.with_suffix(f".{fmt}")
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(buf.getvalue())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            paths.append(path)
    finally:
        if close:
            plt.close(fig)
    return paths


def raster_marker_size(n_spikes: int) -> float:
    """Marker size of a raster with ``n_spikes`` points (as in :mod:`analysis.stimulus_plots`)."""
    return float(np.clip(2e4 / max(n_spikes, 1), 0.3, 6.0))


def thin(n: int, max_n: int, seed: int = 0) -> np.ndarray:
    """Indices of a seeded uniform subset of at most ``max_n`` of ``n`` items (sorted)."""
    if n <= max_n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_n, replace=False))
