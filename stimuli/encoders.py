"""Spike encoders: clips and event arrays -> :class:`~stimuli.types.SpikeStimulus`.

Each encoder is a small **frozen dataclass** whose ``__call__(data, *, label=None,
meta=None)`` delegates to a pure ``*_encode`` function, so calling it twice gives the
same stimulus.  ``params()`` returns its parameters (the cache key) and ``name`` its
registry name (see :func:`get_encoder`).

Time grid
---------
Spikes live on steps of ``dt`` milliseconds (the package's time convention,
:mod:`stimuli.timebase`).  Frame encoders give every video frame
``steps_per_frame = round(frame_duration / dt)`` steps (``frame_duration`` is snapped
to a whole number of steps); frame ``f`` occupies steps
``[f * steps_per_frame, (f + 1) * steps_per_frame)`` and a clip of ``T`` frames lasts
``T * steps_per_frame`` steps.

Channels
--------
Frame encoders flatten everything after the time axis of the clip, so a clip of shape
``(T, H, W)`` has pixel channels ``y * W + x``.  Encoders with polarity put OFF (0)
before ON (1): channel ``(p * H' + y') * W' + x'``, the layout of :class:`EventBinner`.

Randomness
----------
Stochastic encoders take an integer ``seed``; each call draws from a generator
seeded by ``(seed, meta["id"])`` (:func:`derive_rng`): every sample gets its own
stream, and the same sample always gets the same spikes.

Every output passes through :func:`unique_spikes`: no ``(channel, step)`` pair occurs
twice (Brian2's ``SpikeGeneratorGroup`` rejects those).

Motion centring
---------------
:class:`DeltaEncoder` can (optionally, off by default) re-centre its events on their
centroid before pooling (``center="clip"`` or ``"frame"``, output window ``window``),
so that an action performed anywhere in the frame, or while walking across it, gives
the same channels (:func:`center_maps`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from .events import sensor_size_of
from .options import check_options
from .timebase import US_PER_MS, ms_to_seconds
from .types import SpikeStimulus, StimulusError

__all__ = [
    "PoissonEncoder",
    "TTFSEncoder",
    "GaussianEncoder",
    "DeltaEncoder",
    "EventBinner",
    "ResidualEncoder",
    "ENCODERS",
    "get_encoder",
    "unique_spikes",
    "derive_rng",
    "steps_per_frame",
    "poisson_encode",
    "ttfs_encode",
    "gaussian_encode",
    "gaussian_fields",
    "delta_encode",
    "center_maps",
    "CENTER_MODES",
    "bin_events",
    "respike_split",
]

#: Default simulated time per video frame (ms).
DEFAULT_FRAME_DURATION = 50.0
#: Default time step (ms).
DEFAULT_DT = 1.0
#: Width factor of Gaussian receptive fields, ``sigma = spacing / beta`` (Bohte et al., 2002).
BOHTE_BETA = 1.5
#: Responses below this fraction of the peak do not fire in Gaussian latency mode (Bohte et al., 2002).
GAUSSIAN_MIN_RESPONSE = 0.1
#: Longest event recording binned without an explicit window (ms): one stray timestamp
#: would otherwise make a clip of millions of steps.
MAX_EVENT_SPAN_MS = 60_000.0
#: Tolerance on clip values outside [0, 1] before they are rejected.
_RANGE_TOL = 1e-6


# -- helpers ----------------------------------------------------------------------------
def unique_spikes(indices, steps, n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove repeated ``(channel, step)`` pairs and sort by time.

    Parameters
    ----------
    indices : array of int, shape (n,)
        Channel of each spike, in ``[0, n_channels)``.
    steps : array of int, shape (n,)
        Time step of each spike, ``>= 0``.
    n_channels : int

    Returns
    -------
    indices : ndarray, int32, shape (m,)
    steps : ndarray, int64, shape (m,)
        ``m <= n`` unique spikes sorted by step, then channel.
    """
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    stp = np.asarray(steps, dtype=np.int64).reshape(-1)
    if idx.shape != stp.shape:
        raise ValueError(f"unique_spikes: indices {idx.shape} and steps {stp.shape} differ in shape")
    if idx.size == 0:
        return idx.astype(np.int32), stp
    if idx.min() < 0 or idx.max() >= n_channels:
        raise ValueError(f"unique_spikes: channel out of range [0, {n_channels}): min {idx.min()}, max {idx.max()}")
    if stp.min() < 0:
        raise ValueError(f"unique_spikes: negative step {stp.min()}")
    key = _sorted_unique(stp * np.int64(n_channels) + idx)
    return (key % n_channels).astype(np.int32), key // n_channels


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a 1-D array.

    Sort and a neighbour mask: far faster than ``np.unique`` on large int arrays in
    NumPy 2.x, which hashes first.
    """
    s = np.sort(a)
    keep = np.empty(s.shape[0], dtype=bool)
    keep[:1] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def derive_rng(seed: int, sample_id: Any = None) -> np.random.Generator:
    """Generator seeded by ``(seed, sha256(str(sample_id)))``; ``sample_id=None`` uses ``seed`` alone."""
    entropy = [int(seed)]
    if sample_id is not None:
        digest = hashlib.sha256(str(sample_id).encode("utf-8")).digest()
        entropy.append(int.from_bytes(digest[:8], "little"))
    return np.random.default_rng(np.random.SeedSequence(entropy))


def steps_per_frame(frame_duration: float, dt: float) -> int:
    """Whole time steps per frame, ``round(frame_duration / dt)`` (>= 1)."""
    return max(1, int(round(frame_duration / dt)))


def _as_clip(data, who: str, sample: str) -> np.ndarray:
    """Validate a clip ``(T, ...)`` of values in [0, 1]; returns float32."""
    arr = np.asarray(data)
    if arr.dtype.names is not None:
        raise StimulusError(f"{sample}: {who} encodes clips, got an event array (use EventBinner)")
    if arr.ndim < 2 or arr.shape[0] == 0 or arr[0].size == 0:
        raise StimulusError(f"{sample}: {who} needs a clip of shape (T, H, W) with T >= 1, got {arr.shape}")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise StimulusError(f"{sample}: {who}: clip contains NaN or inf")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -_RANGE_TOL or hi > 1 + _RANGE_TOL:
        raise StimulusError(f"{sample}: {who}: clip values must lie in [0, 1], got [{lo:.3g}, {hi:.3g}]")
    return np.clip(arr, 0.0, 1.0)


def _grid_meta(shape: tuple[int, int, int], order: str) -> dict:
    """``meta`` entries that give channels their place on the frame (:func:`~stimuli.types.channel_positions`)."""
    return {"channel_shape": tuple(int(v) for v in shape), "channel_order": order}


def _pixel_grid(clip: np.ndarray, fields: int = 1) -> dict:
    """Grid of encoders with one channel per pixel (and per field): ``(T, H, W)`` or ``(T, M, H, W)`` clips."""
    if clip.ndim == 3:
        maps, (h, w) = 1, clip.shape[1:]
    elif clip.ndim == 4:
        maps, h, w = clip.shape[1:]
    else:
        return {}
    if fields > 1:  # gaussian: channel = pixel * n_fields + field
        return _grid_meta((fields, h, w), "yxm") if maps == 1 else {}
    return _grid_meta((maps, h, w), "myx")


def _require(cond: bool, param: str, value, rule: str) -> None:
    if not cond:
        raise ValueError(f"{param} {rule}, got {value!r}")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _check_dt(dt) -> None:
    _require(
        isinstance(dt, (int, float, np.floating)) and math.isfinite(dt) and dt > 0,
        "dt",
        dt,
        "must be a positive number of milliseconds",
    )


def _check_frame_duration(frame_duration, dt) -> None:
    _require(
        isinstance(frame_duration, (int, float, np.floating))
        and math.isfinite(frame_duration)
        and frame_duration >= dt * (1 - 1e-9),
        "frame_duration",
        frame_duration,
        f"must be >= dt ({dt} ms)",
    )


def _check_seed(seed) -> None:
    _require(_is_int(seed) and seed >= 0, "seed", seed, "must be an integer >= 0")


def _check_rate(max_rate, dt) -> None:
    _require(
        isinstance(max_rate, (int, float, np.floating)) and 0 <= max_rate and max_rate * ms_to_seconds(dt) <= 1,
        "max_rate",
        max_rate,
        f"must satisfy 0 <= max_rate * dt <= 1 (max_rate in Hz, dt = {dt} ms)",
    )


def _check_threshold(threshold) -> None:
    _require(
        isinstance(threshold, (int, float, np.floating)) and threshold >= 0, "threshold", threshold, "must be >= 0"
    )


def _check_pool(pool) -> None:
    _require(_is_int(pool) and pool >= 1, "pool", pool, "must be an integer >= 1")


def _max_pool(maps: np.ndarray, pool: int) -> np.ndarray:
    """Max over non-overlapping ``pool x pool`` windows of the last two axes.

    Edges are zero-padded to a multiple of ``pool`` (inputs are >= 0), so the
    output has ``ceil(H / pool) x ceil(W / pool)`` cells, as ``y // pool`` gives.
    """
    if pool == 1:
        return maps
    h, w = maps.shape[-2:]
    hp, wp = -(-h // pool), -(-w // pool)
    pad = [(0, 0)] * (maps.ndim - 2) + [(0, hp * pool - h), (0, wp * pool - w)]
    m = np.pad(maps, pad)
    m = m.reshape(*maps.shape[:-2], hp, pool, wp, pool)
    return m.max(axis=(-3, -1))


#: Motion-centring modes of :func:`center_maps` (``None``: no centring).
CENTER_MODES = ("clip", "frame")


def center_maps(active: np.ndarray, mode: str, window: tuple[int, int] | None = None) -> np.ndarray:
    """Shift binary event maps so that their centroid sits at the centre of a fixed window.

    The centroid is the mean ``(y, x)`` of the pixels that hold an event in any
    polarity: of the whole clip (``mode="clip"``, one shift for every frame: absolute
    position is removed, motion within the clip kept) or of each frame on its own
    (``mode="frame"``: a figure-centric view, translation removed too).  A frame (or
    clip) without events is left empty.  The shift is the whole number of pixels
    ``floor(c_out - c + 1/2)`` with ``c_out = ((H_out - 1) / 2, (W_out - 1) / 2)``, so
    translating the input by whole pixels (without cutting events off) leaves the
    output unchanged.  Events shifted outside the window are dropped.

    Parameters
    ----------
    active : ndarray of bool, shape (T, P, H, W)
        Event maps (``P`` polarities).
    mode : {"clip", "frame"}
    window : (H_out, W_out), optional
        Output size in pixels (default: ``(H, W)``).

    Returns
    -------
    ndarray of bool, shape (T, P, H_out, W_out)
    """
    if mode not in CENTER_MODES:
        raise ValueError(f"center must be None or one of {CENTER_MODES}, got {mode!r}")
    active = np.asarray(active, dtype=bool)
    if active.ndim != 4:
        raise ValueError(f"center_maps: expected maps of shape (T, P, H, W), got {active.shape}")
    n_t, n_p, h, w = active.shape
    ho, wo = (h, w) if window is None else (int(window[0]), int(window[1]))
    out = np.zeros((n_t, n_p, ho, wo), dtype=bool)
    t, p, y, x = np.nonzero(active)
    if t.size == 0:
        return out
    any_pol = active.any(axis=1)  # (T, H, W): a pixel with ON and OFF counts once
    tt, yy, xx = np.nonzero(any_pol)
    if mode == "clip":
        groups = np.zeros_like(tt)
        ev_group = np.zeros_like(t)
        n_groups = 1
    else:
        groups, ev_group, n_groups = tt, t, n_t
    cnt = np.bincount(groups, minlength=n_groups).astype(np.float64)
    safe = np.maximum(cnt, 1.0)
    cy = np.bincount(groups, weights=yy, minlength=n_groups) / safe
    cx = np.bincount(groups, weights=xx, minlength=n_groups) / safe
    sy = np.floor((ho - 1) / 2.0 - cy + 0.5).astype(np.int64)
    sx = np.floor((wo - 1) / 2.0 - cx + 0.5).astype(np.int64)
    ny, nx = y + sy[ev_group], x + sx[ev_group]
    keep = (ny >= 0) & (ny < ho) & (nx >= 0) & (nx < wo)
    out[t[keep], p[keep], ny[keep], nx[keep]] = True
    return out


# -- pure encoding functions ---------------------------------------------------------------
def poisson_encode(
    clip: np.ndarray, *, max_rate: float, dt: float, steps_per_frame: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Bernoulli approximation of a Poisson process per pixel.

    In every step of frame ``f``, pixel ``i`` spikes with probability
    ``clip[f, i] * max_rate * dt`` (``dt`` in seconds here), so its expected count over the frame is
    ``clip[f, i] * max_rate * frame_duration``.

    Parameters
    ----------
    clip : ndarray, shape (T, ...), values in [0, 1]
    max_rate : float
        Rate of a pixel of intensity 1 (Hz).
    dt : float
        Time step (ms).
    steps_per_frame : int
    rng : numpy.random.Generator

    Returns
    -------
    indices, steps, n_channels, n_steps
        Spikes (unique, time-sorted), ``n_channels = prod(clip.shape[1:])`` and
        ``n_steps = T * steps_per_frame``.
    """
    n_frames = clip.shape[0]
    x = clip.reshape(n_frames, -1)
    n_pix = x.shape[1]
    prob = (x * np.float32(max_rate * ms_to_seconds(dt))).astype(np.float32)
    idx_parts, step_parts = [], []
    for f in range(n_frames):  # one (steps_per_frame, n_pix) draw per frame bounds memory
        draws = rng.random((steps_per_frame, n_pix), dtype=np.float32)
        s, i = np.nonzero(draws < prob[f])
        step_parts.append(s + f * steps_per_frame)
        idx_parts.append(i)
    idx, stp = unique_spikes(np.concatenate(idx_parts), np.concatenate(step_parts), n_pix)
    return idx, stp, n_pix, n_frames * steps_per_frame


