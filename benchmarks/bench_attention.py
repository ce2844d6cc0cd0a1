"""Training the attention readout (networks.attention) against a linear readout of the same spikes.

Synthetic spike counts: ``--clips`` sequences of ``--tokens`` time bins x
``--features`` neurons (Poisson counts; each of 4 classes raises the rate of its
own quarter of the neurons in a class-specific half of the bins).  Measures wall
seconds of

* ``logistic``           -- ``LogisticRegression`` on the flattened (bin-major)
                            features after standard scaling, one BLAS thread: the
                            baseline, measured in the same run (also with the
                            default BLAS threads);
* ``attention_float32``  -- ``AttentionReadout`` (default dtype), ``--epochs``
                            epochs, no early stopping;
* ``attention_float64``  -- the same in float64;
* ``attention_float32_default_blas_threads`` -- float32 with the process's
                            default BLAS threads (``blas_threads=None``) for
                            ``--threads-epochs`` epochs (per-epoch time compared);
                            the rows above use one BLAS thread (the default).

and prints each as a ratio to the baseline (and float64 / float32), with the
training and held-out accuracy.  The project's target for the default
configuration (1,000 x 20 x 256, width 64, 2 heads, 30 epochs) is under 60 s on
2 cores.  Writes ``benchmarks/results/attention.json``.

Usage::

    python -m benchmarks.bench_attention [--clips 1000] [--tokens 20] [--features 256] [--epochs 30]
                                         [--threads-epochs 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import threadpoolctl
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.common import write_result
from networks.attention import AttentionReadout

RESULTS = Path(__file__).resolve().parent / "results" / "attention.json"


def spike_sequences(n_clips: int, n_tokens: int, n_features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Poisson spike counts, shape (n_clips, n_tokens, n_features), and 4-class labels."""
    rng = np.random.default_rng(seed)
    y = np.arange(n_clips) % 4
    rate = np.full((n_clips, n_tokens, n_features), 0.5)
    q, h = n_features // 4, n_tokens // 2
    for c in range(4):
        bins = slice(0, h) if c % 2 == 0 else slice(h, n_tokens)
        rate[y == c, bins, c * q : (c + 1) * q] += 0.1
    return rng.poisson(rate).astype(np.float64), y


def _timed(fit, X, y, Xte, yte, epochs: int | None = None) -> dict:
    t0 = time.perf_counter()
    model = fit(X, y)
    seconds = time.perf_counter() - t0
    row = {
        "seconds": seconds,
        "train_accuracy": float(model.score(X, y)),
        "test_accuracy": float(model.score(Xte, yte)),
    }
    if epochs:
        row |= {"epochs": epochs, "seconds_per_epoch": seconds / epochs}
    return row


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument(
        "--threads-epochs",
        type=int,
        default=3,
        help="epochs of the row with the default BLAS threads (slow on a busy machine)",
    )
    parser.add_argument("--quick", action="store_true", help="200 clips, 5 epochs")
    args = parser.parse_args(argv)
    if args.quick:
        args.clips, args.epochs = 200, 5
    X, y = spike_sequences(args.clips + args.clips // 4, args.tokens, args.features)
    X, y, Xte, yte = X[: args.clips], y[: args.clips], X[args.clips :], y[args.clips :]
    flat, flat_te = X.reshape(len(X), -1), Xte.reshape(len(Xte), -1)

    def attention(dtype, blas_threads, epochs):
        est = AttentionReadout(
            args.width,
            n_heads=args.heads,
            max_epochs=epochs,
            early_stopping=False,
            random_state=0,
            dtype=dtype,
            blas_threads=blas_threads,
        )
        return lambda X, y: est.fit(X, y)

    def logistic(X, y):
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)

    with threadpoolctl.threadpool_limits(1, user_api="blas"):  # the same BLAS threads as the attention rows
        rows = {"logistic": _timed(logistic, flat, y, flat_te, yte)}
    rows["logistic_default_blas_threads"] = _timed(logistic, flat, y, flat_te, yte)
    for dtype in ("float32", "float64"):
        rows[f"attention_{dtype}"] = _timed(attention(dtype, 1, args.epochs), X, y, Xte, yte, args.epochs)
    # the process's default BLAS threads (all cores): a few epochs only, it can be many times slower
    n = min(args.epochs, args.threads_epochs)
    rows["attention_float32_default_blas_threads"] = _timed(attention("float32", None, n), X, y, Xte, yte, n)
    base = rows["logistic"]["seconds"]
    print(
        f"{args.clips} clips x {args.tokens} tokens x {args.features} features, width {args.width}, "
        f"{args.heads} heads, {args.epochs} epochs (no early stopping); {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} (other work on the machine counts)"
    )
    for name, r in rows.items():
        epochs = f"{r['epochs']:3d} epochs {r['seconds_per_epoch']:6.3f} s/epoch" if "epochs" in r else " " * 26
        print(
            f"  {name:40s} {r['seconds']:8.2f} s {r['seconds'] / base:7.1f}x logistic  {epochs}  "
            f"accuracy train {r['train_accuracy']:.3f} test {r['test_accuracy']:.3f}"
        )
    f32, f64 = rows["attention_float32"], rows["attention_float64"]
    ratio = f64["seconds"] / f32["seconds"]
    threads = rows["attention_float32_default_blas_threads"]["seconds_per_epoch"] / f32["seconds_per_epoch"]
    print(
        f"  float64 / float32: {ratio:.2f}x;  default BLAS threads / 1 thread (per epoch): {threads:.1f}x;  "
        f"target < 60 s for {args.epochs} epochs: {'met' if f32['seconds'] < 60 else 'NOT met'} "
        f"({f32['seconds']:.1f} s)"
    )
    result = {
        "config": vars(args),
        "rows": rows,
        "ratio_vs_logistic": {k: r["seconds"] / base for k, r in rows.items()},
        "float64_over_float32": ratio,
        "default_blas_threads_over_1_per_epoch": threads,
    }
    return write_result(RESULTS, result)


if __name__ == "__main__":
    main()
