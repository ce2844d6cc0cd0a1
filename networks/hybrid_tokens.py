"""Token sets of the ReSpike hybrid: spike counts pooled on the key frames' grids, and their container.

The hybrid classifier (:mod:`networks.hybrid`) reads, at each scale, two token sets
of one clip: *spike tokens* from the spiking branch (residual frames) and *frame
tokens* from the key frames (:mod:`networks.keyframes`).  This module makes the
spike tokens and holds both in :class:`HybridInputs`.

Spike tokens on a grid
----------------------
A unit (input channel or neuron) with a place ``(row, col)`` on a frame of
``H x W`` pixels and a map ``m`` (polarity: 0 = OFF, 1 = ON for the signed
residual code) belongs to cell :func:`~networks.keyframes.grid_cells` of each
``g x g`` grid, the same cells as the frame tokens.  The token of a cell holds,
for each map ``m`` and time bin ``b``, the **mean spike count per unit** of the
units of that map in that cell (spikes per unit per bin; 0 where a cell has no
unit of a map).  Feature ``m * n_bins + b``; shape ``(n_clips, g * g,
n_maps * n_bins)`` per scale.  Input channels get their places from
:func:`stimuli.types.channel_positions` (:func:`stimulus_grid_tokens`).

Time-bin tokens (units without places)
--------------------------------------
Reservoir neurons have no place on the frame.  :func:`time_bin_tokens` makes one
token per time bin whose features are the neurons' counts in that bin (the
bin-major layout of :func:`networks.features.binned_counts`), and gives the same
token set to every scale: at scale ``g`` the cross-attention then relates each
time bin to the ``g x g`` cells of the key frames.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from stimuli.types import SpikeStimulus, channel_positions, check_stimuli

from .features import MAX_BINS, binned_counts
from .keyframes import KeyFrameFeatures, grid_cells
from .validation import InstanceOf, Interval, TupleOf, validate_params

__all__ = ["HybridInputs", "HybridTokens", "grid_spike_tokens", "stimulus_grid_tokens", "time_bin_tokens"]


# ---------------------------------------------------------------------------------------------------------------
# pure functions


def grid_spike_tokens(
    counts: np.ndarray,
    rows,
    cols,
    frame_shape: tuple[int, int],
    scales: Sequence[int],
    *,
    maps=None,
) -> list[np.ndarray]:
    """Pool per-unit spike counts onto ``g x g`` grids (mean count per unit of each map in each cell).

    Parameters
    ----------
    counts : ndarray, shape (n_clips, n_bins, n_units)
        Spike counts of each unit in each time bin.
    rows, cols : array-like, shape (n_units,)
        Place of each unit on the frame (pixels of ``frame_shape``).
    frame_shape : (int, int)
        ``(H, W)`` the places refer to (for input channels: the channel grid).
    scales : sequence of int
        Grid sizes.
    maps : array-like of int, shape (n_units,), or None
        Map (polarity) of each unit, in ``[0, n_maps)``; None: one map.

    Returns
    -------
    list of ndarray, shape (n_clips, g * g, n_maps * n_bins), float64
        One per scale; feature ``m * n_bins + b``.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 3:
        raise ValueError(f"counts: expected shape (n_clips, n_bins, n_units), got {counts.shape}")
    n_clips, n_bins, n_units = counts.shape
    maps = np.zeros(n_units, np.int64) if maps is None else np.asarray(maps, dtype=np.int64)
    rows, cols = np.asarray(rows), np.asarray(cols)
    if not (rows.shape == cols.shape == maps.shape == (n_units,)):
        raise ValueError(f"rows, cols, maps: need one entry per unit ({n_units}), got {rows.shape}, {cols.shape}")
    n_maps = int(maps.max()) + 1 if n_units else 1
    out = []
    for g in scales:
        group = grid_cells(rows, cols, frame_shape, int(g)) * n_maps + maps
        pool = np.zeros((int(g) ** 2 * n_maps, n_units))
        pool[group, np.arange(n_units)] = 1.0
        pool /= np.maximum(pool.sum(1, keepdims=True), 1.0)
        pooled = counts @ pool.T  # (n_clips, n_bins, cells * maps)
        pooled = pooled.reshape(n_clips, n_bins, int(g) ** 2, n_maps).transpose(0, 2, 3, 1)
        out.append(pooled.reshape(n_clips, int(g) ** 2, n_maps * n_bins))
    return out


def _geometry(stim: SpikeStimulus) -> tuple:
    return tuple(stim.meta.get("channel_shape") or ()), stim.meta.get("channel_order")


