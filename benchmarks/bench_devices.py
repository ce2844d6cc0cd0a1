"""Wall time per simulated second of an E/I LIF network with STDP on each device.

Runs a 1,000-neuron network (800 excitatory, 200 inhibitory, p = 0.1, dt = 0.1 ms,
pair STDP on E->E) on numpy, cython and cpp_standalone, and writes the timings
and the resolved configuration to ``benchmarks/results/devices.json``.

Usage::

    SPIKEVID_CACHE_DIR=.brian_cache python benchmarks/bench_devices.py [--duration 1000]

``build_s`` is the time to the first simulated step (code generation and
compilation; cached compilations make it small); ``sim_s_per_s`` is the wall time
of the simulation proper divided by the simulated time, and ``speedup`` is the
numpy ``sim_s_per_s`` measured in the same run divided by the device's.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import brian2
from brian2 import Hz, Network, NeuronGroup, PoissonInput, SpikeMonitor, Synapses, ms, mV

from benchmarks.common import write_result
from cortex.devices import available_devices, cache_dir, device_scope
from stimuli.timebase import ms_to_seconds, to_brian

RESULTS = Path(__file__).resolve().parent / "results" / "devices.json"

CONFIG = {
    "n_exc": 800,
    "n_inh": 200,
    "p_connect": 0.1,
    "dt_ms": 0.1,
    "tau_m_ms": 20.0,
    "v_rest_mV": -60.0,
    "v_th_mV": -50.0,
    "v_reset_mV": -60.0,
    "refractory_ms": 5.0,
    "w_exc_mV": 0.5,
    "w_inh_mV": -2.5,
    "n_poisson": 100,
    "poisson_rate_Hz": 15.0,
    "w_poisson_mV": 0.6,
    "tau_pre_ms": 20.0,
    "tau_post_ms": 20.0,
    "A_plus": 0.01,
    "A_minus": -0.0105,
    "w_max_mV": 1.0,
    "seed": 2024,
}

LIF_EQUATIONS = """
dv/dt = (v_rest - v) / tau_m : volt (unless refractory)
"""
STDP_MODEL = """
w : volt
dapre/dt = -apre / tau_pre : 1 (event-driven)
dapost/dt = -apost / tau_post : 1 (event-driven)
"""
STDP_ON_PRE = """
v_post += w
apre += A_plus
w = clip(w + apost * w_max, 0*mV, w_max)
"""
STDP_ON_POST = """
apost += A_minus
w = clip(w + apre * w_max, 0*mV, w_max)
"""


def ei_stdp_network(config: dict) -> tuple[Network, SpikeMonitor]:
    """E/I LIF network with Poisson drive and STDP on E->E synapses."""
    c = config
    namespace = {
        "tau_m": c["tau_m_ms"] * ms,
        "v_rest": c["v_rest_mV"] * mV,
        "v_th": c["v_th_mV"] * mV,
        "v_reset": c["v_reset_mV"] * mV,
        "tau_pre": c["tau_pre_ms"] * ms,
        "tau_post": c["tau_post_ms"] * ms,
        "A_plus": c["A_plus"],
        "A_minus": c["A_minus"],
        "w_max": c["w_max_mV"] * mV,
    }
    brian2.defaultclock.dt = c["dt_ms"] * ms
    n_total = c["n_exc"] + c["n_inh"]
    neurons = NeuronGroup(
        n_total,
        LIF_EQUATIONS,
        threshold="v > v_th",
        reset="v = v_reset",
        refractory=c["refractory_ms"] * ms,
        method="exact",
        namespace=namespace,
        name="neurons",
    )
    neurons.v = "v_rest + rand() * (v_th - v_rest)"
    exc, inh = neurons[: c["n_exc"]], neurons[c["n_exc"] :]
    drive = PoissonInput(neurons, "v", c["n_poisson"], c["poisson_rate_Hz"] * Hz, weight=c["w_poisson_mV"] * mV)
    ee = Synapses(exc, exc, STDP_MODEL, on_pre=STDP_ON_PRE, on_post=STDP_ON_POST, namespace=namespace, name="ee_stdp")
    ee.connect(p=c["p_connect"], condition="i != j")
    ee.w = "rand() * w_max"
    ei = Synapses(exc, inh, on_pre=f"v_post += {c['w_exc_mV']}*mV", name="ei")
    ei.connect(p=c["p_connect"])
    ie = Synapses(inh, neurons, on_pre=f"v_post += {c['w_inh_mV']}*mV", name="ie")
    ie.connect(p=c["p_connect"])
    monitor = SpikeMonitor(neurons, name="spikes")
    return Network(neurons, drive, ee, ei, ie, monitor, name="ei_stdp"), monitor


def time_device(name: str, duration: float, config: dict) -> dict:
    """Build and simulate ``duration`` ms on one device; return its timings (wall seconds) and spike count."""
    duration_s = ms_to_seconds(duration)
    kwargs = {"seed": config["seed"]}
    if name == "cpp_standalone":
        kwargs["directory"] = (cache_dir() or Path(".brian_cache")) / "bench" / "cpp_standalone"
    with device_scope(name, **kwargs):
        net, monitor = ei_stdp_network(config)
        start = time.perf_counter()
        if name == "cpp_standalone":
            net.run(to_brian(duration))  # generates, compiles and runs the binary
            total = time.perf_counter() - start
            sim = brian2.get_device().timers["run_binary"]
            build = total - sim
        else:
            net.run(brian2.defaultclock.dt)  # one step: code generation and compilation
            build = time.perf_counter() - start
            start = time.perf_counter()
            net.run(to_brian(duration))
            sim = time.perf_counter() - start
        n_spikes = int(monitor.num_spikes)
    n_neurons = config["n_exc"] + config["n_inh"]
    return {
        "build_s": build,
        "sim_s": sim,
        "sim_s_per_s": sim / duration_s,
        "spikes": n_spikes,
        "rate_Hz": n_spikes / duration_s / n_neurons,
    }


def main(argv=None) -> dict:
    """Run the benchmark, print a table and write ``results/devices.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=1000.0, help="simulated time, ms")
    parser.add_argument("--devices", nargs="+", default=["numpy", "cython", "cpp_standalone"])
    parser.add_argument("--quick", action="store_true", help="200 ms simulated")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 200.0
    status = available_devices()
    results = {}
    for k, name in enumerate(args.devices, 1):
        if not status[name][0]:
            print(f"[{k}/{len(args.devices)}] {name}: skipped ({status[name][1]})", flush=True)
            continue
        print(f"[{k}/{len(args.devices)}] {name}: {args.duration:g} ms simulated ...", flush=True)
        results[name] = time_device(name, args.duration, CONFIG)
    baseline = results.get("numpy", {}).get("sim_s_per_s")
    print(f"\n{'device':<16}{'build s':>9}{'wall s / sim s':>16}{'vs numpy':>10}{'rate Hz':>9}")
    for name, r in results.items():
        r["speedup"] = baseline / r["sim_s_per_s"] if baseline else None
        speedup = f"{r['speedup']:.1f}x" if r["speedup"] else "-"
        print(f"{name:<16}{r['build_s']:>9.1f}{r['sim_s_per_s']:>16.3f}{speedup:>10}{r['rate_Hz']:>9.1f}")
    report = {
        "config": {**CONFIG, "duration_ms": args.duration, "devices": args.devices},
        "results": results,
    }
    print()
    return write_result(RESULTS, report)


if __name__ == "__main__":
    main()
