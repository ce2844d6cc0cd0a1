"""Device selection: runtime fallback, seeds, runtime vs C++ standalone, brian2cuda.

The standalone project is built once per session under the project cache
(``$SPIKEVID_CACHE_DIR``, default ``<repo>/.brian_cache``), so a second session
recompiles nothing.
"""

import gc
import os
import sys
import time
import types
import warnings
from pathlib import Path

import brian2
import numpy as np
import pytest
from brian2 import (
    Hz,
    Network,
    NeuronGroup,
    PoissonGroup,
    SpikeGeneratorGroup,
    SpikeMonitor,
    Synapses,
    defaultclock,
    ms,
    mV,
    prefs,
)
from brian2.devices.device import runtime_device

from cortex import devices
from cortex.devices import (
    DEVICES,
    DeviceUnavailable,
    available_devices,
    current_device,
    device_scope,
    reset_device,
    use_device,
)

REPO = Path(__file__).resolve().parents[1]

DT = 0.1 * ms
DURATION = 200 * ms
N_NEURONS = 20
N_INPUTS = 5

LIF_EQUATIONS = """
dv/dt = (v_rest - v + I_drive) / tau_m : volt (unless refractory)
I_drive : volt (constant)
tau_m : second (constant)
"""
V_REST, V_TH, V_RESET = -65 * mV, -50 * mV, -70 * mV


@pytest.fixture(scope="module", autouse=True)
def project_cache():
    """Compile into the project cache (never ~/.cython) for the whole module."""
    with pytest.MonkeyPatch.context() as mp:
        if not os.environ.get(devices.CACHE_ENV):
            mp.setenv(devices.CACHE_ENV, str(REPO / ".brian_cache"))
        yield devices.cache_dir()


@pytest.fixture(autouse=True)
def back_to_runtime():
    """Every test starts and ends on the runtime device with original prefs."""
    reset_device()
    yield
    reset_device()


def deterministic_network():
    """20 heterogeneous LIF neurons driven by fixed currents and a fixed input raster.

    Objects carry fixed names so the generated standalone code, and hence the
    compiled project in the cache, does not depend on which tests ran before.

    Returns
    -------
    (Network, SpikeMonitor)
    """
    gc.collect()  # objects of earlier builds would make Brian2 suffix the names
    defaultclock.dt = DT  # on the device selected by the caller
    rng = np.random.default_rng(7)
    neurons = NeuronGroup(
        N_NEURONS,
        LIF_EQUATIONS,
        threshold="v > V_TH",
        reset="v = V_RESET",
        refractory=2 * ms,
        method="exact",
        namespace={"v_rest": V_REST, "V_TH": V_TH, "V_RESET": V_RESET},
        name="lif",
    )
    neurons.v = V_REST
    neurons.tau_m = rng.uniform(8, 25, N_NEURONS) * ms
    neurons.I_drive = rng.uniform(10, 20, N_NEURONS) * mV  # some need input to fire
    # whole time steps, and one spike per input and step (SpikeGeneratorGroup rule)
    steps = np.sort(rng.choice(int(DURATION / DT) - 10, size=60, replace=False))
    indices = rng.integers(0, N_INPUTS, size=steps.size)
    inputs = SpikeGeneratorGroup(N_INPUTS, indices, steps * DT, name="inputs")
    synapses = Synapses(inputs, neurons, "w : volt", on_pre="v += w", delay=1 * ms, name="input_synapses")
    pre, post = np.nonzero(rng.random((N_INPUTS, N_NEURONS)) < 0.5)
    synapses.connect(i=pre, j=post)
    synapses.w = rng.uniform(1, 6, pre.size) * mV
    monitor = SpikeMonitor(neurons, name="lif_spikes")
    return Network(neurons, inputs, synapses, monitor, name="deterministic"), monitor


def spikes_of(monitor):
    """(indices, times in ms) sorted by time then index, as plain numpy arrays."""
    i, t = np.asarray(monitor.i[:]), np.asarray(monitor.t[:] / ms)
    order = np.lexsort((i, t))
    return i[order], t[order]


def poisson_spikes(seed, name="numpy"):
    use_device(name, seed=seed)
    source = PoissonGroup(50, rates=80 * Hz, dt=DT)
    monitor = SpikeMonitor(source)
    Network(source, monitor).run(50 * ms)
    return spikes_of(monitor)


# --------------------------------------------------------------------- selection
def test_unknown_device_lists_valid_names():
    with pytest.raises(ValueError, match="cpp_standalone") as info:
        use_device("gpu")
    for name in DEVICES:
        assert name in str(info.value)


def test_standalone_options_rejected_on_runtime():
    with pytest.raises(ValueError, match="threads"):
        use_device("numpy", threads=2)
    with pytest.raises(ValueError, match="directory"):
        use_device("runtime", directory="x")
    assert brian2.get_device() is runtime_device