def stimulus_grid_tokens(stimuli: Sequence[SpikeStimulus], scales: Sequence[int], *, bins: int = 1) -> list:
    """Grid spike tokens of input stimuli, from their channels' places (:func:`grid_spike_tokens`).

    Parameters
    ----------
    stimuli : sequence of SpikeStimulus
        Clips of one encoder geometry (``meta["channel_shape"]``/``channel_order``),
        e.g. :class:`~stimuli.encoders.ResidualEncoder` output (maps: OFF, ON).
    scales : sequence of int
        Grid sizes.
    bins : int
        Equal time bins per clip window ``[0, n_steps)``.

    Returns
    -------
    list of ndarray, shape (n_clips, g * g, n_maps * bins), float64
    """
    stimuli = check_stimuli(stimuli)
    geometry = _geometry(stimuli[0])
    for k, s in enumerate(stimuli):
        if _geometry(s) != geometry:
            raise ValueError(
                f"X[{k}]: channel geometry {_geometry(s)} differs from that of X[0] {geometry}; "
                "encode every clip with one encoder and frame size"
            )
    place = channel_positions(stimuli[0])  # (map, row, col); raises if the encoder gives no geometry
    n = stimuli[0].n_channels
    counts = np.stack(
        [binned_counts(s.indices, s.steps, [[0, s.n_steps]], n, int(bins)).reshape(int(bins), n) for s in stimuli]
    )
    frame_shape = tuple(int(v) for v in stimuli[0].meta["channel_shape"][1:])
    return grid_spike_tokens(counts, place[:, 1], place[:, 2], frame_shape, scales, maps=place[:, 0])


def time_bin_tokens(features: np.ndarray, bins: int, n_scales: int) -> list[np.ndarray]:
    """Time-bin tokens for units without places (reservoir neurons), the same set at every scale.

    Parameters
    ----------
    features : ndarray, shape (n_clips, bins * n_neurons)
        Bin-major counts (:func:`networks.features.binned_counts`: all neurons of bin 0, then bin 1, ...).
    bins : int
        Time bins per clip.
    n_scales : int
        Scales of the frame branch.

    Returns
    -------
    list of ndarray, shape (n_clips, bins, n_neurons)
        ``n_scales`` references to one array (token ``b`` = time bin ``b``).
    """
    features = np.asarray(features)
    if features.ndim != 2 or features.shape[1] % bins:
        raise ValueError(f"features: expected shape (n_clips, bins * n_neurons) with bins={bins}, got {features.shape}")
    tokens = features.reshape(len(features), bins, -1)
    return [tokens] * int(n_scales)


# ---------------------------------------------------------------------------------------------------------------
# the container


@dataclass(frozen=True, eq=False)
class HybridInputs:
    """Per-scale token sets of a batch of clips: the input of :class:`networks.hybrid.HybridClassifier`.

    Scale ``i`` pairs ``spike_tokens[i]`` with ``frame_tokens[i]``; the two sets may
    differ in token count and width.  One branch may be empty (``()``) for the
    single-branch modes of the classifier.

    The container indexes like an array of clips, so scikit-learn's splitters,
    ``cross_val_score``, ``GridSearchCV`` and ``Pipeline`` take it as ``X``:
    ``len(inputs)`` and ``inputs.shape == (n_clips,)``; ``inputs[idx]`` (int array,
    boolean mask, slice, or ``(idx, ...)``) selects clips of every array (an int
    selects one clip and keeps the clip axis).

    Attributes
    ----------
    spike_tokens : tuple of ndarray, shape (n_clips, n_spike_tokens_i, n_spike_features_i)
        Spiking-branch tokens of each scale (:func:`stimulus_grid_tokens`, :func:`time_bin_tokens`).
    frame_tokens : tuple of ndarray, shape (n_clips, n_frame_tokens_i, n_frame_features_i)
        Key-frame tokens of each scale (:class:`~networks.keyframes.KeyFrameFeatures`).
    """

    spike_tokens: tuple = ()
    frame_tokens: tuple = ()

    def __post_init__(self):
        for name in ("spike_tokens", "frame_tokens"):
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                raise ValueError(f"{name}: expected a list of per-scale arrays, got one array of shape {value.shape}")
            arrays = tuple(np.asarray(a) for a in value)
            for i, a in enumerate(arrays):
                if a.ndim != 3:
                    raise ValueError(f"{name}[{i}]: expected shape (n_clips, n_tokens, n_features), got {a.shape}")
            object.__setattr__(self, name, arrays)
        s, f = self.spike_tokens, self.frame_tokens
        if not s and not f:
            raise ValueError("HybridInputs: both spike_tokens and frame_tokens are empty")
        if s and f and len(s) != len(f):
            raise ValueError(f"HybridInputs: {len(s)} scales of spike_tokens but {len(f)} of frame_tokens")
        sizes = {len(a) for a in s + f}
        if len(sizes) > 1:
            raise ValueError(f"HybridInputs: the arrays hold different numbers of clips {sorted(sizes)}")

    @property
    def n_clips(self) -> int:
        return len((self.spike_tokens or self.frame_tokens)[0])

    @property
    def n_scales(self) -> int:
        return len(self.spike_tokens or self.frame_tokens)

    @property
    def shape(self) -> tuple[int]:
        """``(n_clips,)``: scikit-learn counts samples with it."""
        return (self.n_clips,)

    def __len__(self) -> int:
        return self.n_clips

    def __getitem__(self, key) -> HybridInputs:
        if isinstance(key, tuple):  # sklearn indexes arrays as X[key, ...]
            if len(key) < 1 or any(k is not Ellipsis and k != slice(None) for k in key[1:]):
                raise IndexError("HybridInputs: only the clip axis can be indexed")
            key = key[0]
        if isinstance(key, numbers.Integral):
            key = [int(key)]
        return HybridInputs(tuple(a[key] for a in self.spike_tokens), tuple(a[key] for a in self.frame_tokens))

    def __repr__(self) -> str:
        def shapes(arrays):
            return "[" + ", ".join(str(a.shape[1:]) for a in arrays) + "]"

        return (
            f"HybridInputs(n_clips={self.n_clips}, spike_tokens={shapes(self.spike_tokens)}, "
            f"frame_tokens={shapes(self.frame_tokens)})"
        )


