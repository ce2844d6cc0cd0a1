"""The compiled reservoir on brian2cuda: it builds anywhere nvcc is, and on a GPU it runs.

``cuda`` tier (``make test-cuda``).  Without a GPU the programs of a small reservoir
(the learning program and a frozen program of 3 copies side by side) are generated and
compiled only, and their interface is checked against the C++ programs'.  With a GPU
the same reservoir is fitted and read out on ``cuda_standalone``: copies side by side
equal one copy spike for spike on the GPU, and the GPU's activity agrees with the C++
binary's (not bit for bit: brian2cuda compiles with ``-use_fast_math`` and FMA
contraction, so a membrane near threshold may cross a step apart).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from compiled_helpers import clips_of_three_lengths, fitted_copy, spikes_equal
from sklearn.base import clone

from cortex import devices
from cortex.standalone import compile_program
from networks import compiled_reservoir
from networks.hrsnn import HRSNN

pytestmark = pytest.mark.cuda


def _skip_reason() -> str | None:
    try:
        import brian2cuda  # noqa: F401, PLC0415
    except ImportError:
        return "brian2cuda not installed (pip install 'spikevid[cuda]')"
    nvcc, searched = devices._find_nvcc()
    if nvcc is None:
        return f"nvcc not found in {', '.join(searched)}"
    if not devices.available_devices()["cpp_standalone"][0]:
        return "no C++ toolchain"
    return None


class _CompiledOnly(Exception):
    """Raised instead of running a program that has no GPU to run on."""

    def __init__(self, program):
        super().__init__(program.directory)
        self.program = program


def _small_model(device: str, **kw) -> HRSNN:
    return HRSNN(60, J_in=4.0, J_e=0.5, device=device, batch=1, snapshots=3, seed=3, progress=False, **kw)


@pytest.fixture(scope="module")
def clips():
    return clips_of_three_lengths()


@pytest.fixture(scope="module")
def gpu():
    if reason := _skip_reason():
        pytest.skip(reason)
    return devices._gpu_problem() is None


@pytest.fixture(scope="module")
def cpp_model(clips):
    return _small_model("cpp_standalone").fit(clips[:6])


def test_reservoir_programs_compile_for_cuda_with_the_cpp_interface(gpu, cpp_model, clips, monkeypatch):
    """Without a GPU: generate and compile the learning and a batched frozen program (with one: run below)."""
    if gpu:
        pytest.skip("a GPU is present: the programs are run (and so compiled) by the tests below")
    built = []

    def compile_only(builder, shape, **kw):
        program = compile_program(builder, shape, compile_only=True, **kw)
        built.append(program)
        raise _CompiledOnly(program)

    monkeypatch.setattr(compiled_reservoir, "compile_program", compile_only)
    cuda = _small_model("cuda_standalone")
    with pytest.raises(_CompiledOnly):
        cuda.fit(clips[:6])
    with pytest.raises(_CompiledOnly):
        fitted_copy(cpp_model, device="cuda_standalone", batch=3).simulate(clips)
    learning, frozen = built
    assert learning.manifest["shape"]["plastic"] and not frozen.manifest["shape"]["plastic"]
    assert frozen.manifest["shape"]["copies"] == 3
    for program in built:
        assert (program.directory / "main").is_file(), f"nvcc produced no binary in {program.directory}"
        assert program.manifest["target"]["compute_capability"] == devices.DEFAULT_COMPUTE_CAPABILITY
        assert devices.NVCC_STD_FLAG in (program.directory / "makefile").read_text()
    # the same values go in and the same outputs come out as on the C++ programs
    monkeypatch.undo()
    cpp = {}
    monkeypatch.setattr(
        compiled_reservoir,
        "compile_program",
        functools.partial(_recording, compile_program, cpp),
    )
    clone(cpp_model).set_params(batch=1).fit(clips[:6])
    fitted_copy(cpp_model, batch=3).simulate(clips)
    for program in built:
        twin = cpp[program.manifest["shape"]["copies"], bool(program.manifest["shape"]["plastic"])]
        assert {k: (a.dtype, a.size, a.stage) for k, a in program.args.items()} == {
            k: (a.dtype, a.size, a.stage) for k, a in twin.args.items()
        }
        assert set(program.outputs) == set(twin.outputs)


def _recording(compile_fn, seen, builder, shape, **kw):
    program = compile_fn(builder, shape, **kw)
    seen[shape["copies"], bool(shape["plastic"])] = program
    return program


@pytest.fixture(scope="module")
def cuda_model(gpu, clips):
    if not gpu:
        pytest.skip(f"compiled only, no GPU to run it: {devices._gpu_problem()}")
    return _small_model("cuda_standalone").fit(clips[:6])


def test_cuda_copies_side_by_side_equal_one_copy_spike_for_spike(cuda_model, clips):
    one = cuda_model.simulate(clips)
    assert one.extra["spikes_per_neuron"] > 0.5  # the comparison means something
    batched = fitted_copy(cuda_model, batch=3).simulate(clips)
    assert spikes_equal(one, batched)
    np.testing.assert_array_equal(one.features[0], batched.features[0])
    auto = fitted_copy(cuda_model, batch="auto").simulate(clips)  # all 9 clips in one step loop
    np.testing.assert_array_equal(auto.features[0], one.features[0])


def test_cuda_activity_agrees_with_the_cpp_binary(cuda_model, cpp_model, clips):
    gpu_res = cuda_model.simulate(clips)
    cpu_res = cpp_model.simulate(clips)
    for pop in ("exc", "inh"):
        n_gpu, n_cpu = len(gpu_res.spikes[pop][0]), len(cpu_res.spikes[pop][0])
        assert abs(n_gpu - n_cpu) <= 0.05 * n_cpu + 5, (pop, n_gpu, n_cpu)
    # the learned weights start from the same draws and follow the same rule
    for pw, w in cpp_model.weights_.items():
        assert np.corrcoef(np.asarray(w), np.asarray(cuda_model.weights_[pw]))[0, 1] > 0.95, pw
    a, b = gpu_res.features[0].ravel(), cpu_res.features[0].ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.95
