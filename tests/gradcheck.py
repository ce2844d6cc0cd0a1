"""Gradient checks for the NumPy layers' hand-written backward passes (shared by the attention and hybrid tests)."""

import numpy as np


def numeric_grad(loss, arr: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central finite differences of ``loss()`` with respect to every entry of ``arr`` (perturbed in place)."""
    out = np.empty_like(arr)
    flat, g = arr.reshape(-1), out.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = loss()
        flat[i] = old - h
        down = loss()
        flat[i] = old
        g[i] = (up - down) / (2 * h)
    return out


def assert_grad(name: str, analytic: np.ndarray, numeric: np.ndarray, tol: float = 1e-6) -> None:
    assert analytic.shape == numeric.shape, name
    scale = np.linalg.norm(numeric)
    assert scale > 1e-8, f"{name}: gradient vanishes, the check would be vacuous"
    rel = np.linalg.norm(analytic - numeric) / (np.linalg.norm(analytic) + scale)
    assert rel < tol, f"{name}: relative error {rel:.2e}"
