"""The spiking models a run can be built from, by the name ``model.kind`` gives them.

``MODELS["hrsnn"]`` is the reservoir (:class:`~networks.hrsnn.HRSNN`, a transformer
read out by a scikit-learn classifier), ``MODELS["column"]`` the cortical columns
(:class:`~networks.column.ColumnClassifier`, a classifier whose layer features any
readout can also use).  Both take spike stimuli, both accept ``seed``, ``bins``,
``reduction``, ``dt`` and ``device``, and both save and load their learned state.
"""

from __future__ import annotations

from .column import ColumnClassifier
from .hrsnn import HRSNN

__all__ = ["MODELS", "model_class"]

#: ``model.kind`` -> estimator class.
MODELS: dict[str, type] = {"hrsnn": HRSNN, "column": ColumnClassifier}


def model_class(kind: str) -> type:
    """The estimator class of ``model.kind`` (ValueError naming the known kinds)."""
    try:
        return MODELS[kind]
    except (KeyError, TypeError):
        raise ValueError(f"model.kind: no spiking model called {kind!r}; known: {sorted(MODELS)}") from None
