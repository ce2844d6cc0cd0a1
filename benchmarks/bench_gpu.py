"""The reservoir on brian2cuda against the 2-core CPU figure measured in the same run.

The reference network of :mod:`benchmarks.bench_reservoir_throughput` at several sizes
(each neuron keeps the reference in-degree, as in :mod:`benchmarks.bench_scaling`), read
out frozen (features) through spikevid's compiled programs:

* ``cpu_2cores`` -- ``cpp_standalone``, one copy per run, two binaries at once, this
  process and its children pinned to two cores (``os.sched_setaffinity``): the CPU
  figure of the speed issue's targets (sizes up to ``--cpu-max``);
* ``cuda_unbatched`` -- ``cuda_standalone``, one copy of the reservoir per run;
* ``cuda_batched`` -- ``cuda_standalone`` with ``batch="auto"``: as many copies side by
  side as fit in about 2 GB (:func:`networks.compiled_reservoir.auto_copies`);
* ``cuda_stdp`` -- the learning program (one copy; STDP on input->E and E->E).

Each contender runs twice on the same clips; the first run compiles its program (or
finds it in the cache) and is reported as ``first_s``, the second is timed.  Prints
clips per second and the batched GPU's ratio to the CPU figure; merges its sizes into
``benchmarks/results/gpu.json`` (so sizes can be measured in separate calls).  Without
a GPU it says why and writes the reason.  Usage::

    SPIKEVID_CACHE_DIR=.brian_cache python -m benchmarks.bench_gpu [--sizes 1000,16000] [--clips 256]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone

from benchmarks.bench_scaling import poisson_clip, scaled_model
from benchmarks.common import write_result
from cortex import devices
from networks.compiled_reservoir import auto_copies

RESULTS = Path(__file__).resolve().parent / "results" / "gpu.json"
SIZES = (1_000, 4_000, 16_000, 64_000)


def _timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def frozen(model, clips) -> dict:
    """Clips per second of ``model.simulate`` (second of two runs) and its spike count."""
    first, _ = _timed(lambda: model.simulate(clips))
    seconds, res = _timed(lambda: model.simulate(clips))
    return {
        "clips_per_s": len(clips) / seconds,
        "seconds": seconds,
        "first_s": first,
        "exc_spikes": int(len(res.spikes["exc"][0])),
    }


def learning(model, clips) -> dict:
    first, _ = _timed(lambda: clone(model).fit(clips))
    seconds, _ = _timed(lambda: clone(model).fit(clips))
    return {"clips_per_s": len(clips) / seconds, "seconds": seconds, "first_s": first}


def one_size(n: int, n_clips: int, cpu: bool) -> dict:
    rng = np.random.default_rng(1)
    clips = [poisson_clip(rng, k % 2) for k in range(n_clips)]
    base = scaled_model(n).set_params(snapshots=1)
    fitted = clone(base).fit(clips[:8])  # one set of weights for every contender
    state = {k: v for k, v in fitted.__dict__.items() if k.endswith("_")}

    def variant(**params):
        est = clone(fitted).set_params(**params)
        est.__dict__.update(state)
        return est

    n_syn = int(sum(len(i) for i, _ in fitted.structure_.values()))
    out = {"n": n, "clips": n_clips, "n_synapses": n_syn}
    out["copies_auto"] = auto_copies("cuda_standalone", n, n_syn)
    if cpu:
        everything = os.sched_getaffinity(0)
        os.sched_setaffinity(0, sorted(everything)[:2])  # children inherit it
        try:
            out["cpu_2cores"] = frozen(variant(device="cpp_standalone", batch=1, n_jobs=2), clips)
        finally:
            os.sched_setaffinity(0, everything)
    out["cuda_unbatched"] = frozen(variant(device="cuda_standalone", batch=1, n_jobs=2), clips)
    out["cuda_batched"] = frozen(variant(device="cuda_standalone", batch="auto", n_jobs=2), clips)
    out["cuda_stdp"] = learning(base.set_params(device="cuda_standalone"), clips[: max(n_clips // 4, 8)])
    if cpu:
        ref = out["cpu_2cores"]["clips_per_s"]
        for key in ("cuda_unbatched", "cuda_batched"):
            out[key]["x_cpu_2cores"] = out[key]["clips_per_s"] / ref
    return out


def _merge(path: Path, fresh: list[dict]) -> list[dict]:
    old = json.loads(path.read_text()).get("sizes", []) if path.is_file() else []
    keep = {r["n"]: r for r in old if "n" in r}
    keep.update({r["n"]: r for r in fresh})
    return [keep[n] for n in sorted(keep)]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="neurons, comma-separated")
    parser.add_argument("--clips", type=int, default=256, help="clips per contender (default 256)")
    parser.add_argument("--cpu-max", type=int, default=16_000, help="largest size also run on 2 CPU cores")
    parser.add_argument("--quick", action="store_true", help="1,000 neurons, 64 clips")
    args, _ = parser.parse_known_args(argv)
    if (problem := devices.available_devices()["cuda_standalone"])[0] is False:
        print(f"bench_gpu: skipped, cuda_standalone cannot run here: {problem[1]}")
        return write_result(RESULTS.with_name("gpu_skipped.json"), {"skipped": problem[1]})
    sizes = [1_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    n_clips = 64 if args.quick else args.clips
    gpu = _gpu_name()
    print(f"GPU: {gpu}")
    head = ("neurons", "copies", "CPU 2c/s", "GPU 1/s", "GPU B/s", "B/CPU", "GPU STDP/s", "first s")
    print(" ".join(f"{h:>10s}" for h in head))
    fresh = []
    for n in sizes:
        r = one_size(n, n_clips, cpu=n <= args.cpu_max)
        fresh.append(r)
        cpu = r.get("cpu_2cores", {}).get("clips_per_s", float("nan"))
        ratio = r["cuda_batched"].get("x_cpu_2cores", float("nan"))
        first = r["cuda_unbatched"]["first_s"] + r["cuda_batched"]["first_s"]
        print(
            f"{n:10d} {r['copies_auto']:10d} {cpu:10.1f} {r['cuda_unbatched']['clips_per_s']:10.1f} "
            f"{r['cuda_batched']['clips_per_s']:10.1f} {ratio:10.1f} {r['cuda_stdp']['clips_per_s']:10.1f} "
            f"{first:10.1f}",
            flush=True,
        )
    return write_result(RESULTS, {"gpu": gpu, "sizes": _merge(RESULTS, fresh)})


def _gpu_name() -> str:
    import subprocess  # noqa: PLC0415

    out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True)
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else "unknown"


if __name__ == "__main__":
    main()
