"""Random streams: every stochastic choice of the package is drawn in NumPy from a seed.

A *seed* is an int, a ``numpy.random.Generator`` or None (fresh entropy).  Drawing
in NumPy rather than in generated code gives every Brian2 device the same network.
Independent parts of a model take independent child streams,
``wiring_rng, weights_rng = make_rng(seed).spawn(2)``, so adding a draw to one part
never shifts the numbers of another.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SeedLike", "make_rng", "resolve_seed"]

#: What every ``seed`` argument of the package accepts.
type SeedLike = int | np.random.Generator | None


def make_rng(seed: SeedLike) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from an int, a Generator or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be an int, a numpy.random.Generator or None, got {type(seed).__name__}")


def resolve_seed(seed: SeedLike) -> int:
    """An int seed: ``seed`` itself if it is one, else one drawn from it (Generator or None).

    Estimators record the int they used (``seed_``) so that a fitted model can be
    rebuilt exactly.
    """
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return int(seed)
    return int(make_rng(seed).integers(2**31 - 1))