def test_runtime_uses_project_cache_and_reset_restores_prefs(project_cache):
    before = prefs["codegen.target"], prefs["codegen.runtime.cython.cache_dir"]
    name = use_device("runtime")
    assert name in ("cython", "numpy")
    assert prefs["codegen.target"] == name
    assert prefs["codegen.runtime.cython.cache_dir"] == str(project_cache / "cython")
    reset_device()
    assert (prefs["codegen.target"], prefs["codegen.runtime.cython.cache_dir"]) == before


def test_runtime_falls_back_to_numpy_once_when_cython_fails(monkeypatch):
    from brian2.codegen.runtime.cython_rt.extension_manager import cython_extension_manager

    def no_cython(*args, **kwargs):
        raise ImportError("No module named 'Cython'")

    monkeypatch.setattr(cython_extension_manager, "create_extension", no_cython)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert use_device("runtime") == "numpy"
    runtime_warnings = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(runtime_warnings) == 1
    message = str(runtime_warnings[0].message)
    assert "No module named 'Cython'" in message and "numpy" in message
    assert prefs["codegen.target"] == "numpy"
    # an explicit request for Cython fails loudly instead of falling back
    with pytest.raises(DeviceUnavailable, match="Cython"):
        use_device("cython")


def test_available_devices_has_no_side_effects():
    use_device("numpy")
    before = (brian2.get_device(), prefs["codegen.target"], dict(devices._saved_prefs))
    status = available_devices()
    assert set(status) == set(DEVICES)
    assert status["numpy"][0] and status["runtime"][0]
    assert all(isinstance(ok, bool) and reason for ok, reason in status.values())
    after = (brian2.get_device(), prefs["codegen.target"], dict(devices._saved_prefs))
    assert before == after


def test_device_scope_resets_on_error():
    before = current_device()
    with pytest.raises(KeyError):
        with device_scope("cpp_standalone", build_on_run=False, threads=2):
            assert current_device() == "cpp_standalone"
            assert prefs["devices.cpp_standalone.openmp_threads"] == 2
            raise KeyError("boom")
    assert current_device() == before
    assert brian2.get_device() is runtime_device
    assert prefs["devices.cpp_standalone.openmp_threads"] == 0


# --------------------------------------------------------------------- seeds
def test_same_seed_same_spikes_on_runtime():
    first_i, first_t = poisson_spikes(seed=11)
    again_i, again_t = poisson_spikes(seed=11)
    other_i, other_t = poisson_spikes(seed=12)
    assert first_i.size > 50
    np.testing.assert_array_equal(first_i, again_i)
    np.testing.assert_array_equal(first_t, again_t)
    assert first_i.size != other_i.size or not np.array_equal(first_t, other_t)


# --------------------------------------------------------------------- standalone
@pytest.fixture(scope="module")
def runtime_reference():
    with device_scope("numpy"):
        net, monitor = deterministic_network()
        net.run(DURATION)
        return spikes_of(monitor)


@pytest.fixture(scope="module")
def cpp_standalone_spikes(project_cache):
    """Build and run the deterministic network once per session in the project cache."""
    directory = project_cache / "tests" / "cpp_standalone_devices"
    start = time.perf_counter()
    with device_scope("cpp_standalone", directory=directory):
        net, monitor = deterministic_network()
        net.run(DURATION)
        spikes = spikes_of(monitor)
    return spikes, time.perf_counter() - start


@pytest.mark.standalone
def test_runtime_and_cpp_standalone_give_same_spikes(runtime_reference, cpp_standalone_spikes):
    (ref_i, ref_t), ((cpp_i, cpp_t), _) = runtime_reference, cpp_standalone_spikes
    assert ref_i.size > 20, "the network should spike"
    np.testing.assert_array_equal(cpp_i, ref_i)
    np.testing.assert_allclose(cpp_t, ref_t, rtol=0, atol=float(DT / ms) + 1e-9)


@pytest.mark.standalone
def test_standalone_leaves_runtime_device(cpp_standalone_spikes):
    assert brian2.get_device() is runtime_device
    assert prefs["devices.cpp_standalone.openmp_threads"] == 0
    use_device("numpy")
    net, monitor = deterministic_network()
    net.run(5 * ms)  # would raise on a standalone device that already ran
    assert monitor.num_spikes >= 0


def standalone_poisson_spikes(directory, seed):
    """Spikes of a PoissonGroup built with build_on_run=False and :func:`devices.build`."""
    gc.collect()
    with device_scope("cpp_standalone", directory=directory, build_on_run=False, seed=seed):
        defaultclock.dt = DT
        source = PoissonGroup(10, rates=100 * Hz, name="poisson")
        monitor = SpikeMonitor(source, name="poisson_spikes")
        Network(source, monitor, name="poisson_net").run(20 * ms)
        assert devices.build() == directory
        return spikes_of(monitor)


@pytest.mark.standalone
def test_seed_after_set_device_in_standalone(project_cache):
    """use_device seeds after set_device; otherwise cpp_standalone ignores the seed."""
    directory = project_cache / "tests" / "cpp_standalone_seed"
    first = standalone_poisson_spikes(directory, seed=5)
    second = standalone_poisson_spikes(directory, seed=5)
    assert first[0].size > 0
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


