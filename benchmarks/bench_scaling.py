"""How the HRSNN's cost grows with reservoir size and with the number of clips.

Two sweeps of the reference network of :mod:`benchmarks.bench_reservoir_throughput`
(current-based LIF, 80 % excitatory, 500 Poisson inputs at 10 Hz, 200-ms clips,
dt 0.1 ms, ``cpp_standalone`` compiled programs, two binaries at once):

* **size**: 1,000, 4,000 and 16,000 neurons (every neuron keeps the reference
  network's in-degree: 50 input and 100 recurrent synapses, ``p = 0.1 * 1000 / n``),
  64 clips: clips per second frozen and learning (STDP), build time;
* **clips**: 1,000 neurons, 100, 1,000 and 10,000 clips, as the experiment runner
  does it: the clips in a stimulus cache (:class:`~stimuli.sequence.StoredStimuli`,
  the runner's default ``run.memory_mb`` held in memory), one unsupervised epoch of
  STDP over all of them (in runs of 32 clips), then features in chunks of 200 clips
  into one preallocated array: wall time of each phase, the training activity, and
  peak memory; programs compiled before the sweep.

Each point runs in a fresh process, so its peak memory is its own:
``python_peak_MB`` (``ru_maxrss``) for the Python process, ``binary_peak_MB`` for the
largest compiled simulation (:func:`cortex.standalone.binary_peak_bytes`).  Writes
``benchmarks/results/scaling.json`` and the figure ``docs/figures/scaling.png``.
Usage::

    SPIKEVID_CACHE_DIR=.brian_cache python -m benchmarks.bench_scaling [--quick] [--only size|clips]

``--quick`` (1,000 and 4,000 neurons, 100 and 1,000 clips) is a smoke test; ``--only``
runs one sweep and keeps the other's last results.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone

from benchmarks.bench_reservoir_throughput import CONFIG, reference_model
from benchmarks.common import write_result
from cortex.standalone import binary_peak_bytes
from stimuli.cache import StimulusCache
from stimuli.sequence import RESIDENT_MB, StoredStimuli, stimulus_headers
from stimuli.types import SpikeStimulus

RESULTS = Path(__file__).resolve().parent / "results" / "scaling.json"
FIGURE = Path(__file__).resolve().parents[1] / "docs" / "figures" / "scaling.png"
SIZES = (1_000, 4_000, 16_000)
CLIP_COUNTS = (100, 1_000, 10_000)
#: Clips per point of the size sweep.
SIZE_CLIPS = 64
#: Clips per feature chunk (the runner's default ``run.chunk``).
CHUNK = 200
#: Clips per snapshot in the clips sweep (``snapshots = clips / RUN_CLIPS``): learning runs
#: of 32 clips (:func:`networks.compiled_reservoir.learning_slots`) at every point, one program.
RUN_CLIPS = 100


def poisson_clip(rng: np.random.Generator, label: int) -> SpikeStimulus:
    """One reference clip: independent Poisson trains, 500 channels at 10 Hz for 200 ms."""
    c = CONFIG
    steps = int(round(c["clip_ms"] / c["dt_ms"]))
    n = rng.poisson(c["n_input"] * c["input_rate_Hz"] * c["clip_ms"] * 1e-3)
    flat = np.unique(rng.integers(0, steps * c["n_input"], size=n))  # one spike per channel and step at most
    st, ch = np.divmod(flat, c["n_input"])
    return SpikeStimulus(ch, st, c["n_input"], steps, c["dt_ms"], label=label)


def scaled_model(n: int):
    """The reference network with ``n`` neurons and the reference in-degree."""
    p = CONFIG["p"] * 1000 / n
    return reference_model(device="cpp_standalone", batch=1, n_jobs=2).set_params(n=n, p_ee=p, p_ei=p, p_ie=p, p_ii=p)


def _peaks() -> dict:
    return {
        "python_peak_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def one_size(n: int, clips: int) -> dict:
    """Clips per second frozen and learning at ``n`` neurons (compilation timed apart)."""
    rng = np.random.default_rng(1)
    stims = [poisson_clip(rng, k % 2) for k in range(clips)]
    model = scaled_model(n)
    t0 = time.perf_counter()
    fitted = clone(model).fit(stims)  # compiles the learning program (a run of all clips)
    first_learn = time.perf_counter() - t0
    t0 = time.perf_counter()
    fitted.simulate(stims[:1])  # compiles the frozen program (runs of 32 clip slots)
    first_frozen = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = fitted.simulate(stims)
    frozen = time.perf_counter() - t0
    t0 = time.perf_counter()
    clone(model).fit(stims)
    learn = time.perf_counter() - t0
    seconds = clips * CONFIG["clip_ms"] * 1e-3
    return {
        "n": n,
        "clips": clips,
        "frozen_clips_per_s": clips / frozen,
        "stdp_clips_per_s": clips / learn,
        "build_s": max(first_learn - learn, 0.0) + max(first_frozen - frozen * 32 / clips, 0.0),
        "n_synapses": int(sum(len(i) for i, _ in fitted.structure_.values())),
        "exc_Hz": len(res.spikes["exc"][0]) / (fitted.n_exc * seconds),
        "binary_peak_MB": round(binary_peak_bytes() / 2**20, 1),
    } | _peaks()


def one_count(n: int, clips: int, resident_mb: float = RESIDENT_MB) -> dict:
    """The runner's path on ``clips`` clips: stored clips, one STDP epoch, features in chunks."""
    rng = np.random.default_rng(2)
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as folder:
        cache = StimulusCache(folder)
        t0 = time.perf_counter()
        made = (cache.put(f"{k:016x}", poisson_clip(rng, k % 2)) for k in range(clips))
        stims = StoredStimuli.collect(folder, made, resident_mb=resident_mb)
        make = time.perf_counter() - t0
        model = scaled_model(n).set_params(snapshots=max(clips // RUN_CLIPS, 1))
        binary_peak_bytes(reset=True)
        t0 = time.perf_counter()
        model.fit(stims)
        train = time.perf_counter() - t0
        t0 = time.perf_counter()
        X = np.empty((clips, model.n_features_out_))
        for a in range(0, clips, CHUNK):
            X[a : a + CHUNK] = model.simulate(stims[a : a + CHUNK]).features[0]
        extract = time.perf_counter() - t0
        return {
            "n": n,
            "clips": clips,
            "make_clips_s": make,
            "train_s": train,
            "extract_s": extract,
            "train_clips_per_s": clips / train,
            "extract_clips_per_s": clips / extract,
            "train_spikes_per_neuron": float(model.spikes_per_neuron_),
            "features_MB": X.nbytes / 2**20,
            "stimuli_MB": float(stimulus_headers(stims)["n_spikes"].sum()) * 12 / 2**20,
            "resident_MB": stims.resident_bytes / 2**20,
            "binary_peak_MB": round(binary_peak_bytes() / 2**20, 1),
        } | _peaks()


def _in_fresh_process(kind: str, n: int, clips: int) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_scaling", "--one", json.dumps([kind, n, clips])]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"{kind} n={n} clips={clips} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def plot(result: dict, path: Path) -> None:
    import matplotlib  # noqa: PLC0415 -- only for the figure

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, (a, b, c) = plt.subplots(1, 3, figsize=(13, 3.8))
    size = result["size"]
    ns = [r["n"] for r in size]
    a.loglog(ns, [r["frozen_clips_per_s"] for r in size], "o-", label="frozen (features)")
    a.loglog(ns, [r["stdp_clips_per_s"] for r in size], "s-", label="learning (STDP)")
    a.set(xlabel="neurons", ylabel="clips / s (2 binaries)", title="throughput against size")
    a.legend(frameon=False)
    count = result["clips"]
    cs = [r["clips"] for r in count]
    b.loglog(cs, [r["train_s"] for r in count], "s-", label="STDP epoch")
    b.loglog(cs, [r["extract_s"] for r in count], "o-", label="features")
    b.loglog(cs, np.array(cs) / cs[0] * count[0]["extract_s"], "k:", lw=0.8, label="linear")
    b.set(xlabel="clips", ylabel="wall time (s)", title=f"time against clips ({count[0]['n']:,} neurons)")
    b.legend(frameon=False)
    c.semilogx(cs, [r["python_peak_MB"] for r in count], "o-", label="Python process")
    c.semilogx(cs, [r["binary_peak_MB"] for r in count], "s-", label="largest simulation binary")
    c.semilogx(cs, [r["features_MB"] for r in count], "k:", label="features held")
    c.axhline(2048, color="r", lw=0.8, ls="--", label="2 GB target")
    c.set(xlabel="clips", ylabel="peak memory (MB)", title="memory against clips")
    c.legend(frameon=False, fontsize=8)
    for ax in (a, b, c):
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1k/4k neurons, 100/1,000 clips: a smoke test")
    parser.add_argument("--only", choices=("size", "clips"), help="run one sweep; keep the other's last results")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # one point, in this process: ["size"|"clips", n, clips]
    args, _ = parser.parse_known_args(argv)
    if args.one:
        kind, n, clips = json.loads(args.one)
        print(json.dumps((one_size if kind == "size" else one_count)(int(n), int(clips))))
        return {}
    sizes = SIZES[:2] if args.quick else SIZES
    counts = CLIP_COUNTS[:2] if args.quick else CLIP_COUNTS
    result = {"size": [], "clips": []}
    if args.only and RESULTS.exists():
        kept = json.loads(RESULTS.read_text())
        result = {k: kept.get(k, []) if k != args.only else [] for k in result}
    if args.only != "clips":
        _size_sweep(sizes, result)
    if args.only != "size":
        _clips_sweep(counts, result)
    plot(result, FIGURE)
    print(f"figure: {FIGURE}")
    return write_result(RESULTS, {"config": CONFIG, "quick": bool(args.quick), "chunk": CHUNK, **result})


def _size_sweep(sizes, result: dict) -> None:
    head = ("neurons", "synapses", "frozen/s", "STDP/s", "build s", "E Hz", "peak MB")
    print(" ".join(f"{h:>{w}s}" for h, w in zip(head, (8, 10, 9, 8, 8, 6, 8), strict=True)))
    for n in sizes:
        r = _in_fresh_process("size", n, SIZE_CLIPS)
        result["size"].append(r)
        print(
            f"{n:8d} {r['n_synapses']:10d} {r['frozen_clips_per_s']:9.1f} {r['stdp_clips_per_s']:8.1f} "
            f"{r['build_s']:8.1f} {r['exc_Hz']:6.1f} {max(r['python_peak_MB'], r['binary_peak_MB']):8.0f}",
            flush=True,
        )
    base = result["size"][0]
    for r in result["size"]:
        r["frozen_x_1k"] = r["frozen_clips_per_s"] / base["frozen_clips_per_s"]
        r["stdp_x_1k"] = r["stdp_clips_per_s"] / base["stdp_clips_per_s"]


def _clips_sweep(counts, result: dict) -> None:
    print(
        f"\n{'clips':>7s} {'train s':>8s} {'extract s':>9s} {'clips/s (train, extract)':>25s} {'train spk/n':>11s} "
        f"{'Python MB':>10s} {'binary MB':>10s} {'features MB':>11s} {'stimuli MB':>10s}"
    )
    _in_fresh_process("clips", 1000, RUN_CLIPS)  # compiles (or finds) the programs: not timed below
    for clips in counts:
        r = _in_fresh_process("clips", 1000, clips)
        result["clips"].append(r)
        print(
            f"{clips:7d} {r['train_s']:8.1f} {r['extract_s']:9.1f} {r['train_clips_per_s']:12.1f} "
            f"{r['extract_clips_per_s']:12.1f} {r['train_spikes_per_neuron']:11.2f} {r['python_peak_MB']:10.0f} "
            f"{r['binary_peak_MB']:10.0f} {r['features_MB']:11.0f} {r['stimuli_MB']:10.0f}",
            flush=True,
        )
    first = result["clips"][0]
    for r in result["clips"]:
        r["time_per_clip_x_first"] = (
            (r["train_s"] + r["extract_s"]) / r["clips"] / ((first["train_s"] + first["extract_s"]) / first["clips"])
        )


if __name__ == "__main__":
    main()
