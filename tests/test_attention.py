"""networks.nn layers and the AttentionReadout classifier (networks.attention)."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import assert_grad, numeric_grad
from sklearn.utils.estimator_checks import parametrize_with_checks

from networks.attention import AttentionReadout

# ----------------------------------------------------------------------------------------------------------------
# helpers


def _pair_task(n: int, T: int, rng, relation: str):
    """Two channels, one spike each, in bins ``a`` and ``b``; equal totals in every clip.

    ``relation="same"``: class 1 iff ``a == b``.  ``relation="near"``: class 1 iff
    ``|a - b| <= 1``, which needs the readout to relate two different tokens.

    Neither is linearly separable on the flattened one-hot counts: a linear score
    is ``u[a] + v[b]``; class 1 for (0, 0) and (2, 2) and class 0 for (0, 2) and
    (2, 0) would need ``u0 + v0 + u2 + v2`` to be both > 0 and < 0 (with bins 0, 1
    for "same").  Returns ``X`` of shape (n, T, 2) and balanced labels.
    """
    y = rng.integers(0, 2, n)
    a = rng.integers(0, T, n)
    d = np.abs(np.arange(T)[None, :] - a[:, None])
    allowed = (d == 0) if relation == "same" else (d <= 1)
    allowed = np.where(y[:, None] == 1, allowed, ~allowed)
    # a uniform choice among the allowed bins of each clip
    b = (np.cumsum(allowed, 1) > rng.random(n)[:, None] * allowed.sum(1)[:, None]).argmax(1)
    X = np.zeros((n, T, 2))
    X[np.arange(n), a, 0] = 1
    X[np.arange(n), b, 1] = 1
    return X, y


def _fast(width=8, **kw) -> AttentionReadout:
    """A small, quick configuration (no early stopping, no dropout unless asked)."""
    params = dict(
        n_heads=2, max_epochs=15, batch_size=32, learning_rate=1e-2, early_stopping=False, dropout=0.0, random_state=0
    )
    return AttentionReadout(width, **(params | kw))


@pytest.fixture(scope="module")
def near_task():
    return _pair_task(700, 8, np.random.default_rng(1), "near")


# ----------------------------------------------------------------------------------------------------------------
# 1. gradients against central finite differences (float64, dropout off)


@pytest.mark.parametrize("pooling, positional", [("mean", "sinusoidal"), ("cls", "learned")])
def test_readout_network_gradients(pooling, positional):
    from networks.attention import ReadoutNetwork
    from networks.nn import softmax_cross_entropy

    rng = np.random.default_rng(0)
    B, T, F, C = 4, 5, 3, 3
    net = ReadoutNetwork(
        F,
        C,
        width=8,
        n_heads=2,
        n_layers=2,
        hidden=12,
        positional=positional,
        max_tokens=T,
        pooling=pooling,
        dropout=0.0,
        rng=rng,
        dtype=np.float64,
    )
    for p in net.parameters().values():  # move off the initial zeros/ones so every term is exercised
        p += 0.3 * rng.standard_normal(p.shape)
    x = rng.standard_normal((B, T, F))
    mask = np.ones((B, T), bool)
    mask[1, 3:] = False  # two padding tokens
    mask[2, 4] = False
    y = rng.integers(0, C, B)

    def loss():
        return softmax_cross_entropy(net.forward(x, mask), y)[0]

    _, dlogits = softmax_cross_entropy(net.forward(x, mask, training=True), y)
    dx = net.backward(dlogits, input_grad=True)
    grads = net.gradients()
    params = net.parameters()
    assert grads.keys() == params.keys()
    expected = {
        "embed.W",
        "embed.b",
        "norm.gamma",
        "head.W",
        "block1.attention.keyvalue.W",
        "block0.ffn.fc2.b",
        "block0.norm1.beta",
    }
    expected |= {"cls"} if pooling == "cls" else set()
    expected |= {"position"} if positional == "learned" else set()
    assert expected <= params.keys()
    for name, p in params.items():
        assert grads[name].dtype == np.float64
        assert_grad(name, grads[name], numeric_grad(loss, p))
    assert_grad("input", dx, numeric_grad(loss, x))
    # padding tokens influence nothing: exactly zero input gradient
    assert np.all(dx[~mask] == 0)


def test_cross_attention_gradients_and_masked_keys():
    from networks.nn import MultiHeadAttention

    rng = np.random.default_rng(1)
    B, Nq, Nk, D, Dkv = 3, 4, 6, 8, 5
    mha = MultiHeadAttention(D, 2, kv_width=Dkv, rng=rng, dtype=np.float64)
    for p in mha.parameters().values():
        p += 0.3 * rng.standard_normal(p.shape)
    xq, xkv = rng.standard_normal((B, Nq, D)), rng.standard_normal((B, Nk, Dkv))
    mask = np.ones((B, Nk), bool)
    mask[0, 2:] = False
    mask[2] = False  # a clip whose keys are all masked: zero weights, no NaN
    R = rng.standard_normal((B, Nq, D))

    def loss():
        return float((mha.forward(xq, xkv, mask) * R).sum())

    out, w = mha.forward(xq, xkv, mask, training=True, return_weights=True)
    assert out.shape == (B, Nq, D) and w.shape == (B, 2, Nq, Nk)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(w))
    assert np.all(w[~np.broadcast_to(mask[:, None, None, :], w.shape)] == 0)
    np.testing.assert_allclose(w[:2].sum(-1), 1.0, atol=1e-12)
    assert np.all(w[2] == 0)
    dq, dkv = mha.backward(R)
    for name, p in mha.parameters().items():
        assert_grad(name, mha.gradients()[name], numeric_grad(loss, p))
    assert_grad("x_query", dq, numeric_grad(loss, xq))
    assert_grad("x_keyvalue", dkv, numeric_grad(loss, xkv))
    assert np.all(dkv[~mask] == 0)
    # the all-masked clip sees only the output bias
    np.testing.assert_array_equal(out[2], np.broadcast_to(mha.layers["out"].params["b"], (Nq, D)))


@pytest.mark.parametrize("activation", ["gelu", "relu"])
def test_feed_forward_gradients(activation):
    from networks.nn import FeedForward

    rng = np.random.default_rng(2)
    ffn = FeedForward(4, 6, activation=activation, rng=rng, dtype=np.float64)
    x, R = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))

    def loss():
        return float((ffn.forward(x) * R).sum())

    ffn.forward(x, training=True)
    dx = ffn.backward(R)
    for name, p in ffn.parameters().items():
        assert_grad(name, ffn.gradients()[name], numeric_grad(loss, p))
    assert_grad("input", dx, numeric_grad(loss, x))


def test_layers_dtype_dropout_and_adam():
    from networks.nn import Adam, Dropout, Linear, sinusoidal_encoding, softmax

    lin = Linear(4, 3, rng=0)
    x = np.ones((2, 5, 4), np.float32)
    assert lin.forward(x).dtype == np.float32 and lin.forward(x).shape == (2, 5, 3)
    with pytest.raises(RuntimeError, match="training=True"):
        lin.backward(np.ones((2, 5, 3), np.float32))  # a prediction forward caches nothing
    drop = Dropout(0.25, rng=0)
    z = drop.forward(np.ones((200, 200), np.float32), training=True)
    assert z.dtype == np.float32
    assert set(np.unique(z)) == {0.0, np.float32(1 / 0.75)}
    assert abs((z == 0).mean() - 0.25) < 0.01
    np.testing.assert_array_equal(drop.backward(np.ones_like(z)), z)  # gradient uses the same mask
    assert drop.forward(x) is x
    P = sinusoidal_encoding(7, 6)
    assert P.shape == (7, 6) and P.dtype == np.float32 and np.all(np.abs(P) <= 1)
    np.testing.assert_allclose(P[0], [0, 1, 0, 1, 0, 1])
    assert np.all(softmax(np.full((2, 3), -np.inf)) == 0)
    # AdamW: bias-corrected first step is lr * sign(g); decay only on matrices
    W, b = np.ones((2, 2)), np.ones(2)
    opt = Adam({"W": W, "b": b}, lr=0.1, weight_decay=0.5)
    opt.step({"W": np.full((2, 2), 3.0), "b": np.full(2, -2.0)})
    np.testing.assert_allclose(W, 1 * (1 - 0.1 * 0.5) - 0.1, rtol=1e-6)
    np.testing.assert_allclose(b, 1 + 0.1, rtol=1e-6)


# ----------------------------------------------------------------------------------------------------------------
# 2. attention learns what a linear readout of the same spikes cannot


@pytest.mark.parametrize("relation", ["same", "near"])
def test_learns_relation_that_logistic_regression_cannot(relation):
    from sklearn.linear_model import LogisticRegression

    X, y = _pair_task(700, 8, np.random.default_rng(1), relation)
    Xtr, ytr, Xte, yte = X[:500], y[:500], X[500:], y[500:]
    model = AttentionReadout(
        32, n_heads=4, learning_rate=3e-3, dropout=0.0, max_epochs=150, n_iter_no_change=15, random_state=0
    ).fit(Xtr, ytr)
    attention_acc = model.score(Xte, yte)
    linear_acc = LogisticRegression(max_iter=5000).fit(Xtr.reshape(500, -1), ytr).score(Xte.reshape(200, -1), yte)
    assert attention_acc >= 0.95, (attention_acc, linear_acc)
    assert linear_acc <= 0.65, (attention_acc, linear_acc)


# ----------------------------------------------------------------------------------------------------------------
# 3. attention weights, padding


@pytest.fixture(scope="module")
def padded_model(near_task):
    X, y = near_task
    X = X[:200].copy()
    X[:50, 6:] = np.nan  # variable length: 50 clips of 6 bins
    return X, y[:200], _fast(dtype="float64", pooling="cls", max_epochs=5).fit(X, y[:200])


def test_attention_maps_sum_to_one_and_ignore_padding(padded_model):
    X, _, model = padded_model
    maps = model.attention_maps(X[:60])
    assert len(maps) == model.n_layers
    w = maps[0]
    assert w.shape == (60, 2, 9, 9)  # class token + 8 bins
    real = np.concatenate([np.ones((60, 1), bool), ~np.isnan(X[:60]).all(-1)], 1)
    keys = np.broadcast_to(real[:, None, None, :], w.shape)
    queries = np.broadcast_to(real[:, None, :, None], w.shape)
    assert np.all(w[~keys] == 0) and np.all(w[~queries] == 0)
    np.testing.assert_allclose(w.sum(-1)[np.broadcast_to(real[:, None, :], w.shape[:3])], 1.0, atol=1e-12)
    assert np.all(w >= 0)


@pytest.mark.parametrize("pooling, positional", [("cls", "sinusoidal"), ("mean", "learned"), ("mean", "none")])
def test_predictions_invariant_to_appended_padding(near_task, pooling, positional):
    X, y = near_task
    X = X[:200].copy()
    X[::3, 5:] = np.nan
    model = _fast(dtype="float64", pooling=pooling, positional=positional, max_epochs=3).fit(X, y[:200])
    Xp = np.concatenate([X, np.full((200, 4, 2), np.nan)], axis=1)
    np.testing.assert_allclose(model.predict_proba(Xp), model.predict_proba(X), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(model.predict(Xp), model.predict(X))
    m0, m1 = model.attention_maps(X)[0], model.attention_maps(Xp)[0]
    n = m0.shape[-1]
    np.testing.assert_allclose(m1[..., :n, :n], m0, atol=1e-12)
    assert np.all(m1[..., n:] == 0)


def test_bin_major_2d_input_equals_3d(padded_model):
    X, y, _ = padded_model
    X = np.nan_to_num(X)
    model = _fast(n_tokens=8, max_epochs=3).fit(X, y)
    # binned_counts order: all neurons of bin 0, then bin 1, ...
    flat = X.reshape(len(X), -1)
    assert np.array_equal(flat[:, 2:4], X[:, 1, :])
    np.testing.assert_array_equal(model.predict_proba(flat), model.predict_proba(X))
    assert model.n_features_in_ == 2 and model.n_token_features_ == 2
    model2 = _fast(n_tokens=8, max_epochs=3).fit(flat, y)
    assert model2.n_features_in_ == 16 and model2.n_token_features_ == 2
    np.testing.assert_array_equal(model2.predict_proba(X), model.predict_proba(X))


def test_float32_default_and_predict_writes_nothing(near_task):
    X, y = near_task
    model = _fast(max_epochs=2).fit(X[:100], y[:100])
    assert all(p.dtype == np.float32 for p in model.network_.parameters().values())
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(model).items()}
    params = {k: p.copy() for k, p in model.network_.parameters().items()}
    proba = model.predict_proba(X[100:150])
    model.predict(X[100:150])
    model.attention_maps(X[100:110])
    model.score(X[100:150], y[100:150])
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert vars(model).keys() == before.keys()
    assert all(vars(model)[k] is v or np.array_equal(vars(model)[k], v) for k, v in before.items())
    assert all(np.array_equal(p, params[k]) for k, p in model.network_.parameters().items())

    def caches(layer):
        yield layer._cache
        for child in layer.layers.values():
            yield from caches(child)

    assert all(c is None for c in caches(model.network_))


# ----------------------------------------------------------------------------------------------------------------
# 4. seeds, warm start, partial_fit, early stopping


def test_blas_threads_limited_during_fit_and_restored(near_task, monkeypatch):
    from threadpoolctl import threadpool_info

    import networks.attention as attention

    X, y = near_task
    before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    seen = []
    original = attention.ReadoutNetwork.forward

    def spy(self, *args, **kw):
        seen.append({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})
        return original(self, *args, **kw)

    monkeypatch.setattr(attention.ReadoutNetwork, "forward", spy)
    model = _fast(max_epochs=1, blas_threads=1).fit(X[:40], y[:40])
    model.predict(X[:5])
    assert seen and all(s == {1} for s in seen)
    assert [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"] == before


def test_prediction_uses_fitted_state_not_changed_params(near_task):
    X, y = near_task
    model = _fast(pooling="cls", positional="learned", scale="log", dtype="float64", max_epochs=2).fit(X[:80], y[:80])
    before = model.predict_proba(X[80:100])
    maps = model.attention_maps(X[80:90])
    model.set_params(pooling="mean", positional="none", scale="none", dtype="float32", n_layers=3)
    np.testing.assert_array_equal(model.predict_proba(X[80:100]), before)
    assert all(np.array_equal(a, b) for a, b in zip(model.attention_maps(X[80:90]), maps, strict=True))


def test_seed_reproducibility(near_task):
    X, y = near_task
    kw = dict(max_epochs=3, dropout=0.2)
    p0 = _fast(random_state=3, **kw).fit(X[:200], y[:200]).predict_proba(X[200:260])
    p1 = _fast(random_state=3, **kw).fit(X[:200], y[:200]).predict_proba(X[200:260])
    p2 = _fast(random_state=4, **kw).fit(X[:200], y[:200]).predict_proba(X[200:260])
    np.testing.assert_array_equal(p0, p1)
    assert not np.allclose(p0, p2)
    g = _fast(random_state=np.random.default_rng(3), **kw).fit(X[:200], y[:200]).predict_proba(X[200:260])
    assert g.shape == p0.shape


def test_warm_start_continues_exactly(near_task):
    X, y = near_task
    X, y = X[:200], y[:200]
    once = _fast(max_epochs=10, dropout=0.1).fit(X, y)
    twice = _fast(max_epochs=5, dropout=0.1, warm_start=True).fit(X, y)
    first_loss = twice.loss_curve_[-1]
    twice.fit(X, y)
    assert twice.n_epochs_ == 10 and len(twice.loss_curve_) == 10 and twice.best_epoch_ == 10
    assert twice.loss_curve_[-1] < first_loss
    # same random stream and optimiser state: 5 + 5 epochs is 10 epochs
    np.testing.assert_array_equal(twice.predict_proba(X), once.predict_proba(X))
    with pytest.raises(ValueError, match="width"):
        twice.set_params(width=16).fit(X, y)


def test_partial_fit_accumulates_epochs(near_task):
    X, y = near_task
    model = _fast(learning_rate=3e-3)
    labels = np.where(y[:200] == 1, "near", "far")
    model.partial_fit(X[:200][labels == "far"][:50], labels[labels == "far"][:50], classes=["near", "far"])
    assert list(model.classes_) == ["far", "near"]
    for _ in range(7):
        model.partial_fit(X[:200], labels)
    assert model.n_epochs_ == 8 and len(model.loss_curve_) == 8
    assert model.loss_curve_[-1] < model.loss_curve_[1]
    assert set(model.predict(X[200:220])) <= {"near", "far"}
    with pytest.raises(ValueError, match="not in classes_"):
        model.partial_fit(X[:10], np.array(["other"] * 10))
    with pytest.raises(ValueError, match="features per token"):
        model.partial_fit(X[:10, :, :1], labels[:10])


def test_early_stopping_stops_and_restores_best(near_task, monkeypatch):
    import networks.training as training  # the shared training loop computes the losses
    from networks.nn import softmax_cross_entropy

    X, y = near_task
    inputs, targets = [], []

    def logits_spy(self, Xv, mv):
        inputs.append((Xv, mv))
        return original(self, Xv, mv)

    def loss_spy(logits, target):
        targets.append(target)
        return softmax_cross_entropy(logits, target)

    original = AttentionReadout._logits
    monkeypatch.setattr(AttentionReadout, "_logits", logits_spy)
    monkeypatch.setattr(training, "softmax_cross_entropy", loss_spy)
    model = AttentionReadout(
        32,
        n_heads=4,
        learning_rate=3e-3,
        dropout=0.0,
        max_epochs=300,
        n_iter_no_change=10,
        tol=0.0,
        validation_fraction=0.2,
        random_state=0,
        dtype="float64",
    ).fit(X[:300], y[:300])
    assert model.n_epochs_ < 300
    assert len(model.validation_loss_curve_) == model.n_epochs_ == len(model.validation_scores_)
    assert model.best_epoch_ == int(np.argmin(model.validation_loss_curve_)) + 1
    assert model.n_epochs_ == model.best_epoch_ + 10
    assert model.validation_scores_[model.best_epoch_ - 1] >= 0.95
    # the last loss evaluated in fit is the validation loss of the last epoch; the kept
    # parameters give the (lower) validation loss of the best epoch instead
    (Xv, mv), yv = inputs[-1], targets[-1]
    assert len(yv) == 60 and np.bincount(yv).min() >= 25  # stratified 20 %
    logits = original(model, Xv, mv)
    np.testing.assert_allclose(
        softmax_cross_entropy(logits, yv)[0], model.validation_loss_curve_[model.best_epoch_ - 1], rtol=1e-12
    )
    assert model.validation_loss_curve_[-1] > model.validation_loss_curve_[model.best_epoch_ - 1]


# ----------------------------------------------------------------------------------------------------------------
# 5. scikit-learn conventions


_CHECK_KW = dict(
    n_heads=2, max_epochs=15, batch_size=32, learning_rate=1e-2, early_stopping=False, dropout=0.0, random_state=0
)


def _expected_failures(estimator):
    if np.dtype(estimator.dtype) == np.float32:
        return {
            "check_methods_sample_order_invariance": (
                "float32 BLAS results of a row depend (at ~1e-7 relative) on its place in the batch; the check asks "
                "for rtol=1e-7. The float64 configuration passes it."
            )
        }
    return {}


@parametrize_with_checks(
    [AttentionReadout(8, dtype="float64", **_CHECK_KW), AttentionReadout(8, **_CHECK_KW)],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_sklearn_api_on_3d_input(near_task):
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = near_task
    est = _fast(width=16, max_epochs=4)
    params = est.get_params()
    assert params["width"] == 16 and params["n_heads"] == 2 and params["n_tokens"] is None
    c = clone(est)
    assert c.get_params() == params and not hasattr(c, "classes_")
    pipe = Pipeline([("log", FunctionTransformer(np.log1p)), ("attention", est)])
    pipe.fit(X[:200], y[:200])
    assert pipe.predict(X[200:220]).shape == (20,)
    assert pipe.named_steps["attention"].n_features_in_ == 2
    scores = cross_val_score(_fast(width=16, max_epochs=4), X[:240], y[:240], cv=3)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    with pytest.raises(TypeError):
        AttentionReadout(16, 2)  # everything after width is keyword-only


# ----------------------------------------------------------------------------------------------------------------
# 6. bad input and impossible hyperparameters


def test_bad_input_raises_value_error_naming_the_problem(near_task):
    X, y = near_task
    model = _fast(max_epochs=1).fit(X[:60], y[:60])
    with pytest.raises(ValueError, match="1D"):
        model.predict(X[0, 0])
    with pytest.raises(ValueError, match="4-D"):
        model.predict(X[:5, :, :, None])
    with pytest.raises(ValueError, match="features per token"):
        model.predict(np.ones((5, 8, 3)))
    with pytest.raises(ValueError, match="X has 3 features, but AttentionReadout is expecting 2"):
        model.predict(np.ones((5, 3)))
    bad = X[:5].copy()
    bad[2, 3, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN in a real token \(clip 2, token 3, feature 1\)"):
        model.predict(bad)
    bad[2, 3, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.predict(bad)
    with pytest.raises(ValueError, match="infinity"):
        _fast().fit(bad, y[:5])
    bad[2] = np.nan
    with pytest.raises(ValueError, match="clip 2 has no real tokens"):
        model.predict(bad)
    with pytest.raises(ValueError, match="multiple of n_tokens=3"):
        _fast(n_tokens=3).fit(X[:60].reshape(60, -1), y[:60])
    with pytest.raises(ValueError, match="1 class"):
        _fast().fit(X[:10], np.zeros(10))
    with pytest.raises(ValueError, match="target y is None"):
        _fast().fit(X[:10], None)
    with pytest.raises(ValueError, match="scale='log'"):
        _fast(scale="log").fit(X[:60] - 2, y[:60])
    with pytest.raises(ValueError, match="scale='log'"):
        _fast(scale="log", max_epochs=1).fit(X[:60], y[:60]).predict(X[:5] - 2)
    learned = _fast(positional="learned", max_epochs=1).fit(X[:60, :5], y[:60])
    with pytest.raises(ValueError, match="beyond position 4"):
        learned.predict(X[:5])
    learned.predict(np.concatenate([X[:5, :5], np.full((5, 3, 2), np.nan)], 1))  # padding beyond: fine
    with pytest.raises(ValueError, match="early_stopping"):  # one clip of class 1 cannot be split
        AttentionReadout(8, random_state=0).fit(X[:6], [0, 0, 0, 0, 0, 1])


@pytest.mark.parametrize(
    "params, name",
    [
        (dict(width=10, n_heads=3), "n_heads"),
        (dict(width=0), "width"),
        (dict(dropout=1.0), "dropout"),
        (dict(positional="rotary"), "positional"),
        (dict(pooling="max"), "pooling"),
        (dict(scale="minmax"), "scale"),
        (dict(batch_size=0), "batch_size"),
        (dict(learning_rate=-1e-3), "learning_rate"),
        (dict(learning_rate=np.nan), "learning_rate"),
        (dict(max_epochs=2.5), "max_epochs"),
        (dict(validation_fraction=1.0), "validation_fraction"),
        (dict(n_tokens=0), "n_tokens"),
        (dict(dtype="float16"), "dtype"),
        (dict(random_state="seed"), "random_state"),
        (dict(warm_start="yes"), "warm_start"),
        (dict(blas_threads=0), "blas_threads"),
    ],
)
def test_impossible_hyperparameters(params, name):
    X = np.random.default_rng(0).random((20, 4, 2))
    y = np.arange(20) % 2
    est = AttentionReadout(**params)  # __init__ only stores
    with pytest.raises(ValueError, match=f"^{name}: "):
        est.fit(X, y)
