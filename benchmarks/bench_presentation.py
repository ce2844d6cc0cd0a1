"""Presenting many clips to a reservoir: one concatenated run vs a per-clip loop.

The naive Brian2 script runs each clip separately and restores the initial state
with ``store()``/``restore()`` in between; spikevid lays all clips out on one time
axis with a reset between clips (one ``run``, one standalone build).  This measures
wall seconds per clip for

* ``loop_restore``  -- per-clip ``restore(); set_spikes(); run()`` (runtime device),
                       the baseline, measured in the same run;
* ``hrsnn_runtime`` -- ``HRSNN.transform`` on the runtime device (concatenated);
* ``hrsnn_cpp``     -- ``HRSNN.transform`` on cpp_standalone (build included).

and checks that the loop and the concatenated run give the same spike counts per
clip (they present the same network the same input from the same state). Writes
``benchmarks/results/presentation.json``.

Usage::

    python -m benchmarks.bench_presentation [--clips 50] [--n 1000] [--target numpy]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.common import write_result
from cortex.devices import device_scope
from networks.hrsnn import HRSNN
from networks.reservoir import build_reservoir
from networks.timeline import Timeline
from stimuli.timebase import to_brian
from stimuli.types import SpikeStimulus

RESULTS = Path(__file__).resolve().parent / "results" / "presentation.json"


def _clips(n_clips: int, n_channels: int, n_steps: int, seed: int = 0):
    """Clips of 1 ms steps: class ``k % 4`` drives its quarter of the channels harder."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_clips):
        rate = np.full(n_channels, 0.005)
        rate[(k % 4) * n_channels // 4 : ((k % 4) + 1) * n_channels // 4] = 0.03
        st, idx = np.nonzero(rng.random((n_steps, n_channels)) < rate)
        out.append(SpikeStimulus(idx, st, n_channels, n_steps, 1.0, label=k % 4))
    return out


def loop_restore(model, clips) -> tuple[float, np.ndarray]:
    """The per-clip loop a hand-written script would use; returns (seconds, counts)."""
    # the same network as HRSNN builds, with the first clip's spikes (replaced below)
    built = build_reservoir(
        model,
        Timeline([(clips[:1], False)], dt=model.dt, gap=0.0),
        n_input=model.n_input_,
        seed=model.seed_,
        weights=model.weights_,
    )
    for name in built.plastic:
        built.synapses[name].plastic = 0  # feature phase: frozen weights, as in HRSNN.transform
    net, mons = built.network, built.monitors
    dt = to_brian(model.dt)
    net.store("initial")
    counts = []
    t0 = time.perf_counter()
    for s in clips:
        net.restore("initial")
        steps = Timeline.net_steps(s, model.dt)
        built.groups["input"].set_spikes(s.indices, (steps + int(net.t / dt)) * dt)
        before = mons["spikes_exc"].num_spikes + mons["spikes_inh"].num_spikes
        net.run(to_brian(s.duration), namespace={})
        counts.append(mons["spikes_exc"].num_spikes + mons["spikes_inh"].num_spikes - before)
    return time.perf_counter() - t0, np.asarray(counts)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=50)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=200.0, help="ms per clip")
    parser.add_argument(
        "--target",
        default="numpy",
        choices=["numpy", "cython"],
        help="runtime code generation target for the runtime rows",
    )
    parser.add_argument("--quick", action="store_true", help="10 clips, 400 neurons")
    args = parser.parse_args(argv)
    if args.quick:
        args.clips, args.n = 10, 400
    clips = _clips(args.clips, 256, int(args.duration))
    # a silent gap longer than tau_ref before each clip: no neuron is refractory at a reset
    params = dict(n=args.n, J_in=3.0, seed=0, progress=False, snapshots=0, record_v=0, gap=10.0)
    fitted = HRSNN(device=args.target, **params).fit(clips[:2])  # weights for all rows
    rows = {}
    with device_scope(args.target):
        sec, loop_counts = loop_restore(fitted, clips)
    rows["loop_restore"] = sec
    for name, device in (("hrsnn_runtime", args.target), ("hrsnn_cpp", "cpp_standalone")):
        fitted.device = device
        t0 = time.perf_counter()
        F = fitted.transform(clips)
        rows[name] = time.perf_counter() - t0
        same = bool(np.array_equal(F.sum(1).astype(int), loop_counts))
        rows[f"{name}_matches_loop"] = same
    per_clip = {k: v / args.clips for k, v in rows.items() if isinstance(v, float)}
    base = per_clip["loop_restore"]
    print(f"{args.clips} clips x {args.duration:.0f} ms, {args.n} neurons, runtime target {args.target}")
    for k, v in per_clip.items():
        print(
            f"  {k:14s} {v:8.3f} s/clip   {base / v:6.1f}x vs loop_restore"
            + ("" if k == "loop_restore" else f"   same spikes as loop: {rows[k + '_matches_loop']}")
        )
    result = {
        "config": vars(args),
        "seconds_per_clip": per_clip,
        "speedup_vs_loop_restore": {k: base / v for k, v in per_clip.items()},
        "matches_loop": {k: rows[f"{k}_matches_loop"] for k in ("hrsnn_runtime", "hrsnn_cpp")},
    }
    return write_result(RESULTS, result)


if __name__ == "__main__":
    main()
