"""Cross-validation of the readouts on the training split: the numbers to choose by.

Test accuracy is reported once; hyperparameters are chosen on the training split
only.  A run computes every feature set's features for the training clips anyway,
so cross-validating the readout on them costs no simulation: the network was fitted
without labels on the training clips, and the readout is fitted on the other folds
and scored on the held-out fold.  Folds (``readout.cv``):

``subject``
    leave-one-subject-out (``meta["subject"]`` of the training clips, as Weizmann
    and KTH give it): no person is seen in training and scoring at once.
``<k>`` (an integer >= 2)
    stratified k-fold, shuffled with the run's seed.
``auto`` (default)
    ``subject`` where every training clip has a subject and there are at least
    three, else 5-fold where the smallest class has five clips, else none; none for
    the attention readout (a network to train per fold: ask for folds explicitly).
``none``
    no cross-validation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import LeaveOneGroupOut, StratifiedKFold

__all__ = ["CV_CHOICES", "cv_folds", "cv_accuracy"]

#: Named values of ``readout.cv`` (an integer >= 2 is also accepted).
CV_CHOICES = ("auto", "subject", "none")


def cv_folds(spec, y, subjects, *, seed: int = 0, readout: str = "logistic") -> tuple[list, str]:
    """The folds ``spec`` asks for on labels ``y``; ``([(train_idx, test_idx), ...], description)``.

    Parameters
    ----------
    spec : {"auto", "subject", "none"} or int
    y : ndarray of int, shape (n_clips,)
    subjects : sequence or None
        Subject of every training clip (None where unknown).
    seed : int
        Shuffles k-fold.
    readout : str
        The readout kind (``auto`` skips the attention readout).

    Returns
    -------
    folds : list of (ndarray, ndarray)
        Empty for no cross-validation.
    description : str
        What the folds are (or why there are none), for logs and ``metrics.json``.

    Raises
    ------
    ValueError
        ``subject`` without a subject for every clip, or ``k`` larger than the smallest
        class; the message names ``readout.cv``.
    """
    y = np.asarray(y)
    known = subjects is not None and len(subjects) == len(y) and all(s is not None for s in subjects)
    smallest = int(np.unique(y, return_counts=True)[1].min()) if len(y) else 0
    if spec == "auto":
        if readout == "attention":
            return [], "none (attention readout: set readout.cv to cross-validate it)"
        if known and len(set(subjects)) >= 3:
            spec = "subject"
        elif smallest >= 5:
            spec = 5
        else:
            return [], f"none (no subjects, and the smallest class has {smallest} training clips)"
    if spec == "none":
        return [], "none"
    if spec == "subject":
        if not known:
            raise ValueError("readout.cv: 'subject' needs the subject of every training clip; this dataset gives none")
        groups = np.asarray([str(s) for s in subjects])
        folds = list(LeaveOneGroupOut().split(np.zeros(len(y)), y, groups))
        return folds, f"leave-one-subject-out ({len(folds)} subjects)"
    k = int(spec)
    if k > smallest:
        raise ValueError(
            f"readout.cv: {k} folds need {k} training clips of every class; the smallest class has {smallest}"
        )
    folds = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    return folds, f"stratified {k}-fold"


def cv_accuracy(make: Callable[[], object], X: np.ndarray, y: np.ndarray, folds: list, *, n_jobs: int = -1) -> dict:
    """Accuracy of a fresh ``make()`` estimator fitted on each fold's rest and scored on it.

    Folds run in ``n_jobs`` threads (-1: one per core; the same result in any order:
    each fold is fitted from scratch).

    Returns
    -------
    dict
        ``mean`` (pooled: correct held-out predictions over all clips), ``fold_sd``
        (standard deviation of the per-fold accuracies) and ``folds`` (each fold's
        accuracy).
    """
    y = np.asarray(y)

    def hits(train, test) -> int:
        return int(np.sum(make().fit(X[train], y[train]).predict(X[test]) == y[test]))

    counts = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(hits)(tr, te) for tr, te in folds)
    per_fold = [h / len(te) for h, (_, te) in zip(counts, folds, strict=True)]
    correct, n = sum(counts), sum(len(te) for _, te in folds)
    return {
        "mean": correct / n if n else float("nan"),
        "fold_sd": float(np.std(per_fold)) if per_fold else float("nan"),
        "folds": [round(a, 4) for a in per_fold],
    }
