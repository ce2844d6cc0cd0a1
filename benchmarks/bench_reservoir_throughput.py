"""Clips per second of the reference reservoir: spikevid's compiled path against what users would run instead.

The reference network: 800 excitatory + 200 inhibitory current-based LIF neurons,
``tau_m`` ~ Gamma(k = 8, mean 20 ms), thresholds ~ N(-50 mV, 2 mV), rest and reset
-65 mV, 2 ms refractory, synaptic time constants 5 ms, p = 0.1 for all four recurrent
pathways and from 500 Poisson inputs at 10 Hz, 200-ms clips, dt = 0.1 ms, state reset
before every clip.  Frozen weights unless stated.  All contenders simulate the same
network (one seed, the same draws), and each is timed in this run:

* ``brian2_runtime_loop`` -- a Brian2 runtime (Cython) script: ``store()`` once, then
  ``restore()``, new input spikes and ``run(200 ms)`` per clip;
* ``brian2_standalone_concatenated`` -- a C++ standalone script with every clip back
  to back (a reset before each), built once and run once; ``build_s`` apart;
* ``nest`` -- NEST 3 (``iaf_psc_exp``; the same draws), one ``Simulate`` per clip with
  the membranes reset, 1 and 2 threads (when ``nest-simulator`` is installed);
* ``spikevid_per_clip`` / ``spikevid_batched`` -- :class:`~networks.hrsnn.HRSNN` on
  ``cpp_standalone`` (a program compiled once per shape, :mod:`networks.compiled_reservoir`):
  one copy, or 4 copies side by side; ``*_2jobs`` with two binaries at once;
* ``*_stdp`` -- the same network learning (pair STDP on input->E and E->E): the Brian2
  standalone script and spikevid's learning program.

Usage::

    SPIKEVID_CACHE_DIR=.brian_cache python -m benchmarks.bench_reservoir_throughput [--clips 200] [--quick]

Prints clips per second and each contender's ratio to the Brian2 standalone and NEST
figures of this run; writes ``benchmarks/results/reservoir_throughput.json``.
Compilation is excluded from clips per second (a warm-up run first) and reported as
``build_s``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from brian2 import Network, SpikeGeneratorGroup, defaultclock, ms, mV, nA
from sklearn.base import clone

from benchmarks.common import write_result
from cortex.devices import device_scope
from cortex.heterogeneity import ParamSpec
from cortex.neurons import LIFParams, lif_group
from cortex.synapses import static_synapses
from networks.hrsnn import HRSNN
from networks.reservoir import build_reservoir, draw_reservoir, pathway_J
from networks.simulation import device_session, run_phases
from networks.timeline import Timeline
from networks.topology import PATHWAYS
from stimuli.types import SpikeStimulus

RESULTS = Path(__file__).resolve().parent / "results" / "reservoir_throughput.json"

CONFIG = {
    "n_exc": 800,
    "n_inh": 200,
    "n_input": 500,
    "input_rate_Hz": 10.0,
    "clip_ms": 200.0,
    "dt_ms": 0.1,
    "p": 0.1,
    "tau_m": "Gamma(k=8), mean 20 ms",
    "v_th": "N(-50 mV, 2 mV)",
    "tau_syn_ms": 5.0,
    "tau_ref_ms": 2.0,
    # input, E and I gains (nA per unit weight), chosen for E ~ 5-6 Hz, I ~ 7-8 Hz
    "J_in": 0.19,
    "J_e": 0.05,
    "J_i": 1.0,
    "seed": 0,
}


class ReferenceReservoir(HRSNN):
    """The HRSNN with the reference network's neurons (threshold spread, 5-ms synapses)."""

    def neuron_params(self) -> LIFParams:
        return LIFParams(
            tau_m=ParamSpec(20 * ms, 8**-0.5, "gamma", name="tau_m"),
            v_th=ParamSpec(-50 * mV, 2 / 50, "normal", name="v_th"),
            tau_e=5 * ms,
            tau_i=5 * ms,
            tau_ref=2 * ms,
        )


def reference_model(**kw) -> ReferenceReservoir:
    c = CONFIG
    return ReferenceReservoir(
        c["n_exc"] + c["n_inh"],
        p_in=c["p"],
        p_ee=c["p"],
        p_ei=c["p"],
        p_ie=c["p"],
        p_ii=c["p"],
        J_in=c["J_in"],
        J_e=c["J_e"],
        J_i=c["J_i"],
        dt=c["dt_ms"],
        gap=0.0,
        plastic="in_exc,ee",
        snapshots=1,
        record_v=0,
        seed=c["seed"],
        progress=False,
        **kw,
    )


