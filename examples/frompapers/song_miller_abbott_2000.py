#!/usr/bin/env python
"""Competitive Hebbian learning through spike-timing-dependent synaptic plasticity.

Song, S., Miller, K. D. & Abbott, L. F. (2000). Competitive Hebbian learning through
spike-timing-dependent synaptic plasticity. *Nature Neuroscience* 3(9), 919-926.
doi:10.1038/78829

One conductance-based integrate-and-fire neuron receives 1000 excitatory Poisson
inputs through synapses with additive pair STDP (slightly depression-dominated,
``A_minus / A_plus = 1.05``) and 200 inhibitory Poisson inputs through fixed
synapses, with the paper's parameters.  STDP makes the synapses compete for control
of the neuron's spikes: the weights leave the middle of their range and pile up at
the two bounds, most near 0 and a group near ``g_max`` -- a bimodal distribution
(the paper's Fig. 1) -- while the output rate falls from hundreds of Hz to a steady
few tens.  The inputs fire at 30 Hz (the paper varies them over 10-40 Hz): a high
initial output rate makes the competition fast enough for a short run; it still takes
a few hundred seconds of simulated time, as the weights drift by ``A_plus`` per pair.

Built from :mod:`cortex` parts (:func:`cortex.neurons.lif_group` with conductance
synapses, :func:`cortex.synapses.stdp_synapses`, ``rule="additive"``); weights are
dimensionless in ``[0, 1]`` and ``J = g_max`` turns them into conductances.  Writes
``song_miller_abbott_2000.png``/``.pdf`` (the weight histogram at the start and the
end, and the output rate over time) into ``--out``.

    python examples/frompapers/song_miller_abbott_2000.py --quick   # 100 s simulated: the trend
    python examples/frompapers/song_miller_abbott_2000.py           # 400 s simulated: bimodal

The default device compiles with Cython the first time (about a minute, cached under
``$SPIKEVID_CACHE_DIR``); then a simulated second takes about 0.3 s on one core.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from brian2 import Hz, Network, PoissonGroup, SpikeMonitor, defaultclock, ms, mV, second, seed

from analysis.figures import PAPER_WIDTH, paper_style, save_figure
from cortex.devices import use_device
from cortex.neurons import LIFParams, lif_group
from cortex.synapses import STDPParams, static_synapses, stdp_synapses

N_EXC, N_INH = 1000, 200
RATE_EXC, RATE_INH = 30 * Hz, 10 * Hz
#: The neuron (conductances relative to the leak).
NEURON = LIFParams(
    tau_m=20 * ms, v_rest=-70 * mV, v_th=-54 * mV, v_reset=-60 * mV, tau_ref=0 * ms, tau_e=5 * ms, tau_i=5 * ms,
    E_e=0 * mV, E_i=-70 * mV,
)  # fmt: skip
G_MAX, G_INH = 0.015, 0.05
#: Additive STDP: A_plus = 0.005 of g_max, A_minus / A_plus = 1.05, 20 ms traces.
STDP = STDPParams(A_plus=0.005, A_minus=0.005 * 1.05, tau_pre=20 * ms, tau_post=20 * ms, w_max=1.0)
DT = 0.5 * ms
DURATION, QUICK_DURATION = 400 * second, 100 * second
#: Initial weights: uniform on [0, g_max].
W_INIT = (0.0, 1.0)


def build(weight_seed: int):
    """The neuron, its inputs and synapses, and a monitor of its spikes."""
    neuron = lif_group(1, NEURON, synapse="conductance", name="neuron", dt=DT)
    exc = PoissonGroup(N_EXC, RATE_EXC, name="exc_inputs")
    inh = PoissonGroup(N_INH, RATE_INH, name="inh_inputs")
    plastic = stdp_synapses(
        exc, neuron, STDP, rule="additive", J=G_MAX, connect="all", w_init=W_INIT, name="stdp", seed=weight_seed, dt=DT
    )
    fixed = static_synapses(inh, neuron, target="i", J=G_INH, connect="all", w_init=1.0, name="inhibition")
    spikes = SpikeMonitor(neuron, name="output")
    return Network(neuron, exc, inh, plastic, fixed, spikes), plastic, spikes


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 s of simulated time instead of 400 s")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="runtime", help="runtime (Cython, else NumPy) or numpy")
    args = parser.parse_args(argv)
    use_device(args.device)
    defaultclock.dt = DT
    seed(args.seed)  # Brian2's own stream: the Poisson inputs
    duration = QUICK_DURATION if args.quick else DURATION
    net, plastic, spikes = build(args.seed)
    w0 = np.asarray(plastic.w[:]).copy()
    t0 = time.perf_counter()
    net.run(duration, report="text", report_period=10 * second)
    w = np.asarray(plastic.w[:])
    t_s = np.asarray(spikes.t / second)
    bins = np.arange(0.0, float(duration / second) + 1e-9, max(float(duration / second) / 20, 1.0))
    rate = np.histogram(t_s, bins=bins)[0] / np.diff(bins)
    low, high = float(np.mean(w < 0.1)), float(np.mean(w > 0.9))
    with paper_style():
        import matplotlib.pyplot as plt  # noqa: PLC0415 -- matplotlib is heavy: only when drawing

        fig, (ax_h, ax_r) = plt.subplots(1, 2, figsize=(PAPER_WIDTH, 2.5), layout="constrained")
        edges = np.linspace(0, 1, 41)
        ax_h.hist(w0, bins=edges, color="0.7", label="start")
        ax_h.hist(w, bins=edges, histtype="step", color="#6a3d9a", lw=1.5, label=f"after {duration / second:.0f} s")
        ax_h.set_xlabel("g / g_max")
        ax_h.set_ylabel("synapses")
        low, high = np.mean(w < 0.1), np.mean(w > 0.9)
        ax_h.set_title(f"(a) weights after STDP: {low:.0%} < 0.1, {high:.0%} > 0.9 g_max", loc="left")
        ax_h.legend(loc="upper center")
        ax_r.plot((bins[1:] + bins[:-1]) / 2, rate, marker="o", ms=3, color="#1f5fbf")
        ax_r.set_xlabel("time (s)")
        ax_r.set_ylabel("output rate (Hz)")
        ax_r.set_title("(b) the neuron's firing rate", loc="left")
        fig.suptitle("Song, Miller & Abbott (2000): 1000 Poisson inputs, additive STDP")
    args.out.mkdir(parents=True, exist_ok=True)
    paths = save_figure(fig, args.out / "song_miller_abbott_2000")
    print(f"simulated {duration / second:.0f} s in {time.perf_counter() - t0:.0f} s")
    print(f"output rate: first bin {rate[0]:.1f} Hz, last bin {rate[-1]:.1f} Hz")
    print(f"weights below 0.1 g_max: {low:.1%}, above 0.9 g_max: {high:.1%}, between: {1 - low - high:.1%}")
    print("figure:", ", ".join(str(p) for p in paths))
    return {"low": low, "high": high, "rate_end": float(rate[-1])}


if __name__ == "__main__":
    main()