# --------------------------------------------------------------------- cuda errors
def test_missing_brian2cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "brian2cuda", None)  # makes the import fail
    with pytest.raises(DeviceUnavailable, match=r"pip install 'spikevid\[cuda\]'") as info:
        use_device("cuda_standalone", compile_only=True)
    assert isinstance(info.value, RuntimeError)
    assert brian2.get_device() is runtime_device


def _no_cuda_here(monkeypatch, tmp_path, with_nvcc):
    """brian2cuda importable (a stand-in), empty PATH except maybe a fake nvcc."""
    monkeypatch.setitem(sys.modules, "brian2cuda", types.ModuleType("brian2cuda"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if with_nvcc:
        nvcc = bin_dir / "nvcc"
        nvcc.write_text("#!/bin/sh\nexit 0\n")
        nvcc.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("CUDA_PATH", raising=False)
    monkeypatch.setattr(devices, "CUDA_DEFAULT_ROOTS", (str(tmp_path / "no_cuda"),))


def test_missing_nvcc_names_where_it_looked(monkeypatch, tmp_path):
    _no_cuda_here(monkeypatch, tmp_path, with_nvcc=False)
    with pytest.raises(DeviceUnavailable, match="nvcc") as info:
        use_device("cuda_standalone", compile_only=True)
    message = str(info.value)
    for place in ("PATH", "CUDA_PATH", str(tmp_path / "no_cuda")):
        assert place in message
    assert brian2.get_device() is runtime_device


def test_no_gpu_needs_compile_only(monkeypatch, tmp_path):
    _no_cuda_here(monkeypatch, tmp_path, with_nvcc=True)  # no nvidia-smi on PATH
    with pytest.raises(DeviceUnavailable, match="compile_only=True"):
        use_device("cuda_standalone")
    assert available_devices()["cuda_standalone"][0] is False


# --------------------------------------------------------------------- cuda builds
def _cuda_skip_reason():
    if sys.modules.get("brian2cuda") is None:
        try:
            import brian2cuda  # noqa: F401
        except ImportError:
            return "brian2cuda not installed (pip install 'spikevid[cuda]')"
    nvcc, searched = devices._find_nvcc()
    if nvcc is None:
        return f"nvcc not found in {', '.join(searched)}"
    return None


@pytest.fixture(scope="module")
def cuda_build(project_cache):
    """Generate and compile (and run, with a GPU) the network with brian2cuda once."""
    if reason := _cuda_skip_reason():
        pytest.skip(reason)
    gpu_problem = devices._gpu_problem()
    directory = project_cache / "tests" / "cuda_standalone_devices"
    start = time.perf_counter()
    with device_scope("cuda_standalone", directory=directory, compile_only=bool(gpu_problem)):
        net, monitor = deterministic_network()
        net.run(DURATION)
        spikes = None if gpu_problem else spikes_of(monitor)
    elapsed = time.perf_counter() - start
    print(f"\nbrian2cuda generate+compile{'' if gpu_problem else '+run'}: {elapsed:.1f} s")
    return directory, spikes, gpu_problem, elapsed


@pytest.mark.cuda
def test_cuda_project_compiles(cuda_build, record_property):
    directory, _, _, elapsed = cuda_build
    record_property("cuda_build_seconds", round(elapsed, 1))
    assert (directory / "main").is_file(), "nvcc produced no binary"
    makefile = (directory / "makefile").read_text()
    assert devices.NVCC_STD_FLAG in makefile
    assert brian2.get_device() is runtime_device


@pytest.mark.cuda
def test_cuda_matches_runtime(cuda_build, runtime_reference):
    _, spikes, gpu_problem, _ = cuda_build
    if gpu_problem:
        pytest.skip(f"compiled only, no GPU to run it: {gpu_problem}")
    (ref_i, ref_t), (gpu_i, gpu_t) = runtime_reference, spikes
    np.testing.assert_array_equal(gpu_i, ref_i)
    np.testing.assert_allclose(gpu_t, ref_t, rtol=0, atol=float(DT / ms) + 1e-9)


def test_busy_default_standalone_project_falls_back_to_a_sibling(tmp_path, monkeypatch):
    """Two processes never build into one folder: a held lock sends the next to name-1."""
    import fcntl

    from cortex import devices

    monkeypatch.setenv(devices.CACHE_ENV, str(tmp_path))
    busy = tmp_path / "cpp_standalone"
    busy.mkdir()
    # another process holds the default folder (a lock on a separately opened file
    # conflicts even within one process, as it would between two)
    other = open(busy / ".lock", "a+")
    fcntl.flock(other, fcntl.LOCK_EX)
    try:
        with devices.device_scope("cpp_standalone", build_on_run=False):
            assert devices._standalone["directory"] == tmp_path / "cpp_standalone-1"
        with devices.device_scope("cpp_standalone", build_on_run=False):
            assert devices._standalone["directory"] == tmp_path / "cpp_standalone-1"  # reused
    finally:
        fcntl.flock(other, fcntl.LOCK_UN)
        other.close()
    with devices.device_scope("cpp_standalone", build_on_run=False):
        assert devices._standalone["directory"] == busy
    assert devices.current_device() in ("runtime", "numpy", "cython")
