"""Spike encoders: coding properties, time grid, reproducibility, registry and validation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from stimuli.encoders import (
    ENCODERS,
    DeltaEncoder,
    EventBinner,
    GaussianEncoder,
    PoissonEncoder,
    ResidualEncoder,
    TTFSEncoder,
    center_maps,
    gaussian_fields,
    get_encoder,
    respike_split,
    unique_spikes,
)
from stimuli.types import SpikeStimulus, StimulusError, make_events


def pairs(stim: SpikeStimulus) -> set[tuple[int, int]]:
    return set(zip(stim.indices.tolist(), stim.steps.tolist(), strict=True))


# -- Poisson ---------------------------------------------------------------------------------------
def test_poisson_count_grows_with_intensity():
    levels = np.linspace(0.0, 1.0, 11)
    n_per_level = 400
    frame = np.repeat(levels, n_per_level)[None, :, None].astype(np.float32)  # (1, 4400, 1)
    enc = PoissonEncoder(max_rate=200.0, frame_duration=100.0, dt=1.0, seed=7)
    stim = enc(frame, meta={"id": "ramp"})
    counts = stim.counts().reshape(11, n_per_level).mean(axis=1)
    assert counts[0] == 0.0
    assert np.all(np.diff(counts) > 0)
    # expected count = I * max_rate * frame_duration (Bernoulli per step); 400 pixels per level
    np.testing.assert_allclose(counts, levels * 200.0 * 0.1, atol=0.6)


def test_poisson_seed_reproducibility_and_per_sample_streams():
    clip = np.full((3, 20, 20), 0.5, dtype=np.float32)
    enc = PoissonEncoder(seed=3)
    a = enc(clip, meta={"id": "s1"})
    b = enc(clip, meta={"id": "s1"})
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.steps, b.steps)
    c = enc(clip, meta={"id": "s2"})
    d = PoissonEncoder(seed=4)(clip, meta={"id": "s1"})
    assert pairs(a) != pairs(c) and pairs(a) != pairs(d)
    assert a.n_steps == 3 * 50 and a.n_channels == 400
    assert a.meta["encoder"] == "poisson" and a.meta["id"] == "s1"


# -- TTFS -------------------------------------------------------------------------------------------------
def test_ttfs_orders_spikes_by_brightness():
    rng = np.random.default_rng(0)
    values = rng.permutation(np.linspace(0.05, 1.0, 20)).astype(np.float32)
    clip = np.stack([values, values[::-1]])[:, None, :]  # (2, 1, 20)
    enc = TTFSEncoder(frame_duration=100.0, dt=1.0)
    stim = enc(clip)
    assert stim.n_spikes == 40  # one spike per pixel and frame
    for f, vals in enumerate((values, values[::-1])):
        in_frame = (stim.steps >= f * 100) & (stim.steps < (f + 1) * 100)
        idx, steps = stim.indices[in_frame], stim.steps[in_frame] - f * 100
        order = idx[np.argsort(steps, kind="stable")]
        np.testing.assert_array_equal(order, np.argsort(-vals, kind="stable"))
        # latency (1 - I) * (frame_duration - dt): I = 1 at step 0
        expected = np.rint((1 - vals[idx]) * 99).astype(int)
        np.testing.assert_array_equal(steps, expected)
    assert stim.steps[stim.indices == int(np.argmax(values))].min() == 0


def test_ttfs_threshold_silences_dark_pixels():
    clip = np.array([[[0.0, 0.2, 0.21, 0.9]]], dtype=np.float32)
    stim = TTFSEncoder(threshold=0.2)(clip)
    assert sorted(stim.indices.tolist()) == [2, 3]


# -- Gaussian ------------------------------------------------------------------------------------------------
def test_gaussian_closest_field_fires_first():
    centres, sigma = gaussian_fields(5)
    np.testing.assert_allclose(centres, [0, 0.25, 0.5, 0.75, 1.0])
    assert sigma == pytest.approx(0.25 / 1.5)
    values = np.array([0.02, 0.26, 0.49, 0.70, 0.97], dtype=np.float32)
    enc = GaussianEncoder(n_fields=5, frame_duration=50.0, dt=1.0)
    stim = enc(values[None, None, :])
    assert stim.n_channels == 25
    for pix, v in enumerate(values):
        mine = (stim.indices // 5) == pix
        first_field = stim.indices[mine][np.argmin(stim.steps[mine])] % 5
        assert first_field == int(np.argmin(np.abs(centres - v))), (pix, v)
        # far fields (response < 0.1) stay silent
        assert set((stim.indices[mine] % 5).tolist()) <= set(np.flatnonzero(np.abs(centres - v) < 0.36).tolist())


def test_gaussian_rate_mode_best_field_fires_most():
    clip = np.full((1, 50, 1), 0.5, dtype=np.float32)
    stim = GaussianEncoder(n_fields=5, mode="rate", max_rate=500.0, frame_duration=100.0, seed=1)(clip)
    per_field = stim.counts().reshape(50, 5).sum(axis=0)
    assert np.argmax(per_field) == 2
    assert per_field[2] > per_field[1] > per_field[0]


# -- Delta --------------------------------------------------------------------------------------------------
def _delta_reference(clip, threshold, pool):
    """Loop reference: (channel, step) pairs of the ON/OFF delta code, steps_per_frame = 1."""
    t_n, h, w = clip.shape
    hp, wp = -(-h // pool), -(-w // pool)
    out = set()
    for t in range(1, t_n):
        d = clip[t].astype(np.float64) - clip[t - 1]
        for yy in range(hp):
            for xx in range(wp):
                block = d[yy * pool : (yy + 1) * pool, xx * pool : (xx + 1) * pool]
                if block.max() > threshold:
                    out.add(((1 * hp + yy) * wp + xx, t))
                if (-block).max() > threshold:
                    out.add(((0 * hp + yy) * wp + xx, t))
    return out


def test_delta_events_only_above_threshold_with_polarity():
    clip = np.zeros((3, 2, 3), dtype=np.float32)
    clip[1, 0, 0] = 0.5  # brightens by 0.5 -> ON at frame 1
    clip[1, 0, 1] = 0.05  # below threshold -> nothing
    clip[1, 1, 2] = 0.3  # brightens, then darkens at frame 2 -> ON then OFF
    clip[2, 0, 0] = 0.5  # unchanged at frame 2
    enc = DeltaEncoder(threshold=0.1, frame_duration=10.0, dt=1.0)
    stim = enc(clip)
    assert stim.n_channels == 2 * 6 and stim.n_steps == 30
    on, off = 6, 0
    assert pairs(stim) == {(on + 0, 10), (on + 5, 10), (off + 5, 20)}
    mono = DeltaEncoder(threshold=0.1, polarity=False, frame_duration=10.0)(clip)
    assert mono.n_channels == 6
    assert pairs(mono) == {(0, 10), (5, 10), (5, 20)}
    assert DeltaEncoder(threshold=0.6, frame_duration=10.0)(clip).n_spikes == 0


@pytest.mark.parametrize("pool", [1, 2, 3])
def test_delta_matches_reference_with_pooling(pool):
    rng = np.random.default_rng(pool)
    clip = rng.random((6, 7, 8)).astype(np.float32)
    stim = DeltaEncoder(threshold=0.6, pool=pool, frame_duration=1.0, dt=1.0)(clip)
    assert stim.n_channels == 2 * (-(-7 // pool)) * (-(-8 // pool))
    ref = _delta_reference(clip, 0.6, pool)
    assert len(ref) > 0 and pairs(stim) == ref


def test_delta_pooling_merges_a_block():
    clip = np.zeros((2, 4, 4), dtype=np.float32)
    clip[1, 0, 1] = 1.0
    clip[1, 1, 0] = 1.0  # same 2x2 block -> one ON spike
    clip[1, 3, 3] = 1.0  # block (1, 1)
    stim = DeltaEncoder(threshold=0.5, pool=2, frame_duration=1.0)(clip)
    on = 4
    assert pairs(stim) == {(on + 0, 1), (on + 3, 1)}


# -- EventBinner ----------------------------------------------------------------------------------------------
def test_event_binner_channels_and_duplicates():
    # (x, y, t us, p)
    ev = make_events([0, 0, 5, 3, 33], [0, 0, 2, 1, 33], [100, 900, 1500, 1500, 9999], [1, 1, 0, 1, 0])
    enc = EventBinner(dt=1.0, sensor_size=(34, 34, 2), pool=2)
    stim = enc(ev)
    hp = wp = 17
    assert stim.n_channels == 2 * hp * wp and stim.n_steps == 10
    expected = {
        ((1 * hp + 0) * wp + 0, 0),  # two ON events at (0, 0) in step 0 -> one spike
        ((0 * hp + 1) * wp + 2, 1),  # OFF at (5, 2) -> cell (x 2, y 1)
        ((1 * hp + 0) * wp + 1, 1),  # ON at (3, 1) -> cell (1, 0)
        ((0 * hp + 16) * wp + 16, 9),
    }
    assert pairs(stim) == expected
    cropped = EventBinner(dt=1.0, sensor_size=(34, 34, 2), duration=5.0)(ev)
    assert cropped.n_steps == 5 and cropped.meta["n_events_dropped"] == 1
    merged = EventBinner(dt=1.0, polarity=False)(ev, meta={"sensor_size": (40, 40, 2)})
    assert merged.n_channels == 1600 and merged.meta["sensor_size"] == (40, 40, 2)
    with pytest.raises(StimulusError, match="sensor_size"):
        EventBinner(sensor_size=(20, 20, 2))(ev)


# -- ReSpike ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stride", [1, 3, 4])
def test_respike_split_residual_is_frame_minus_key(stride):
    rng = np.random.default_rng(stride)
    clip = rng.random((10, 5, 6)).astype(np.float32)
    key_frames, residual = respike_split(clip, stride)
    assert key_frames.shape == (-(-10 // stride), 5, 6)
    assert residual.shape == clip.shape and residual.dtype == np.float32
    for t in range(10):
        k = (t // stride) * stride
        assert np.array_equal(residual[t], clip[t] - clip[k])
        assert np.array_equal(key_frames[t // stride], clip[k])
        if t % stride == 0:
            assert not residual[t].any()
    with pytest.raises(ValueError, match="stride"):
        respike_split(clip, 0)


def test_residual_encoder_signed_channels_and_key_frames():
    clip = np.full((4, 2, 2), 0.5, dtype=np.float32)
    clip[1, 0, 0] = 1.0  # +0.5 w.r.t. key frame 0 -> ON block
    clip[3, 1, 1] = 0.1  # -0.4 w.r.t. key frame 2 -> OFF block
    enc = ResidualEncoder(stride=2, inner=TTFSEncoder(frame_duration=11.0, dt=1.0))
    stim = enc(clip, label=3, meta={"id": "r"})
    assert stim.n_channels == 2 * 4 and stim.label == 3
    np.testing.assert_array_equal(stim.meta["key_frames"], clip[::2])
    # TTFS with spf = 11: latency round((1 - I) * 10)
    assert pairs(stim) == {(4 + 0, 11 + 5), (0 + 3, 33 + 6)}
    unsigned = ResidualEncoder(stride=2, inner="ttfs", signed=False)(clip)
    assert unsigned.n_channels == 4 and set(unsigned.indices.tolist()) == {0, 3}


# -- unique_spikes and duplicates -------------------------------------------------------------------------------
def test_unique_spikes_property():
    for seed in range(30):
        rng = np.random.default_rng(seed)
        n_ch = int(rng.integers(1, 20))
        idx = rng.integers(0, n_ch, 200)
        steps = rng.integers(0, 15, 200)
        u_idx, u_steps = unique_spikes(idx, steps, n_ch)
        assert u_idx.dtype == np.int32 and u_steps.dtype == np.int64
        assert set(zip(u_idx.tolist(), u_steps.tolist(), strict=True)) == set(
            zip(idx.tolist(), steps.tolist(), strict=True)
        )
        assert len(u_idx) == len(set(zip(idx.tolist(), steps.tolist(), strict=True)))
        assert np.all(np.diff(u_steps) >= 0)
    with pytest.raises(ValueError, match="range"):
        unique_spikes([0, 5], [0, 0], 5)


def random_encoder(rng):
    fd = float(rng.choice([1.0, 2.0, 5.0]))
    choice = rng.integers(0, 6)
    if choice == 0:
        return PoissonEncoder(max_rate=900.0, frame_duration=fd, seed=int(rng.integers(100)))
    if choice == 1:
        return TTFSEncoder(frame_duration=fd)
    if choice == 2:
        return GaussianEncoder(
            n_fields=int(rng.integers(1, 6)),
            frame_duration=fd,
            mode=str(rng.choice(["latency", "rate"])),
            max_rate=900.0,
        )
    if choice == 3:
        return DeltaEncoder(threshold=float(rng.random() * 0.5), pool=int(rng.integers(1, 4)), frame_duration=fd)
    if choice == 4:
        return ResidualEncoder(stride=int(rng.integers(1, 4)), inner=TTFSEncoder(frame_duration=fd))
    return EventBinner(dt=float(rng.choice([0.1, 1.0])), sensor_size=(9, 7, 2), pool=int(rng.integers(1, 4)))


def random_input(enc, rng):
    if isinstance(enc, EventBinner):
        n = 300
        # many events share pixel and step: duplicates the binner must merge
        return make_events(
            rng.integers(0, 9, n), rng.integers(0, 7, n), rng.integers(0, 3000, n), rng.integers(0, 2, n)
        )
    clip = rng.random((int(rng.integers(1, 5)), 7, 9)).astype(np.float32)
    clip[rng.random(clip.shape) < 0.3] = 1.0  # saturated pixels: latency 0 in every frame
    return clip


def test_no_duplicate_spikes_for_random_inputs():
    for seed in range(60):
        rng = np.random.default_rng(seed)
        enc = random_encoder(rng)
        stim = enc(random_input(enc, rng), meta={"id": f"r{seed}"})
        key = stim.steps * stim.n_channels + stim.indices
        assert np.unique(key).size == key.size, enc
        assert np.all(np.diff(stim.steps) >= 0)
        assert stim.n_spikes == 0 or (stim.steps.max() < stim.n_steps and stim.indices.max() < stim.n_channels)


# -- registry, immutability, validation -------------------------------------------------------------------
def test_registry_round_trip_and_frozen():
    for name, cls in ENCODERS.items():
        enc = get_encoder(name)
        assert isinstance(enc, cls) and enc.name == name
        assert get_encoder(name, **enc.params()) == enc
    enc = get_encoder("residual", stride=3, inner={"name": "gaussian", "n_fields": 3})
    assert enc.inner == GaussianEncoder(n_fields=3)
    assert enc.params()["inner"]["name"] == "gaussian"
    with pytest.raises(dataclasses.FrozenInstanceError):
        enc.stride = 2
    clip = np.random.default_rng(0).random((3, 4, 4)).astype(np.float32)
    for name in ("poisson", "ttfs", "gaussian", "delta", "residual"):
        e = get_encoder(name)
        a, b = e(clip, meta={"id": "x"}), e(clip, meta={"id": "x"})
        assert pairs(a) == pairs(b), name  # stateless


@pytest.mark.parametrize(
    "name,params,word",
    [
        ("nope", {}, "nope"),
        ("poisson", {"rate": 5}, "rate"),
        ("poisson", {"dt": 0}, "dt"),
        ("poisson", {"dt": -1.0}, "dt"),
        ("poisson", {"max_rate": 2000.0}, "max_rate"),
        ("poisson", {"seed": -1}, "seed"),
        ("ttfs", {"threshold": -0.1}, "threshold"),
        ("ttfs", {"frame_duration": 0.1}, "frame_duration"),
        ("delta", {"threshold": -0.01}, "threshold"),
        ("delta", {"pool": 0}, "pool"),
        ("gaussian", {"n_fields": 0}, "n_fields"),
        ("gaussian", {"mode": "burst"}, "mode"),
        ("residual", {"stride": 0}, "stride"),
        ("residual", {"inner": "events"}, "inner"),
        ("residual", {"inner": "delta"}, "inner"),
        ("events", {"pool": 0}, "pool"),
        ("events", {"sensor_size": (34, 34)}, "sensor_size"),
    ],
)
def test_invalid_parameters_raise_value_error_naming_them(name, params, word):
    with pytest.raises(ValueError, match=word):
        get_encoder(name, **params)


def test_bad_data_raises_stimulus_error():
    ev = make_events([0], [0], [0], [1])
    with pytest.raises(StimulusError, match="event array"):
        PoissonEncoder()(ev, meta={"id": "e"})
    with pytest.raises(StimulusError, match="bright"):
        TTFSEncoder()(np.full((1, 2, 2), 1.5), meta={"id": "bright"})
    with pytest.raises(StimulusError, match="nan"):
        TTFSEncoder()(np.full((1, 2, 2), np.nan), meta={"id": "nan"})
    with pytest.raises(StimulusError, match="needs an event array"):
        EventBinner()(np.zeros((2, 3, 3)))
    with pytest.raises(StimulusError, match="T, H, W"):
        DeltaEncoder()(np.zeros((2, 3, 3, 3)))


# -- motion centring (DeltaEncoder center / window) ------------------------------------------------
def _walker(n_frames=6, shape=(30, 40), start=(8, 5), step=(0, 2)):
    """A 5x3 bright block moving ``step`` pixels per frame on a dark background."""
    clip = np.zeros((n_frames, *shape), dtype=np.float32)
    for t in range(n_frames):
        y, x = start[0] + t * step[0], start[1] + t * step[1]
        clip[t, y : y + 5, x : x + 3] = 0.9
        clip[t, y + 1, x + 1] = 0.4  # some texture
    return clip


def _shift(clip, dy, dx):
    out = np.zeros_like(clip)
    h, w = clip.shape[1:]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = clip[
        :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def test_center_off_by_default_and_in_params():
    enc = DeltaEncoder(threshold=0.2)
    assert enc.center is None and enc.window is None
    assert enc.params()["center"] is None and enc.params()["window"] is None
    clip = _walker()
    assert pairs(enc(clip)) == pairs(DeltaEncoder(threshold=0.2, center=None)(clip))
    on = get_encoder("delta", threshold=0.2, center="frame", window=[16, 12], pool=2)
    assert on.window == (16, 12) and get_encoder("delta", **on.params()) == on
    assert on.params() != enc.params()  # the cache keys on params(): centring changes the key


@pytest.mark.parametrize("mode", ["clip", "frame"])
@pytest.mark.parametrize("pool", [1, 3])
@pytest.mark.parametrize("dy,dx", [(0, 7), (5, -3), (-4, 11)])
def test_centred_events_are_translation_invariant(mode, pool, dy, dx):
    clip = _walker()
    enc = DeltaEncoder(threshold=0.2, pool=pool, center=mode, window=(20, 24), frame_duration=2.0)
    ref, moved = enc(clip), enc(_shift(clip, dy, dx))
    assert ref.n_spikes > 0 and ref.n_channels == 2 * (-(-20 // pool)) * (-(-24 // pool))
    assert pairs(moved) == pairs(ref)
    # without centring the same translation changes the channels
    plain = DeltaEncoder(threshold=0.2, pool=pool, frame_duration=2.0)
    assert pairs(plain(_shift(clip, dy, dx))) != pairs(plain(clip))


def test_frame_centring_removes_translation_within_the_clip():
    walking = _walker(step=(0, 3))
    enc = DeltaEncoder(threshold=0.2, center="frame", window=(16, 16), frame_duration=1.0)
    stim = enc(walking)
    # every frame of a rigidly moving block looks the same after per-frame centring
    by_step = {}
    for i, s in zip(stim.indices, stim.steps, strict=True):
        by_step.setdefault(int(s), set()).add(int(i))
    frames = list(by_step.values())
    assert len(frames) == walking.shape[0] - 1 and all(f == frames[0] for f in frames)
    # clip centring keeps the motion: the channels of successive frames differ
    clip_c = DeltaEncoder(threshold=0.2, center="clip", window=(30, 40), frame_duration=1.0)(walking)
    by_step = {}
    for i, s in zip(clip_c.indices, clip_c.steps, strict=True):
        by_step.setdefault(int(s), set()).add(int(i))
    assert len({frozenset(v) for v in by_step.values()}) > 1


def test_center_maps_puts_the_centroid_in_the_middle():
    active = np.zeros((2, 2, 9, 9), dtype=bool)
    active[0, 1, 0, 0] = active[0, 0, 0, 2] = True  # frame 0: centroid (0, 1)
    active[1, 1, 8, 8] = True  # frame 1: centroid (8, 8)
    out = center_maps(active, "frame", (5, 5))
    assert out.shape == (2, 2, 5, 5)
    assert out[0, 1, 2, 1] and out[0, 0, 2, 3] and out[0].sum() == 2
    assert out[1, 1, 2, 2] and out[1].sum() == 1
    clip_mode = center_maps(active, "clip", (9, 9))  # centroid (8/3, 10/3) -> shift (1, 1)
    assert clip_mode[0, 1, 1, 1] and clip_mode[0, 0, 1, 3] and clip_mode.sum() == 2  # (8, 8) leaves
    assert not center_maps(np.zeros((3, 1, 4, 4), bool), "frame").any()
    # a frame without events stays empty and does not disturb the others
    active[0] = False
    assert center_maps(active, "frame", (5, 5))[1, 1, 2, 2]


def test_window_is_cropped_not_wrapped():
    clip = np.zeros((2, 20, 20), dtype=np.float32)
    clip[1, 2:18, 10] = 1.0  # a 16-pixel vertical line
    stim = DeltaEncoder(threshold=0.5, center="frame", window=(8, 8), frame_duration=1.0)(clip)
    assert stim.n_channels == 2 * 64
    on_rows = {(i - 64) // 8 for i in stim.indices}
    assert stim.n_spikes == 8 and on_rows == set(range(8))


@pytest.mark.parametrize(
    "params,word",
    [
        ({"center": "middle"}, "center"),
        ({"center": True}, "center"),
        ({"window": (10, 10)}, "window"),
        ({"center": "clip", "window": (10,)}, "window"),
        ({"center": "clip", "window": (0, 10)}, "window"),
    ],
)
def test_center_invalid_parameters(params, word):
    with pytest.raises(ValueError, match=word):
        get_encoder("delta", **params)


@pytest.mark.parametrize(
    "name, params",
    [
        ("poisson", {"max_rate": 1000.0}),
        ("ttfs", {}),
        ("gaussian", {"n_fields": 3}),
        ("delta", {"pool": 3}),
        ("residual", {"stride": 2, "inner": {"name": "ttfs"}}),
    ],
)
def test_channel_positions_match_where_the_pixel_is(name, params):
    """One bright pixel at (row 7, col 2): every spike's channel sits there on the (pooled) grid."""
    from stimuli.types import channel_positions

    clip = np.zeros((3, 10, 12), np.float32)
    clip[1:, 7, 2] = 1.0  # appears in frame 1 (delta and residual see the change)
    stim = get_encoder(name, **params)(clip, meta={"id": "px"})
    pos = channel_positions(stim)[stim.indices]
    if name == "gaussian":  # dark pixels drive the low fields; only the top field is the bright pixel's
        pos = pos[pos[:, 0] == params["n_fields"] - 1]
    pool = params.get("pool", 1)
    assert len(pos) > 0
    assert set(map(tuple, pos[:, 1:].tolist())) == {(7 // pool, 2 // pool)}


def test_event_channel_positions_and_missing_geometry():
    from stimuli.types import channel_positions

    ev = make_events([5, 30], [20, 3], [0, 10], [1, 0])
    stim = EventBinner(sensor_size=(34, 34, 2), pool=2)(ev)
    pos = channel_positions(stim)[stim.indices]
    assert sorted(map(tuple, pos.tolist())) == [(0, 1, 15), (1, 10, 2)]  # (polarity, y // 2, x // 2)
    bare = SpikeStimulus([0], [0], 4, 3, 1.0)
    with pytest.raises(StimulusError, match="no frame geometry"):
        channel_positions(bare)
