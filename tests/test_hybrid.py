"""ReSpike-style hybrid: key-frame features, grid spike tokens, CrossAttention and HybridClassifier."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gradcheck import assert_grad, numeric_grad

from networks.hybrid import MODES, HybridClassifier
from networks.hybrid_tokens import HybridInputs, HybridTokens
from networks.keyframes import KeyFrameFeatures

# ----------------------------------------------------------------------------------------------------------------
# helpers


def _grating(size: int, wavelength: float, theta: float, phase: float = 0.0, contrast: float = 0.5) -> np.ndarray:
    """``0.5 + contrast * cos(2 pi (x cos theta + y sin theta) / wavelength + phase)``; x = column, y = row."""
    y, x = np.mgrid[0:size, 0:size].astype(float)
    return 0.5 + contrast * np.cos(2 * np.pi * (x * math.cos(theta) + y * math.sin(theta)) / wavelength + phase)


SIZE, STRIDE, T = 24, 4, 8


def _clip(pattern: int, direction: int, rng) -> np.ndarray:
    """A clip whose key frames show the pattern and whose residual frames show the motion.

    Background: a grating, vertical (``pattern=0``) or horizontal (1), random
    phase, static.  A 5x5 square (+0.5, added) sits at the centre column at every
    key frame (``t % STRIDE == 0``) and between key frames steps 2 px per frame to
    the right (``direction=+1``) or left (-1); random row.  So the key frames,
    averaged, do not tell the direction, and the residual frames (the square's
    displacement, background cancelled) do not tell the pattern.
    """
    x = np.arange(SIZE)
    wave = 0.3 + 0.2 * np.cos(2 * np.pi * x / 6 + rng.uniform(0, 2 * np.pi))
    background = np.repeat(wave[None, :], SIZE, 0) if pattern == 0 else np.repeat(wave[:, None], SIZE, 1)
    row, col = rng.integers(0, SIZE - 4), (SIZE - 5) // 2
    frames = np.repeat(background[None], T, 0)
    for t in range(T):
        c = col + direction * 2 * (t % STRIDE)
        frames[t, row : row + 5, c : c + 5] += 0.5
    return frames.astype(np.float32)


def _stimuli(n: int, seed: int):
    """Residual-encoded clips of the 4 classes ``2 * pattern + (direction > 0)``."""
    from stimuli.encoders import PoissonEncoder, ResidualEncoder

    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    rng.shuffle(y)
    enc = ResidualEncoder(stride=STRIDE, inner=PoissonEncoder(max_rate=500.0, frame_duration=10.0, seed=seed))
    return [enc(_clip(c // 2, 1 if c % 2 else -1, rng), meta={"id": f"clip{i}"}) for i, c in enumerate(y)], y


def _tokens() -> HybridTokens:
    return HybridTokens((4, 2, 1), bins=2, frame_features=KeyFrameFeatures(wavelengths=(6.0,), aspect_ratio=1.0))


@pytest.fixture(scope="module")
def task():
    """Hybrid tokens of 240 training and 160 test clips of the conjunction task."""
    stims, y = _stimuli(400, seed=0)
    tok = _tokens()
    Xtr = tok.fit_transform(stims[:240])
    return Xtr, y[:240], tok.transform(stims[240:]), y[240:], stims


def _fast(mode="cross", **kw) -> HybridClassifier:
    params = dict(
        width=16, max_epochs=40, batch_size=32, learning_rate=3e-3, dropout=0.0, early_stopping=False, random_state=0
    )
    return HybridClassifier(mode, **(params | kw))


def _random_inputs(rng, n=6, spike_shapes=((5, 3), (2, 4)), frame_shapes=((4, 6), (2, 6))) -> HybridInputs:
    return HybridInputs(
        tuple(rng.standard_normal((n, *s)) for s in spike_shapes),
        tuple(rng.standard_normal((n, *s)) for s in frame_shapes),
    )


# ----------------------------------------------------------------------------------------------------------------
# 1. gradients against central finite differences (float64, dropout off)


def test_cross_attention_gradients_weights_and_masks():
    from networks.nn import CrossAttention

    rng = np.random.default_rng(1)
    B, Nq, Nk, D, Dc = 3, 4, 5, 8, 6
    layer = CrossAttention(D, 2, context_width=Dc, rng=rng, dtype=np.float64)
    for p in layer.parameters().values():  # move off the initial zeros/ones so every term is exercised
        p += 0.3 * rng.standard_normal(p.shape)
    x, c = rng.standard_normal((B, Nq, D)), rng.standard_normal((B, Nk, Dc))
    mask = np.ones((B, Nk), bool)
    mask[0, 3:] = False
    mask[2] = False  # a clip whose context is all masked: zero weights, no NaN
    R = rng.standard_normal((B, Nq, D))

    def loss():
        return float((layer.forward(x, c, mask) * R).sum())

    out, w = layer.forward(x, c, mask, training=True, return_weights=True)
    assert out.shape == (B, Nq, D) and w.shape == (B, 2, Nq, Nk)
    assert np.all(np.isfinite(out)) and np.all(w >= 0)
    np.testing.assert_allclose(w[:2].sum(-1), 1.0, atol=1e-12)
    assert np.all(w[np.broadcast_to(~mask[:, None, None, :], w.shape)] == 0)
    assert np.all(w[2] == 0)
    dx, dc = layer.backward(R)
    params = layer.parameters()
    assert set(params) == {
        f"{a}.{b}"
        for a, b in [
            ("norm_query", "gamma"),
            ("norm_query", "beta"),
            ("norm_context", "gamma"),
            ("norm_context", "beta"),
        ]
    } | {f"attention.{lin}.{p}" for lin in ("query", "keyvalue", "out") for p in ("W", "b")}
    for name, p in params.items():
        assert_grad(name, layer.gradients()[name], numeric_grad(loss, p))
    assert_grad("x", dx, numeric_grad(loss, x))
    assert_grad("context", dc, numeric_grad(loss, c))
    assert np.all(dc[~mask] == 0)  # masked context tokens influence nothing
    # the all-masked clip: the residual plus the attention's output bias
    np.testing.assert_allclose(out[2], x[2] + layer.layers["attention"].layers["out"].params["b"], atol=1e-12)
    # without a mask, every row sums to one
    _, w = layer.forward(x, c, return_weights=True)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-12)


def test_residual_feed_forward_gradients():
    from networks.nn import ResidualFeedForward

    rng = np.random.default_rng(2)
    block = ResidualFeedForward(4, 6, rng=rng, dtype=np.float64)
    for p in block.parameters().values():
        p += 0.3 * rng.standard_normal(p.shape)
    x, R = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))

    def loss():
        return float((block.forward(x) * R).sum())

    block.forward(x, training=True)
    dx = block.backward(R)
    for name, p in block.parameters().items():
        assert_grad(name, block.gradients()[name], numeric_grad(loss, p))
    assert_grad("x", dx, numeric_grad(loss, x))


@pytest.mark.parametrize(
    "mode, positional", [("frames", "none"), ("spikes", "learned"), ("concat", "sinusoidal"), ("cross", "learned")]
)
def test_hybrid_classifier_gradients(mode, positional):
    """Every parameter tensor of the fitted network, and the input tokens, against finite differences."""
    from networks.nn import softmax_cross_entropy

    rng = np.random.default_rng(3)
    X = _random_inputs(rng)
    y = np.arange(6) % 3
    model = HybridClassifier(
        mode,
        width=4,
        n_heads=2,
        ffn_width=6,
        positional=positional,
        dtype="float64",
        max_epochs=1,
        early_stopping=False,
        dropout=0.0,
        random_state=0,
    ).fit(X, y)
    net = model.network_
    for p in net.parameters().values():
        p += 0.3 * rng.standard_normal(p.shape)
    spikes, frames = model._prepare(X)

    def loss():
        return softmax_cross_entropy(net.forward(spikes, frames), y)[0]

    _, dlogits = softmax_cross_entropy(net.forward(spikes, frames, training=True), y)
    dspikes, dframes = net.backward(dlogits, input_grad=True)
    grads, params = net.gradients(), net.parameters()
    assert grads.keys() == params.keys()
    expected = {"head.W", "head.b"}
    if mode != "frames":
        expected |= {"spike_embed0.W", "spike_ffn1.ffn.fc2.b", "spike_norm0.gamma"}
    if mode != "spikes":
        expected |= {"frame_embed1.W", "frame_ffn0.norm.beta"}
    if mode in ("frames", "concat"):
        expected |= {"frame_norm1.gamma"}
    if mode == "cross":
        expected |= {"cross0.attention.keyvalue.W", "cross1.norm_context.beta", "cross1.norm_query.gamma"}
    if positional == "learned":
        expected |= {"spike_position0"} if mode != "frames" else set()
        expected |= {"frame_position1"} if mode != "spikes" else set()
    assert expected <= params.keys()
    for name, p in params.items():
        assert grads[name].dtype == np.float64
        assert_grad(name, grads[name], numeric_grad(loss, p))
    for branch, arrays, d in (("spike", spikes, dspikes), ("frame", frames, dframes)):
        for i, (a, da) in enumerate(zip(arrays or [], d, strict=False)):
            assert_grad(f"{branch}_tokens[{i}]", da, numeric_grad(loss, a))


# ----------------------------------------------------------------------------------------------------------------
# 2. key frames and residual frames


@pytest.mark.parametrize("stride", [1, 2, 3, 4, 8])
def test_key_and_residual_frames_reconstruct_each_clip(stride):
    """``key_frames[t // stride] + residual_frames[t] == clip[t]``: exactly for 8-bit frames, to rounding otherwise."""
    from stimuli.encoders import ResidualEncoder, respike_split

    rng = np.random.default_rng(stride)
    pixels = rng.integers(0, 256, (7, 5, 6))
    # decoded video (uint8) and 8-bit intensities k / 256 in [0, 1): float arithmetic on them is exact
    for clip in (pixels.astype(np.uint8), (pixels / 256).astype(np.float32)):
        key_frames, residual_frames = respike_split(clip, stride)
        assert key_frames.shape == (math.ceil(7 / stride), 5, 6)
        np.testing.assert_array_equal(key_frames[np.arange(7) // stride] + residual_frames, clip)
        assert np.all(residual_frames[::stride] == 0)
    clip = rng.random((7, 5, 6)).astype(np.float32)
    key_frames, residual_frames = respike_split(clip, stride)
    np.testing.assert_allclose(key_frames[np.arange(7) // stride] + residual_frames, clip, rtol=0, atol=6e-8)
    stim = ResidualEncoder(stride=stride)(clip, meta={"id": "c"})
    np.testing.assert_array_equal(stim.meta["key_frames"], key_frames)


# ----------------------------------------------------------------------------------------------------------------
# 3. key-frame features on analytic images


def _raw(**kw) -> KeyFrameFeatures:
    return KeyFrameFeatures(normalize="none", **kw).fit([np.zeros((1, 32, 32))])


def test_gabor_and_hog_respond_to_the_matching_orientation():
    kf = _raw(scales=(4, 1), orientations=4, wavelengths=(4.0, 8.0), hog_bins=8)
    interior = [5, 6, 9, 10]  # cells whose filters do not reach the reflected border
    for k, theta in enumerate(np.arange(4) * np.pi / 4):
        img = _grating(64, 8.0, theta)
        fine, whole = kf.transform([img[None]])
        gabor = fine[0, :, :8].reshape(16, 4, 2)  # (cells, orientation, wavelength)
        assert np.all(gabor[:, :, 1].argmax(1) == k), (k, gabor[:, :, 1])  # every cell, matched wavelength
        assert whole[0, 0, :8].reshape(4, 2)[:, 1].argmax() == k
        # a matched grating of amplitude 0.5 gives energy ~0.5; the 4-pixel filter responds much less
        np.testing.assert_allclose(gabor[interior, k, 1], 0.5, atol=0.01)
        assert np.all(gabor[interior, k, 0] < 0.5 * gabor[interior, k, 1])
        hog = fine[0, :, 8:]
        assert np.all(hog.argmax(1) == 2 * k)  # 8 bins of 22.5 degrees: orientation k*45 is bin 2k
        norm = np.linalg.norm(hog, axis=1)  # |h| / sqrt(|h|^2 + HOG_EPS^2), |h| ~ 0.2 here
        assert np.all((norm > 0.995) & (norm < 1))
    # vertical stripes (theta = 0) named as such
    assert kf.feature_names_[:2] == ["gabor_o0_w4", "gabor_o0_w8"] and kf.feature_names_[8] == "hog_b0"
    # a uniform image has no structure: every feature is 0
    for t in kf.transform([np.full((2, 32, 32), 0.7)]):
        assert np.abs(t).max() < 1e-12


def test_features_rotate_with_the_image():
    """``rot90`` turns the grid and shifts the orientation channels by 90 degrees (half of them)."""
    kf = _raw(scales=(4, 2, 1), orientations=4, wavelengths=(4.0,), hog_bins=8)
    img = np.random.default_rng(0).random((32, 32))
    for a, b in zip(kf.transform([img[None]]), kf.transform([np.rot90(img)[None]]), strict=True):
        g = int(round(math.sqrt(a.shape[1])))
        grid = np.rot90(a[0].reshape(g, g, -1))  # the cell grid turns with the image
        shifted = np.concatenate([np.roll(grid[..., :4], 2, axis=-1), np.roll(grid[..., 4:], 4, axis=-1)], -1)
        np.testing.assert_allclose(b[0].reshape(g, g, -1), shifted, rtol=1e-9, atol=1e-12)


def test_gabor_energy_scales_with_contrast_and_ignores_phase_hog_ignores_contrast():
    kf = _raw(scales=(2,), orientations=4, wavelengths=(8.0,), hog_bins=8)
    low, high = (kf.transform([_grating(32, 8.0, 0.3, contrast=c)[None]])[0][0] for c in (0.1, 0.4))
    np.testing.assert_allclose(high[:, :4], 4 * low[:, :4], rtol=1e-9)  # energy is linear in contrast
    # the gradient histogram's shape does not change with contrast; only its norm |h| / sqrt(|h|^2 + eps^2) does
    unit = [h[:, 4:] / np.linalg.norm(h[:, 4:], axis=1, keepdims=True) for h in (low, high)]
    np.testing.assert_allclose(unit[1], unit[0], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(high[:, 4:], low[:, 4:], atol=0.05)
    # quadrature pairs: energy nearly independent of the grating's phase (away from the reflected border)
    kf = _raw(scales=(4,), orientations=4, wavelengths=(8.0,), hog_bins=8)
    a, b = (kf.transform([_grating(64, 8.0, 0.3, phase=p, contrast=0.4)[None]])[0][0] for p in (0.0, 1.3))
    interior = [5, 6, 9, 10]
    np.testing.assert_allclose(b[interior, :4], a[interior, :4], rtol=0.03, atol=1e-3)


def test_pooled_shapes_cells_and_key_frame_average():
    from networks.keyframes import grid_cells, grid_pool

    kf = KeyFrameFeatures(scales=(4, 2, 1), orientations=3, wavelengths=(4.0, 6.0), hog_bins=6)
    clips = [np.random.default_rng(i).random((i + 1, 30, 27)) for i in range(3)]  # 1-3 key frames, odd size
    tokens = kf.fit_transform(clips)
    assert [t.shape for t in tokens] == [(3, 16, 12), (3, 4, 12), (3, 1, 12)]
    assert kf.n_features_out_ == 12 and len(kf.get_feature_names_out()) == 12
    assert all(np.array_equal(a, b) for a, b in zip(tokens, kf.transform(clips), strict=True))
    # standard scaling: zero mean, unit variance over the training clips and cells
    for t in tokens:
        np.testing.assert_allclose(t.reshape(-1, 12).mean(0), 0, atol=1e-12)
        np.testing.assert_allclose(t.reshape(-1, 12).std(0), 1, atol=1e-12)
    # a clip's tokens are the mean of its key frames' tokens
    raw = KeyFrameFeatures(scales=(2,), normalize="none").fit(clips)
    per_frame = [raw.transform([f[None]])[0][0] for f in clips[2]]
    np.testing.assert_allclose(raw.transform(clips[2:])[0][0], np.mean(per_frame, 0), rtol=1e-12)
    # pooling = the mean over the pixels of each cell of grid_cells
    maps = np.random.default_rng(9).random((2, 30, 27))
    r, c = np.mgrid[0:30, 0:27]
    cells = grid_cells(r, c, (30, 27), 4)
    expected = np.stack([maps[:, cells == k].mean(1) for k in range(16)])
    np.testing.assert_allclose(grid_pool(maps, 4), expected, rtol=1e-12)
    assert cells[0, 0] == 0 and cells[0, -1] == 3 and cells[-1, 0] == 12  # row-major
    with pytest.raises(ValueError, match="4x4 grid needs frames of at least 4x4"):
        kf.transform([np.zeros((1, 3, 30))])
    with pytest.raises(ValueError, match=r"X\[1\]: key frame intensities must lie in \[0, 1\]"):
        kf.transform([clips[0], clips[1] + 1])


# ----------------------------------------------------------------------------------------------------------------
# 4. spike tokens on the same grids


def test_grid_spike_tokens_follow_channel_positions():
    from networks.features import binned_counts
    from networks.hybrid_tokens import stimulus_grid_tokens, time_bin_tokens
    from stimuli.types import channel_positions

    stims, _ = _stimuli(3, seed=5)
    tokens = stimulus_grid_tokens(stims, (4, 2, 1), bins=2)
    assert [t.shape for t in tokens] == [(3, 16, 4), (3, 4, 4), (3, 1, 4)]  # 2 maps (OFF, ON) x 2 bins
    place = channel_positions(stims[0])  # (map, row, col) on the 24 x 24 grid
    s = stims[1]
    counts = binned_counts(s.indices, s.steps, [[0, s.n_steps]], s.n_channels, 2).reshape(2, -1)
    # cell 5 of the 4x4 grid = rows 6-11, columns 6-11; feature m * 2 + b
    for m in range(2):
        for b in range(2):
            sel = (place[:, 0] == m) & (place[:, 1] // 6 == 1) & (place[:, 2] // 6 == 1)
            assert tokens[0][1, 5, m * 2 + b] == pytest.approx(counts[b, sel].mean(), rel=1e-12)
    # every spike is counted once per scale: per-unit means times units per cell add up to the totals
    totals = [counts[b, place[:, 0] == m].sum() for m in range(2) for b in range(2)]
    for t, g in zip(tokens, (4, 2, 1), strict=True):
        np.testing.assert_allclose(t[1].sum(0) * (SIZE // g) ** 2, totals, rtol=1e-12)
    assert min(totals) > 0  # OFF and ON spikes in both halves of the clip
    # time-bin fallback: bin-major features -> (clips, bins, neurons), the same set at every scale
    feats = np.arange(2 * 3 * 5, dtype=float).reshape(2, 15)
    tb = time_bin_tokens(feats, 3, 2)
    assert len(tb) == 2 and tb[0] is tb[1] and tb[0].shape == (2, 3, 5)
    np.testing.assert_array_equal(tb[0][1, 2], feats[1, 10:15])


def test_hybrid_inputs_index_like_an_array_of_clips():
    rng = np.random.default_rng(4)
    X = _random_inputs(rng, n=6)
    assert len(X) == 6 and X.shape == (6,) and X.n_scales == 2
    sub = X[np.array([4, 1])]
    np.testing.assert_array_equal(sub.spike_tokens[1], X.spike_tokens[1][[4, 1]])
    assert len(X[1:4]) == 3
    assert len(X[np.arange(6) % 2 == 0]) == 3 and len(X[np.array([0, 2]), ...]) == 2 and len(X[3]) == 1
    assert "n_clips=6" in repr(X)
    frames_only = HybridInputs((), X.frame_tokens)
    assert frames_only.n_scales == 2 and frames_only.spike_tokens == ()
    with pytest.raises(ValueError, match="different numbers of clips"):
        HybridInputs(X.spike_tokens, X[:3].frame_tokens)
    with pytest.raises(ValueError, match="2 scales of spike_tokens but 1 of frame_tokens"):
        HybridInputs(X.spike_tokens, X.frame_tokens[:1])
    with pytest.raises(ValueError, match=r"spike_tokens\[0\]: expected shape \(n_clips, n_tokens, n_features\)"):
        HybridInputs((np.zeros((6, 3)),), ())
    with pytest.raises(ValueError, match="both spike_tokens and frame_tokens are empty"):
        HybridInputs()


# ----------------------------------------------------------------------------------------------------------------
# 5. a task that needs both branches


@pytest.fixture(scope="module")
def fitted(task):
    Xtr, ytr, _, _, _ = task
    return {mode: _fast(mode).fit(Xtr, ytr) for mode in MODES}


def test_conjunction_needs_both_branches(task, fitted):
    """Class = (grating orientation in the key frames, motion direction in the residual spikes): 4 classes.

    Each branch alone sees one factor, so it can reach 50 % (chance 25 %); fused, both.
    """
    _, _, Xte, yte, _ = task
    acc = {mode: model.score(Xte, yte) for mode, model in fitted.items()}
    assert acc["cross"] >= 0.9 and acc["concat"] >= 0.9, acc
    assert 0.35 <= acc["frames"] <= 0.65 and 0.35 <= acc["spikes"] <= 0.65, acc
    # ... and each single branch got its own factor right
    pattern = fitted["frames"].predict(Xte) // 2 == yte // 2
    direction = fitted["spikes"].predict(Xte) % 2 == yte % 2
    assert pattern.mean() >= 0.9 and direction.mean() >= 0.9, (pattern.mean(), direction.mean())


def test_attention_maps_sum_to_one(task, fitted):
    _, _, Xte, _, _ = task
    maps = fitted["cross"].attention_maps(Xte[:20])
    assert [m.shape for m in maps] == [(20, 2, 16, 16), (20, 2, 4, 4), (20, 2, 1, 1)]
    for m in maps:
        assert np.all(m >= 0)
        np.testing.assert_allclose(m.sum(-1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="mode='concat', not 'cross'"):
        fitted["concat"].attention_maps(Xte[:2])


# ----------------------------------------------------------------------------------------------------------------
# 6. seeds, dtype, early stopping


def test_seeded_fits_are_bit_identical(task):
    Xtr, ytr, Xte, _, _ = task
    kw = dict(max_epochs=3, dropout=0.2)
    p0 = _fast(random_state=7, **kw).fit(Xtr, ytr)
    p1 = _fast(random_state=7, **kw).fit(Xtr, ytr)
    p2 = _fast(random_state=8, **kw).fit(Xtr, ytr)
    np.testing.assert_array_equal(p0.predict_proba(Xte), p1.predict_proba(Xte))
    assert p0.loss_curve_ == p1.loss_curve_
    assert all(np.array_equal(a, p1.network_.parameters()[k]) for k, a in p0.network_.parameters().items())
    assert not np.allclose(p0.predict_proba(Xte), p2.predict_proba(Xte))
    g = _fast(random_state=np.random.default_rng(7), **kw).fit(Xtr, ytr)
    assert g.predict_proba(Xte).shape == (160, 4)


def test_float32_default_and_predict_writes_nothing(task, fitted):
    _, _, Xte, yte, _ = task
    model = fitted["cross"]
    assert all(p.dtype == np.float32 for p in model.network_.parameters().values())
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(model).items()}
    params = {k: p.copy() for k, p in model.network_.parameters().items()}
    proba = model.predict_proba(Xte)
    model.predict(Xte)
    model.score(Xte, yte)
    model.attention_maps(Xte[:5])
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert vars(model).keys() == before.keys()
    assert all(vars(model)[k] is v or np.array_equal(vars(model)[k], v) for k, v in before.items())
    assert all(np.array_equal(p, params[k]) for k, p in model.network_.parameters().items())
    # prediction reads the fitted state, not changed hyperparameters
    model.set_params(mode="frames", scale="none", dtype="float64")
    np.testing.assert_array_equal(model.predict_proba(Xte), proba)
    model.set_params(mode="cross", scale="standard", dtype="float32")


def test_early_stopping_keeps_the_best_epoch(task):
    Xtr, ytr, _, _, _ = task
    model = _fast(
        "concat", early_stopping=True, max_epochs=200, n_iter_no_change=5, tol=0.0, validation_fraction=0.2
    ).fit(Xtr, ytr)
    assert model.n_epochs_ < 200
    assert len(model.validation_loss_curve_) == model.n_epochs_ == len(model.validation_scores_)
    assert model.best_epoch_ == int(np.argmin(model.validation_loss_curve_)) + 1
    assert model.n_epochs_ == model.best_epoch_ + 5
    assert model.validation_scores_[model.best_epoch_ - 1] >= 0.9
    assert model.fit_seconds_ > 0
    with pytest.raises(ValueError, match="early_stopping"):  # one clip of class 1 cannot be split
        HybridClassifier(random_state=0).fit(Xtr[:6], [0, 0, 0, 0, 0, 1])


# ----------------------------------------------------------------------------------------------------------------
# 7. scikit-learn conventions


def test_sklearn_clone_pipeline_and_cross_validation(task):
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import Pipeline

    Xtr, ytr, _, _, stims = task
    est = _fast("concat", max_epochs=3)
    params = est.get_params()
    assert params["mode"] == "concat" and params["width"] == 16 and params["random_state"] == 0
    c = clone(est)
    assert c.get_params() == params and not hasattr(c, "classes_")
    with pytest.raises(TypeError):
        HybridClassifier("cross", 32)  # everything after mode is keyword-only
    scores = cross_val_score(est, Xtr[:120], ytr[:120], cv=3)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    search = GridSearchCV(est, {"mode": ["frames", "spikes"]}, cv=2).fit(Xtr[:80], ytr[:80])
    assert search.best_params_["mode"] in ("frames", "spikes")
    # stimuli straight in: tokens, then the classifier
    pipe = Pipeline([("tokens", _tokens()), ("hybrid", _fast("cross", max_epochs=2))]).fit(stims[:80], ytr[:80])
    assert pipe.predict(stims[80:90]).shape == (10,)
    assert clone(pipe).get_params()["tokens__frame_features__wavelengths"] == (6.0,)
    tok = _tokens()
    once, twice = tok.fit_transform(stims[:30]), tok.fit(stims[:30]).transform(stims[:30])
    for a, b in zip(once.spike_tokens + once.frame_tokens, twice.spike_tokens + twice.frame_tokens, strict=True):
        np.testing.assert_array_equal(a, b)
    kf = KeyFrameFeatures()
    assert clone(kf).get_params() == kf.get_params() and kf.get_params()["scales"] == (4, 2, 1)


@pytest.mark.parametrize(
    "params, name",
    [
        (dict(mode="both"), "mode"),
        (dict(width=10, n_heads=3), "n_heads"),
        (dict(width=0), "width"),
        (dict(ffn_width=0), "ffn_width"),
        (dict(positional="rotary"), "positional"),
        (dict(scale="minmax"), "scale"),
        (dict(dropout=1.0), "dropout"),
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(learning_rate=np.nan), "learning_rate"),
        (dict(weight_decay=-1.0), "weight_decay"),
        (dict(batch_size=0), "batch_size"),
        (dict(max_epochs=2.5), "max_epochs"),
        (dict(early_stopping="yes"), "early_stopping"),
        (dict(validation_fraction=1.0), "validation_fraction"),
        (dict(n_iter_no_change=0), "n_iter_no_change"),
        (dict(tol=-1.0), "tol"),
        (dict(random_state="seed"), "random_state"),
        (dict(dtype="float16"), "dtype"),
        (dict(blas_threads=0), "blas_threads"),
    ],
)
def test_impossible_classifier_parameters(params, name):
    X = _random_inputs(np.random.default_rng(0), n=8)
    est = HybridClassifier(**params)  # __init__ only stores
    with pytest.raises(ValueError, match=f"^{name}: "):
        est.fit(X, np.arange(8) % 2)
    with pytest.raises(ValueError, match=f"^{name}: "):
        est.validate_params()


@pytest.mark.parametrize(
    "params, name",
    [
        (dict(scales=()), "scales"),
        (dict(scales=(4, 0)), "scales"),
        (dict(scales=4), "scales"),
        (dict(orientations=0), "orientations"),
        (dict(wavelengths=(1.0,)), "wavelengths"),
        (dict(aspect_ratio=0.0), "aspect_ratio"),
        (dict(hog_bins=1), "hog_bins"),
        (dict(features=("gabor", "gabor")), "features"),
        (dict(features=("sift",)), "features"),
        (dict(normalize="minmax"), "normalize"),
    ],
)
def test_impossible_key_frame_parameters(params, name):
    with pytest.raises(ValueError, match=f"^{name}: "):
        KeyFrameFeatures(**params).fit([np.zeros((1, 8, 8))])


def test_impossible_token_parameters_and_bad_inputs(task):
    Xtr, ytr, Xte, _, stims = task
    with pytest.raises(ValueError, match="^bins: "):
        HybridTokens(bins=0).fit(stims[:4])
    with pytest.raises(ValueError, match="^frame_features: "):
        HybridTokens(frame_features="gabor").fit(stims[:4])
    with pytest.raises(ValueError, match="no meta\\['key_frames'\\]"):
        KeyFrameFeatures().fit([_strip_key_frames(stims[0])])
    model = _fast("cross", max_epochs=1).fit(Xtr[:40], ytr[:40])
    with pytest.raises(ValueError, match="expected a networks.hybrid_tokens.HybridInputs"):
        model.predict(np.zeros((4, 10)))
    with pytest.raises(ValueError, match="mode='cross' needs spike_tokens"):
        model.predict(HybridInputs((), Xte.frame_tokens))
    with pytest.raises(ValueError, match=r"frame_tokens\[1\] has \(n_tokens, n_features\) = \(4, 5\)"):
        model.predict(
            HybridInputs(Xte.spike_tokens, (Xte.frame_tokens[0], Xte.frame_tokens[1][..., :5], Xte.frame_tokens[2]))
        )
    bad = [a.copy() for a in Xte.spike_tokens]
    bad[2][0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"spike_tokens\[2\] contains NaN"):
        model.predict(HybridInputs(tuple(bad), Xte.frame_tokens))
    with pytest.raises(ValueError, match="1 class"):
        _fast().fit(Xtr[:10], np.zeros(10))
    with pytest.raises(ValueError, match="scale='log'"):
        _fast(scale="log").fit(HybridInputs(tuple(a - 5 for a in Xtr.spike_tokens), Xtr.frame_tokens), ytr)
    # the frame branch alone needs no spike tokens
    frames_only = _fast("frames", max_epochs=1).fit(HybridInputs((), Xtr.frame_tokens), ytr)
    assert frames_only.predict(Xte).shape == (160,)


def _strip_key_frames(stim):
    from dataclasses import replace

    return replace(stim, meta={k: v for k, v in stim.meta.items() if k != "key_frames"})
