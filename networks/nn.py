"""Differentiable building blocks in plain NumPy, with hand-written backward passes.

Every layer keeps its parameters in ``params`` (name -> array) and its sub-layers
in ``layers``.  ``forward(..., training=True)`` caches what ``backward`` needs;
``backward(grad)`` returns the gradient with respect to the input(s) and fills
``grads`` (the same names as ``params``).  With ``training=False`` nothing is
stored on the layer (safe for prediction) and dropout is the identity.

Shapes: tokens are ``(batch, n_tokens, width)``; a key mask is ``(batch, n_keys)``
of bool, True for a real token and False for padding.  Arrays follow the dtype of
the parameters (float32 by default, float64 for gradient checks); inputs must
already have that dtype.

Layers: :class:`Linear`, :class:`LayerNorm`, :class:`GELU`, :class:`ReLU`,
:class:`FeedForward`, :class:`Dropout`, :class:`MultiHeadAttention` (self- and
cross-attention), :class:`EncoderBlock` (pre-norm transformer block),
:class:`CrossAttention` (pre-norm residual cross-attention: queries from one
token set, keys/values from another), :class:`ResidualFeedForward` (pre-norm
residual feed-forward).
Functions: :func:`softmax`, :func:`softmax_cross_entropy`,
:func:`sinusoidal_encoding`.  Optimiser: :class:`Adam` (AdamW weight decay).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "Adam",
    "CrossAttention",
    "Dropout",
    "EncoderBlock",
    "FeedForward",
    "GELU",
    "Layer",
    "LayerNorm",
    "Linear",
    "MultiHeadAttention",
    "ReLU",
    "ResidualFeedForward",
    "sinusoidal_encoding",
    "softmax",
    "softmax_cross_entropy",
]


class Layer:
    """Base class: ``params``, ``grads`` and sub-``layers`` of a differentiable layer."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.layers: dict[str, Layer] = {}
        self._cache = None

    def parameters(self, prefix: str = "") -> dict[str, np.ndarray]:
        """All parameter arrays of this layer and its sub-layers, by dotted name.

        The arrays are the layer's own (not copies): updating them in place
        updates the layer.
        """
        out = {prefix + k: v for k, v in self.params.items()}
        for name, layer in self.layers.items():
            out.update(layer.parameters(f"{prefix}{name}."))
        return out

    def gradients(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Gradients from the last ``backward``, with the names of :meth:`parameters`."""
        out = {prefix + k: v for k, v in self.grads.items()}
        for name, layer in self.layers.items():
            out.update(layer.gradients(f"{prefix}{name}."))
        return out

    def clear_cache(self) -> None:
        """Drop what the last training forward stored (and the gradients)."""
        self._cache = None
        self.grads = {}
        for layer in self.layers.values():
            layer.clear_cache()

    def _take_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward needs a preceding forward(..., training=True)")
        cache, self._cache = self._cache, None
        return cache


def _init_rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class Linear(Layer):
    """Affine map ``y = x @ W + b`` over the last axis.

    Parameters
    ----------
    n_in, n_out : int
        Input and output widths.
    rng : numpy.random.Generator or int or None
        Source of the initial weights, normal with standard deviation ``1/sqrt(n_in)``.
    dtype : numpy dtype
        Parameter (and computation) dtype.
    bias : bool
        Whether to add ``b``.
    """

    def __init__(self, n_in: int, n_out: int, *, rng=None, dtype=np.float32, bias: bool = True):
        super().__init__()
        rng = _init_rng(rng)
        self.params["W"] = (rng.standard_normal((n_in, n_out)) / math.sqrt(n_in)).astype(dtype)
        if bias:
            self.params["b"] = np.zeros(n_out, dtype=dtype)

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        """``x``: ``(..., n_in)`` -> ``(..., n_out)``."""
        W = self.params["W"]
        y = x.reshape(-1, W.shape[0]) @ W
        if "b" in self.params:
            y += self.params["b"]
        if training:
            self._cache = x
        return y.reshape(*x.shape[:-1], W.shape[1])

    def backward(self, grad: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """``grad``: ``(..., n_out)`` -> input gradient ``(..., n_in)`` (None if not ``input_grad``)."""
        x = self._take_cache()
        W = self.params["W"]
        g2 = grad.reshape(-1, W.shape[1])
        self.grads["W"] = x.reshape(-1, W.shape[0]).T @ g2
        if "b" in self.params:
            self.grads["b"] = g2.sum(0)
        return (g2 @ W.T).reshape(x.shape) if input_grad else None


class LayerNorm(Layer):
    """Normalise each token over its last axis, then scale (``gamma``) and shift (``beta``).

    Parameters
    ----------
    width : int
        Size of the normalised (last) axis.
    eps : float
        Added to the variance.
    dtype : numpy dtype
    """

    def __init__(self, width: int, *, eps: float = 1e-5, dtype=np.float32):
        super().__init__()
        self.eps = float(eps)
        self.params["gamma"] = np.ones(width, dtype=dtype)
        self.params["beta"] = np.zeros(width, dtype=dtype)

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        """``x``: ``(..., width)`` -> same shape."""
        mu = x.mean(-1, keepdims=True)
        xc = x - mu
        inv = 1.0 / np.sqrt((xc * xc).mean(-1, keepdims=True) + self.eps)
        xhat = xc * inv
        if training:
            self._cache = (xhat, inv)
        return xhat * self.params["gamma"] + self.params["beta"]

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """Input gradient, same shape as ``grad``."""
        xhat, inv = self._take_cache()
        lead = tuple(range(grad.ndim - 1))
        self.grads["gamma"] = (grad * xhat).sum(lead)
        self.grads["beta"] = grad.sum(lead)
        g = grad * self.params["gamma"]
        return inv * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))


class GELU(Layer):
    """Gaussian error linear unit (tanh approximation), elementwise."""

    _C = math.sqrt(2.0 / math.pi)

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        t = np.tanh(self._C * (x + 0.044715 * x**3))
        if training:
            self._cache = (x, t)
        return 0.5 * x * (1.0 + t)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        x, t = self._take_cache()
        du = self._C * (1.0 + 3 * 0.044715 * x * x)
        return grad * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)


class ReLU(Layer):
    """Rectified linear unit, elementwise."""

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        if training:
            self._cache = x > 0
        return np.maximum(x, 0)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self._take_cache()


class FeedForward(Layer):
    """Token-wise two-layer perceptron: ``Linear(width, hidden) -> activation -> Linear(hidden, width)``.

    Parameters
    ----------
    width, hidden : int
        Input/output width and hidden width.
    activation : {"gelu", "relu"}
    rng, dtype
        As for :class:`Linear`.
    """

    def __init__(self, width: int, hidden: int, *, activation: str = "gelu", rng=None, dtype=np.float32):
        super().__init__()
        if activation not in ("gelu", "relu"):
            raise ValueError(f"activation: expected 'gelu' or 'relu', got {activation!r}")
        rng = _init_rng(rng)
        self.layers["fc1"] = Linear(width, hidden, rng=rng, dtype=dtype)
        self.layers["act"] = GELU() if activation == "gelu" else ReLU()
        self.layers["fc2"] = Linear(hidden, width, rng=rng, dtype=dtype)

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        """``x``: ``(..., width)`` -> same shape."""
        L = self.layers
        return L["fc2"].forward(
            L["act"].forward(L["fc1"].forward(x, training=training), training=training), training=training
        )

    def backward(self, grad: np.ndarray) -> np.ndarray:
        L = self.layers
        return L["fc1"].backward(L["act"].backward(L["fc2"].backward(grad)))


class Dropout(Layer):
    """Inverted dropout: zero a random share ``rate`` of the elements in training, identity otherwise.

    Kept elements are scaled by ``1 / (1 - rate)``, so the expected output equals the input.

    Parameters
    ----------
    rate : float
        Drop probability, in [0, 1).
    rng : numpy.random.Generator or int or None
        Source of the masks (share one generator between layers for a reproducible network).
    """

    def __init__(self, rate: float, *, rng=None):
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate: must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.rng = _init_rng(rng)

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        if not training or self.rate == 0.0:
            if training:
                self._cache = 1.0
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.rate
        scale = keep * x.dtype.type(1.0 / (1.0 - self.rate))
        self._cache = scale
        return x * scale

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self._take_cache()


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis`` (``-inf`` entries get weight 0; an all ``-inf`` slice gives 0)."""
    m = z.max(axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(z - m)
    s = e.sum(axis, keepdims=True)
    return e / np.where(s > 0, s, 1)


def softmax_cross_entropy(logits: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) against integer targets, and its gradient.

    Parameters
    ----------
    logits : ndarray, shape (n, n_classes)
    target : ndarray of int, shape (n,)
        Class index of each row.

    Returns
    -------
    loss : float
        Mean negative log-likelihood (nats).
    grad : ndarray, shape (n, n_classes)
        d loss / d logits.
    """
    n = logits.shape[0]
    z = logits - logits.max(1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
    rows = np.arange(n)
    loss = -float(log_p[rows, target].mean())
    grad = np.exp(log_p)
    grad[rows, target] -= 1.0
    grad /= n
    return loss, grad


def sinusoidal_encoding(n_positions: int, width: int, dtype=np.float32) -> np.ndarray:
    """Fixed sinusoidal position code (Vaswani et al. 2017).

    ``P[p, 2i] = sin(p / 10000**(2i / width))``, ``P[p, 2i + 1] = cos(...)``.

    Returns
    -------
    ndarray, shape (n_positions, width)
        Values in [-1, 1].
    """
    pos = np.arange(n_positions, dtype=np.float64)[:, None]
    freq = 10000.0 ** (-np.arange(0, width, 2, dtype=np.float64) / width)
    P = np.zeros((n_positions, width))
    P[:, 0::2] = np.sin(pos * freq)
    P[:, 1::2] = np.cos(pos * freq[: width // 2])
    return P.astype(dtype)


class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product attention, for self- or cross-attention.

    Queries come from ``x_query`` (width ``width``); keys and values come from
    ``x_keyvalue`` (width ``kv_width``), which may be a different token set of a
    different length: cross-attention, e.g. queries from spiking tokens and
    keys/values from image-feature tokens.  With ``x_keyvalue=None`` the layer
    attends within ``x_query`` (self-attention).  The output has one token per
    query, of width ``width``.

    Attention weights of query ``i`` over keys ``j``:
    ``softmax_j(q_i . k_j / sqrt(width / n_heads))``, where keys with
    ``key_mask[b, j] == False`` get logit ``-inf`` and so exactly zero weight.  A
    query whose keys are all masked gets all-zero weights (its output is the
    output bias), never NaN.

    Parameters
    ----------
    width : int
        Query and output width; divisible by ``n_heads``.
    n_heads : int
        Number of heads, each of width ``width // n_heads``.
    kv_width : int or None
        Width of the key/value tokens (None: ``width``).
    rng, dtype
        As for :class:`Linear`.
    """

    def __init__(self, width: int, n_heads: int, *, kv_width: int | None = None, rng=None, dtype=np.float32):
        super().__init__()
        if n_heads < 1 or width % n_heads:
            raise ValueError(f"n_heads: must divide width={width}, got {n_heads}")
        rng = _init_rng(rng)
        self.width, self.n_heads = int(width), int(n_heads)
        self.kv_width = self.width if kv_width is None else int(kv_width)
        self.layers["query"] = Linear(self.width, self.width, rng=rng, dtype=dtype)
        self.layers["keyvalue"] = Linear(self.kv_width, 2 * self.width, rng=rng, dtype=dtype)
        self.layers["out"] = Linear(self.width, self.width, rng=rng, dtype=dtype)

    def _split(self, t: np.ndarray) -> np.ndarray:
        """``(B, N, width)`` -> ``(B, heads, N, width // heads)``."""
        B, N, _ = t.shape
        return t.reshape(B, N, self.n_heads, -1).transpose(0, 2, 1, 3)

    def _merge(self, t: np.ndarray) -> np.ndarray:
        """``(B, heads, N, d)`` -> ``(B, N, heads * d)``."""
        B, _, N, _ = t.shape
        return t.transpose(0, 2, 1, 3).reshape(B, N, self.width)

    def forward(
        self,
        x_query: np.ndarray,
        x_keyvalue: np.ndarray | None = None,
        key_mask: np.ndarray | None = None,
        *,
        training: bool = False,
        return_weights: bool = False,
    ):
        """Attend from queries to keys/values.

        Parameters
        ----------
        x_query : ndarray, shape (batch, n_queries, width)
        x_keyvalue : ndarray, shape (batch, n_keys, kv_width), or None
            None: self-attention (keys/values from ``x_query``).
        key_mask : ndarray of bool, shape (batch, n_keys), or None
            True for real keys, False for padding; None: all real.
        training : bool
            Cache for :meth:`backward`.
        return_weights : bool
            Also return the attention weights.

        Returns
        -------
        out : ndarray, shape (batch, n_queries, width)
        weights : ndarray, shape (batch, n_heads, n_queries, n_keys)
            Only with ``return_weights``; each row sums to 1 over real keys (0 if it has none).
        """
        L = self.layers
        self_attention = x_keyvalue is None
        x_kv = x_query if self_attention else x_keyvalue
        q = self._split(L["query"].forward(x_query, training=training))
        kv = L["keyvalue"].forward(x_kv, training=training)
        k, v = self._split(kv[..., : self.width]), self._split(kv[..., self.width :])
        scale = 1.0 / math.sqrt(self.width // self.n_heads)
        logits = (q @ k.swapaxes(-1, -2)) * scale
        if key_mask is not None:
            logits = np.where(key_mask[:, None, None, :], logits, -np.inf)
        w = softmax(logits)
        ctx = self._merge(w @ v)
        out = L["out"].forward(ctx, training=training)
        if training:
            self._cache = (q, k, v, w, scale, self_attention)
        return (out, w) if return_weights else out

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Gradients of the inputs of the last training forward.

        Returns
        -------
        grad_query : ndarray, shape (batch, n_queries, width)
            For self-attention this already includes the key/value path.
        grad_keyvalue : ndarray, shape (batch, n_keys, kv_width), or None
            None for self-attention.
        """
        q, k, v, w, scale, self_attention = self._take_cache()
        L = self.layers
        dctx = self._split(L["out"].backward(grad))
        dw = dctx @ v.swapaxes(-1, -2)
        dv = w.swapaxes(-1, -2) @ dctx
        dlogits = w * (dw - (dw * w).sum(-1, keepdims=True))
        dlogits *= scale
        dq = dlogits @ k
        dk = dlogits.swapaxes(-1, -2) @ q
        dx_q = L["query"].backward(self._merge(dq))
        dx_kv = L["keyvalue"].backward(np.concatenate([self._merge(dk), self._merge(dv)], axis=-1))
        if self_attention:
            return dx_q + dx_kv, None
        return dx_q, dx_kv


class EncoderBlock(Layer):
    """Pre-norm transformer block: ``x + Dropout(MHA(LN(x)))``, then ``x + Dropout(FFN(LN(x)))``.

    Parameters
    ----------
    width : int
        Token width.
    n_heads : int
        Attention heads (divides ``width``).
    hidden : int
        Hidden width of the feed-forward part.
    dropout : float
        Drop rate on both residual branches.
    activation : {"gelu", "relu"}
    rng : numpy.random.Generator or int or None
        Initial weights and dropout masks.
    dtype : numpy dtype
    """

    def __init__(
        self,
        width: int,
        n_heads: int,
        hidden: int,
        *,
        dropout: float = 0.0,
        activation: str = "gelu",
        rng=None,
        dtype=np.float32,
    ):
        super().__init__()
        rng = _init_rng(rng)
        self.layers["norm1"] = LayerNorm(width, dtype=dtype)
        self.layers["attention"] = MultiHeadAttention(width, n_heads, rng=rng, dtype=dtype)
        self.layers["drop1"] = Dropout(dropout, rng=rng)
        self.layers["norm2"] = LayerNorm(width, dtype=dtype)
        self.layers["ffn"] = FeedForward(width, hidden, activation=activation, rng=rng, dtype=dtype)
        self.layers["drop2"] = Dropout(dropout, rng=rng)

    def forward(
        self, x: np.ndarray, key_mask: np.ndarray | None = None, *, training: bool = False, return_weights: bool = False
    ):
        """``x``: ``(batch, n_tokens, width)`` -> same shape (and the attention weights if asked)."""
        L = self.layers
        a = L["attention"].forward(
            L["norm1"].forward(x, training=training), None, key_mask, training=training, return_weights=return_weights
        )
        a, w = a if return_weights else (a, None)
        x = x + L["drop1"].forward(a, training=training)
        x = x + L["drop2"].forward(
            L["ffn"].forward(L["norm2"].forward(x, training=training), training=training), training=training
        )
        return (x, w) if return_weights else x

    def backward(self, grad: np.ndarray) -> np.ndarray:
        L = self.layers
        grad = grad + L["norm2"].backward(L["ffn"].backward(L["drop2"].backward(grad)))
        dx, _ = L["attention"].backward(L["drop1"].backward(grad))
        return grad + L["norm1"].backward(dx)


class CrossAttention(Layer):
    """Pre-norm residual cross-attention: ``x + Dropout(MHA(LN_q(x), LN_c(context), mask))``.

    Each query token of ``x`` (e.g. a spiking token) gathers the value of the
    context tokens (e.g. key-frame tokens) whose keys match it; the result is
    added to ``x``, so the output has the shape of ``x``.  The two token sets may
    differ in length and width and have their own LayerNorm.  The attention itself
    is :class:`MultiHeadAttention` with ``kv_width=context_width``: weights
    ``softmax_j(q_i . k_j / sqrt(width / n_heads))`` per head; masked context
    tokens get weight exactly 0, and a query whose context is all masked gets
    only the attention's output bias.

    Parameters
    ----------
    width : int
        Width of the query tokens (and of the output); divisible by ``n_heads``.
    n_heads : int
        Attention heads.
    context_width : int or None
        Width of the context tokens (None: ``width``).
    dropout : float
        Drop rate on the attention branch.
    rng : numpy.random.Generator or int or None
        Initial weights and dropout masks.
    dtype : numpy dtype
    """

    def __init__(
        self,
        width: int,
        n_heads: int,
        *,
        context_width: int | None = None,
        dropout: float = 0.0,
        rng=None,
        dtype=np.float32,
    ):
        super().__init__()
        rng = _init_rng(rng)
        context_width = int(width) if context_width is None else int(context_width)
        self.layers["norm_query"] = LayerNorm(width, dtype=dtype)
        self.layers["norm_context"] = LayerNorm(context_width, dtype=dtype)
        self.layers["attention"] = MultiHeadAttention(width, n_heads, kv_width=context_width, rng=rng, dtype=dtype)
        self.layers["drop"] = Dropout(dropout, rng=rng)

    def forward(
        self,
        x: np.ndarray,
        context: np.ndarray,
        context_mask: np.ndarray | None = None,
        *,
        training: bool = False,
        return_weights: bool = False,
    ):
        """Queries ``x`` attend to ``context``.

        Parameters
        ----------
        x : ndarray, shape (batch, n_queries, width)
        context : ndarray, shape (batch, n_context, context_width)
        context_mask : ndarray of bool, shape (batch, n_context), or None
            True for real context tokens, False for padding; None: all real.
        training : bool
            Dropout on, and cache for :meth:`backward`.
        return_weights : bool
            Also return the attention weights.

        Returns
        -------
        out : ndarray, shape (batch, n_queries, width)
        weights : ndarray, shape (batch, n_heads, n_queries, n_context)
            Only with ``return_weights``; rows sum to 1 over real context tokens.
        """
        L = self.layers
        a = L["attention"].forward(
            L["norm_query"].forward(x, training=training),
            L["norm_context"].forward(context, training=training),
            context_mask,
            training=training,
            return_weights=return_weights,
        )
        a, w = a if return_weights else (a, None)
        out = x + L["drop"].forward(a, training=training)
        return (out, w) if return_weights else out

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradients of ``x`` and ``context`` (shapes of the last training forward's inputs)."""
        L = self.layers
        dq, dc = L["attention"].backward(L["drop"].backward(grad))
        return grad + L["norm_query"].backward(dq), L["norm_context"].backward(dc)


class ResidualFeedForward(Layer):
    """Pre-norm residual feed-forward: ``x + Dropout(FFN(LN(x)))``, token-wise.

    Parameters
    ----------
    width : int
        Token width.
    hidden : int
        Hidden width of the :class:`FeedForward`.
    dropout : float
        Drop rate on the feed-forward branch.
    activation : {"gelu", "relu"}
    rng, dtype
        As for :class:`CrossAttention`.
    """

    def __init__(
        self, width: int, hidden: int, *, dropout: float = 0.0, activation: str = "gelu", rng=None, dtype=np.float32
    ):
        super().__init__()
        rng = _init_rng(rng)
        self.layers["norm"] = LayerNorm(width, dtype=dtype)
        self.layers["ffn"] = FeedForward(width, hidden, activation=activation, rng=rng, dtype=dtype)
        self.layers["drop"] = Dropout(dropout, rng=rng)

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        """``x``: ``(..., width)`` -> same shape."""
        L = self.layers
        return x + L["drop"].forward(
            L["ffn"].forward(L["norm"].forward(x, training=training), training=training), training=training
        )

    def backward(self, grad: np.ndarray) -> np.ndarray:
        L = self.layers
        return grad + L["norm"].backward(L["ffn"].backward(L["drop"].backward(grad)))


class Adam:
    """Adam with decoupled weight decay (AdamW, Loshchilov & Hutter 2019).

    Each :meth:`step` updates the parameter arrays in place::

        m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
        p -= lr * weight_decay * p            (decayed parameters only)
        p -= lr * m_hat / (sqrt(v_hat) + eps)

    Parameters
    ----------
    params : dict of str -> ndarray
        Arrays to optimise (e.g. ``Layer.parameters()``), updated in place.
    lr : float
        Learning rate.
    betas : (float, float)
        Decay rates of the first and second moment estimates.
    eps : float
        Added to the root of the second moment.
    weight_decay : float
        Decoupled decay per unit learning rate.
    decay : set of str or None
        Names of the parameters to decay; None: those with ``ndim >= 2`` (weight
        matrices, not biases or normalisation gains).
    """

    def __init__(
        self,
        params: dict[str, np.ndarray],
        *,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decay=None,
    ):
        self.params = params
        self.lr, self.betas, self.eps, self.weight_decay = float(lr), tuple(betas), float(eps), float(weight_decay)
        self.decay = {k for k, p in params.items() if p.ndim >= 2} if decay is None else set(decay)
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self.t = 0

    def step(self, grads: dict[str, np.ndarray]) -> None:
        """One update from ``grads`` (the names of ``params``)."""
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1.0 - b1**self.t, 1.0 - b2**self.t
        for k, p in self.params.items():
            g, m, v = grads[k], self.m[k], self.v[k]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            if self.weight_decay and k in self.decay:
                p *= 1.0 - self.lr * self.weight_decay
            p -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)