# ---------------------------------------------------------------------------------------------------------------
# stimuli -> HybridInputs


class HybridTokens(TransformerMixin, BaseEstimator):
    """ReSpike token sets of input stimuli: residual spikes on grids and key-frame features.

    Takes :class:`~stimuli.types.SpikeStimulus` clips of
    :class:`~stimuli.encoders.ResidualEncoder` (residual spikes with a frame
    geometry and ``meta["key_frames"]``) and returns :class:`HybridInputs`: at
    each scale ``g``, the grid spike tokens of the input channels
    (:func:`stimulus_grid_tokens`) and the key-frame cell tokens
    (:class:`~networks.keyframes.KeyFrameFeatures`), both on the same ``g x g``
    cells.  ``Pipeline([("tokens", HybridTokens()), ("clf", HybridClassifier())])``
    classifies stimuli directly.

    Parameters
    ----------
    scales : tuple of int
        Grid sizes shared by both branches.
    bins : int
        Time bins of the spike tokens.
    frame_features : KeyFrameFeatures or None
        Frame-branch settings (None: defaults); its ``scales`` are replaced by ``scales``.

    Attributes
    ----------
    frame_features_ : KeyFrameFeatures
        The fitted frame branch.
    n_input_ : int
        Input channels of the training stimuli.
    """

    _parameter_constraints = {
        "scales": TupleOf(Interval(int, 1, 64), "a non-empty tuple of grid sizes (integers in [1, 64])"),
        "bins": Interval(int, 1, MAX_BINS),
        "frame_features": (None, InstanceOf((KeyFrameFeatures,), "a KeyFrameFeatures")),
    }

    def __init__(self, scales=(4, 2, 1), *, bins=2, frame_features=None):
        self.scales = scales
        self.bins = bins
        self.frame_features = frame_features

    def validate_params(self) -> HybridTokens:
        """Check every hyperparameter (ValueError naming the first bad one); returns self."""
        validate_params(self.get_params(deep=False), self._parameter_constraints)
        return self

    def fit(self, X, y=None):
        """Fit the frame branch's scaling on stimuli ``X``; returns self."""
        self._fit(X)
        return self

    def fit_transform(self, X, y=None) -> HybridInputs:
        """:meth:`fit`, then :meth:`transform` of the same stimuli (the key-frame filters run once)."""
        X, frames = self._fit(X)
        spikes = stimulus_grid_tokens(X, self._fitted["scales"], bins=self._fitted["bins"])
        return HybridInputs(tuple(spikes), tuple(frames))

    def _fit(self, X) -> tuple[list[SpikeStimulus], list[np.ndarray]]:
        self.validate_params()
        X = check_stimuli(X)
        base = KeyFrameFeatures() if self.frame_features is None else clone(self.frame_features)
        self.frame_features_ = base.set_params(scales=tuple(int(g) for g in self.scales))
        frames = self.frame_features_.fit_transform(X)
        self.n_input_ = X[0].n_channels
        self._fitted = {"scales": tuple(int(g) for g in self.scales), "bins": int(self.bins)}
        return X, frames

    def transform(self, X) -> HybridInputs:
        """Token sets of stimuli ``X`` (sequence of SpikeStimulus), see the class docstring."""
        check_is_fitted(self, "frame_features_")
        X = check_stimuli(X, self.n_input_)
        spikes = stimulus_grid_tokens(X, self._fitted["scales"], bins=self._fitted["bins"])
        return HybridInputs(tuple(spikes), tuple(self.frame_features_.transform(X)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags
