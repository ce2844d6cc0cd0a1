"""Compiled standalone programs: built once per shape, run with new values, checked before running."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from cortex.devices import available_devices
from cortex.standalone import CompiledProgram, CompiledRunError, RunArgError, compile_program

pytestmark = pytest.mark.skipif(not available_devices()["cpp_standalone"][0], reason="no C++ toolchain")

#: A program: ``n`` neurons whose ``v`` grows at rate ``rate`` (a value) for ``steps`` steps,
#: a table read by ``connect``, and a synaptic weight per synapse (values, not code).
PROGRAM = """
import numpy as np
from brian2 import Network, NeuronGroup, Synapses, TimedArray, defaultclock, ms, second
from cortex.standalone import ProgramSpec, apply_values_here

def program(n, steps):
    defaultclock.dt = 0.1 * ms
    g = NeuronGroup(n, "dv/dt = rate : 1\\nrate : Hz (constant)\\nfan : integer (constant)\\nw_in : 1", name="g")
    table = TimedArray(np.zeros(4), dt=1 * second, name="table")
    apply_values_here("early")
    s = Synapses(g, g, "w : 1\\nw_in_post = w : 1 (summed)", name="s")
    s.connect(j="int(table(k*second)) for k in range(fan_pre)", namespace={"table": table})
    apply_values_here("late")
    net = Network(g, s)
    net.run(steps * defaultclock.dt)
    return ProgramSpec(
        args={"rate": (g.variables["rate"], "late"), "fan": (g.variables["fan"], "early"),
              "table": (table, "early"), "w": (s.variables["w"], "late")},
        outputs={"v": (g.variables["v"], None), "w_in": (g.variables["w_in"], None),
                 "pre": (s.variables["_synaptic_pre"], None)},
        info={"version": VERSION},
    )

VERSION = 1
"""


def _module(path, version: int):
    """Import the program module from ``path`` (rewritten with ``version``)."""
    path.write_text(PROGRAM.replace("VERSION = 1", f"VERSION = {version}"))
    name = f"prog_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    root = tmp_path_factory.mktemp("programs")
    module = _module(root / "prog_a.py", 1)
    program = compile_program(module.program, {"n": 3, "steps": 10}, root=root)
    return program, module, root


def _values(rate=(10.0, 20.0, 30.0), fan=(2, 0, 1), table=(1, 2, 0, 0), w=(0.5, 0.25, 2.0)):
    return {"rate": np.asarray(rate), "fan": np.asarray(fan), "table": np.asarray(table, float), "w": np.asarray(w)}


def test_a_program_runs_with_the_values_it_is_given(compiled):
    program, _, _ = compiled
    assert program.built_now
    out = program.run(_values(), sizes={"w": 3})
    np.testing.assert_allclose(out["v"], np.array([10.0, 20.0, 30.0]) * 1e-3)  # rate x 1 ms
    np.testing.assert_array_equal(out["pre"], [0, 0, 2])  # targets from the table: 0 -> 1, 0 -> 2; 2 -> 1
    np.testing.assert_allclose(out["w_in"], [0.0, 0.5 + 2.0, 0.25])  # 0 -> 1, 0 -> 2, 2 -> 1
    # new values, same binary: different results
    out = program.run(_values(rate=(1.0, 1.0, 1.0), fan=(0, 0, 2), w=(4.0, 8.0)), sizes={"w": 2})
    np.testing.assert_allclose(out["v"], [1e-3] * 3)
    np.testing.assert_allclose(out["w_in"], [0.0, 4.0, 8.0])


def test_a_program_named_by_a_relative_path_runs(compiled, monkeypatch):
    """A study's build folder under a relative ``--out``: the binary runs in its folder; its path is made absolute."""
    program, _, _ = compiled
    monkeypatch.chdir(program.directory.parent.parent)
    relative = CompiledProgram(program.directory.relative_to(program.directory.parent.parent))
    assert relative.directory == program.directory
    out = relative.run(_values(), sizes={"w": 3})
    np.testing.assert_allclose(out["v"], np.array([10.0, 20.0, 30.0]) * 1e-3)


def test_the_cache_reuses_a_program_and_rebuilds_when_the_code_changes(compiled, monkeypatch):
    program, module, root = compiled
    calls = []
    real_popen = subprocess.Popen

    def spy(args, *a, **k):
        calls.append(args)
        return real_popen(args, *a, **k)

    monkeypatch.setattr(subprocess, "Popen", spy)
    again = compile_program(module.program, {"n": 3, "steps": 10}, root=root)
    assert not again.built_now and again.directory == program.directory
    assert calls == []  # neither Brian2's code generation nor make ran
    assert again.info == {"version": 1}
    changed = _module(root / "prog_a.py", 2)  # the same builder, its module's code changed
    rebuilt = compile_program(changed.program, {"n": 3, "steps": 10}, root=root)
    assert rebuilt.built_now and rebuilt.directory != program.directory
    assert rebuilt.info == {"version": 2}


def test_wrong_values_are_refused_before_the_binary_runs(compiled, monkeypatch):
    program, _, _ = compiled

    def forbidden(*a, **k):
        raise AssertionError("the binary must not run")

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    with pytest.raises(RunArgError, match=r"'rate' \(g.rate\): 2 value"):
        program.run(_values(rate=(1.0, 2.0)), sizes={"w": 3})
    with pytest.raises(RunArgError, match=r"'w' \(s.w\): 3 value.*expects 4"):
        program.run(_values(), sizes={"w": 4})  # a synaptic length the program will not have
    with pytest.raises(RunArgError, match="state its length"):
        program.run(_values())
    with pytest.raises(RunArgError, match="unknown value.*'speed'"):
        program.run({**_values(), "speed": 1.0}, sizes={"w": 3})
    with pytest.raises(RunArgError, match="missing value.*'table'"):
        program.run({k: v for k, v in _values().items() if k != "table"}, sizes={"w": 3})
    with pytest.raises(RunArgError, match="NaN"):
        program.run(_values(rate=(1.0, np.nan, 2.0)), sizes={"w": 3})


def test_a_synapse_count_that_differs_from_the_stated_one_is_an_error(compiled):
    """The binary itself keeps old values when a file has the wrong length: the run must fail."""
    program, _, _ = compiled
    with pytest.raises(CompiledRunError, match="does not match"):
        program.run(_values(fan=(1, 0, 0), w=(1.0, 2.0, 3.0)), sizes={"w": 3})  # 1 synapse, 3 weights


def _fake_program(program, tmp_path, script: str):
    """A program folder whose ``main`` is ``script`` (its manifest and arrays are ``program``'s)."""
    fake = tmp_path / "fake"
    fake.mkdir()
    for item in ("manifest.json", "static_arrays"):
        os.symlink(program.directory / item, fake / item)
    main = fake / "main"
    main.write_text(script)
    main.chmod(0o755)
    return fake, main


def test_a_killed_or_failing_binary_raises(compiled, tmp_path):
    program, _, _ = compiled
    fake, main = _fake_program(program, tmp_path, "#!/bin/sh\nkill -9 $$\n")
    with pytest.raises(CompiledRunError, match="killed"):
        CompiledProgram(fake).run(_values(), sizes={"w": 3})
    main.write_text("#!/bin/sh\necho 'Error: no GPU' >&2\nexit 3\n")
    with pytest.raises(CompiledRunError, match="exit status 3"):
        CompiledProgram(fake).run(_values(), sizes={"w": 3})
    main.write_text("#!/bin/sh\nexit 0\n")  # ends without writing its results
    with pytest.raises(CompiledRunError, match="did not finish"):
        CompiledProgram(fake).run(_values(), sizes={"w": 3})


def test_a_binarys_own_peak_memory_is_measured(compiled, tmp_path):
    """The binary's high-water mark, not the Python pages a child forked from a large process holds."""
    from cortex.standalone import binary_peak_bytes

    program, _, _ = compiled
    script = f"#!/bin/sh\nexec {sys.executable} -c 'import time; x = b\"x\" * (150 << 20); time.sleep(0.4)'\n"
    fake, _ = _fake_program(program, tmp_path, script)
    ballast = np.ones(400 << 17)  # 400 MB in this process, which a forked child's ru_maxrss would count
    binary_peak_bytes(reset=True)
    with pytest.raises(CompiledRunError, match="did not finish"):
        CompiledProgram(fake).run(_values(), sizes={"w": 3})
    peak = binary_peak_bytes(reset=True) / 2**20
    assert ballast.sum() > 0 and 150 <= peak < 150 + 60, peak
    assert binary_peak_bytes() == 0
