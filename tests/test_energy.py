"""Synaptic-operation counting and the energy estimate (analysis.energy)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.energy import E_AC_PJ, E_MAC_PJ, energy_estimate, fan_out, synaptic_operations

#: A 3-neuron reservoir (2 E, 1 I) driven by 2 input channels.
STRUCTURE = {
    "in_exc": (np.array([0, 0, 1]), np.array([0, 1, 1])),  # input 0 -> E0, E1; input 1 -> E1
    "in_inh": (np.array([1]), np.array([0])),  # input 1 -> I0
    "ee": (np.array([0]), np.array([1])),  # E0 -> E1
    "ei": (np.array([0, 1]), np.array([0, 0])),  # E0 -> I0, E1 -> I0
    "ie": (np.array([0, 0]), np.array([0, 1])),  # I0 -> E0, E1
    "ii": (np.array([], dtype=int), np.array([], dtype=int)),
}
SIZES = {"input": 2, "exc": 2, "inh": 1}


def test_fan_out_three_neurons():
    fan = fan_out(STRUCTURE, SIZES)
    assert fan["input"].tolist() == [2, 2]  # input 0: 2 E; input 1: 1 E + 1 I
    assert fan["exc"].tolist() == [2, 1]  # E0: E1, I0; E1: I0
    assert fan["inh"].tolist() == [2]  # I0: E0, E1


def test_synaptic_operations_hand_computed():
    # input 0 fires twice, input 1 once; E0 twice, E1 once; I0 once
    spikes = {"input": np.array([0, 1, 0]), "exc": np.array([0, 0, 1]), "inh": np.array([0])}
    ops = synaptic_operations(spikes, STRUCTURE, SIZES)
    # input: 2*2 + 1*2 = 6; exc: 2*2 + 1*1 = 5; inh: 1*2 = 2
    assert ops["per_population"] == {"input": 6, "exc": 5, "inh": 2}
    assert ops["total"] == 13
    assert ops["per_pathway"] == {"in_exc": 5, "in_inh": 1, "ee": 2, "ei": 3, "ie": 2, "ii": 0}
    assert sum(ops["per_pathway"].values()) == ops["total"]


def test_no_spikes_no_operations():
    ops = synaptic_operations({"exc": np.array([], dtype=int)}, STRUCTURE, SIZES)
    assert ops["total"] == 0


def test_energy_estimate_arithmetic():
    est = energy_estimate(1000, 50, clip_duration=400.0, frame_duration=20.0, dt=0.5)
    assert est["snn_nJ"] == pytest.approx(1000 * E_AC_PJ * 1e-3)
    assert est["ann_frame_updates"] == pytest.approx(20)
    assert est["ann_frame_nJ"] == pytest.approx(50 * 20 * E_MAC_PJ * 1e-3)
    assert est["ann_step_nJ"] == pytest.approx(50 * 800 * E_MAC_PJ * 1e-3)
    assert est["ann_frame_over_snn"] == pytest.approx(est["ann_frame_nJ"] / est["snn_nJ"])
    assert "estimate" in est["assumptions"].lower() and "0.9 pJ" in est["assumptions"]


def test_energy_estimate_without_frame_rate():
    est = energy_estimate(0, 10, clip_duration=100.0, frame_duration=None, dt=None)
    assert est["ann_frame_nJ"] is None and est["ann_step_nJ"] is None
    assert est["snn_nJ"] == 0.0
