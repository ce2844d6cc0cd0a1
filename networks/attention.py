"""Attention readout: a small transformer classifier over time bins of spiking features.

Each clip is a sequence of tokens, one per time bin, whose features are the spike
counts (or rates) of the network's neurons in that bin.  :class:`AttentionReadout`
embeds the tokens, adds positions, applies pre-norm transformer blocks, pools and
classifies; it is a scikit-learn classifier, so it can replace the linear readouts
of :mod:`networks.readouts` on the same features to show what attention adds.

Input layouts
-------------
* 3-D ``X``, shape ``(n_clips, n_tokens, n_features)``.
* 2-D ``X``, shape ``(n_clips, n_tokens * n_features)``, with the hyperparameter
  ``n_tokens`` set: the bin-major layout of :func:`networks.features.binned_counts`
  (all neurons of bin 0, then bin 1, ...), read as ``X.reshape(n, n_tokens, -1)``.
* 2-D ``X`` with ``n_tokens=None``: each row is a single token.

Variable-length clips are stacked with trailing padding tokens whose features
are all NaN.  Padding tokens get zero attention weight and are ignored by the
pooling, so predictions do not depend on how much padding there is.  Any other
NaN or infinity is an error.

The layers and their backward passes are in :mod:`networks.nn`.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    assert_all_finite,
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)
from threadpoolctl import threadpool_limits

from .nn import Adam, EncoderBlock, Layer, LayerNorm, Linear, sinusoidal_encoding, softmax
from .training import MiniBatchTraining

__all__ = ["AttentionReadout", "ReadoutNetwork"]

#: Clips per forward pass at prediction time (bounds memory, not results).
_PREDICT_CHUNK = 256


class ReadoutNetwork(Layer):
    """Token embedding, positions, pre-norm encoder blocks, final norm, pooling, linear classifier.

    ``logits = head(pool(LN(blocks(embed(x) + positions))))``, where ``pool`` is the
    mean over real tokens (``pooling="mean"``) or the output of a learned class
    token prepended to the sequence (``pooling="cls"``; the class token has no
    position).

    Parameters
    ----------
    n_features : int
        Features per input token.
    n_classes : int
        Output logits.
    width : int
        Token width inside the network.
    n_heads : int
        Attention heads per block (divides ``width``).
    n_layers : int
        Encoder blocks.
    hidden : int or None
        Feed-forward hidden width (None: ``2 * width``).
    positional : {"sinusoidal", "learned", "none"}
        Position code added to the embedded tokens (position = index in the sequence).
    max_tokens : int or None
        Length of the learned position table (``positional="learned"`` only).
    pooling : {"mean", "cls"}
    dropout : float
        Drop rate on the residual branches.
    rng : numpy.random.Generator or int or None
        Initial weights and dropout masks.
    dtype : numpy dtype
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        width: int = 64,
        n_heads: int = 2,
        n_layers: int = 1,
        hidden: int | None = None,
        positional: str = "sinusoidal",
        max_tokens: int | None = None,
        pooling: str = "mean",
        dropout: float = 0.0,
        rng=None,
        dtype=np.float32,
    ):
        super().__init__()
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.width, self.positional, self.pooling = int(width), positional, pooling
        self.dtype = np.dtype(dtype)
        hidden = 2 * self.width if hidden is None else int(hidden)
        self.layers["embed"] = Linear(n_features, self.width, rng=rng, dtype=dtype)
        if positional == "learned":
            self.params["position"] = (0.1 * rng.standard_normal((max_tokens, self.width))).astype(dtype)
        if pooling == "cls":
            self.params["cls"] = (0.1 * rng.standard_normal(self.width)).astype(dtype)
        self.n_layers = int(n_layers)
        for i in range(self.n_layers):
            self.layers[f"block{i}"] = EncoderBlock(self.width, n_heads, hidden, dropout=dropout, rng=rng, dtype=dtype)
        self.layers["norm"] = LayerNorm(self.width, dtype=dtype)
        self.layers["head"] = Linear(self.width, n_classes, rng=rng, dtype=dtype)

    def _embed(self, x: np.ndarray, training: bool) -> np.ndarray:
        h = self.layers["embed"].forward(x, training=training)
        T = x.shape[1]
        if self.positional == "sinusoidal":
            h += sinusoidal_encoding(T, self.width, self.dtype)
        elif self.positional == "learned":
            n = min(T, len(self.params["position"]))
            h[:, :n] += self.params["position"][:n]
        if self.pooling == "cls":
            cls = np.broadcast_to(self.params["cls"], (x.shape[0], 1, self.width))
            h = np.concatenate([cls, h], axis=1)
        return h

    def forward(self, x: np.ndarray, mask: np.ndarray, *, training: bool = False, return_attention: bool = False):
        """Class logits of a batch of token sequences.

        Parameters
        ----------
        x : ndarray, shape (batch, n_tokens, n_features)
            Finite features (padding tokens: any finite value, e.g. 0).
        mask : ndarray of bool, shape (batch, n_tokens)
            True for real tokens, False for padding.
        training : bool
            Dropout on, and cache for :meth:`backward`.
        return_attention : bool
            Also return the attention weights of every block.

        Returns
        -------
        logits : ndarray, shape (batch, n_classes)
        attention : list of ndarray, shape (batch, n_heads, n_queries, n_keys)
            Only with ``return_attention``; one per block.  With ``pooling="cls"``
            index 0 of the query and key axes is the class token and index
            ``t + 1`` is input token ``t``; otherwise index ``t`` is token ``t``.
        """
        h = self._embed(x, training)
        if self.pooling == "cls":
            mask = np.concatenate([np.ones((len(mask), 1), bool), mask], axis=1)
        weights = []
        for i in range(self.n_layers):
            h = self.layers[f"block{i}"].forward(h, mask, training=training, return_weights=return_attention)
            if return_attention:
                h, w = h
                weights.append(w)
        norm = self.layers["norm"]
        if self.pooling == "cls":
            pooled, m, count = norm.forward(h[:, 0], training=training), None, None
        else:
            m = mask[..., None].astype(self.dtype)
            count = np.maximum(m.sum(1), 1)
            pooled = (norm.forward(h, training=training) * m).sum(1) / count
        logits = self.layers["head"].forward(pooled, training=training)
        if training:
            self._cache = (h.shape, m, count)
        return (logits, weights) if return_attention else logits

    def backward(self, grad: np.ndarray, *, input_grad: bool = False) -> np.ndarray | None:
        """Backpropagate ``d loss / d logits`` (shape ``(batch, n_classes)``); fills ``grads`` of all layers.

        Returns the gradient with respect to ``x`` if ``input_grad``, else None.
        """
        shape, m, count = self._take_cache()
        dpooled = self.layers["head"].backward(grad)
        if self.pooling == "cls":
            dh = np.zeros(shape, dtype=grad.dtype)
            dh[:, 0] = self.layers["norm"].backward(dpooled)
        else:
            dh = self.layers["norm"].backward(dpooled[:, None, :] * (m / count[:, None]))
        for i in reversed(range(self.n_layers)):
            dh = self.layers[f"block{i}"].backward(dh)
        if self.pooling == "cls":
            self.grads["cls"] = dh[:, 0].sum(0)
            dh = dh[:, 1:]
        if self.positional == "learned":
            P = self.params["position"]
            n = min(dh.shape[1], len(P))
            g = np.zeros_like(P)
            g[:n] = dh[:, :n].sum(0)
            self.grads["position"] = g
        return self.layers["embed"].backward(dh, input_grad=input_grad)