def poisson_clips(n: int, seed: int = 1) -> list[SpikeStimulus]:
    c = CONFIG
    steps = int(round(c["clip_ms"] / c["dt_ms"]))
    rng = np.random.default_rng(seed)
    clips = []
    for k in range(n):
        s, ch = np.nonzero(rng.random((steps, c["n_input"])) < c["input_rate_Hz"] * c["dt_ms"] * 1e-3)
        clips.append(SpikeStimulus(ch, s, c["n_input"], steps, c["dt_ms"], label=k % 2))
    return clips


def _rates(result, n_clips: int) -> dict:
    seconds = n_clips * CONFIG["clip_ms"] * 1e-3
    return {
        "exc_Hz": round(len(result.spikes["exc"][0]) / (CONFIG["n_exc"] * seconds), 2),
        "inh_Hz": round(len(result.spikes["inh"][0]) / (CONFIG["n_inh"] * seconds), 2),
    }


# --------------------------------------------------------------------------- contenders
def spikevid(model: HRSNN, clips, *, learn: bool) -> dict:
    """Clips per second of the compiled path; the first (compiling) call is a warm-up."""
    t0 = time.perf_counter()
    if learn:
        clone(model).fit(clips)
    else:
        model.simulate(clips)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = clone(model).fit_simulate(clips) if learn else model.simulate(clips)
    seconds = time.perf_counter() - t0
    return {"clips_per_s": len(clips) / seconds, "seconds": seconds, "build_s": max(first - seconds, 0.0)} | _rates(
        result, len(clips)
    )


def brian2_standalone(model: HRSNN, clips, weights, *, learn: bool) -> dict:
    """A C++ standalone script: every clip back to back with resets, one build, one run."""
    import brian2  # noqa: PLC0415

    timeline = Timeline([(clips, learn)], dt=model.dt, gap=0.0)
    t0 = time.perf_counter()
    with device_session("cpp_standalone", None):
        net = build_reservoir(model, timeline, n_input=CONFIG["n_input"], seed=model.seed_, weights=weights)
        run_phases(net.network, timeline, [net.synapses[p] for p in net.plastic], progress=False)
        timers = dict(brian2.get_device().timers)
        n_exc = len(net.monitors["spikes_exc"].i[:])
        n_inh = len(net.monitors["spikes_inh"].i[:])
    total = time.perf_counter() - t0
    run = float(timers["run_binary"])
    seconds = len(clips) * CONFIG["clip_ms"] * 1e-3
    return {
        "clips_per_s": len(clips) / run,
        "seconds": run,
        "build_s": total - run,
        "exc_Hz": round(n_exc / (CONFIG["n_exc"] * seconds), 2),
        "inh_Hz": round(n_inh / (CONFIG["n_inh"] * seconds), 2),
    }


def brian2_runtime_loop(model: HRSNN, clips, weights) -> dict:
    """A Brian2 runtime (Cython) script: store once, then restore / set input / run per clip."""
    draws = draw_reservoir(model, n_input=CONFIG["n_input"], seed=model.seed_)
    dt = CONFIG["dt_ms"] * ms
    with device_scope("cython"):
        defaultclock.dt = dt
        groups = {pop: lif_group(n, name=pop, dt=dt) for pop, n in (("exc", model.n_exc), ("inh", model.n_inh))}
        for pop, values in draws.neurons.items():
            for name, value in values.items():
                setattr(groups[pop], name, value)
        groups["input"] = SpikeGeneratorGroup(CONFIG["n_input"], [], [] * ms, name="input")
        synapses = [
            static_synapses(
                groups[src],
                groups[tgt],
                target="e" if exc else "i",
                J=pathway_J(model, pw),
                connect=draws.structure[pw],
                w_init=weights.get(pw, draws.weights_init[pw]),
                name=pw,
            )
            for pw, (src, tgt, exc) in PATHWAYS.items()
        ]
        net = Network(*groups.values(), *synapses)
        net.store()

        def present(clip):
            net.restore()
            groups["input"].set_spikes(clip.indices, clip.steps * dt)
            net.run(CONFIG["clip_ms"] * ms, namespace={})

        present(clips[0])  # warm-up: Cython compilation
        t0 = time.perf_counter()
        for clip in clips:
            present(clip)
        seconds = time.perf_counter() - t0
    return {"clips_per_s": len(clips) / seconds, "seconds": seconds}


