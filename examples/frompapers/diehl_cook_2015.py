#!/usr/bin/env python
"""Unsupervised digit learning with STDP, lateral inhibition and homeostasis.

Diehl, P. U. & Cook, M. (2015). Unsupervised learning of digit recognition using
spike-timing-dependent plasticity. *Frontiers in Computational Neuroscience* 9:99.
doi:10.3389/fncom.2015.00099

Poisson spike trains of the pixels drive a layer of excitatory LIF neurons through
plastic synapses (pair STDP, each neuron's summed input weight normalised); every
excitatory neuron excites its own inhibitory partner, which inhibits every other
excitatory neuron (winner-take-all); an adaptive threshold keeps any one neuron from
winning every time.  After one pass over the training images the neurons' input
weights look like digit prototypes (the paper's Fig. 2).

Here on scikit-learn's 8x8 digits (the ``images`` dataset; 1,347 training and 450
test images) instead of MNIST, with the network of :mod:`cortex.columns` run by
:class:`networks.column.ColumnClassifier`.  The paper labels each neuron by the class
it responds to most; we report instead (a) a logistic-regression readout of the
layer's spike counts on the held-out images, beside the same readout of the input
spike counts (the baseline the layer has to be compared with), and (b) the vote of
the class populations that R-STDP trained on top of the frozen layer.  Writes
``diehl_cook_2015.png``/``.pdf`` (learned receptive fields) into ``--out``.

    python examples/frompapers/diehl_cook_2015.py --quick     # about a minute
    python examples/frompapers/diehl_cook_2015.py             # a few minutes on 2 cores

The default device compiles its code with Cython the first time (minutes, cached
under ``$SPIKEVID_CACHE_DIR``); ``--device numpy`` needs no compiler.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from analysis.figures import save_figure
from analysis.receptive_fields import plot_column_receptive_fields
from networks.baseline import InputCounts
from networks.column import ColumnClassifier
from networks.readouts import make_readout
from stimuli.datasets import get_dataset
from stimuli.encoders import PoissonEncoder

#: Presentation: each image is a 1-frame clip shown for FRAME_DURATION ms, GAP ms of silence between.
FRAME_DURATION = 100.0
GAP = 50.0
#: Rate of a white pixel (Hz); the paper uses 63.75 Hz on 784 pixels, 8x8 digits need more.
MAX_RATE = 200.0
DT = 1.0
#: Full run and --quick run: training images, test images, layer neurons.
FULL = {"n_train": 600, "n_test": 450, "n_layer": 100}
QUICK = {"n_train": 120, "n_test": 150, "n_layer": 36}


def encode_split(split: str, n: int, *, seed: int):
    """The first ``n`` images of a split of the 8x8 digits as Poisson spike trains, and their labels."""
    data = get_dataset("images").split(split)
    encoder = PoissonEncoder(max_rate=MAX_RATE, frame_duration=FRAME_DURATION, dt=DT, seed=seed)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(data), size=min(n, len(data)), replace=False))
    samples = [data[int(k)] for k in pick]
    return [encoder(s.data, label=s.label, meta=s.meta) for s in samples], np.array([s.label for s in samples])


def make_column(n_layer: int, *, seed: int, device: str, progress: bool) -> ColumnClassifier:
    """The Diehl & Cook layer (pool inhibition, adaptive threshold, normalised STDP) plus R-STDP classes."""
    return ColumnClassifier(
        n_layer,
        n_per_class=4,
        lateral="pool",  # every E spike fires its I partner, which inhibits every other E
        J_in=1.0,  # a matching digit puts a neuron just above threshold
        norm_mean=0.1,  # each neuron's mean input weight (Diehl & Cook: 78 / 784)
        a_plus=0.01,
        a_ratio=0.5,  # with normalisation, potentiation of active pixels is what competes
        theta_plus=1.0,
        tau_theta=1e5,
        eta=3.0,
        J_mutual=0.5,
        epochs_stdp=1,
        epochs_reward=1,
        dt=DT,
        gap=GAP,
        device=device,
        seed=seed,
        progress=progress,
    )


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and neurons (about a minute)")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="runtime", help="Brian2 device (runtime, numpy, cpp_standalone, ...)")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    t0 = time.perf_counter()
    X_train, y_train = encode_split("train", size["n_train"], seed=args.seed)
    X_test, y_test = encode_split("test", size["n_test"], seed=args.seed + 1)
    column = make_column(size["n_layer"], seed=args.seed, device=args.device, progress=not args.quick)
    result = column.fit_simulate(X_train, y_train, [X_train, X_test])
    F_train, F_test = result.features
    readout = make_readout("logistic", scale="log", C=1.0).fit(F_train, y_train)
    baseline = InputCounts(bins=1).fit(X_train)
    base_readout = make_readout("logistic", scale="log", C=1.0).fit(baseline.transform(X_train), y_train)
    scores = {
        "layer readout": float(readout.score(F_test, y_test)),
        "input-count baseline": float(base_readout.score(baseline.transform(X_test), y_test)),
        "class populations (R-STDP vote)": float(np.mean(column.predict_from(result, phase=1) == y_test)),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    fig, _ = plot_column_receptive_fields(column, title="Diehl & Cook (2015) layer on 8x8 digits")
    paths = save_figure(fig, args.out / "diehl_cook_2015")
    print(f"{len(X_train)} training and {len(X_test)} test images, {column.n_layer_total_} layer neurons")
    print(f"simulation {column.fit_seconds_:.0f} s, total {time.perf_counter() - t0:.0f} s")
    print(f"layer spikes per neuron per image: {column.spikes_per_neuron_:.2f}")
    for name, acc in scores.items():
        print(f"  {name:34s} {acc:.3f}")
    print("figure:", ", ".join(str(p) for p in paths))
    return scores


if __name__ == "__main__":
    main()
