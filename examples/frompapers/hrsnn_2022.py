#!/usr/bin/env python
"""Heterogeneous recurrent spiking neural network (HRSNN) for action recognition: the four variants.

Chakraborty, B. & Mukhopadhyay, S. (2023). Heterogeneous recurrent spiking neural
network for spatio-temporal classification. *Frontiers in Neuroscience* 17:994517.
doi:10.3389/fnins.2023.994517 (arXiv:2211.04297, 2022)

A recurrent reservoir of excitatory and inhibitory LIF neurons learns without labels
through STDP; a logistic regression reads its binned spike counts.  The paper compares
four variants: homogeneous or heterogeneous neurons (membrane time constants drawn
from a gamma distribution, ``N``) and synapses (STDP parameters per synapse, ``S``):
HoNHoS, HeNHoS, HoNHeS and HeNHeS, and finds the heterogeneous one better and
sparser.  Here on the synthetic stick-figure actions of ``make demo`` (the six KTH
classes, split by subject), encoded as DVS-like ON/OFF events; every variant shares
the seed, so connectivity and initial weights are the same and only the
heterogeneity differs.  Each is printed beside the same readout of the binned input
counts (no network), and ``hrsnn_2022.png``/``.pdf`` shows accuracy and activity per
variant in ``--out``.

    python examples/frompapers/hrsnn_2022.py --quick   # 12 subjects, 200 neurons: 1-2 min once compiled
    python examples/frompapers/hrsnn_2022.py           # 24 subjects, 500 neurons: a few minutes on 2 cores

The default device compiles its code with Cython the first time (about 5 minutes on
2 cores, cached under ``$SPIKEVID_CACHE_DIR``); measured ``--quick`` on this machine:
HoNHoS 0.938, HeNHoS 0.958, HoNHeS 0.938, HeNHeS 0.917, input counts 0.917 (48 test
clips, one clip is 2 points).

For seeds, confidence intervals and energy estimates use the study command instead:
``spikevid ablate heterogeneity configs/demo.yaml --seeds 5``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from analysis.figures import PAPER_WIDTH, VARIANT_COLORS, paper_style, save_figure
from networks.baseline import InputCounts
from networks.hrsnn import HRSNN
from networks.readouts import make_readout
from networks.variants import VARIANTS
from stimuli.datasets import get_dataset
from stimuli.encoders import DeltaEncoder

#: The demo's encoder: |frame difference| > 0.25, 3x3 max-pooling, ON/OFF channels, 20 ms per frame.
ENCODER = DeltaEncoder(threshold=0.25, pool=3, frame_duration=20.0, dt=1.0)
FULL = {"n_subjects": 24, "n": 500}
QUICK = {"n_subjects": 12, "n": 200}


def encode_split(ds, split: str):
    """Spike stimuli and labels of one split of the synthetic actions."""
    part = ds.split(split)
    samples = [part[k] for k in range(len(part))]
    return [ENCODER(s.data, label=s.label, meta=s.meta) for s in samples], np.array([s.label for s in samples])


def run_variant(variant: str, data, *, n: int, seed: int, device: str) -> dict:
    """Fit one reservoir variant without labels, then a logistic readout of its features."""
    X_train, y_train, X_test, y_test = data
    model = HRSNN(n, variant=variant, J_in=3.0, dt=0.5, device=device, seed=seed, progress=False)
    t0 = time.perf_counter()
    F_train, F_test = model.fit_extract(X_train, [X_train, X_test])
    readout = make_readout("logistic", scale="log", C=1.0).fit(F_train, y_train)
    return {
        "accuracy": float(readout.score(F_test, y_test)),
        "spikes_per_neuron": float(model.spikes_per_neuron_),
        "tau_m": np.concatenate([p["tau_m"] for p in model.neuron_params_.values()]),
        "seconds": time.perf_counter() - t0,
    }


def plot(results: dict, baseline: float):
    """Accuracy (with the input baseline) and spikes per neuron per clip of each variant."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- only when drawing

    names = list(results)
    colors = [VARIANT_COLORS[v] for v in names]
    with paper_style():
        fig, (ax_a, ax_s) = plt.subplots(1, 2, figsize=(PAPER_WIDTH, 2.6), layout="constrained")
        ax_a.bar(names, [results[v]["accuracy"] for v in names], color=colors)
        ax_a.axhline(baseline, color="#c0392b", ls="--", lw=1, label="input counts (no SNN)")
        ax_a.set_ylim(0, 1.05)
        ax_a.set_ylabel("test accuracy")
        ax_a.set_title("(a) accuracy", loc="left")
        ax_a.legend(loc="lower right")
        ax_s.bar(names, [results[v]["spikes_per_neuron"] for v in names], color=colors)
        ax_s.set_ylabel("spikes / neuron / clip")
        ax_s.set_title("(b) activity (lower: sparser)", loc="left")
        for ax in (ax_a, ax_s):
            ax.tick_params(axis="x", labelsize=7)
    return fig


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer subjects and neurons")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="runtime", help="Brian2 device (runtime, numpy, cpp_standalone, ...)")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    t0 = time.perf_counter()
    ds = get_dataset("synthetic", n_subjects=size["n_subjects"], scenarios=[1, 2], variation=0.5, seed=0)
    X_train, y_train = encode_split(ds, "train")
    X_test, y_test = encode_split(ds, "test")
    data = (X_train, y_train, X_test, y_test)
    base = InputCounts(bins=HRSNN().bins).fit(X_train)
    base_readout = make_readout("logistic", scale="log", C=1.0).fit(base.transform(X_train), y_train)
    baseline = float(base_readout.score(base.transform(X_test), y_test))
    results = {v: run_variant(v, data, n=size["n"], seed=args.seed, device=args.device) for v in VARIANTS}
    print(f"{len(X_train)} training and {len(X_test)} test clips, {size['n']} neurons, seed {args.seed}")
    print(f"{'variant':8s} {'test acc':>8s} {'spikes/neuron/clip':>19s} {'tau_m mean+-std (ms)':>21s} {'time':>6s}")
    for v, r in results.items():
        tau = r["tau_m"]
        print(
            f"{v:8s} {r['accuracy']:8.3f} {r['spikes_per_neuron']:19.2f} "
            f"{tau.mean():13.1f} +- {tau.std():4.1f} {r['seconds']:5.0f}s"
        )
    print(f"{'input':8s} {baseline:8.3f}  (binned input counts, no network)")
    args.out.mkdir(parents=True, exist_ok=True)
    paths = save_figure(plot(results, baseline), args.out / "hrsnn_2022")
    print(f"total {time.perf_counter() - t0:.0f} s; figure:", ", ".join(str(p) for p in paths))
    return {v: r["accuracy"] for v, r in results.items()} | {"input": baseline}


if __name__ == "__main__":
    main()
