"""Fixed multi-scale spatial features of key frames: the frame branch of the ReSpike hybrid.

ReSpike (Xiao et al. 2024) gives the key frames of a clip to a conventional network
for their spatial content (shape, texture, pose) and the residual frames to a spiking
network for motion.  This module is the frame branch without a trained network: a
fixed filter bank, pooled on grids of decreasing size, so that each scale gives a
set of *cell tokens* that the hybrid classifier (:mod:`networks.hybrid`) attends to.

Features of one frame (intensities in [0, 1], ``H x W`` pixels)
--------------------------------------------------------------
``gabor``
    Quadrature Gabor energy ``sqrt(even**2 + odd**2)`` for ``orientations``
    orientations ``theta_k = k * pi / orientations`` and each wavelength
    ``lambda`` in ``wavelengths`` (pixels): ``orientations * len(wavelengths)``
    channels, orientation-major (``k * len(wavelengths) + w``).  ``theta`` is the
    direction of the grating's wave vector (the normal to its stripes), measured
    from the column axis ``x`` (rightwards) towards the row axis ``y`` (downwards):
    ``theta = 0`` responds to vertical stripes, ``theta = pi / 2`` to horizontal
    ones.  Envelope width ``sigma = 0.56 * lambda`` (a one-octave bandwidth),
    aspect ratio ``aspect_ratio``; the even kernel is made DC-free (a uniform
    image gives 0) and both kernels are scaled so that a matched grating of unit
    amplitude gives energy ~1.  Energy is linear in contrast and nearly
    independent of the grating's phase.
``hog``
    HOG-like oriented-gradient histogram: central-difference gradients, unsigned
    orientation ``phi = atan2(gy, gx) mod pi`` (the same angle convention as
    ``theta``), magnitude split linearly between the two nearest of ``hog_bins``
    bins centred on ``b * pi / hog_bins``.  After pooling, each cell's histogram is
    L2-normalised, ``h / sqrt(|h|**2 + HOG_EPS**2)``: the shape of the local
    orientation distribution, independent of contrast.

Pooling
-------
Scale ``g`` cuts the frame into a ``g x g`` grid; pixel ``(r, c)`` belongs to
cell ``(r * g // H) * g + c * g // W`` (:func:`grid_cells`, row-major; the spiking
branch pools its channels with the same function, so cell ``i`` is the same place
in both branches).  Each feature map is averaged over the pixels of each cell.
The features of a clip are the **mean over its key frames** of the per-frame cell
features: one token per cell, ``(g * g, n_features)`` per scale.  Averaging makes
the frame branch independent of the number of key frames (clips of different
lengths stack without padding) and leaves motion, which the key frames would show
only through their order, to the spiking branch.

Outputs are float64.  :class:`KeyFrameFeatures` is the scikit-learn transformer;
:func:`keyframe_tokens` the pure function behind it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from stimuli.types import SpikeStimulus

from .validation import Interval, Options, TupleOf, validate_params

__all__ = [
    "FRAME_FEATURES",
    "HOG_EPS",
    "KeyFrameFeatures",
    "gabor_bank",
    "gabor_energy",
    "grid_cells",
    "grid_pool",
    "keyframe_tokens",
    "oriented_gradients",
]

#: Feature families of :class:`KeyFrameFeatures`.
FRAME_FEATURES = ("gabor", "hog")
#: Added to the L2 norm of a cell's gradient histogram (intensity units per pixel).
HOG_EPS = 1e-2
#: Largest intensity outside [0, 1] accepted as rounding error.
_RANGE_TOL = 1e-6


# ---------------------------------------------------------------------------------------------------------------
# the grid shared by both branches


def grid_cells(rows, cols, frame_shape: tuple[int, int], grid: int) -> np.ndarray:
    """Cell index of points on a frame cut into a ``grid x grid`` grid (row-major).

    Point ``(r, c)`` of an ``H x W`` frame belongs to cell
    ``floor(r * grid / H) * grid + floor(c * grid / W)``; points outside the frame
    are clipped to the border cells.

    Parameters
    ----------
    rows, cols : array-like
        Row and column of each point (pixels; may be fractional).
    frame_shape : (int, int)
        ``(H, W)`` of the frame the coordinates refer to.
    grid : int
        Cells per side.

    Returns
    -------
    ndarray of int64, the shape of ``rows``
        Values in ``[0, grid * grid)``.
    """
    H, W = (int(v) for v in frame_shape)
    r = np.clip(np.floor(np.asarray(rows, dtype=np.float64) * grid / H), 0, grid - 1).astype(np.int64)
    c = np.clip(np.floor(np.asarray(cols, dtype=np.float64) * grid / W), 0, grid - 1).astype(np.int64)
    return r * grid + c


def grid_pool(maps: np.ndarray, grid: int) -> np.ndarray:
    """Average feature maps over the cells of a ``grid x grid`` grid.

    Parameters
    ----------
    maps : ndarray, shape (n_features, H, W)
        ``H, W >= grid`` (no empty cell).
    grid : int

    Returns
    -------
    ndarray, shape (grid * grid, n_features)
        Token ``i`` is cell ``i`` of :func:`grid_cells`.
    """
    C, H, W = maps.shape
    if H < grid or W < grid:
        raise ValueError(f"scales: a {grid}x{grid} grid needs frames of at least {grid}x{grid} pixels, got {H}x{W}")
    # cell i of grid_cells starts at the first pixel p with floor(p * grid / size) == i: ceil(i * size / grid)
    rows = -(-np.arange(grid) * H // grid)
    cols = -(-np.arange(grid) * W // grid)
    sums = np.add.reduceat(np.add.reduceat(maps, rows, axis=1), cols, axis=2)
    counts = np.diff(np.append(rows, H))[:, None] * np.diff(np.append(cols, W))[None, :]
    return (sums / counts).reshape(C, grid * grid).T


# ---------------------------------------------------------------------------------------------------------------
# filters


def gabor_bank(orientations: int, wavelengths: Sequence[float], aspect_ratio: float = 0.5) -> list[tuple]:
    """Quadrature pairs of Gabor kernels (see the module docstring for the conventions).

    Parameters
    ----------
    orientations : int
        Orientations ``theta_k = k * pi / orientations``.
    wavelengths : sequence of float
        Carrier wavelengths (pixels, >= 2).
    aspect_ratio : float
        ``gamma``: envelope width along the stripes is ``sigma / gamma``.

    Returns
    -------
    list of (theta, wavelength, even, odd)
        Orientation-major; ``even``/``odd`` are float64 kernels of odd side
        ``2 * ceil(3 * sigma / min(gamma, 1)) + 1``; ``sum(even) == 0``.
    """
    bank = []
    for k in range(orientations):
        theta = k * math.pi / orientations
        for lam in wavelengths:
            sigma = 0.56 * float(lam)
            half = int(math.ceil(3.0 * sigma / min(aspect_ratio, 1.0)))
            size = (2 * half + 1, 2 * half + 1)
            even = cv2.getGaborKernel(size, sigma, theta, float(lam), aspect_ratio, 0.0, ktype=cv2.CV_64F)
            odd = cv2.getGaborKernel(size, sigma, theta, float(lam), aspect_ratio, math.pi / 2, ktype=cv2.CV_64F)
            envelope = np.sqrt(even**2 + odd**2)  # cos^2 + sin^2 = 1
            even = even - envelope * (even.sum() / envelope.sum())  # DC-free, still localised
            norm = 2.0 / envelope.sum()  # matched unit-amplitude grating -> energy ~1
            bank.append((theta, float(lam), even * norm, odd * norm))
    return bank


def gabor_energy(frame: np.ndarray, bank: list[tuple]) -> np.ndarray:
    """Quadrature energy of each kernel pair of :func:`gabor_bank`, shape ``(len(bank), H, W)``.

    Borders are reflected (``cv2.BORDER_REFLECT``).
    """
    frame = np.ascontiguousarray(frame, dtype=np.float64)
    out = np.empty((len(bank), *frame.shape))
    for i, (_, _, even, odd) in enumerate(bank):
        e = cv2.filter2D(frame, cv2.CV_64F, even, borderType=cv2.BORDER_REFLECT)
        o = cv2.filter2D(frame, cv2.CV_64F, odd, borderType=cv2.BORDER_REFLECT)
        out[i] = np.sqrt(e * e + o * o)
    return out


def oriented_gradients(frame: np.ndarray, bins: int) -> np.ndarray:
    """Per-pixel gradient magnitude split into ``bins`` unsigned-orientation channels.

    ``gx, gy`` are central differences (``(I[x+1] - I[x-1]) / 2``, borders
    reflected); ``phi = atan2(gy, gx) mod pi``; the magnitude goes to the two bins
    whose centres ``b * pi / bins`` bracket ``phi``, in proportion to closeness.

    Returns
    -------
    ndarray, shape (bins, H, W)
        Sums over the channels to the gradient magnitude.
    """
    frame = np.ascontiguousarray(frame, dtype=np.float64)
    gx = cv2.Sobel(frame, cv2.CV_64F, 1, 0, ksize=1, scale=0.5, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Sobel(frame, cv2.CV_64F, 0, 1, ksize=1, scale=0.5, borderType=cv2.BORDER_REFLECT)
    mag = np.hypot(gx, gy)
    pos = np.mod(np.arctan2(gy, gx), math.pi) * (bins / math.pi)
    low = np.floor(pos)
    frac = pos - low
    low = low.astype(np.int64) % bins
    out = np.zeros((bins, *frame.shape))
    r, c = np.indices(frame.shape)
    np.add.at(out, (low, r, c), (1.0 - frac) * mag)
    np.add.at(out, ((low + 1) % bins, r, c), frac * mag)
    return out


# ---------------------------------------------------------------------------------------------------------------
# the pure function


def _frame_tokens(frame: np.ndarray, scales, bank, hog_bins: int, features) -> list[np.ndarray]:
    maps = []
    if "gabor" in features:
        maps.append(gabor_energy(frame, bank))
    if "hog" in features:
        maps.append(oriented_gradients(frame, hog_bins))
    n_gabor = len(bank) if "gabor" in features else 0
    maps = np.concatenate(maps)
    out = []
    for g in scales:
        tokens = grid_pool(maps, g)
        if "hog" in features:
            h = tokens[:, n_gabor:]
            h /= np.sqrt((h * h).sum(1, keepdims=True) + HOG_EPS**2)
        out.append(tokens)
    return out


def keyframe_tokens(
    key_frames: np.ndarray,
    scales: Sequence[int] = (4, 2, 1),
    *,
    orientations: int = 4,
    wavelengths: Sequence[float] = (4.0, 8.0),
    aspect_ratio: float = 0.5,
    hog_bins: int = 8,
    features: Sequence[str] = FRAME_FEATURES,
    bank: list | None = None,
) -> list[np.ndarray]:
    """Cell tokens of one clip's key frames at each scale (mean over key frames).

    Parameters
    ----------
    key_frames : ndarray, shape (K, H, W) or (H, W)
        Intensities in [0, 1] (``SpikeStimulus.meta["key_frames"]``).
    scales : sequence of int
        Grid sizes ``g`` (``g x g`` cells each).
    orientations, wavelengths, aspect_ratio
        Gabor bank (:func:`gabor_bank`).
    hog_bins : int
        Orientation bins of the gradient histogram.
    features : sequence of {"gabor", "hog"}
        Feature families, concatenated in this order.
    bank : list or None
        A precomputed :func:`gabor_bank` (None: built from the arguments).

    Returns
    -------
    list of ndarray, shape (g * g, n_features), float64
        One per scale; ``n_features = orientations * len(wavelengths)`` (gabor)
        ``+ hog_bins`` (hog).
    """
    frames = np.asarray(key_frames, dtype=np.float64)
    frames = frames[None] if frames.ndim == 2 else frames
    if bank is None and "gabor" in features:
        bank = gabor_bank(orientations, wavelengths, aspect_ratio)
    per_frame = [_frame_tokens(f, scales, bank, hog_bins, features) for f in frames]
    return [np.mean([p[s] for p in per_frame], axis=0) for s in range(len(scales))]


# ---------------------------------------------------------------------------------------------------------------
# the transformer


def _check_key_frames(clip, i: int) -> np.ndarray:
    """Key frames of clip ``i`` as a float64 ``(K, H, W)`` array in [0, 1]."""
    if isinstance(clip, SpikeStimulus):
        if "key_frames" not in clip.meta:
            raise ValueError(
                f"X[{i}]: this SpikeStimulus carries no meta['key_frames']; encode clips with "
                "stimuli.encoders.ResidualEncoder, or pass the key frames as arrays"
            )
        clip = clip.meta["key_frames"]
    arr = np.asarray(clip, dtype=np.float64)
    arr = arr[None] if arr.ndim == 2 else arr
    if arr.ndim != 3 or 0 in arr.shape:
        raise ValueError(f"X[{i}]: key frames must have shape (K, H, W) or (H, W), got {np.shape(clip)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"X[{i}]: key frames contain NaN or infinity")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -_RANGE_TOL or hi > 1 + _RANGE_TOL:
        raise ValueError(f"X[{i}]: key frame intensities must lie in [0, 1], got [{lo:.3g}, {hi:.3g}]")
    return np.clip(arr, 0.0, 1.0)


class KeyFrameFeatures(TransformerMixin, BaseEstimator):
    """Gabor and HOG-like cell tokens of key frames at several grid scales (nothing learned but scaling).

    See the module docstring for the features, their angle convention and the
    pooling.  ``fit`` builds the filter bank and, with ``normalize="standard"``,
    the mean and standard deviation of each feature at each scale over the
    training clips and cells; ``transform`` applies them.

    Parameters
    ----------
    scales : tuple of int
        Grid sizes, e.g. ``(4, 2, 1)``: 4x4, 2x2 and 1x1 cells.  Frames need at
        least ``max(scales)`` pixels per side.
    orientations : int
        Gabor orientations in [0, pi).
    wavelengths : tuple of float
        Gabor carrier wavelengths (pixels, >= 2).
    aspect_ratio : float
        Gabor envelope aspect ratio ``gamma`` in (0, 1].
    hog_bins : int
        Orientation bins of the gradient histograms.
    features : tuple of {"gabor", "hog"}
        Feature families to compute, concatenated in this order.
    normalize : {"standard", "none"}
        ``"standard"``: per scale and feature, zero mean and unit variance over
        the training clips' cells; ``"none"``: raw features.

    Attributes
    ----------
    bank_ : list of (theta, wavelength, even, odd)
        The Gabor kernels (:func:`gabor_bank`); empty without ``"gabor"``.
    n_features_out_ : int
        Features per token.
    feature_names_ : list of str
        ``gabor_o{k}_w{lambda}`` (orientation ``k * 180 / orientations`` degrees) and ``hog_b{b}``.
    mean_, std_ : list of ndarray, shape (n_features_out_,)
        Per-scale scaling (zeros and ones for ``normalize="none"``).

    Examples
    --------
    >>> tokens = KeyFrameFeatures(scales=(2, 1)).fit_transform([np.zeros((2, 16, 16))])
    >>> [t.shape for t in tokens]
    [(1, 4, 16), (1, 1, 16)]
    """

    _parameter_constraints = {
        "scales": TupleOf(Interval(int, 1, 64), "a non-empty tuple of grid sizes (integers in [1, 64])"),
        "orientations": Interval(int, 1, 64),
        "wavelengths": TupleOf(Interval(float, 2.0, None), "a non-empty tuple of wavelengths >= 2 pixels"),
        "aspect_ratio": Interval(float, 0.0, 1.0, closed="right"),
        "hog_bins": Interval(int, 2, 64),
        "features": TupleOf(Options(FRAME_FEATURES), "a non-empty tuple of distinct 'gabor', 'hog'", unique=True),
        "normalize": Options(("standard", "none")),
    }

    def __init__(
        self,
        scales=(4, 2, 1),
        *,
        orientations=4,
        wavelengths=(4.0, 8.0),
        aspect_ratio=0.5,
        hog_bins=8,
        features=FRAME_FEATURES,
        normalize="standard",
    ):
        self.scales = scales
        self.orientations = orientations
        self.wavelengths = wavelengths
        self.aspect_ratio = aspect_ratio
        self.hog_bins = hog_bins
        self.features = features
        self.normalize = normalize

    def validate_params(self) -> KeyFrameFeatures:
        """Check every hyperparameter (ValueError naming the first bad one); returns self."""
        validate_params(self.get_params(), self._parameter_constraints)
        return self

    def _raw(self, X, bank) -> list[np.ndarray]:
        if isinstance(X, SpikeStimulus) or (isinstance(X, np.ndarray) and X.ndim < 3):
            raise ValueError("X: expected a sequence of clips' key frames (one (K, H, W) array per clip)")
        if len(X) == 0:
            raise ValueError("X: no clips")
        per_clip = [
            keyframe_tokens(
                _check_key_frames(clip, i),
                self._fitted["scales"],
                hog_bins=self._fitted["hog_bins"],
                features=self._fitted["features"],
                bank=bank,
            )
            for i, clip in enumerate(X)
        ]
        return [np.stack([c[s] for c in per_clip]) for s in range(len(self._fitted["scales"]))]

    def fit(self, X, y=None):
        """Build the filter bank and the scaling from key frames ``X`` (sequence of ``(K, H, W)``).

        ``X`` may also hold :class:`~stimuli.types.SpikeStimulus` objects that carry
        ``meta["key_frames"]`` (:class:`~stimuli.encoders.ResidualEncoder`).

        Returns
        -------
        self
        """
        self._fit(X)
        return self

    def fit_transform(self, X, y=None) -> list[np.ndarray]:
        """:meth:`fit`, then :meth:`transform` of the same clips (the filters run once)."""
        return [(r - m) / s for r, m, s in zip(self._fit(X), self.mean_, self.std_, strict=True)]

    def _fit(self, X) -> list[np.ndarray]:
        """Fit; returns the unscaled tokens of ``X``."""
        self.validate_params()
        features = tuple(self.features)
        self._fitted = {"scales": tuple(int(g) for g in self.scales), "hog_bins": int(self.hog_bins)}
        self._fitted["features"] = features
        self.bank_ = gabor_bank(self.orientations, self.wavelengths, self.aspect_ratio) if "gabor" in features else []
        names = []
        if "gabor" in features:
            names += [f"gabor_o{round(180 * th / math.pi)}_w{lam:g}" for th, lam, _, _ in self.bank_]
        if "hog" in features:
            names += [f"hog_b{b}" for b in range(int(self.hog_bins))]
        self.feature_names_ = names
        self.n_features_out_ = len(names)
        raw = self._raw(X, self.bank_)
        if self.normalize == "standard":
            self.mean_ = [r.reshape(-1, r.shape[2]).mean(0) for r in raw]
            self.std_ = [r.reshape(-1, r.shape[2]).std(0) for r in raw]
            for s in self.std_:
                s[s == 0] = 1.0
        else:
            self.mean_ = [np.zeros(self.n_features_out_) for _ in raw]
            self.std_ = [np.ones(self.n_features_out_) for _ in raw]
        return raw

    def transform(self, X) -> list[np.ndarray]:
        """Cell tokens of each clip at each scale.

        Parameters
        ----------
        X : sequence
            Per clip, key frames ``(K, H, W)`` (or ``(H, W)``) in [0, 1], or a
            SpikeStimulus carrying ``meta["key_frames"]``.

        Returns
        -------
        list of ndarray, shape (n_clips, g * g, n_features_out_), float64
            One array per scale, in the order of ``scales``.
        """
        check_is_fitted(self, "bank_")
        return [(r - m) / s for r, m, s in zip(self._raw(X, self.bank_), self.mean_, self.std_, strict=True)]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the token features (the last axis of every output array)."""
        check_is_fitted(self, "bank_")
        return np.asarray(self.feature_names_, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags
