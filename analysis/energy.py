"""Sparsity and an energy estimate of a spiking reservoir.

Counting
--------
A *synaptic operation* (SOP) is one presynaptic spike arriving at one synapse, so a
spike of a neuron with fan-out ``k`` costs ``k`` operations; input spikes count too
(they drive the ``in_exc`` and ``in_inh`` synapses).  This is what the runner stores
as ``synaptic_events_per_sample`` in ``metrics.json``.

Energy (an estimate)
--------------------
Standard 45 nm CMOS figures (Horowitz, ISSCC 2014), as used throughout the SNN
literature:

* SNN: every SOP is one accumulate (AC) of a weight into a current, 0.9 pJ;
* non-spiking reference: a rate-based recurrent network of the **same shape and
  the same sparse connectivity** (same input -> reservoir and recurrent synapses),
  updated once per video frame (``frame``) or once per simulation step (``step``);
  every synapse costs one multiply-accumulate (MAC) per update, 4.6 pJ.

Neuron state updates, memory access, the encoder and the readout are left out of
both; the numbers compare synaptic arithmetic only and are estimates, not
measurements.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from networks.topology import PATHWAYS, fan_out

from .rundata import clip_duration, load_config_file, load_metrics, load_raster

__all__ = [
    "E_AC_PJ",
    "E_MAC_PJ",
    "fan_out",
    "synaptic_operations",
    "energy_estimate",
    "run_timing",
    "run_energy",
    "format_energy",
    "format_nj",
]

#: Energy of one accumulate (32-bit float add), 45 nm, picojoule.
E_AC_PJ = 0.9
#: Energy of one multiply-accumulate (32-bit float), 45 nm, picojoule.
E_MAC_PJ = 4.6


def synaptic_operations(spikes: dict, structure: dict, sizes: dict, pathways: dict | None = None) -> dict:
    """Synaptic operations caused by ``spikes``: each spike times its source's fan-out.

    Parameters
    ----------
    spikes : dict of str -> ndarray of int
        Indices of the neurons that spiked, per population (one entry per spike).
    structure, sizes, pathways
        As in :func:`fan_out`.

    Returns
    -------
    dict
        ``total`` (int), ``per_population`` and ``per_pathway`` (int counts).
    """
    pathways = pathways or PATHWAYS
    fan = fan_out(structure, sizes, pathways)
    per_pop = {pop: int(fan[pop][np.asarray(idx, dtype=np.int64)].sum()) for pop, idx in spikes.items()}
    per_path = {}
    for name, (i, _) in structure.items():
        src = pathways[name][0]
        if src in spikes:
            k = np.bincount(np.asarray(i, dtype=np.int64), minlength=int(sizes[src]))
            per_path[name] = int(k[np.asarray(spikes[src], dtype=np.int64)].sum())
    return {"total": int(sum(per_pop.values())), "per_population": per_pop, "per_pathway": per_path}


def energy_estimate(
    sops_per_sample: float,
    n_synapses: int,
    *,
    clip_duration: float,
    frame_duration: float | None = None,
    dt: float | None = None,
    e_ac: float = E_AC_PJ,
    e_mac: float = E_MAC_PJ,
) -> dict:
    """Energy per sample of the SNN and of a rate-based network of the same shape.

    Parameters
    ----------
    sops_per_sample : float
        Synaptic operations per clip (:func:`synaptic_operations`).
    n_synapses : int
        Synapses of all pathways (input -> reservoir included).
    clip_duration : float
        Clip length, ms.
    frame_duration : float, optional
        Time per video frame, ms; the reference network is updated once per frame.
    dt : float, optional
        Simulation step, ms; gives the once-per-step reference as well.
    e_ac, e_mac : float
        Picojoule per accumulate and per multiply-accumulate.

    Returns
    -------
    dict
        ``snn_nJ``, ``ann_frame_nJ`` / ``ann_step_nJ`` (None when the rate is
        unknown), ``macs_per_frame_update``, ``updates_per_sample`` and the ratios
        ``ann_frame_over_snn`` / ``ann_step_over_snn``, plus ``assumptions`` (text).
    """
    snn = sops_per_sample * e_ac * 1e-3
    out = {
        "sops_per_sample": float(sops_per_sample),
        "n_synapses": int(n_synapses),
        "e_ac_pJ": e_ac,
        "e_mac_pJ": e_mac,
        "snn_nJ": float(snn),
        "clip_duration_ms": float(clip_duration),
    }
    for key, period in (("frame", frame_duration), ("step", dt)):
        if period:
            updates = clip_duration / period
            ann = n_synapses * updates * e_mac * 1e-3
            out[f"ann_{key}_updates"] = float(updates)
            out[f"ann_{key}_nJ"] = float(ann)
            out[f"ann_{key}_over_snn"] = float(ann / snn) if snn > 0 else None
        else:
            out[f"ann_{key}_updates"] = out[f"ann_{key}_nJ"] = out[f"ann_{key}_over_snn"] = None
    out["assumptions"] = (
        f"Estimate, synaptic arithmetic only (45 nm CMOS, Horowitz 2014): SNN = synaptic operations "
        f"x {e_ac} pJ per accumulate; reference = rate-based recurrent network with the same {n_synapses} "
        f"synapses (input and recurrent), every synapse one multiply-accumulate of {e_mac} pJ per update, "
        f"updated once per frame"
        + (" or once per simulation step" if dt else "")
        + ". Neuron updates, memory traffic, encoder and readout are not counted."
    )
    return out


def run_timing(run_dir) -> dict | None:
    """Clip length, frame duration and step (ms) of a run folder; None without ``raster.npz``.

    The clip length and step come from the raster's clips, the frame duration from
    ``encoder.params.frame_duration`` of its ``config.yaml`` (None for event data).
    """
    raster = load_raster(run_dir)
    if raster is None:
        return None
    params = load_config_file(run_dir).get("encoder", {}).get("params") or {}
    return {
        "clip_duration": clip_duration(raster),
        "frame_duration": params.get("frame_duration"),
        "dt": float(raster["dt"]),
    }


def run_energy(run_dir) -> dict:
    """:func:`energy_estimate` of a run directory (``metrics.json``, ``config.yaml``, ``raster.npz``)."""
    run_dir = Path(run_dir)
    m = load_metrics(run_dir)
    timing = run_timing(run_dir) or {"clip_duration": np.nan, "frame_duration": None, "dt": None}
    est = energy_estimate(m["synaptic_events_per_sample"], sum(m["n_synapses"].values()), **timing)
    est["spikes_per_neuron_per_sample"] = m["spikes_per_neuron_per_sample"]
    est["n_neurons"] = m["n_neurons"]
    return est


def format_energy(est: dict) -> str:
    """A few Markdown lines stating the estimate and its assumptions."""
    lines = [
        f"- spikes per neuron per clip: {est['spikes_per_neuron_per_sample']:.2f}"
        if "spikes_per_neuron_per_sample" in est
        else None,
        f"- synaptic operations per clip: {est['sops_per_sample']:,.0f} ({est['n_synapses']:,} synapses)",
        f"- SNN energy per clip (estimate): {format_nj(est['snn_nJ'])} nJ",
    ]
    if est.get("ann_frame_nJ") is not None:
        lines.append(
            f"- rate-based reference, once per frame ({est['ann_frame_updates']:.0f} updates): "
            f"{format_nj(est['ann_frame_nJ'])} nJ ({_ratio(est['ann_frame_over_snn'])} the SNN)"
        )
    if est.get("ann_step_nJ") is not None:
        lines.append(
            f"- rate-based reference, once per step ({est['ann_step_updates']:.0f} updates): "
            f"{format_nj(est['ann_step_nJ'])} nJ ({_ratio(est['ann_step_over_snn'])} the SNN)"
        )
    lines.append(f"- assumptions: {est['assumptions']}")
    return "\n".join(x for x in lines if x)


def format_nj(x) -> str:
    """Nanojoules with three significant digits below 100 (``0.312``, ``7.13``, ``1,234``)."""
    if x is None:
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _ratio(r) -> str:
    return "n/a x" if r is None else f"{r:.2f} x"