def nest_loop(model: HRSNN, clips, weights, threads: int) -> dict | None:
    """NEST 3: ``iaf_psc_exp`` with the same draws, one ``Simulate`` per clip, state reset before each."""
    try:
        import nest  # noqa: PLC0415 -- optional: pip install nest-simulator
    except ImportError:
        return None
    draws = draw_reservoir(model, n_input=CONFIG["n_input"], seed=model.seed_)
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.SetKernelStatus({"resolution": CONFIG["dt_ms"], "local_num_threads": threads})
    pops = {}
    for pop, n in (("exc", model.n_exc), ("inh", model.n_inh)):
        v = draws.neurons[pop]
        tau_m = np.asarray(v["tau_m"] / ms)
        pops[pop] = nest.Create("iaf_psc_exp", n)
        pops[pop].set(
            tau_m=tau_m,
            C_m=tau_m * 1e-3 / 100e6 * 1e12,  # pF, R = 100 MOhm
            V_th=np.asarray(v["v_th"] / mV),
            E_L=-65.0,
            V_reset=-65.0,
            V_m=-65.0,
            t_ref=CONFIG["tau_ref_ms"],
            tau_syn_ex=CONFIG["tau_syn_ms"],
            tau_syn_in=CONFIG["tau_syn_ms"],
        )
    pops["input"] = nest.Create("spike_generator", CONFIG["n_input"])
    parrots = nest.Create("parrot_neuron", CONFIG["n_input"])
    nest.Connect(pops["input"], parrots, "one_to_one")
    for pw, (src, tgt, exc) in PATHWAYS.items():
        i, j = (np.asarray(a) for a in draws.structure[pw])
        pre = parrots if src == "input" else pops[src]
        pA = np.asarray(weights.get(pw, draws.weights_init[pw])) * float(pathway_J(model, pw) / nA) * 1e3
        nest.Connect(
            np.asarray(pre.tolist())[i],
            np.asarray(pops[tgt].tolist())[j],
            "one_to_one",
            {"weight": pA if exc else -pA, "delay": np.full(len(i), CONFIG["dt_ms"])},
        )
    t_now = 0.0

    def present(clip):
        nonlocal t_now
        for pop in ("exc", "inh"):
            pops[pop].set(V_m=-65.0)  # synaptic currents are not settable state in NEST; they decay (5 ms)
        order = np.argsort(clip.indices, kind="stable")  # per channel, in time order
        times = t_now + CONFIG["dt_ms"] * (clip.steps[order] + 1)
        bounds = np.searchsorted(clip.indices[order], np.arange(CONFIG["n_input"] + 1))
        # one call for all generators (a call per generator would time Python, not NEST)
        pops["input"].set([{"spike_times": times[a:b].tolist()} for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
        nest.Simulate(CONFIG["clip_ms"])
        t_now += CONFIG["clip_ms"]

    present(clips[0])
    t0 = time.perf_counter()
    for clip in clips:
        present(clip)
    seconds = time.perf_counter() - t0
    return {"clips_per_s": len(clips) / seconds, "seconds": seconds, "threads": threads}


# --------------------------------------------------------------------------- main
def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=200, help="clips per contender (the Brian2 loop: a tenth)")
    parser.add_argument("--quick", action="store_true", help="32 clips: a smoke test, not a measurement")
    args = parser.parse_args(argv)
    n = 32 if args.quick else int(args.clips)
    clips = poisson_clips(n)
    model = reference_model(device="cpp_standalone", batch=1).fit(clips[:1])
    weights = model.weights_
    results = {}
    print(f"reference reservoir, {n} clips of {CONFIG['clip_ms']:g} ms", flush=True)
    results["brian2_standalone_concatenated"] = brian2_standalone(model, clips, weights, learn=False)
    results["brian2_standalone_concatenated_stdp"] = brian2_standalone(model, clips, None, learn=True)
    results["brian2_runtime_loop"] = brian2_runtime_loop(model, clips[: max(n // 10, 4)], weights)
    for threads in (1, 2):
        found = nest_loop(model, clips, weights, threads)
        if found is not None:
            results[f"nest_{threads}thread"] = found
    for name, kw in (
        ("spikevid_per_clip", dict(batch=1, n_jobs=1)),
        ("spikevid_batched", dict(batch=4, n_jobs=1)),
        ("spikevid_batched_2jobs", dict(batch=4, n_jobs=2)),
    ):
        est = clone(model).set_params(**kw)
        est.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
        results[name] = spikevid(est, clips, learn=False)
    results["spikevid_stdp"] = spikevid(clone(model), clips, learn=True)
    base = results["brian2_standalone_concatenated"]["clips_per_s"]
    nest_best = max((r["clips_per_s"] for k, r in results.items() if k.startswith("nest")), default=None)
    print(f"{'contender':36s} {'clips/s':>9s} {'x Brian2 SA':>12s} {'x NEST':>8s} {'build s':>8s}  rates (Hz)")
    for name, r in results.items():
        r["x_brian2_standalone"] = r["clips_per_s"] / base
        if nest_best:
            r["x_nest"] = r["clips_per_s"] / nest_best
        rates = f"E {r['exc_Hz']:.1f}, I {r['inh_Hz']:.1f}" if "exc_Hz" in r else ""
        print(
            f"{name:36s} {r['clips_per_s']:9.1f} {r['x_brian2_standalone']:12.2f} "
            f"{r.get('x_nest', float('nan')):8.2f} {r.get('build_s', float('nan')):8.1f}  {rates}"
        )
    return write_result(RESULTS, {"config": CONFIG, "n_clips": n, "quick": bool(args.quick), "results": results})


if __name__ == "__main__":
    main()
