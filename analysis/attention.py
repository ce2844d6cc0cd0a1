"""Where an attention readout looks: attention paid to each time bin, per class.

:func:`attention_per_bin` reduces the attention weights of an
:class:`~networks.attention.AttentionReadout` (``attention_maps``) to the weight each
time bin receives, averaged over heads and queries (mean pooling) or read from the
class token's row (``pooling="cls"``); :func:`plot_attention` draws one heat map per
feature set (classes x time bins) with the uniform level marked, so a readout that
attends evenly looks flat and one that has learned *when* to look does not.
"""

from __future__ import annotations

import numpy as np

from .figures import PAPER_WIDTH, paper_style

__all__ = ["attention_per_bin", "class_means", "plot_attention"]


def attention_per_bin(maps: list[np.ndarray], pooling: str = "mean") -> np.ndarray:
    """Attention each time bin receives, per clip and block.

    Parameters
    ----------
    maps : list of ndarray, shape (n_clips, n_heads, n_queries, n_keys)
        ``AttentionReadout.attention_maps(X)``: one array per block.
    pooling : {"mean", "cls"}
        The readout's pooling: with ``"cls"`` the class token's row (query 0) is what
        the classifier reads and key 0 (the class token itself) is left out.

    Returns
    -------
    ndarray, shape (n_blocks, n_clips, n_bins)
        Rows sum to 1 over the real bins (mean pooling: averaged over the real queries).
    """
    out = []
    for w in maps:
        w = np.asarray(w, dtype=np.float64)
        if pooling == "cls":
            a = w[:, :, 0, 1:].mean(axis=1)
        else:
            real = w.sum(axis=-1) > 0  # padding queries have all-zero rows
            a = (w * real[..., None]).sum(axis=2) / np.maximum(real.sum(axis=2), 1)[..., None]
            a = a.mean(axis=1)
        total = a.sum(axis=1, keepdims=True)
        out.append(np.divide(a, total, out=np.zeros_like(a), where=total > 0))
    return np.stack(out)


def class_means(per_clip: np.ndarray, labels, n_classes: int) -> np.ndarray:
    """Mean over the clips of each class: ``(n_blocks, n_clips, n_bins)`` -> ``(n_blocks, n_classes, n_bins)``.

    A class without clips gets NaN.
    """
    labels = np.asarray(labels)
    out = np.full((per_clip.shape[0], n_classes, per_clip.shape[2]), np.nan)
    for c in range(n_classes):
        if np.any(labels == c):
            out[:, c] = per_clip[:, labels == c].mean(axis=1)
    return out


def plot_attention(per_class: dict[str, np.ndarray], classes, *, bin_ms: float | None = None):
    """Heat maps of the attention per time bin and class, one panel per feature set (last block).

    Parameters
    ----------
    per_class : dict of str -> ndarray, shape (n_blocks, n_classes, n_bins)
        Feature set name (``reservoir``, ``input``) -> :func:`class_means` output.
    classes : sequence of str
    bin_ms : float, optional
        Width of a time bin (ms), for the axis label.

    Returns
    -------
    fig : matplotlib Figure
    data : dict
        Feature set -> the plotted ``(n_classes, n_bins)`` array (last block).
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

    names = list(per_class)
    data = {name: np.asarray(per_class[name])[-1] for name in names}
    n_classes = len(classes)
    height = min(1.2 + 0.28 * n_classes, 6.0)
    with paper_style():
        fig, axes = plt.subplots(
            1, len(names), figsize=(PAPER_WIDTH, height), layout="constrained", squeeze=False, sharey=True
        )
        for ax, name in zip(axes[0], names, strict=True):
            a = data[name]
            n_bins = a.shape[1]
            vmax = max(float(np.nanmax(a)) if np.isfinite(a).any() else 0.0, 2.0 / n_bins)
            im = ax.imshow(a, aspect="auto", cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
            ax.set_xticks(range(n_bins))
            ax.set_xticklabels([f"{k * bin_ms:.0f}" if bin_ms else str(k) for k in range(n_bins)], fontsize=6)
            ax.set_xlabel(f"time bin (start, ms; {bin_ms:.0f} ms each)" if bin_ms else "time bin")
            ax.set_yticks(range(n_classes))
            ax.set_yticklabels([str(c) for c in classes], fontsize=6)
            ax.set_title(f"{name}: attention per bin (uniform = {1 / n_bins:.2f})", fontsize=8)
            cb = fig.colorbar(im, ax=ax, shrink=0.9)
            cb.ax.axhline(1 / n_bins, color="cyan", lw=1)
        axes[0][0].set_ylabel("true class (test clips)")
    return fig, data
