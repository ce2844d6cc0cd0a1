"""Linear readouts trained in scikit-learn on reservoir (or baseline) features.

``make_readout(kind, **params)`` returns a ``Pipeline`` of feature scaling and a
linear classifier:

``logistic``  multinomial logistic regression (``C``: inverse L2 strength)
``ridge``     ridge classifier (``alpha``: L2 strength)
``svm``       linear support-vector machine (``C``)
``attention`` :class:`~networks.attention.AttentionReadout`, a small transformer over
              the time bins of the features (``n_tokens`` bins, bin-major columns;
              its own hyperparameters in ``attention``)

Scaling (``scale``): ``"standard"`` (zero mean, unit variance), ``"log"``
(``log1p`` of counts, then standard), or ``"none"``.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.metrics import accuracy_score, confusion_matrix
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import LinearSVC

from .attention import AttentionReadout
from .validation import Interval, validate_params

__all__ = ["READOUTS", "SCALES", "make_readout", "evaluate", "score_predictions"]

READOUTS = ("logistic", "ridge", "svm", "attention")
SCALES = ("standard", "log", "none")


def make_readout(
    kind: str = "logistic",
    *,
    scale: str = "standard",
    C: float = 1.0,
    alpha: float = 1.0,
    max_iter: int = 5000,
    seed=0,
    n_tokens: int | None = None,
    attention: dict | None = None,
):
    """Scaling + classifier: an sklearn ``Pipeline`` (an ``AttentionReadout`` for ``kind="attention"``).

    Parameters
    ----------
    kind : {"logistic", "ridge", "svm"}
    scale : {"standard", "log", "none"}
    C : float
        Inverse regularisation strength (logistic, svm).
    alpha : float
        Regularisation strength (ridge).
    max_iter : int
        Solver iterations (logistic, svm).
    seed : int
        ``random_state`` of solvers that use one.
    n_tokens : int, optional
        ``attention``: time bins per clip in the feature columns (bin-major).
    attention : dict, optional
        ``attention``: further :class:`~networks.attention.AttentionReadout` hyperparameters.
    """
    if kind not in READOUTS:
        raise ValueError(f"readout.kind: expected one of {READOUTS}, got {kind!r}")
    if scale not in SCALES:
        raise ValueError(f"readout.scale: expected one of {SCALES}, got {scale!r}")
    validate_params(
        {"C": C, "alpha": alpha, "max_iter": max_iter},
        {
            "C": Interval(float, 0, None, "neither", "an inverse regularisation strength"),
            "alpha": Interval(float, 0, None, what="a regularisation strength"),
            "max_iter": Interval(int, 1, None),
        },
    )
    if kind == "attention":
        params = {"scale": scale, "n_tokens": n_tokens, "random_state": seed, **(attention or {})}
        try:
            return AttentionReadout(**params).validate_params()
        except TypeError as exc:
            raise ValueError(f"attention: {exc}") from None
    steps = []
    if scale == "log":
        steps.append(("log", FunctionTransformer(_log1p_counts, feature_names_out="one-to-one")))
    if scale in ("standard", "log"):
        steps.append(("scale", StandardScaler()))
    if kind == "logistic":
        clf = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    elif kind == "ridge":
        clf = RidgeClassifier(alpha=alpha)
    else:
        clf = LinearSVC(C=C, max_iter=max_iter, random_state=seed)
    steps.append(("clf", clf))
    return Pipeline(steps)


def _log1p_counts(X):
    """``log1p`` of non-negative features (counts, rates); ValueError otherwise."""
    X = np.asarray(X, dtype=float)
    if X.size and np.nanmin(X) <= -1:
        raise ValueError(f"scale='log' needs features > -1 (spike counts or rates), got a minimum of {np.nanmin(X):g}")
    return np.log1p(X)


def evaluate(model, X, y, classes) -> dict:
    """Accuracy, per-class accuracy and confusion matrix of a fitted readout (:func:`score_predictions`)."""
    return score_predictions(y, model.predict(X), classes)


def score_predictions(y, pred, classes) -> dict:
    """Accuracy, per-class accuracy and confusion matrix of predicted class indices.

    Parameters
    ----------
    y, pred : array of int, shape (n_samples,)
        True and predicted class indices into ``classes``.
    classes : sequence
        Class names.

    Returns
    -------
    dict
        ``accuracy`` (float), ``per_class_accuracy`` (class name -> float or None
        when the class is absent), ``confusion_matrix`` (list of lists; rows =
        true class, columns = predicted, in the order of ``classes``), ``predictions``.
    """
    y, pred = np.asarray(y), np.asarray(pred)
    labels = np.arange(len(classes))
    cm = confusion_matrix(y, pred, labels=labels)
    per_class = {}
    for k, name in enumerate(classes):
        n = cm[k].sum()
        per_class[str(name)] = float(cm[k, k] / n) if n else None
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "per_class_accuracy": per_class,
        "confusion_matrix": cm.tolist(),
        "predictions": pred.tolist(),
    }
