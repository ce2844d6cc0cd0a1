"""Cortical-column training throughput on the 8x8 digits: STDP + R-STDP samples per second.

:class:`~networks.column.ColumnClassifier` with the parameters of
``configs/column_digits.yaml`` learns from ``--images`` Poisson-coded training digits
(one STDP and one R-STDP epoch, 100 ms per image plus a 50 ms gap) with ``--layers``
layer neurons.  Each size is fitted twice on every device of ``--devices``: the first
fit includes code generation and compilation (cold), the second reuses it (warm, the
cost of every further run; a standalone project still recompiles the objects whose
data changed).  Throughput = training presentations (images x epochs) per wall second
of the warm fit: of its ``fit_seconds_`` (the simulation call; on standalone devices
that includes the build and the program's run) and of the whole ``fit`` call; ratios
are against the smallest layer on the same device, measured in the same run.  The
issue's target: 400 layer neurons at >= 50 samples per second on 2 cores.  Writes ``benchmarks/results/column.json``.

Usage::

    python -m benchmarks.bench_column [--images 300] [--layers 100 400] [--devices runtime cpp_standalone] [--quick]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.common import write_result
from networks.column import ColumnClassifier
from stimuli.datasets import get_dataset
from stimuli.encoders import PoissonEncoder

RESULTS = Path(__file__).resolve().parent / "results" / "column.json"
ENCODER = PoissonEncoder(max_rate=200.0, frame_duration=100.0, dt=1.0)
#: configs/column_digits.yaml, minus the layer size and the device.
PARAMS = dict(n_per_class=4, lateral="pool", J_in=1.0, norm_mean=0.1, theta_plus=1.0, eta=3.0, J_mutual=0.5)


def digits(n: int):
    """The first ``n`` training digits, Poisson-coded, and their labels."""
    data = get_dataset("images").split("train")
    samples = [data[k] for k in range(min(n, len(data)))]
    return [ENCODER(s.data, label=s.label, meta=s.meta) for s in samples], np.array([s.label for s in samples])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--layers", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--devices", nargs="+", default=["runtime", "cpp_standalone"])
    parser.add_argument("--quick", action="store_true", help="60 images, layers 25 and 100, runtime only")
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.layers, args.devices = 60, [25, 100], ["runtime"]
    X, y = digits(args.images)
    presentations = 2 * len(X)  # one STDP and one R-STDP epoch
    rows = {}
    for device in args.devices:
        for n_layer in args.layers:
            runs = []
            for _ in ("cold", "warm"):
                model = ColumnClassifier(n_layer, **PARAMS, device=device, seed=0, progress=False)
                t0 = time.perf_counter()
                model.fit(X, y)
                runs.append({"total": time.perf_counter() - t0, "simulation": model.fit_seconds_})
            cold, warm = runs
            rows[f"{device}/{n_layer}"] = {
                "device": device,
                "n_layer": n_layer,
                "cold_seconds": cold["total"],
                "warm_seconds": warm["total"],
                "warm_simulation_seconds": warm["simulation"],
                "samples_per_second": presentations / warm["total"],
                "samples_per_second_simulation": presentations / warm["simulation"],
                "spikes_per_neuron": float(model.spikes_per_neuron_),
            }
    for device in args.devices:
        base = rows[f"{device}/{min(args.layers)}"]["samples_per_second"]
        for n_layer in args.layers:
            r = rows[f"{device}/{n_layer}"]
            r["throughput_vs_smallest"] = r["samples_per_second"] / base
    print(
        f"{len(X)} digits x 2 epochs = {presentations} presentations; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    head = ("device/layer", "cold s", "warm s", "samples/s", "(fit_seconds_)", "vs smallest")
    print(f"  {head[0]:22s} {head[1]:>7s} {head[2]:>7s} {head[3]:>10s} {head[4]:>14s} {head[5]:>11s}")
    for name, r in rows.items():
        print(
            f"  {name:22s} {r['cold_seconds']:7.1f} {r['warm_seconds']:7.1f} {r['samples_per_second']:10.1f} "
            f"{r['samples_per_second_simulation']:14.1f} {r['throughput_vs_smallest']:10.2f}x"
        )
    result = {
        "config": vars(args),
        "rows": rows,
    }
    return write_result(RESULTS, result)


if __name__ == "__main__":
    main()