def ttfs_encode(
    clip: np.ndarray, *, steps_per_frame: int, threshold: float = 0.0
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Time-to-first-spike (latency) code: one spike per pixel and frame.

    A pixel of intensity ``I > threshold`` fires once in each frame, at latency
    ``(1 - I) * (frame_duration - dt)``, i.e. step
    ``f * steps_per_frame + round((1 - I) * (steps_per_frame - 1))``: brighter is
    earlier, ``I = 1`` at the frame onset.

    Returns
    -------
    indices, steps, n_channels, n_steps
        As :func:`poisson_encode`.
    """
    n_frames = clip.shape[0]
    x = clip.reshape(n_frames, -1)
    f, i = np.nonzero(x > threshold)
    latency = np.rint((1.0 - x[f, i].astype(np.float64)) * (steps_per_frame - 1)).astype(np.int64)
    idx, stp = unique_spikes(i, f.astype(np.int64) * steps_per_frame + latency, x.shape[1])
    return idx, stp, x.shape[1], n_frames * steps_per_frame


def gaussian_fields(n_fields: int, sigma: float | None = None) -> tuple[np.ndarray, float]:
    """Centres and width of ``n_fields`` Gaussian receptive fields tiling [0, 1].

    Centres ``mu_j = j / (n_fields - 1)`` (0.5 for one field); default width
    ``sigma = spacing / BOHTE_BETA`` with ``spacing = 1 / (n_fields - 1)``.
    """
    if n_fields == 1:
        centres = np.array([0.5])
        spacing = 1.0
    else:
        centres = np.linspace(0.0, 1.0, n_fields)
        spacing = 1.0 / (n_fields - 1)
    return centres, float(sigma) if sigma is not None else spacing / BOHTE_BETA


def gaussian_encode(
    clip: np.ndarray,
    *,
    n_fields: int,
    sigma: float | None,
    steps_per_frame: int,
    mode: str = "latency",
    min_response: float = GAUSSIAN_MIN_RESPONSE,
    max_rate: float = 100.0,
    dt: float = DEFAULT_DT,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Population (positional) code with Gaussian receptive fields (Bohte et al., 2002).

    Each pixel value ``v`` drives ``n_fields`` channels ``pixel * n_fields + j`` with
    response ``r_j = exp(-(v - mu_j)**2 / (2 sigma**2))`` in ``(0, 1]``
    (:func:`gaussian_fields`).  In ``mode="latency"`` a field with
    ``r_j >= min_response`` fires once per frame at step
    ``round((1 - r_j) * (steps_per_frame - 1))`` after the frame onset, so the best
    matching field fires first; in ``mode="rate"`` it fires as a Bernoulli process
    with probability ``r_j * max_rate * dt`` per step (``max_rate`` in Hz, ``dt`` in ms
    converted to seconds; needs ``rng``).

    Returns
    -------
    indices, steps, n_channels, n_steps
        ``n_channels = prod(clip.shape[1:]) * n_fields``.
    """
    n_frames = clip.shape[0]
    x = clip.reshape(n_frames, -1).astype(np.float64)
    centres, width = gaussian_fields(n_fields, sigma)
    resp = np.exp(-((x[:, :, None] - centres) ** 2) / (2.0 * width**2))  # (T, P, n_fields)
    resp = resp.reshape(n_frames, -1)
    n_ch = resp.shape[1]
    if mode == "rate":
        if rng is None:
            raise ValueError("gaussian_encode: mode='rate' needs rng")
        return poisson_encode(resp, max_rate=max_rate, dt=dt, steps_per_frame=steps_per_frame, rng=rng)
    if mode != "latency":
        raise ValueError(f"mode must be 'latency' or 'rate', got {mode!r}")
    f, c = np.nonzero(resp >= min_response)
    latency = np.rint((1.0 - resp[f, c]) * (steps_per_frame - 1)).astype(np.int64)
    idx, stp = unique_spikes(c, f.astype(np.int64) * steps_per_frame + latency, n_ch)
    return idx, stp, n_ch, n_frames * steps_per_frame


def delta_encode(
    clip: np.ndarray,
    *,
    threshold: float,
    pool: int = 1,
    polarity: bool = True,
    steps_per_frame: int = 1,
    center: str | None = None,
    window: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """DVS-like change events from consecutive frame differences.

    With ``d_t = clip[t] - clip[t - 1]`` (``t >= 1``) and maps ``OFF = max(-d_t, 0)``,
    ``ON = max(d_t, 0)`` (or ``|d_t|`` without polarity), each max-pooled over
    ``pool x pool`` windows, a cell whose value exceeds ``threshold`` spikes once at
    the onset of frame ``t`` (step ``t * steps_per_frame``).  Frame 0 has no
    predecessor and emits nothing; the clip keeps its length.

    With ``center`` (``"clip"`` or ``"frame"``) the pixel events (``> threshold``)
    are first moved by :func:`center_maps` into a ``window`` (default ``(H, W)``)
    centred on their centroid, then pooled (a cell spikes if any of its pixels has an
    event, which equals max-pooling then thresholding).

    Parameters
    ----------
    clip : ndarray, shape (T, H, W), values in [0, 1]
    center : {None, "clip", "frame"}
    window : (H_out, W_out), optional
        Only with ``center``: output size in pixels before pooling.

    Returns
    -------
    indices, steps, n_channels, n_steps
        Channel ``(p * H' + y') * W' + x'`` (``p`` 0 = OFF, 1 = ON) with
        ``H' = ceil(H / pool)``, ``W' = ceil(W / pool)`` (``H_out``, ``W_out`` in
        place of ``H``, ``W`` with ``center``); ``n_channels = 2 H' W'`` with
        polarity, else ``H' W'``.
    """
    if clip.ndim != 3:
        raise StimulusError(f"delta_encode needs a clip of shape (T, H, W), got {clip.shape}")
    if center is None and window is not None:
        raise ValueError("window needs center ('clip' or 'frame')")
    n_frames, h, w = clip.shape
    if center is not None and window is not None:
        h, w = int(window[0]), int(window[1])
    hp, wp = -(-h // pool), -(-w // pool)
    n_pol = 2 if polarity else 1
    n_ch = n_pol * hp * wp
    d = np.diff(clip.astype(np.float32), axis=0)  # (T-1, H, W)
    if polarity:
        maps = np.stack([np.maximum(-d, 0.0), np.maximum(d, 0.0)], axis=1)  # (T-1, 2, H, W)
    else:
        maps = np.abs(d)[:, None]
    if center is None:
        pooled = _max_pool(maps, pool)
        f, p, yy, xx = np.nonzero(pooled > threshold)
    else:
        active = center_maps(maps > threshold, center, (h, w))
        f, p, yy, xx = np.nonzero(_max_pool(active.astype(np.uint8), pool))
    channel = (p.astype(np.int64) * hp + yy) * wp + xx
    idx, stp = unique_spikes(channel, (f.astype(np.int64) + 1) * steps_per_frame, n_ch)
    return idx, stp, n_ch, n_frames * steps_per_frame


def bin_events(
    events: np.ndarray,
    *,
    dt: float,
    sensor_size: tuple[int, int, int],
    pool: int = 1,
    n_steps: int | None = None,
    polarity: bool = True,
) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    """Event array -> spikes on the ``dt`` grid.

    Event ``(x, y, t, p)`` becomes a spike of channel
    ``(p * H' + y // pool) * W' + x // pool`` (``p`` taken as 0 without polarity) at
    step ``floor(t / dt)`` (``t`` in µs from 0, ``dt`` in ms); repeats in one step merge.

    Parameters
    ----------
    events : ndarray, EVENT_DTYPE
    dt : float
        Step (ms).
    sensor_size : (width, height, polarities)
    pool : int
        Spatial pooling factor; ``W' = ceil(width / pool)``, ``H' = ceil(height / pool)``.
    n_steps : int, optional
        Window length; events at steps ``>= n_steps`` are dropped (counted in the
        returned ``n_dropped``).  Default: up to the last event.
    polarity : bool
        Separate ON/OFF channels.

    Returns
    -------
    indices, steps, n_channels, n_steps, n_dropped
    """
    width, height, n_pol_sensor = (int(v) for v in sensor_size)
    hp, wp = -(-height // pool), -(-width // pool)
    n_pol = n_pol_sensor if polarity else 1
    n_ch = n_pol * hp * wp
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64)
    t = events["t"].astype(np.int64)
    p = events["p"].astype(np.int64) if polarity else np.zeros_like(x)
    if events.size:
        if x.max() >= width or y.max() >= height or (polarity and p.max() >= n_pol_sensor):
            raise StimulusError(
                f"event outside sensor_size {tuple(sensor_size)}: max x {x.max()}, max y {y.max()}, "
                f"max p {events['p'].max()}"
            )
        if t.min() < 0:
            raise StimulusError(f"negative event time {t.min()} µs")
    dt_us = dt * US_PER_MS
    if abs(dt_us - round(dt_us)) < 1e-6 * max(1.0, dt_us):
        step = t // int(round(dt_us))
    else:
        step = np.floor(t / dt_us).astype(np.int64)
    if n_steps is None:
        n_steps = int(step.max()) + 1 if step.size else 1
        if n_steps * dt > MAX_EVENT_SPAN_MS:
            raise StimulusError(
                f"events span {n_steps * dt / 1000:.6g} s (last event at t = {t.max()} µs), more than "
                f"{MAX_EVENT_SPAN_MS / 1000:g} s: a corrupt timestamp?  Give the window length "
                "(the events encoder's duration) to bound it"
            )
    keep = step < n_steps
    n_dropped = int((~keep).sum())
    channel = (p * hp + y // pool) * wp + x // pool
    idx, stp = unique_spikes(channel[keep], step[keep], n_ch)
    return idx, stp, n_ch, int(n_steps), n_dropped


def respike_split(clip: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """ReSpike decomposition of a clip into key frames and residual frames.

    Frames are grouped in runs of ``stride``; the first frame of each group is its
    key frame and ``residual[t] = clip[t] - clip[stride * (t // stride)]``.  The
    residual clip keeps the clip length (ReSpike processes one residual per time
    step): at key positions it is exactly 0.

    Parameters
    ----------
    clip : ndarray, shape (T, ...)
    stride : int
        Group length ``s >= 1`` (``s = 1`` makes every frame a key frame).

    Returns
    -------
    key_frames : ndarray, shape (ceil(T / stride), ...)
    residual_frames : ndarray, shape (T, ...), values in [-1, 1] for clips in [0, 1]
        Same float dtype as the clip (float32 for integer clips).
    """
    _require(_is_int(stride) and stride >= 1, "stride", stride, "must be an integer >= 1")
    arr = np.asarray(clip)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
    key_pos = np.arange(arr.shape[0]) // stride * stride
    key_frames = arr[::stride].copy()
    residual_frames = arr - arr[key_pos]
    return key_frames, residual_frames


# -- encoder classes --------------------------------------------------------------------------
class _Encoder:
    """Shared behaviour of the encoder dataclasses (subclasses define ``name`` and ``_encode``)."""

    name: ClassVar[str] = ""

    def _check_types(self) -> None:
        """Reject a value of the wrong type for any field (``threshold: true``, ``polarity: "no"``)."""
        check_options(
            f"encoder {self.name}",
            {f.name: getattr(self, f.name) for f in fields(self)},
            {f.name: f.type for f in fields(self) if isinstance(f.type, str)},
            "parameter",
        )

    def params(self) -> dict[str, Any]:
        """Parameters as a plain dict (nested encoders as ``{"name": ..., **params}``)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, _Encoder):
                v = {"name": v.name, **v.params()}
            out[f.name] = v
        return out

    def __call__(self, data, *, label: int | None = None, meta: dict | None = None) -> SpikeStimulus:
        """Encode ``data`` (a clip or an event array) into a :class:`SpikeStimulus`.

        ``meta`` (e.g. a :class:`~stimuli.types.Sample`'s meta) is copied into the
        stimulus' meta, with ``encoder`` and ``encoder_params`` added; ``meta["id"]``
        seeds stochastic encoders.
        """
        meta = dict(meta or {})
        idx, stp, n_ch, n_steps, extra = self._encode(data, meta)
        meta.update(extra)
        meta["encoder"] = self.name
        meta["encoder_params"] = self.params()
        return SpikeStimulus(idx, stp, n_ch, n_steps, float(self.dt), label=label, meta=meta)

    def _encode(self, data, meta: dict):  # pragma: no cover - abstract
        raise NotImplementedError


def _sample_name(meta: dict) -> str:
    return str(meta.get("id", meta.get("path", "sample")))


@dataclass(frozen=True)
class PoissonEncoder(_Encoder):
    """Rate code: each pixel a channel firing with probability ``I * max_rate * dt`` per step.

    Parameters
    ----------
    max_rate : float
        Rate of intensity 1 (Hz); ``max_rate * dt <= 1``.
    frame_duration : float
        Simulated time per frame (ms).
    dt : float
        Time step (ms).
    seed : int
        Base seed, combined with ``meta["id"]``.
    """

    max_rate: float = 100.0
    frame_duration: float = DEFAULT_FRAME_DURATION
    dt: float = DEFAULT_DT
    seed: int = 0
    name: ClassVar[str] = "poisson"

    def __post_init__(self):
        self._check_types()
        _check_dt(self.dt)
        _check_frame_duration(self.frame_duration, self.dt)
        _check_rate(self.max_rate, self.dt)
        _check_seed(self.seed)

    def _encode(self, data, meta):
        clip = _as_clip(data, self.name, _sample_name(meta))
        spf = steps_per_frame(self.frame_duration, self.dt)
        rng = derive_rng(self.seed, meta.get("id"))
        out = poisson_encode(clip, max_rate=self.max_rate, dt=self.dt, steps_per_frame=spf, rng=rng)
        return (*out, {"steps_per_frame": spf, "frame_shape": tuple(clip.shape[1:]), **_pixel_grid(clip)})


@dataclass(frozen=True)
class TTFSEncoder(_Encoder):
    """Latency code: one spike per pixel and frame, brighter earlier (:func:`ttfs_encode`).

    Parameters
    ----------
    frame_duration : float
        Simulated time per frame (ms).
    dt : float
        Time step (ms).
    threshold : float
        Pixels with intensity ``<= threshold`` stay silent.
    """

    frame_duration: float = DEFAULT_FRAME_DURATION
    dt: float = DEFAULT_DT
    threshold: float = 0.0
    name: ClassVar[str] = "ttfs"

    def __post_init__(self):
        self._check_types()
        _check_dt(self.dt)
        _check_frame_duration(self.frame_duration, self.dt)
        _check_threshold(self.threshold)

    def _encode(self, data, meta):
        clip = _as_clip(data, self.name, _sample_name(meta))
        spf = steps_per_frame(self.frame_duration, self.dt)
        out = ttfs_encode(clip, steps_per_frame=spf, threshold=self.threshold)
        return (*out, {"steps_per_frame": spf, "frame_shape": tuple(clip.shape[1:]), **_pixel_grid(clip)})


@dataclass(frozen=True)
class GaussianEncoder(_Encoder):
    """Population code with ``n_fields`` Gaussian receptive fields per pixel (:func:`gaussian_encode`).

    Parameters
    ----------
    n_fields : int
        Fields per pixel; channel ``pixel * n_fields + field``.
    sigma : float, optional
        Field width in intensity units (default ``spacing / BOHTE_BETA``).
    frame_duration, dt : float
        Milliseconds per frame and per step.
    mode : {"latency", "rate"}
        Best field fires earliest (one spike per frame), or most (Bernoulli rate).
    min_response : float
        Latency mode: fields responding below this stay silent.
    max_rate : float
        Rate mode: rate of a perfectly matched field (Hz).
    seed : int
        Rate mode: base seed.
    """

    n_fields: int = 5
    sigma: float | None = None
    frame_duration: float = DEFAULT_FRAME_DURATION
    dt: float = DEFAULT_DT
    mode: str = "latency"
    min_response: float = GAUSSIAN_MIN_RESPONSE
    max_rate: float = 100.0
    seed: int = 0
    name: ClassVar[str] = "gaussian"

    def __post_init__(self):
        self._check_types()
        _require(_is_int(self.n_fields) and self.n_fields >= 1, "n_fields", self.n_fields, "must be an integer >= 1")
        _require(
            self.sigma is None or (isinstance(self.sigma, (int, float)) and self.sigma > 0),
            "sigma",
            self.sigma,
            "must be None or > 0",
        )
        _check_dt(self.dt)
        _check_frame_duration(self.frame_duration, self.dt)
        _require(self.mode in ("latency", "rate"), "mode", self.mode, "must be 'latency' or 'rate'")
        _require(
            isinstance(self.min_response, (int, float)) and 0 <= self.min_response < 1,
            "min_response",
            self.min_response,
            "must lie in [0, 1)",
        )
        _check_rate(self.max_rate, self.dt)
        _check_seed(self.seed)

    def _encode(self, data, meta):
        clip = _as_clip(data, self.name, _sample_name(meta))
        spf = steps_per_frame(self.frame_duration, self.dt)
        rng = derive_rng(self.seed, meta.get("id")) if self.mode == "rate" else None
        out = gaussian_encode(
            clip,
            n_fields=self.n_fields,
            sigma=self.sigma,
            steps_per_frame=spf,
            mode=self.mode,
            min_response=self.min_response,
            max_rate=self.max_rate,
            dt=self.dt,
            rng=rng,
        )
        return (
            *out,
            {"steps_per_frame": spf, "frame_shape": tuple(clip.shape[1:]), **_pixel_grid(clip, fields=self.n_fields)},
        )


@dataclass(frozen=True)
class DeltaEncoder(_Encoder):
    """DVS-like ON/OFF events from frame differences (:func:`delta_encode`).

    Parameters
    ----------
    threshold : float
        Minimum ``|frame_t - frame_{t-1}|`` (intensity units, strict ``>``).
    pool : int
        Max-pooling window ``pool x pool``.
    frame_duration, dt : float
        Milliseconds per frame and per step.
    polarity : bool
        Separate OFF (0) and ON (1) channels.
    center : {None, "clip", "frame"}
        Motion centring (off by default): move the events so that their centroid --
        of the whole clip, or of each frame -- sits at the centre of ``window``
        (:func:`center_maps`), removing where in the frame the action happens.
    window : (height, width), optional
        With ``center``: output size in pixels (before pooling); default the frame
        size.  Events falling outside are dropped.  ``n_channels`` follows it.
    """

    threshold: float = 0.1
    pool: int = 1
    frame_duration: float = DEFAULT_FRAME_DURATION
    dt: float = DEFAULT_DT
    polarity: bool = True
    center: str | None = None
    window: tuple[int, int] | None = None
    name: ClassVar[str] = "delta"

    def __post_init__(self):
        self._check_types()
        _check_threshold(self.threshold)
        _check_pool(self.pool)
        _check_dt(self.dt)
        _check_frame_duration(self.frame_duration, self.dt)
        _require(
            self.center is None or self.center in CENTER_MODES,
            "center",
            self.center,
            f"must be None or one of {CENTER_MODES}",
        )
        if self.window is not None:
            _require(self.center is not None, "window", self.window, "needs center ('clip' or 'frame')")
            ok = (
                isinstance(self.window, (tuple, list))
                and len(self.window) == 2
                and all(_is_int(v) and v >= 1 for v in self.window)
            )
            _require(ok, "window", self.window, "must be (height, width) of positive integers")
            object.__setattr__(self, "window", tuple(int(v) for v in self.window))

    def _grid(self, clip) -> dict:
        h, w = self.window if self.center is not None and self.window is not None else clip.shape[1:]
        return _grid_meta((2 if self.polarity else 1, -(-h // self.pool), -(-w // self.pool)), "myx")

    def _encode(self, data, meta):
        clip = _as_clip(data, self.name, _sample_name(meta))
        if clip.ndim != 3:
            raise StimulusError(f"{_sample_name(meta)}: delta needs a grey clip (T, H, W), got {clip.shape}")
        spf = steps_per_frame(self.frame_duration, self.dt)
        out = delta_encode(
            clip,
            threshold=self.threshold,
            pool=self.pool,
            polarity=self.polarity,
            steps_per_frame=spf,
            center=self.center,
            window=self.window,
        )
        return (*out, {"steps_per_frame": spf, "frame_shape": tuple(clip.shape[1:]), **self._grid(clip)})


@dataclass(frozen=True)
class EventBinner(_Encoder):
    """Event array -> spikes on the ``dt`` grid (:func:`bin_events`).

    Parameters
    ----------
    dt : float
        Time step (ms).
    sensor_size : (width, height, polarities), optional
        Default: ``meta["sensor_size"]`` if given, else inferred from the events
        (:func:`~stimuli.events.sensor_size_of`; give it explicitly so that all
        samples share one channel count).
    pool : int
        Spatial pooling factor.
    duration : float, optional
        Window length (ms); later events are dropped and counted in
        ``meta["n_events_dropped"]``.  Default: up to the last event.
    polarity : bool
        Separate OFF (0) / ON (1) channels.
    """

    dt: float = DEFAULT_DT
    sensor_size: tuple[int, int, int] | None = None
    pool: int = 1
    duration: float | None = None
    polarity: bool = True
    name: ClassVar[str] = "events"

    def __post_init__(self):
        self._check_types()
        _check_dt(self.dt)
        _check_pool(self.pool)
        if self.sensor_size is not None:
            size = tuple(int(v) for v in self.sensor_size)
            _require(
                len(size) == 3 and min(size) >= 1,
                "sensor_size",
                self.sensor_size,
                "must be (width, height, polarities) of positive integers",
            )
            object.__setattr__(self, "sensor_size", size)
        _require(
            self.duration is None or (isinstance(self.duration, (int, float)) and self.duration >= self.dt),
            "duration",
            self.duration,
            f"must be None or >= dt ({self.dt} ms)",
        )

    def _encode(self, data, meta):
        ev = np.asarray(data)
        if ev.dtype.names is None or not {"x", "y", "t", "p"} <= set(ev.dtype.names):
            raise StimulusError(f"{_sample_name(meta)}: events encoder needs an event array (x, y, t, p)")
        size = self.sensor_size or meta.get("sensor_size") or sensor_size_of(ev)
        size = tuple(int(v) for v in size)
        n_steps = None if self.duration is None else steps_per_frame(self.duration, self.dt)
        try:
            idx, stp, n_ch, n_steps, dropped = bin_events(
                ev, dt=self.dt, sensor_size=size, pool=self.pool, n_steps=n_steps, polarity=self.polarity
            )
        except StimulusError as exc:
            raise StimulusError(f"{meta.get('path') or _sample_name(meta)}: {exc}") from None
        maps = size[2] if self.polarity else 1
        grid = _grid_meta((maps, -(-size[1] // self.pool), -(-size[0] // self.pool)), "myx")
        return idx, stp, n_ch, n_steps, {"sensor_size": size, "n_events_dropped": dropped, **grid}


_CLIP_ENCODERS = (PoissonEncoder, TTFSEncoder, GaussianEncoder, DeltaEncoder)


@dataclass(frozen=True)
class ResidualEncoder(_Encoder):
    """ReSpike residual-frame code: encode ``clip - key frame`` with an inner clip encoder.

    The clip is split with :func:`respike_split`; the residual frames (clip length,
    zero at key positions) are encoded by ``inner``, the key frames go to
    ``meta["key_frames"]`` (shape ``(ceil(T / stride), H, W)``) for a frame branch.

    Parameters
    ----------
    stride : int
        Frames per group (``s`` in ReSpike).
    inner : encoder
        Poisson, TTFS or Gaussian encoder (Delta only with ``signed=False``).
    signed : bool
        If True the inner encoder sees ``(T, 2, H, W)``: channel block 0 the negative
        part ``max(-g * r, 0)`` (OFF), block 1 the positive part ``max(g * r, 0)`` (ON),
        so channel ``(sign * H + y) * W + x``; else ``|g * r|`` on ``H * W`` channels.
    gain : float
        ``g``, scales residuals before clipping to [0, 1] (residuals are small).
    pool : int
        Max-pool the (scaled, clipped) residual maps ``pool x pool`` before the
        inner encoder: ``ceil(H / pool) x ceil(W / pool)`` pixels per map.  The key
        frames keep full resolution.
    """

    stride: int = 4
    inner: Any = field(default_factory=PoissonEncoder)
    signed: bool = True
    gain: float = 1.0
    pool: int = 1
    name: ClassVar[str] = "residual"

    def __post_init__(self):
        self._check_types()
        _require(_is_int(self.stride) and self.stride >= 1, "stride", self.stride, "must be an integer >= 1")
        object.__setattr__(self, "inner", _resolve_inner(self.inner))
        _require(isinstance(self.gain, (int, float)) and self.gain > 0, "gain", self.gain, "must be > 0")
        _check_pool(self.pool)
        if self.signed and isinstance(self.inner, DeltaEncoder):
            raise ValueError("inner: DeltaEncoder needs (T, H, W) input; use signed=False")

    @property
    def dt(self) -> float:
        return self.inner.dt

    def _encode(self, data, meta):
        clip = _as_clip(data, self.name, _sample_name(meta))
        key_frames, residual = respike_split(clip, self.stride)
        scaled = residual * np.float32(self.gain)
        if self.signed:
            x = np.stack([np.maximum(-scaled, 0.0), np.maximum(scaled, 0.0)], axis=1)
        else:
            x = np.abs(scaled)
        x = _max_pool(np.clip(x, 0.0, 1.0), int(self.pool))
        inner_stim = self.inner(x, meta=meta)
        extra = {k: v for k, v in inner_stim.meta.items() if k in ("steps_per_frame", "channel_shape", "channel_order")}
        extra.update({"key_frames": key_frames, "stride": self.stride, "frame_shape": tuple(clip.shape[1:])})
        return inner_stim.indices, inner_stim.steps, inner_stim.n_channels, inner_stim.n_steps, extra


#: Registry of :func:`get_encoder`.
ENCODERS: dict[str, type] = {
    "poisson": PoissonEncoder,
    "ttfs": TTFSEncoder,
    "gaussian": GaussianEncoder,
    "delta": DeltaEncoder,
    "events": EventBinner,
    "residual": ResidualEncoder,
}


def _resolve_inner(inner):
    if isinstance(inner, str):
        inner = get_encoder(inner)
    elif isinstance(inner, dict):
        spec = dict(inner)
        if "name" not in spec:
            raise ValueError("inner: a dict needs a 'name' key")
        inner = get_encoder(spec.pop("name"), **spec)
    if not isinstance(inner, _CLIP_ENCODERS):
        raise ValueError(f"inner must be a poisson, ttfs, gaussian or delta encoder, got {inner!r}")
    return inner


def get_encoder(name: str, **params) -> _Encoder:
    """Build an encoder by registry name.

    Parameters
    ----------
    name : str
        One of ``"poisson", "ttfs", "gaussian", "delta", "events", "residual"``.
    **params
        Constructor arguments.  For ``"residual"``, ``inner`` may be an encoder, a
        name or a dict ``{"name": ..., **params}`` (what ``params()`` returns), so
        ``get_encoder(enc.name, **enc.params())`` rebuilds ``enc``.

    Raises
    ------
    ValueError
        Unknown name, unknown parameter, or invalid value (the message names it).
    """
    try:
        cls = ENCODERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown encoder {name!r}; known: {sorted(ENCODERS)}") from None
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for encoder {name!r}; allowed: {sorted(allowed)}")
    return cls(**params)
