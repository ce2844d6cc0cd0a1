"""The ReSpike-style hybrid (networks.hybrid) at a realistic size: token extraction and training per mode.

Synthetic clips of ``--size`` x ``--size`` pixels and ``--frames`` frames, 4 classes
= (grating orientation in the key frames) x (direction of a square that steps away
from the centre between key frames), residual-encoded with stride ``--stride``
(Poisson inner code).  Measures wall seconds of

* ``encode``         -- :class:`~stimuli.encoders.ResidualEncoder` on every clip;
* ``tokens``         -- :class:`~networks.hybrid_tokens.HybridTokens` ``fit_transform``
                        of the training clips and ``transform`` of the test clips
                        (Gabor + HOG key-frame features, grid spike counts), scales ``--scales``;
* ``fit_<mode>``     -- :class:`~networks.hybrid.HybridClassifier` in each mode,
                        ``--epochs`` epochs without early stopping, one BLAS thread;

with the held-out accuracy of each mode (each single branch can reach 50 %, the
fused modes 100 %).  Writes ``benchmarks/results/hybrid.json``.

Usage::

    python -m benchmarks.bench_hybrid [--clips 200] [--size 64] [--frames 16] [--stride 4]
                                      [--scales 4 2 1] [--epochs 100] [--width 32] [--quick]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.common import write_result
from networks.hybrid import MODES, HybridClassifier
from networks.hybrid_tokens import HybridTokens
from stimuli.encoders import PoissonEncoder, ResidualEncoder

RESULTS = Path(__file__).resolve().parent / "results" / "hybrid.json"


def conjunction_clip(pattern: int, direction: int, size: int, n_frames: int, stride: int, rng) -> np.ndarray:
    """Grating (vertical if ``pattern == 0``) plus a square at the centre at key frames, displaced in between."""
    x = np.arange(size)
    wave = 0.3 + 0.2 * np.cos(2 * np.pi * x / (size / 4) + rng.uniform(0, 2 * np.pi))
    background = np.repeat(wave[None, :], size, 0) if pattern == 0 else np.repeat(wave[:, None], size, 1)
    side, step = max(2, size // 5), max(1, size // 12)
    row, col = rng.integers(0, size - side + 1), (size - side) // 2
    frames = np.repeat(background[None], n_frames, 0)
    for t in range(n_frames):
        c = col + direction * step * (t % stride)
        frames[t, row : row + side, max(c, 0) : max(c + side, 0)] += 0.5
    return np.clip(frames, 0, 1).astype(np.float32)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=200, help="training clips (plus a quarter as many test clips)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--scales", type=int, nargs="+", default=[4, 2, 1])
    parser.add_argument("--bins", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="80 clips of 32 x 32, 10 epochs")
    args = parser.parse_args(argv)
    if args.quick:
        args.clips, args.size, args.epochs = 80, 32, 10
    rng = np.random.default_rng(0)
    n = args.clips + args.clips // 4
    y = np.arange(n) % 4
    rng.shuffle(y)
    encoder = ResidualEncoder(stride=args.stride, inner=PoissonEncoder(max_rate=500.0, frame_duration=10.0))
    rows = {}
    t0 = time.perf_counter()
    stims = [
        encoder(conjunction_clip(c // 2, 1 if c % 2 else -1, args.size, args.frames, args.stride, rng), meta={"id": i})
        for i, c in enumerate(y)
    ]
    rows["encode"] = {"seconds": time.perf_counter() - t0}
    t0 = time.perf_counter()
    tokens = HybridTokens(tuple(args.scales), bins=args.bins)
    Xtr = tokens.fit_transform(stims[: args.clips])
    Xte = tokens.transform(stims[args.clips :])
    rows["tokens"] = {"seconds": time.perf_counter() - t0, "shapes": repr(Xtr)}
    ytr, yte = y[: args.clips], y[args.clips :]
    for mode in MODES:
        model = HybridClassifier(
            mode, width=args.width, max_epochs=args.epochs, early_stopping=False, learning_rate=3e-3, random_state=0
        ).fit(Xtr, ytr)
        rows[f"fit_{mode}"] = {
            "seconds": model.fit_seconds_,
            "seconds_per_epoch": model.fit_seconds_ / args.epochs,
            "train_accuracy": float(model.score(Xtr, ytr)),
            "test_accuracy": float(model.score(Xte, yte)),
        }
    print(
        f"{args.clips} training + {n - args.clips} test clips of {args.frames} x {args.size} x {args.size}, stride "
        f"{args.stride}, scales {args.scales}, {args.bins} bins; width {args.width}, {args.epochs} epochs; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"  tokens: {rows['tokens']['shapes']}")
    for name, r in rows.items():
        extra = (
            f"  {r['seconds_per_epoch']:.3f} s/epoch  accuracy train {r['train_accuracy']:.3f} "
            f"test {r['test_accuracy']:.3f}"
            if "test_accuracy" in r
            else ""
        )
        print(f"  {name:12s} {r['seconds']:8.2f} s{extra}")
    result = {
        "config": vars(args),
        "rows": rows,
    }
    return write_result(RESULTS, result)


if __name__ == "__main__":
    main()