# ---------------------------------------------------------------------------------------------------------------
# hyperparameter constraints: name -> rule; one helper checks them all


class _Range:
    """A number of type ``kind`` in an interval (``None``: unbounded); optionally None itself."""

    def __init__(self, kind, low=None, high=None, *, closed="both", none=False):
        self.kind, self.low, self.high, self.closed, self.none = kind, low, high, closed, none

    def accepts(self, v) -> bool:
        if v is None:
            return self.none
        if isinstance(v, bool | np.bool_) or not isinstance(v, self.kind) or v != v:
            return False
        lo_ok = self.low is None or (v >= self.low if self.closed in ("both", "left") else v > self.low)
        hi_ok = self.high is None or (v <= self.high if self.closed in ("both", "right") else v < self.high)
        return lo_ok and hi_ok

    def __str__(self):
        kind = "an int" if self.kind is numbers.Integral else "a float"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        lo = "-inf" if self.low is None else self.low
        hi = "inf" if self.high is None else self.high
        return f"{kind} in {left}{lo}, {hi}{right}" + (" or None" if self.none else "")


class _Options:
    """One of a few values (strings, dtypes, None)."""

    def __init__(self, *choices, shown=None):
        self.choices, self.shown = choices, shown or [c for c in choices if isinstance(c, str | None)]

    def accepts(self, v) -> bool:
        return any(v is c or (isinstance(v, str | type | np.dtype) and v == c) for c in self.choices)

    def __str__(self):
        return "one of " + ", ".join(repr(c) for c in self.shown)


