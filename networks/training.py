"""Mini-batch training shared by the NumPy classifiers: epochs of AdamW, a stratified split, early stopping.

:class:`MiniBatchTraining` is a mixin of :class:`~networks.attention.AttentionReadout` and
:class:`~networks.hybrid.HybridClassifier`.  A subclass keeps its inputs as one tuple
of arrays indexed by clip (``data``) and says how to select clips of it
(:meth:`~MiniBatchTraining._subset`) and how its network maps a selection to logits
(:meth:`~MiniBatchTraining._batch_logits` while training, ``_logits(*data)`` for
prediction).  It provides ``network_`` (a :class:`~networks.nn.Layer`), ``optimizer_``
(:class:`~networks.nn.Adam`), ``_rng``, ``classes_`` and the hyperparameters
``batch_size``, ``max_epochs``, ``validation_fraction``, ``n_iter_no_change``, ``tol``
and ``verbose``; training appends to ``loss_curve_``, ``validation_loss_curve_`` and
``validation_scores_`` and counts ``n_epochs_`` and ``best_epoch_``.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from .nn import softmax_cross_entropy

__all__ = ["MiniBatchTraining", "split_problem"]


def split_problem(counts, fraction: float) -> str | None:
    """Why a stratified ``fraction`` validation split of clips with class ``counts`` is impossible, or None.

    The split holds out ``ceil(fraction * n)`` clips and needs, for the classes present,
    two clips per class and one per class on each side.
    """
    counts = np.asarray(counts)
    present, n = counts[counts > 0], int(counts.sum())
    n_val = int(np.ceil(float(fraction) * n))
    if present.min() < 2 or n_val < len(present) or n - n_val < len(present):
        return (
            f"a stratified validation_fraction={fraction} split of {n} clips holds out {n_val} and needs >= 2 "
            f"clips per class and >= 1 per class on each side (class counts {counts.tolist()})"
        )
    return None


class MiniBatchTraining:
    """Epochs of mini-batch AdamW over clips, and early stopping on a stratified validation split."""

    def _subset(self, data: tuple, idx) -> tuple:
        """The clips ``idx`` of ``data``."""
        raise NotImplementedError

    def _batch_logits(self, data: tuple) -> np.ndarray:
        """Logits of a training mini-batch (``training=True``: dropout on)."""
        raise NotImplementedError

    def _split(self, yi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stratified (train, validation) clip indices; ValueError when the classes cannot be split."""
        problem = split_problem(np.bincount(yi, minlength=len(self.classes_)), self.validation_fraction)
        if problem:
            raise ValueError(f"early_stopping: {problem}; set early_stopping=False or use more data")
        n_val = int(np.ceil(self.validation_fraction * len(yi)))
        seed = int(self._rng.integers(2**31 - 1))
        return train_test_split(np.arange(len(yi)), test_size=n_val, stratify=yi, random_state=seed)

    def _train_early_stopping(self, data: tuple, yi: np.ndarray) -> None:
        """Train epoch by epoch until the validation loss stops improving; keep the best epoch's parameters."""
        train, val = self._split(yi)
        train_data, val_data = self._subset(data, train), self._subset(data, val)
        params = self.network_.parameters()
        best, best_params, since = np.inf, None, 0
        for _ in range(int(self.max_epochs)):
            self._train(train_data, yi[train], n_epochs=1)
            logits = self._logits(*val_data)
            loss, _ = softmax_cross_entropy(logits, yi[val])
            self.validation_loss_curve_.append(loss)
            self.validation_scores_.append(float(np.mean(logits.argmax(1) == yi[val])))
            if self.verbose:
                print(f"  validation loss {loss:.4f}, accuracy {self.validation_scores_[-1]:.3f}")
            if loss < best - self.tol:
                best, best_params, since = loss, {k: p.copy() for k, p in params.items()}, 0
                self.best_epoch_ = self.n_epochs_
            else:
                since += 1
                if since >= self.n_iter_no_change:
                    break
        if best_params is None:
            raise FloatingPointError("training diverged: the validation loss is not finite (lower learning_rate)")
        for k, p in params.items():
            p[...] = best_params[k]

    def _train(self, data: tuple, yi: np.ndarray, *, n_epochs: int) -> None:
        """``n_epochs`` passes of mini-batch AdamW over the (scaled) training clips."""
        net, n = self.network_, len(yi)
        bs = min(int(self.batch_size), n)
        for _ in range(n_epochs):
            order = self._rng.permutation(n)
            total = 0.0
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                loss, grad = softmax_cross_entropy(self._batch_logits(self._subset(data, idx)), yi[idx])
                net.backward(grad)
                self.optimizer_.step(net.gradients())
                total += loss * len(idx)
            self.n_epochs_ += 1
            self.loss_curve_.append(total / n)
            if self.verbose:
                print(f"epoch {self.n_epochs_}: training loss {self.loss_curve_[-1]:.4f}")
