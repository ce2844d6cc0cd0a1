"""ReSpike-style hybrid classifier: spiking tokens attend to key-frame tokens at several scales.

ReSpike (Xiao et al. 2024, arXiv:2409.01564) splits a clip into key frames
(spatial content) and residual frames (frame minus its group's key frame); the
residual frames drive a spiking network and the key frames a conventional one, and
cross-attention at several scales fuses the two, with the **queries from the
spiking branch and the keys/values from the key-frame branch**.  Here both
branches arrive as token sets (:class:`~networks.hybrid_tokens.HybridInputs`):
spike-count tokens (:mod:`networks.hybrid_tokens`) and Gabor/HOG cell tokens of
the key frames (:mod:`networks.keyframes`), one pair per scale.

Network (:class:`HybridNetwork`), per scale ``i``, width ``D``::

    S = Linear(S_i) + P            spike tokens  (batch, n_s, D)
    K = Linear(K_i) + P            frame tokens  (batch, n_k, D)
    K = K + FFN(LN(K))
    S = S + MHA(LN(S), LN(K))      (mode "cross": queries S, keys/values K)
    S = S + FFN(LN(S))
    pooled_i = mean_tokens(LN(S))  [and mean_tokens(LN(K)) in mode "concat"]

then ``logits = Linear(concat_i pooled_i)`` and softmax.  ``P`` is the position
code of the token index (sinusoidal, learned or none): on matching grids cell
``c`` of both branches gets the same sinusoidal code.  Dropout acts on every
residual branch.

Modes (the ablation switches):

``"frames"``
    Key-frame branch only (``S`` unused): ``pooled_i = mean(LN(K))``.
``"spikes"``
    Spiking branch only, no attention: ``pooled_i = mean(LN(S))``.
``"concat"``
    Both branches processed separately, each pooled, the pooled vectors
    concatenated (``2 D`` per scale): fusion by the linear head only.
``"cross"``
    Cross-attention from spike tokens to frame tokens at every scale; only the
    spike stream is pooled, so frame information reaches the head through the
    attention.

The layers and their backward passes are in :mod:`networks.nn`.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import assert_all_finite, check_consistent_length, check_is_fitted, column_or_1d
from threadpoolctl import threadpool_limits

from .hybrid_tokens import HybridInputs
from .nn import (
    Adam,
    CrossAttention,
    Layer,
    LayerNorm,
    Linear,
    ResidualFeedForward,
    sinusoidal_encoding,
    softmax,
)
from .training import MiniBatchTraining
from .validation import InstanceOf, Interval, Options, validate_params

__all__ = ["MODES", "HybridClassifier", "HybridInputs", "HybridNetwork"]

#: Ablation modes of :class:`HybridClassifier`.
MODES = ("frames", "spikes", "concat", "cross")
#: Clips per forward pass at prediction time (bounds memory, not results).
_PREDICT_CHUNK = 256


def _uses(mode: str) -> tuple[bool, bool]:
    """(spike branch used, frame branch used)."""
    return mode != "frames", mode != "spikes"


class HybridNetwork(Layer):
    """The hybrid network of the module docstring, for fixed token shapes.

    Parameters
    ----------
    spike_shapes, frame_shapes : sequence of (int, int)
        ``(n_tokens, n_features)`` of each scale's spike and frame tokens (an
        unused branch's entries are ignored; pass ``[]``).
    n_classes : int
        Output logits.
    mode : {"frames", "spikes", "concat", "cross"}
    width : int
        Token width ``D``.
    n_heads : int
        Cross-attention heads (divides ``width``).
    hidden : int or None
        Feed-forward hidden width (None: ``2 * width``).
    positional : {"sinusoidal", "learned", "none"}
        Position code of the token index, added after the embedding.
    dropout : float
        Drop rate on the residual branches.
    rng : numpy.random.Generator or int or None
        Initial weights and dropout masks.
    dtype : numpy dtype
    """

    def __init__(
        self,
        spike_shapes,
        frame_shapes,
        n_classes: int,
        *,
        mode: str = "cross",
        width: int = 32,
        n_heads: int = 2,
        hidden: int | None = None,
        positional: str = "sinusoidal",
        dropout: float = 0.0,
        rng=None,
        dtype=np.float32,
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.mode, self.width, self.positional, self.dtype = mode, int(width), positional, np.dtype(dtype)
        self.uses_spikes, self.uses_frames = _uses(mode)
        self._codes: dict[int, np.ndarray] = {}  # sinusoidal codes by token count (constants, not parameters)
        hidden = 2 * self.width if hidden is None else int(hidden)
        shapes = [("spike", spike_shapes)] if self.uses_spikes else []
        shapes += [("frame", frame_shapes)] if self.uses_frames else []
        self.n_scales = len(shapes[0][1])
        D = self.width
        for i in range(self.n_scales):
            for branch, branch_shapes in shapes:
                n_tokens, n_features = branch_shapes[i]
                self.layers[f"{branch}_embed{i}"] = Linear(n_features, D, rng=rng, dtype=dtype)
                if positional == "learned":
                    self.params[f"{branch}_position{i}"] = (0.1 * rng.standard_normal((n_tokens, D))).astype(dtype)
                self.layers[f"{branch}_ffn{i}"] = ResidualFeedForward(D, hidden, dropout=dropout, rng=rng, dtype=dtype)
            if mode == "cross":
                self.layers[f"cross{i}"] = CrossAttention(D, n_heads, dropout=dropout, rng=rng, dtype=dtype)
            if self.uses_spikes:
                self.layers[f"spike_norm{i}"] = LayerNorm(D, dtype=dtype)
            if mode in ("frames", "concat"):
                self.layers[f"frame_norm{i}"] = LayerNorm(D, dtype=dtype)
        per_scale = 2 * D if mode == "concat" else D
        self.layers["head"] = Linear(self.n_scales * per_scale, n_classes, rng=rng, dtype=dtype)

    # -- pieces ----------------------------------------------------------------------------------------------------

    def _embed(self, branch: str, i: int, x: np.ndarray, training: bool) -> np.ndarray:
        h = self.layers[f"{branch}_embed{i}"].forward(x, training=training)
        if self.positional == "sinusoidal":
            n = x.shape[1]
            if n not in self._codes:
                self._codes[n] = sinusoidal_encoding(n, self.width, self.dtype)
            h += self._codes[n]
        elif self.positional == "learned":
            h += self.params[f"{branch}_position{i}"]
        return h

    def _embed_backward(self, branch: str, i: int, dh: np.ndarray, input_grad: bool):
        if self.positional == "learned":
            self.grads[f"{branch}_position{i}"] = dh.sum(0)
        return self.layers[f"{branch}_embed{i}"].backward(dh, input_grad=input_grad)

    def _pool(self, name: str, h: np.ndarray, training: bool) -> np.ndarray:
        return self.layers[name].forward(h, training=training).mean(1)

    def _pool_backward(self, name: str, dpooled: np.ndarray, n_tokens: int) -> np.ndarray:
        d = np.broadcast_to(dpooled[:, None, :] / dpooled.dtype.type(n_tokens), (len(dpooled), n_tokens, self.width))
        return self.layers[name].backward(np.ascontiguousarray(d))

    # -- forward / backward ----------------------------------------------------------------------------------------

    def forward(self, spikes, frames, *, training: bool = False, return_attention: bool = False):
        """Class logits of a batch.

        Parameters
        ----------
        spikes, frames : list of ndarray, shape (batch, n_tokens_i, n_features_i)
            Per-scale tokens (dtype of the network); an unused branch may be ``None``.
        training : bool
            Dropout on, and cache for :meth:`backward`.
        return_attention : bool
            Also return the cross-attention weights (mode ``"cross"``).

        Returns
        -------
        logits : ndarray, shape (batch, n_classes)
        attention : list of ndarray, shape (batch, n_heads, n_spike_tokens_i, n_frame_tokens_i)
            Only with ``return_attention``; one per scale (empty unless mode ``"cross"``).
        """
        L, pooled, weights, tokens = self.layers, [], [], []
        for i in range(self.n_scales):
            s = k = None
            if self.uses_frames:
                k = L[f"frame_ffn{i}"].forward(self._embed("frame", i, frames[i], training), training=training)
            if self.uses_spikes:
                s = self._embed("spike", i, spikes[i], training)
                if self.mode == "cross":
                    s = L[f"cross{i}"].forward(s, k, training=training, return_weights=return_attention)
                    if return_attention:
                        s, w = s
                        weights.append(w)
                s = L[f"spike_ffn{i}"].forward(s, training=training)
                pooled.append(self._pool(f"spike_norm{i}", s, training))
            if self.mode in ("frames", "concat"):
                pooled.append(self._pool(f"frame_norm{i}", k, training))
            tokens.append((None if s is None else s.shape[1], None if k is None else k.shape[1]))
        logits = L["head"].forward(np.concatenate(pooled, axis=1), training=training)
        if training:
            self._cache = tokens
        return (logits, weights) if return_attention else logits

    def backward(self, grad: np.ndarray, *, input_grad: bool = False):
        """Backpropagate ``d loss / d logits`` (shape ``(batch, n_classes)``); fills ``grads`` of all layers.

        Returns
        -------
        (dspikes, dframes) : lists of ndarray (None entries for an unused branch)
            Input gradients, only if ``input_grad``; else None.
        """
        tokens, L, D = self._take_cache(), self.layers, self.width
        dz = L["head"].backward(grad)
        dspikes, dframes, col = [None] * self.n_scales, [None] * self.n_scales, 0
        for i, (n_s, n_k) in enumerate(tokens):
            ds = dk = None
            if self.uses_spikes:
                ds = L[f"spike_ffn{i}"].backward(self._pool_backward(f"spike_norm{i}", dz[:, col : col + D], n_s))
                col += D
                if self.mode == "cross":
                    ds, dk = L[f"cross{i}"].backward(ds)
                dspikes[i] = self._embed_backward("spike", i, ds, input_grad)
            if self.mode in ("frames", "concat"):
                dk = self._pool_backward(f"frame_norm{i}", dz[:, col : col + D], n_k)
                col += D
            if self.uses_frames:
                dframes[i] = self._embed_backward("frame", i, L[f"frame_ffn{i}"].backward(dk), input_grad)
        return (dspikes, dframes) if input_grad else None


# ---------------------------------------------------------------------------------------------------------------
# the estimator

_INT_POS = Interval(int, 1, None)
_CONSTRAINTS = {
    "mode": Options(MODES),
    "width": _INT_POS,
    "n_heads": _INT_POS,
    "ffn_width": (None, _INT_POS),
    "positional": Options(("sinusoidal", "learned", "none")),
    "scale": Options(("standard", "log", "none")),
    "dropout": Interval(float, 0.0, 1.0, closed="left"),
    "learning_rate": Interval(float, 0.0, None, closed="neither"),
    "weight_decay": Interval(float, 0.0, None),
    "batch_size": _INT_POS,
    "max_epochs": _INT_POS,
    "early_stopping": Options((True, False)),
    "validation_fraction": Interval(float, 0.0, 1.0, closed="neither"),
    "n_iter_no_change": _INT_POS,
    "tol": Interval(float, 0.0, None),
    "random_state": (
        None,
        Interval(int, 0, 2**32 - 1),
        InstanceOf((np.random.Generator, np.random.RandomState), "a numpy.random.Generator or RandomState"),
    ),
    "dtype": Options(("float32", "float64", np.float32, np.float64)),
    "blas_threads": (None, _INT_POS),
    "verbose": Options((True, False)),
}


def _rng(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    return np.random.default_rng(random_state)


class HybridClassifier(MiniBatchTraining, ClassifierMixin, BaseEstimator):
    """ReSpike-style hybrid classifier of per-scale spike and key-frame tokens (NumPy, scikit-learn API).

    ``X`` is a :class:`~networks.hybrid_tokens.HybridInputs`: per scale, spike
    tokens ``(n_clips, n_spike_tokens, n_spike_features)`` and frame tokens
    ``(n_clips, n_frame_tokens, n_frame_features)``; it indexes like an array of
    clips, so ``cross_val_score``, ``GridSearchCV`` and ``Pipeline`` (after
    :class:`~networks.hybrid_tokens.HybridTokens`) work.  Token shapes are fixed
    by ``fit``.  The network and the ``mode`` switch are described in the module
    docstring.  Trained with AdamW on mini-batches, dropout, and early stopping on
    a stratified validation split of the training data.

    Parameters
    ----------
    mode : {"frames", "spikes", "concat", "cross"}
        Which branches are used and how they are fused (module docstring).
    width : int
        Token width inside the network; divisible by ``n_heads``.
    n_heads : int
        Cross-attention heads (mode ``"cross"``).
    ffn_width : int or None
        Hidden width of the feed-forward blocks (None: ``2 * width``).
    positional : {"sinusoidal", "learned", "none"}
        Position code of the token index (cell or time bin), added after the embedding.
    scale : {"standard", "log", "none"}
        Input scaling fitted on the training tokens, per scale, branch and feature:
        ``"standard"`` (zero mean, unit variance over clips and tokens), ``"log"``
        (``log1p`` of the spike tokens, which must be > -1, then standard; frame
        tokens standard), or ``"none"``.
    dropout : float
        Drop rate on the residual branches during training, in [0, 1).
    learning_rate : float
        Adam step size.
    weight_decay : float
        Decoupled (AdamW) weight decay per unit learning rate, on weight matrices only.
    batch_size : int
        Clips per mini-batch (clipped to the training-set size).
    max_epochs : int
        Passes over the training data.
    early_stopping : bool
        Hold out a stratified ``validation_fraction`` of the training clips, stop
        when its loss has not improved by ``tol`` for ``n_iter_no_change`` epochs,
        and keep the parameters of the best epoch.
    validation_fraction : float
        Share of the training clips held out for early stopping, in (0, 1).
    n_iter_no_change : int
        Patience of early stopping, in epochs.
    tol : float
        Minimum decrease of the validation loss (nats) that counts as an improvement.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        Seeds initial weights, shuffling, dropout and the validation split.  An int
        gives bit-identical fits; a generator is consumed.
    dtype : {"float32", "float64"}
        Computation dtype.
    blas_threads : int or None
        BLAS threads during fit and prediction (``threadpoolctl``; restored
        afterwards).  The products are small: one thread (the default) is fastest
        on shared cores.  None: leave the process setting unchanged.
    verbose : bool
        Print the losses of each epoch.

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
        Class labels, in the order of the columns of :meth:`predict_proba`.
    spike_shapes_, frame_shapes_ : list of (int, int)
        ``(n_tokens, n_features)`` per scale seen in ``fit`` (empty for an unused branch).
    n_scales_ : int
    spike_mean_, spike_std_, frame_mean_, frame_std_ : list of ndarray
        Per-scale input scaling (after ``log1p`` for spike tokens with ``scale="log"``).
    network_ : HybridNetwork
    loss_curve_ : list of float
        Mean training cross-entropy (nats) of each epoch.
    validation_loss_curve_, validation_scores_ : list of float
        Validation cross-entropy and accuracy of each early-stopping epoch.
    best_epoch_ : int
        Epoch (from 1) whose parameters are kept.
    n_epochs_ : int
        Epochs run.
    fit_seconds_ : float
        Wall-clock duration of the last ``fit`` (seconds).
    """

    def __init__(
        self,
        mode="cross",
        *,
        width=32,
        n_heads=2,
        ffn_width=None,
        positional="sinusoidal",
        scale="standard",
        dropout=0.1,
        learning_rate=1e-3,
        weight_decay=1e-2,
        batch_size=32,
        max_epochs=100,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        random_state=None,
        dtype="float32",
        blas_threads=1,
        verbose=False,
    ):
        self.mode = mode
        self.width = width
        self.n_heads = n_heads
        self.ffn_width = ffn_width
        self.positional = positional
        self.scale = scale
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.dtype = dtype
        self.blas_threads = blas_threads
        self.verbose = verbose

    def validate_params(self) -> HybridClassifier:
        """Check every hyperparameter (ValueError naming the first bad one); returns self."""
        params = self.get_params()
        validate_params(params, _CONSTRAINTS)
        if params["width"] % params["n_heads"]:
            raise ValueError(f"n_heads: must divide width={params['width']}, got n_heads={params['n_heads']}")
        return self

    # -- input -----------------------------------------------------------------------------------------------------

    def _branches(self, X, mode: str, dtype) -> tuple[list | None, list | None]:
        """Validated arrays of the branches ``mode`` uses (None for the other), in ``dtype``."""
        if not isinstance(X, HybridInputs):
            raise ValueError(
                f"X: expected a networks.hybrid_tokens.HybridInputs (per-scale spike and frame tokens), "
                f"got {type(X).__name__}"
            )
        out = []
        for branch, used in zip(("spike", "frame"), _uses(mode), strict=True):
            arrays = getattr(X, f"{branch}_tokens")
            if not used:
                out.append(None)
                continue
            if not arrays:
                raise ValueError(f"X: mode={mode!r} needs {branch}_tokens, but X has none")
            converted = []
            for i, a in enumerate(arrays):
                if a.dtype.kind not in "biuf":
                    raise ValueError(f"X: {branch}_tokens[{i}] must be numeric, got dtype {a.dtype}")
                a = np.ascontiguousarray(a, dtype=dtype)
                if not np.isfinite(a).all():
                    raise ValueError(f"X: {branch}_tokens[{i}] contains NaN or infinity")
                converted.append(a)
            out.append(converted)
        return out[0], out[1]

    def _check_shapes(self, spikes, frames) -> None:
        for branch, arrays, fitted in (("spike", spikes, self.spike_shapes_), ("frame", frames, self.frame_shapes_)):
            if arrays is None:
                continue
            if len(arrays) != len(fitted):
                raise ValueError(f"X: {len(arrays)} scales of {branch}_tokens, but fit saw {len(fitted)}")
            for i, (a, shape) in enumerate(zip(arrays, fitted, strict=True)):
                if a.shape[1:] != shape:
                    raise ValueError(
                        f"X: {branch}_tokens[{i}] has (n_tokens, n_features) = {a.shape[1:]} per clip, "
                        f"but {type(self).__name__} was fitted on {shape}"
                    )

    def _fit_scaler(self, spikes, frames) -> None:
        def stats(arrays):
            if arrays is None:
                return [], []
            flat = [a.reshape(-1, a.shape[2]).astype(np.float64) for a in arrays]
            if self._scale == "none":
                return [np.zeros(f.shape[1]) for f in flat], [np.ones(f.shape[1]) for f in flat]
            std = [f.std(0) for f in flat]
            for s in std:
                s[s == 0] = 1.0
            return [f.mean(0) for f in flat], std

        self.spike_mean_, self.spike_std_ = stats(self._log(spikes))
        self.frame_mean_, self.frame_std_ = stats(frames)

    def _log(self, spikes):
        if spikes is None or self._scale != "log":
            return spikes
        if any((a <= -1).any() for a in spikes):
            raise ValueError("scale='log' needs every spike token feature > -1 (log1p); use scale='standard'")
        return [np.log1p(a) for a in spikes]

    def _scaled(self, spikes, frames):
        dt = self.network_.dtype

        def apply(arrays, means, stds):
            if arrays is None:
                return None
            return [((a - m.astype(dt)) / s.astype(dt)).astype(dt) for a, m, s in zip(arrays, means, stds, strict=True)]

        return apply(self._log(spikes), self.spike_mean_, self.spike_std_), apply(
            frames, self.frame_mean_, self.frame_std_
        )

    def _prepare(self, X):
        """Validated, scaled branches for prediction (no attribute is written)."""
        check_is_fitted(self, "network_")
        spikes, frames = self._branches(X, self.network_.mode, self.network_.dtype)
        self._check_shapes(spikes, frames)
        return self._scaled(spikes, frames)

    # -- training --------------------------------------------------------------------------------------------------

    def _check_y(self, X, y) -> np.ndarray:
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        y = column_or_1d(y, warn=True)
        if y.dtype.kind in "fc":
            assert_all_finite(y, input_name="y")
        check_classification_targets(y)
        check_consistent_length(X, y)
        return y

    def fit(self, X, y):
        """Train on ``X`` (:class:`~networks.hybrid_tokens.HybridInputs`) with labels ``y``, shape ``(n_clips,)``.

        Returns
        -------
        self
        """
        self.validate_params()
        start = time.perf_counter()
        with threadpool_limits(self.blas_threads, user_api="blas"):
            self._fit(X, y)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _fit(self, X, y) -> None:
        dtype = np.dtype(self.dtype)
        spikes, frames = self._branches(X, self.mode, dtype)
        y = self._check_y(X, y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"y has 1 class ({self.classes_[0]!r}); {type(self).__name__} needs at least 2 classes")
        self.spike_shapes_ = [a.shape[1:] for a in spikes] if spikes is not None else []
        self.frame_shapes_ = [a.shape[1:] for a in frames] if frames is not None else []
        self.n_scales_ = len(spikes if spikes is not None else frames)
        self._scale = self.scale
        self._fit_scaler(spikes, frames)
        self._rng = _rng(self.random_state)
        self.network_ = HybridNetwork(
            self.spike_shapes_,
            self.frame_shapes_,
            len(self.classes_),
            mode=self.mode,
            width=self.width,
            n_heads=self.n_heads,
            hidden=self.ffn_width,
            positional=self.positional,
            dropout=self.dropout,
            rng=self._rng,
            dtype=dtype,
        )
        self.optimizer_ = Adam(
            self.network_.parameters(), lr=float(self.learning_rate), weight_decay=float(self.weight_decay)
        )
        self.loss_curve_, self.validation_loss_curve_, self.validation_scores_ = [], [], []
        self.n_epochs_ = self.best_epoch_ = 0
        spikes, frames = self._scaled(spikes, frames)
        yi = np.searchsorted(self.classes_, y)
        if self.early_stopping:
            self._train_early_stopping((spikes, frames), yi)
        else:
            self._train((spikes, frames), yi, n_epochs=int(self.max_epochs))
            self.best_epoch_ = self.n_epochs_
        self.network_.clear_cache()

    def _subset(self, data: tuple, idx) -> tuple:
        spikes, frames = data
        return _take(spikes, idx), _take(frames, idx)

    def _batch_logits(self, data: tuple) -> np.ndarray:
        return self.network_.forward(*data, training=True)

    # -- prediction ------------------------------------------------------------------------------------------------

    def _logits(self, spikes, frames) -> np.ndarray:
        n = len((spikes or frames)[0])
        chunks = [slice(s, s + _PREDICT_CHUNK) for s in range(0, n, _PREDICT_CHUNK)]
        return np.concatenate([self.network_.forward(_take(spikes, c), _take(frames, c)) for c in chunks])

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape ``(n_clips, n_classes)`` (columns in the order of ``classes_``)."""
        with threadpool_limits(self.blas_threads, user_api="blas"):
            return softmax(self._logits(*self._prepare(X)))

    def predict(self, X) -> np.ndarray:
        """Most probable label of each clip, shape ``(n_clips,)``."""
        return self.classes_[self.predict_proba(X).argmax(1)]

    def attention_maps(self, X) -> list[np.ndarray]:
        """Cross-attention weights of each scale (mode ``"cross"``).

        Returns
        -------
        list of ndarray, shape (n_clips, n_heads, n_spike_tokens_i, n_frame_tokens_i)
            ``[i][c, h, q, k]``: weight of frame token ``k`` (a key-frame cell) in
            the output of spike token ``q`` at scale ``i``; rows sum to 1.
        """
        check_is_fitted(self, "network_")
        if self.network_.mode != "cross":
            raise ValueError(f"attention_maps: the model was fitted with mode={self.network_.mode!r}, not 'cross'")
        with threadpool_limits(self.blas_threads, user_api="blas"):
            spikes, frames = self._prepare(X)
            maps = [[] for _ in range(self.n_scales_)]
            for s in range(0, len(spikes[0]), _PREDICT_CHUNK):
                c = slice(s, s + _PREDICT_CHUNK)
                _, weights = self.network_.forward(_take(spikes, c), _take(frames, c), return_attention=True)
                for i, w in enumerate(weights):
                    maps[i].append(w)
        return [np.concatenate(m) for m in maps]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags


def _take(arrays, idx):
    return None if arrays is None else [a[idx] for a in arrays]