class _Types:
    """An instance of one of a few types."""

    def __init__(self, *types, shown: str):
        self.types, self.shown = types, shown

    def accepts(self, v) -> bool:
        return isinstance(v, self.types)

    def __str__(self):
        return self.shown


_INT, _REAL = numbers.Integral, numbers.Real
_BOOL = _Types(bool, np.bool_, shown="a bool")
_CONSTRAINTS = {
    "width": _Range(_INT, 1),
    "n_heads": _Range(_INT, 1),
    "n_layers": _Range(_INT, 0),
    "ffn_width": _Range(_INT, 1, none=True),
    "positional": _Options("sinusoidal", "learned", "none"),
    "pooling": _Options("mean", "cls"),
    "n_tokens": _Range(_INT, 1, none=True),
    "scale": _Options("standard", "log", "none"),
    "dropout": _Range(_REAL, 0.0, 1.0, closed="left"),
    "learning_rate": _Range(_REAL, 0.0, None, closed="neither"),
    "weight_decay": _Range(_REAL, 0.0),
    "batch_size": _Range(_INT, 1),
    "max_epochs": _Range(_INT, 1),
    "early_stopping": _BOOL,
    "validation_fraction": _Range(_REAL, 0.0, 1.0, closed="neither"),
    "n_iter_no_change": _Range(_INT, 1),
    "tol": _Range(_REAL, 0.0),
    "warm_start": _BOOL,
    "random_state": _Types(
        type(None),
        numbers.Integral,
        np.random.Generator,
        np.random.RandomState,
        shown="None, an int, a numpy.random.Generator or a RandomState",
    ),
    "dtype": _Options("float32", "float64", np.float32, np.float64),
    "blas_threads": _Range(_INT, 1, none=True),
    "verbose": _BOOL,
}

#: Parameters that fix the network's shape: a warm start must keep them.
_ARCHITECTURE = ("width", "n_heads", "n_layers", "ffn_width", "positional", "pooling", "scale", "dtype")


def _check_params(params: dict) -> None:
    """Raise ``ValueError`` naming the first hyperparameter outside its rule in :data:`_CONSTRAINTS`."""
    for name, rule in _CONSTRAINTS.items():
        if not rule.accepts(params[name]):
            raise ValueError(f"{name}: expected {rule}, got {params[name]!r}")
    if params["width"] % params["n_heads"]:
        raise ValueError(f"n_heads: must divide width={params['width']}, got n_heads={params['n_heads']}")


