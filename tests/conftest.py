"""Shared fixtures: a clean Brian2 state per test and the location of real data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Real recordings live beside the checkout (``../shared/data``), never inside it.
SHARED_DATA = Path(os.environ.get("SPIKEVID_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("SPIKEVID_CACHE_DIR", str(REPO / ".brian_cache"))
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def brian_state():
    """Numpy code generation and dt = 0.1 ms for every test; restored afterwards.

    Unit tests use the numpy target so the default tier needs no compilation;
    device tests choose their own target explicitly.
    """
    from brian2 import defaultclock, ms, prefs, start_scope

    old_target = prefs.codegen.target
    prefs.codegen.target = "numpy"
    start_scope()
    defaultclock.dt = 0.1 * ms
    yield
    prefs.codegen.target = old_target
    defaultclock.dt = 0.1 * ms


@pytest.fixture
def shared_data() -> Path:
    """Path of ``../shared/data``; skips the test where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder not found at {SHARED_DATA} (set SPIKEVID_DATA)")
    return SHARED_DATA