def _rng(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    return np.random.default_rng(random_state)


class AttentionReadout(MiniBatchTraining, ClassifierMixin, BaseEstimator):
    """Transformer readout of spike-count sequences (NumPy, no autograd), as a scikit-learn classifier.

    Tokens are time bins; see the module docstring for the accepted layouts of
    ``X`` and for NaN padding.  Model: ``Linear(n_features, width)`` embedding,
    position code, ``n_layers`` pre-norm blocks (``x + MHA(LN(x))``;
    ``x + FFN(LN(x))``, GELU), final LayerNorm, mean or class-token pooling,
    linear classifier, softmax.  Trained with AdamW on mini-batches, dropout, and
    early stopping on a stratified validation split of the training data.

    Parameters
    ----------
    width : int
        Token width inside the network; divisible by ``n_heads``.
    n_heads : int
        Attention heads per block.
    n_layers : int
        Transformer blocks (0: pooled embedding + linear classifier).
    ffn_width : int or None
        Hidden width of the feed-forward part of each block (None: ``2 * width``).
    positional : {"sinusoidal", "learned", "none"}
        Position code added to the tokens (position = index of the bin).
        ``"learned"`` learns one vector per position up to the longest training
        sequence; ``"none"`` makes the readout blind to the order of the bins.
    pooling : {"mean", "cls"}
        ``"mean"``: average of the real tokens' outputs; ``"cls"``: output of a
        learned class token prepended to each sequence.
    n_tokens : int or None
        Tokens per row of 2-D ``X`` (bin-major columns); ignored for 3-D ``X``.
        None: a 2-D row is one token.
    scale : {"standard", "log", "none"}
        Input scaling fitted on the real training tokens, per feature:
        ``"standard"`` (zero mean, unit variance), ``"log"`` (``log1p``, then
        standard; features must be > -1), or ``"none"``.
    dropout : float
        Drop rate on the residual branches during training, in [0, 1).
    learning_rate : float
        Adam step size.
    weight_decay : float
        Decoupled (AdamW) weight decay per unit learning rate, on weight matrices only.
    batch_size : int
        Clips per mini-batch (clipped to the training-set size).
    max_epochs : int
        Passes over the training data per ``fit`` call.
    early_stopping : bool
        Hold out a stratified ``validation_fraction`` of the training data, stop
        when its loss has not improved by ``tol`` for ``n_iter_no_change`` epochs,
        and keep the parameters of the best epoch.
    validation_fraction : float
        Share of the training clips held out for early stopping, in (0, 1).
    n_iter_no_change : int
        Patience of early stopping, in epochs.
    tol : float
        Minimum decrease of the validation loss (nats) that counts as an improvement.
    warm_start : bool
        ``fit`` continues from the previous solution (same architecture) instead
        of starting anew.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        Seeds initial weights, shuffling, dropout and the validation split.  An
        int gives the same predictions on every ``fit``; a generator is consumed.
    dtype : {"float32", "float64"}
        Computation dtype.
    blas_threads : int or None
        BLAS threads during ``fit``, ``partial_fit`` and prediction (set with
        ``threadpoolctl`` and restored afterwards).  The matrix products here are
        small: on a machine whose cores are busy with other work, several BLAS
        threads wait on each other and are many times slower than one (1, the
        default).  None: leave the process setting unchanged.
    verbose : bool
        Print the losses of each epoch.

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
        Class labels, in the order of the columns of :meth:`predict_proba`.
    n_features_in_ : int
        Columns of 2-D ``X``, or features per token of 3-D ``X``, seen in ``fit``.
    n_token_features_ : int
        Features per token.
    max_tokens_ : int
        Longest training sequence (real tokens up to the last one).
    input_mean_, input_std_ : ndarray, shape (n_token_features_,)
        Input scaling (after ``log1p`` for ``scale="log"``); zeros and ones for ``"none"``.
    network_ : ReadoutNetwork
        The trained network.
    optimizer_ : networks.nn.Adam
        Optimiser state (for warm starts and :meth:`partial_fit`).
    loss_curve_ : list of float
        Mean training cross-entropy (nats) of each epoch, over all ``fit``/``partial_fit`` calls.
    validation_loss_curve_, validation_scores_ : list of float
        Validation cross-entropy and accuracy of each early-stopping epoch.
    best_epoch_ : int
        Epoch (counted from 1, over all calls) whose parameters are kept.
    n_epochs_ : int
        Epochs run, over all calls.
    """

    def __init__(
        self,
        width=64,
        *,
        n_heads=2,
        n_layers=1,
        ffn_width=None,
        positional="sinusoidal",
        pooling="mean",
        n_tokens=None,
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
        warm_start=False,
        random_state=None,
        dtype="float32",
        blas_threads=1,
        verbose=False,
    ):
        self.width = width
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.ffn_width = ffn_width
        self.positional = positional
        self.pooling = pooling
        self.n_tokens = n_tokens
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
        self.warm_start = warm_start
        self.random_state = random_state
        self.dtype = dtype
        self.blas_threads = blas_threads
        self.verbose = verbose

    # -- input ---------------------------------------------------------------------------------------------------

    def _tokens(self, X, *, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        """Validated ``(n, n_tokens, n_features)`` array (padding still NaN) and its mask of real tokens."""
        dtype = np.dtype(self.dtype) if reset else self.network_.dtype
        X = check_array(X, allow_nd=True, ensure_all_finite=False, dtype=dtype, input_name="X", estimator=self)
        n_cols = X.shape[1] if X.ndim == 2 else None
        if X.ndim == 2:
            if self.n_tokens is not None and X.shape[1] % self.n_tokens:
                raise ValueError(f"X has {X.shape[1]} columns, not a multiple of n_tokens={self.n_tokens}")
            X = X.reshape(len(X), self.n_tokens or 1, -1)
        elif X.ndim != 3:
            raise ValueError(
                f"X must be 2-D (n_clips, n_tokens * n_features) or 3-D (n_clips, n_tokens, "
                f"n_features), got {X.ndim}-D with shape {X.shape}"
            )
        if reset:
            self.n_features_in_ = n_cols if n_cols is not None else X.shape[2]
            self.n_token_features_ = X.shape[2]
        elif X.shape[2] != self.n_token_features_:
            if n_cols is not None:
                raise ValueError(
                    f"X has {n_cols} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input"
                )
            raise ValueError(
                f"X has {X.shape[2]} features per token, but {type(self).__name__} is expecting "
                f"{self.n_token_features_} features per token"
            )
        return X, self._mask(X)

    @staticmethod
    def _mask(X: np.ndarray) -> np.ndarray:
        """True for real tokens; raise on NaN/inf inside a real token or on a clip without real tokens."""
        nan = np.isnan(X)
        mask = ~nan.all(-1)
        bad = ~np.isfinite(X) & mask[..., None]
        if bad.any():
            i, t, f = np.argwhere(bad)[0]
            what = "NaN" if nan[i, t, f] else "infinity"
            raise ValueError(
                f"X contains {what} in a real token (clip {i}, token {t}, feature {f}); only padding "
                "tokens may be non-finite, and they must be NaN in every feature"
            )
        empty = ~mask.any(1)
        if empty.any():
            raise ValueError(f"X: clip {np.flatnonzero(empty)[0]} has no real tokens (every token is NaN padding)")
        return mask

    @staticmethod
    def _log1p(X: np.ndarray, mask: np.ndarray) -> np.ndarray:
        X = np.where(mask[..., None], X, 0)
        if (X <= -1).any():
            raise ValueError("scale='log' needs every feature > -1 (log1p); use scale='standard' or 'none'")
        return np.log1p(X)

    def _fit_scaler(self, X: np.ndarray, mask: np.ndarray) -> None:
        if self.scale == "log":
            X = self._log1p(X, mask)
        real = X[mask].astype(np.float64)
        if self.scale == "none":
            mean, std = np.zeros(X.shape[2]), np.ones(X.shape[2])
        else:
            mean, std = real.mean(0), real.std(0)
            std[std == 0] = 1.0
        self.input_mean_, self.input_std_ = mean.astype(X.dtype), std.astype(X.dtype)

    def _scaled(self, X: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Scaled copy of ``X`` with padding tokens set to 0."""
        if self._architecture["scale"] == "log":
            X = self._log1p(X, mask)
        out = (X - self.input_mean_) / self.input_std_
        out[~mask] = 0
        return out

    def _prepare(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Validated, scaled tokens and mask for prediction (no attribute is written)."""
        check_is_fitted(self, "network_")
        X, mask = self._tokens(X, reset=False)
        if (
            self.network_.positional == "learned"
            and mask.shape[1] > self.max_tokens_
            and mask[:, self.max_tokens_ :].any()
        ):
            raise ValueError(
                f"X has real tokens beyond position {self.max_tokens_ - 1}, the longest sequence "
                "seen in fit (positional='learned' has no code for them)"
            )
        return self._scaled(X, mask), mask

    # -- training ------------------------------------------------------------------------------------------------

    def _check_y(self, X, y):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        y = column_or_1d(y, warn=True)
        if y.dtype.kind in "fc":
            assert_all_finite(y, input_name="y")
        check_classification_targets(y)
        check_consistent_length(X, y)
        return y

    def _start(self, X, mask, y, classes) -> None:
        """Fresh state: classes, scaling, network and optimiser."""
        self.classes_ = np.unique(y) if classes is None else np.unique(np.asarray(classes))
        if len(self.classes_) < 2:
            raise ValueError(f"y has 1 class ({self.classes_[0]!r}); {type(self).__name__} needs at least 2 classes")
        self._fit_scaler(X, mask)
        self.max_tokens_ = int(np.flatnonzero(mask.any(0)).max()) + 1
        self._rng = _rng(self.random_state)
        self._architecture = self._shape_params()
        self.network_ = ReadoutNetwork(
            X.shape[2],
            len(self.classes_),
            width=self.width,
            n_heads=self.n_heads,
            n_layers=self.n_layers,
            hidden=self.ffn_width,
            positional=self.positional,
            max_tokens=self.max_tokens_,
            pooling=self.pooling,
            dropout=self.dropout,
            rng=self._rng,
            dtype=np.dtype(self.dtype),
        )
        self.optimizer_ = Adam(self.network_.parameters())
        self.loss_curve_, self.validation_loss_curve_, self.validation_scores_ = [], [], []
        self.n_epochs_ = self.best_epoch_ = 0

    def _shape_params(self) -> dict:
        params = {k: getattr(self, k) for k in _ARCHITECTURE}
        params["dtype"] = np.dtype(params["dtype"]).name
        return params

    def _check_labels(self, y) -> None:
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(f"y has labels {unknown.tolist()} not in classes_ {self.classes_.tolist()}")

    def _continue(self) -> None:
        now = self._shape_params()
        changed = [k for k in _ARCHITECTURE if self._architecture[k] != now[k]]
        if changed:
            raise ValueError(
                f"warm start: {', '.join(changed)} changed since the last fit; the network cannot "
                "be reused (set warm_start=False)"
            )

    def _encode(self, y) -> np.ndarray:
        return np.searchsorted(self.classes_, y)

    def validate_params(self) -> AttentionReadout:
        """Check every hyperparameter (ValueError naming the first bad one); returns self."""
        _check_params(self.get_params())
        return self

    def fit(self, X, y):
        """Train on clips ``X`` (see the class docstring for layouts) with labels ``y``, shape ``(n_clips,)``.

        Returns
        -------
        self
        """
        _check_params(self.get_params())
        with threadpool_limits(self.blas_threads, user_api="blas"):
            return self._fit(X, y, classes=None, partial=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X, y``, continuing from the current state (no early stopping).

        Parameters
        ----------
        X, y
            As for :meth:`fit`.
        classes : array-like or None
            All labels, needed on the first call if ``y`` does not contain every class.

        Returns
        -------
        self
        """
        _check_params(self.get_params())
        with threadpool_limits(self.blas_threads, user_api="blas"):
            return self._fit(X, y, classes=classes, partial=True)

    def _fit(self, X, y, *, classes, partial: bool):
        first = not ((partial or self.warm_start) and hasattr(self, "network_"))
        y = self._check_y(X, y)
        X, mask = self._tokens(X, reset=first)
        if first:
            self._start(X, mask, y, classes)
            self._check_labels(y)
        else:
            self._continue()
            if classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
                raise ValueError(f"classes: {classes!r} differs from classes_ of the first partial_fit call")
            self._check_labels(y)
        if self.positional == "learned" and mask.shape[1] > self.max_tokens_ and mask[:, self.max_tokens_ :].any():
            raise ValueError(
                f"X has real tokens beyond position {self.max_tokens_ - 1}, the longest sequence "
                "of the first fit (positional='learned')"
            )
        opt = self.optimizer_
        opt.lr, opt.weight_decay = float(self.learning_rate), float(self.weight_decay)
        Xs, yi = self._scaled(X, mask), self._encode(y)
        if partial or not self.early_stopping:
            self._train((Xs, mask), yi, n_epochs=1 if partial else int(self.max_epochs))
            self.best_epoch_ = self.n_epochs_
        else:
            self._train_early_stopping((Xs, mask), yi)
        self.network_.clear_cache()
        return self

    def _subset(self, data: tuple, idx) -> tuple:
        X, mask = data
        return X[idx], mask[idx]

    def _batch_logits(self, data: tuple) -> np.ndarray:
        return self.network_.forward(*_trim(*data), training=True)

    def _logits(self, X: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = [
            self.network_.forward(*_trim(X[s : s + _PREDICT_CHUNK], mask[s : s + _PREDICT_CHUNK]))
            for s in range(0, len(X), _PREDICT_CHUNK)
        ]
        return np.concatenate(out)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape ``(n_clips, n_classes)`` (columns in the order of ``classes_``; rows sum to 1)."""
        with threadpool_limits(self.blas_threads, user_api="blas"):
            return softmax(self._logits(*self._prepare(X)))

    def predict(self, X) -> np.ndarray:
        """Most probable label of each clip, shape ``(n_clips,)``."""
        with threadpool_limits(self.blas_threads, user_api="blas"):
            logits = self._logits(*self._prepare(X))
        return self.classes_[logits.argmax(1)]

    def attention_maps(self, X) -> list[np.ndarray]:
        """Attention weights of every block, for plotting which time bins the readout looks at.

        Parameters
        ----------
        X : array-like
            Clips, in any accepted layout.

        Returns
        -------
        list of ndarray, shape (n_clips, n_heads, n_queries, n_keys)
            One array per block (dtype ``dtype``).  ``[b][i, h, q, k]`` is the
            weight of key token ``k`` in the output of query token ``q`` (head
            ``h``): each real query's row sums to 1 over the keys.  With
            ``pooling="mean"``, ``n_queries = n_keys = n_tokens`` and index ``t``
            is time bin ``t``; with ``pooling="cls"`` there is one more, index 0
            is the class token (its row, ``q = 0``, is what the classifier reads)
            and index ``t + 1`` is time bin ``t``.  Padding keys and the rows of
            padding queries are exactly 0.
        """
        with threadpool_limits(self.blas_threads, user_api="blas"):
            return self._attention_maps(*self._prepare(X))

    def _attention_maps(self, X: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
        cls = self.network_.pooling == "cls"
        full = np.concatenate([np.ones((len(mask), 1), bool), mask], 1) if cls else mask
        maps = [[] for _ in range(self.network_.n_layers)]
        for s in range(0, len(X), _PREDICT_CHUNK):
            _, weights = self.network_.forward(
                X[s : s + _PREDICT_CHUNK], mask[s : s + _PREDICT_CHUNK], return_attention=True
            )
            for b, w in enumerate(weights):
                maps[b].append(w * full[s : s + _PREDICT_CHUNK, None, :, None])
        return [np.concatenate(m) for m in maps]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


def _trim(X: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop the token columns after the last real token of the batch (padding only: results unchanged)."""
    T = int(np.flatnonzero(mask.any(0)).max()) + 1
    return X[:, :T], mask[:, :T]
