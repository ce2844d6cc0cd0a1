"""A Brian2 standalone program compiled once and run many times with new data.

Brian2's standalone devices turn a script into a C++ (or CUDA) project; building it
costs tens of seconds, running it often less.  Everything that only changes *values*
-- per-neuron parameters, weights, connectivity tables, input spikes -- can be handed
to the compiled binary on its command line (Brian2's ``run_args``), so one project
serves every phase, run and study cell of the same *shape* (code).

* :func:`compile_program` builds a project for a shape, or finds the one built
  before (keyed by the shape, the Brian2 version and the source of the modules that
  write the code), under ``<cache>/compiled/<device>/<key>``;
* :class:`CompiledProgram` runs it: every value is checked against the manifest
  (name, dtype, length) *before* the binary starts -- the binary itself keeps its old
  values without a word when a file has the wrong length -- then the outputs are
  read back from a fresh results folder; a run that fails, is interrupted or does
  not reach its end raises instead of returning partial results.

Values are applied in two stages, at the points where the builder called
:func:`apply_values_here`: ``"early"`` values (read by the code that creates
synapses, e.g. connectivity tables) before the synapses exist, ``"late"`` ones
(weights and other per-synapse values, whose length is known only then) after.
All values are in Brian2's base SI units (seconds, volts, amperes).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import brian2
import numpy as np

from .devices import (
    DEFAULT_COMPUTE_CAPABILITY,
    STANDALONE_DEVICES,
    _build_root,
    build,
    device_scope,
    gpu_compute_capability,
)

__all__ = [
    "ArgSpec",
    "CompiledProgram",
    "CompiledRunError",
    "binary_peak_bytes",
    "OutputSpec",
    "ProgramSpec",
    "RunArgError",
    "apply_values_here",
    "compile_program",
    "program_key",
]

#: Binaries started by this process and still running.
_RUNNING: set = set()
_RUNNING_LOCK = threading.Lock()
#: Largest resident set (bytes) any binary of this process reached (:func:`binary_peak_bytes`).
_PEAK = {"bytes": 0}
#: Seconds between two readings of a running binary's high-water mark.
_POLL_S = 0.05
#: Manifest file written (last, atomically) once a project is compiled.
MANIFEST = "manifest.json"
_STAGES = ("early", "late")
#: Held while a program is compiled or looked up (Brian2's device holds ``.lock``).
_LOCK = "compile.lock"


class RunArgError(ValueError):
    """A value handed to a compiled program is unknown, missing, or of the wrong length."""


class CompiledRunError(RuntimeError):
    """The compiled binary failed, was interrupted, or did not simulate to the end."""


@dataclass(frozen=True)
class ArgSpec:
    """A value the compiled binary reads from its command line.

    Attributes
    ----------
    name : str
        ``group.variable`` or ``timedarray.values`` as the binary knows it.
    dtype : str
        NumPy dtype of the array in the binary.
    size : int or None
        Number of values; None for a synaptic variable, whose length is only known
        once the synapses exist (the caller states it per run).
    stage : {"early", "late"}
        Applied before or after the synapses are created.
    """

    name: str
    dtype: str
    size: int | None
    stage: str


@dataclass(frozen=True)
class OutputSpec:
    """An array the binary writes at the end of its run.

    Attributes
    ----------
    name : str
        Key in the dictionary :meth:`CompiledProgram.run` returns.
    file : str
        File name in the results folder.
    dtype : str
    columns : int or None
        Row length of a 2-D array (recorded state: one row per recording time).
    """

    name: str
    file: str
    dtype: str
    columns: int | None = None


@dataclass
class ProgramSpec:
    """What a builder returns: the Brian2 variables to expose, inputs and outputs.

    Attributes
    ----------
    args : dict of str -> (variable or TimedArray, stage)
        Inputs, keyed by the name used in :meth:`CompiledProgram.run`.
    outputs : dict of str -> (variable, columns)
        Outputs; ``columns`` for 2-D recordings, else None.
    info : dict
        Anything else worth keeping in the manifest (JSON-serialisable).
    """

    args: dict
    outputs: dict
    info: dict


def apply_values_here(stage: str) -> None:
    """Insert, at this point of the standalone ``main``, the application of ``stage`` values.

    Call with ``"early"`` before creating synapses that read values (tables, source
    variables) in their ``connect`` expression, and with ``"late"`` after the last
    ``connect``.  Brian2's own application of command-line values then finds none
    left.
    """
    if stage not in _STAGES:
        raise ValueError(f"stage: expected one of {_STAGES}, got {stage!r}")
    prefix = f"{stage}:"
    # ``args`` is the command-line vector of the standalone main(); values of this stage are
    # applied and removed from it, so Brian2's set_from_command_line(args) sees none of them.
    code = (
        "for (auto _it = args.begin(); _it != args.end();) {"
        f' if (_it->rfind("{prefix}", 0) == 0) {{'
        f" std::string _s = _it->substr({len(prefix)}); size_t _e = _s.find('=');"
        " brian::set_variable_by_name(_s.substr(0, _e), _s.substr(_e + 1));"
        " _it = args.erase(_it); } else { ++_it; } }"
    )
    brian2.get_device().insert_code("main", code)


def _source_digest(modules) -> str:
    h = hashlib.sha256()
    for module in modules:
        path = Path(sys.modules[module].__file__)
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def program_key(shape: Mapping, device: str, modules=(), target: Mapping | None = None) -> str:
    """Cache key of a program: its shape, the device and its target, Brian2's version and the code-writing sources."""
    blob = json.dumps(
        {
            "shape": dict(shape),
            "device": device,
            "target": dict(target or {}),
            "brian2": brian2.__version__,
            "sources": _source_digest(sorted(set(modules) | {__name__, "cortex.neurons", "cortex.synapses"})),
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


@contextlib.contextmanager
def _locked(directory: Path):
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / _LOCK, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def compile_program(
    builder: Callable[..., ProgramSpec],
    shape: Mapping,
    *,
    device: str = "cpp_standalone",
    root: str | os.PathLike | None = None,
    modules=(),
    log: Callable[[str], None] | None = None,
    compile_only: bool = False,
    compute_capability: float | None = None,
) -> CompiledProgram:
    """The compiled program of ``builder(**shape)``, built now or found in the cache.

    Parameters
    ----------
    builder : callable
        Creates the Brian2 objects of the program for the keyword arguments ``shape``
        (on the active standalone device, ``build_on_run=False``), calls
        :func:`apply_values_here` for both stages, runs the network and returns a
        :class:`ProgramSpec`.  It must draw nothing that the values do not override.
    shape : mapping
        Everything that changes the generated code (sizes, durations, model
        options); JSON-serialisable.
    device : {"cpp_standalone", "cuda_standalone"}
    root : path, optional
        Cache root; default the Brian2 cache (``$SPIKEVID_CACHE_DIR``).
    modules : iterable of str
        Modules whose source writes code (the builder's module at least): a change to
        them is a change of code and builds a new project.
    log : callable, optional
        Receives one line when a project is compiled.
    compile_only : bool
        ``cuda_standalone`` on a machine without a GPU: generate and compile (the
        program cannot be run here, but a GPU machine with the same cache runs it).
    compute_capability : float, optional
        ``cuda_standalone``: the GPU architecture compiled for (part of the cache
        key); default the visible GPU's, else 8.0.

    Returns
    -------
    CompiledProgram
        ``built_now`` says whether the compiler ran.
    """
    if device not in STANDALONE_DEVICES:
        raise ValueError(f"device: compiled programs need a standalone device {STANDALONE_DEVICES}, got {device!r}")
    modules = set(modules) | {builder.__module__}
    target, scope = {}, {}
    if device == "cuda_standalone":  # the GPU architecture is part of the binary
        target = {"compute_capability": float(compute_capability or _cuda_capability())}
        scope = {"compile_only": compile_only, **target}
    elif compile_only or compute_capability is not None:
        raise ValueError("compile_only and compute_capability apply to cuda_standalone programs only")
    key = program_key(shape, device, modules, target)
    base = Path(root) if root is not None else _build_root()
    directory = base / "compiled" / device / key
    with _locked(directory):
        if (directory / MANIFEST).is_file() and (directory / "main").is_file():
            return CompiledProgram(directory)
        t0 = time.perf_counter()
        for stale in directory.iterdir():  # a build interrupted earlier
            if not stale.name.endswith(".lock"):
                shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
        stop_pref = brian2.prefs.core.stop_on_keyboard_interrupt
        # Ctrl-C ends the binary at once; a run it stopped "gracefully" would look finished
        brian2.prefs.core.stop_on_keyboard_interrupt = False
        try:
            with device_scope(device, directory=directory, build_on_run=False, **scope):
                spec = builder(**shape)
                build(directory, run=False)
                dev = brian2.get_device()
                args = {key: ArgSpec(*_arg_layout(target), stage=stage) for key, (target, stage) in spec.args.items()}
                outputs = [
                    OutputSpec(name, dev.get_array_filename(var), np.dtype(var.dtype).str, columns)
                    for name, (var, columns) in spec.outputs.items()
                ]
        finally:
            brian2.prefs.core.stop_on_keyboard_interrupt = stop_pref
        manifest = {
            "key": key,
            "device": device,
            "target": target,
            "shape": dict(shape),
            "brian2": brian2.__version__,
            "build_seconds": round(time.perf_counter() - t0, 2),
            "args": [{"key": key, **asdict(a)} for key, a in args.items()],
            "outputs": [asdict(o) for o in outputs],
            "info": spec.info,
        }
        tmp = directory / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=1, default=str))
        os.replace(tmp, directory / MANIFEST)
        if log is not None:
            log(f"  compiled {device} program {key} in {manifest['build_seconds']:.1f} s (cached for later runs)")
        program = CompiledProgram(directory)
        program.built_now = True
        return program


def _cuda_capability() -> float:
    return gpu_compute_capability() or DEFAULT_COMPUTE_CAPABILITY


def _arg_layout(target) -> tuple[str, str, int | None]:
    """(C++ name, dtype, size or None) of a variable or TimedArray exposed as a value."""
    if isinstance(target, brian2.TimedArray):
        return f"{target.name}.values", np.dtype(target.values.dtype).str, int(target.values.size)
    owner = target.owner
    dynamic = isinstance(target, brian2.core.variables.DynamicArrayVariable)
    return f"{owner.name}.{target.name}", np.dtype(target.dtype).str, None if dynamic else int(target.size)


class CompiledProgram:
    """A compiled standalone project and its manifest; :meth:`run` it with new values.

    Attributes
    ----------
    directory : Path
    manifest : dict
    args : dict of str -> ArgSpec
        Keyed by the name given to the builder (not the binary's name).
    outputs : dict of str -> OutputSpec
    built_now : bool
        Whether this program was compiled in this call of :func:`compile_program`.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory).resolve()  # the binary runs with this as its working directory
        self.manifest = json.loads((self.directory / MANIFEST).read_text())
        self.args = {a["key"]: ArgSpec(**{k: v for k, v in a.items() if k != "key"}) for a in self.manifest["args"]}
        self.outputs = {o["name"]: OutputSpec(**o) for o in self.manifest["outputs"]}
        self.built_now = False

    @property
    def info(self) -> dict:
        return self.manifest.get("info", {})

    def check_values(self, values: Mapping, sizes: Mapping[str, int] | None = None) -> None:
        """Raise :class:`RunArgError` naming the first unknown, missing or wrong-length value."""
        sizes = dict(sizes or {})
        unknown = sorted(set(values) - set(self.args))
        if unknown:
            raise RunArgError(f"run_args: unknown value(s) {unknown}; this program reads {sorted(self.args)}")
        missing = sorted(set(self.args) - set(values))
        if missing:
            raise RunArgError(f"run_args: missing value(s) {missing}")
        for key, spec in self.args.items():
            arr = np.asarray(values[key])
            want = spec.size if spec.size is not None else sizes.get(key)
            if want is None:
                raise RunArgError(f"run_args {key!r}: a synaptic variable; state its length in sizes")
            if arr.ndim > 1 or (arr.size != want and not (arr.ndim == 0 and want == 1)):
                raise RunArgError(
                    f"run_args {key!r} ({spec.name}): {arr.size} value(s) of shape {arr.shape}, "
                    f"the compiled program expects {want}"
                )
            if want == 0:
                raise RunArgError(f"run_args {key!r} ({spec.name}): an empty array cannot be passed to the binary")
            if not np.all(np.isfinite(arr.astype(float))):
                raise RunArgError(f"run_args {key!r} ({spec.name}): contains NaN or infinite values")

    def run(self, values: Mapping, *, sizes: Mapping[str, int] | None = None) -> dict[str, np.ndarray]:
        """Run the binary with ``values``; the outputs.

        Parameters
        ----------
        values : mapping of str -> array_like
            One entry per input of the manifest, in base SI units.
        sizes : mapping of str -> int
            Lengths of the synaptic (dynamic) inputs.

        Returns
        -------
        dict of str -> ndarray
            One entry per output (2-D outputs reshaped to ``(n_rows, columns)``).

        Raises
        ------
        RunArgError
            Before the binary starts, for an unknown, missing or wrong-length value.
        CompiledRunError
            The binary failed, reported an error reading a value, or stopped early.
        """
        self.check_values(values, sizes)
        base = self.directory / "runs"  # one folder per run (value files, results), removed after
        base.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=base))
        try:
            results = run_dir / "results"
            results.mkdir()
            argv = [str(self.directory / "main"), "--results_dir", str(results) + os.sep]
            for key, spec in self.args.items():
                arr = np.asarray(values[key], dtype=np.dtype(spec.dtype))
                if arr.ndim == 0 or (spec.size == 1 and arr.size == 1):
                    argv.append(f"{spec.stage}:{spec.name}={arr.reshape(-1)[0].item()!r}")
                else:
                    path = run_dir / f"{key}.dat"
                    arr.tofile(path)
                    argv.append(f"{spec.stage}:{spec.name}={path}")
            self._execute(argv)
            info = results / "last_run_info.txt"
            if not info.is_file():
                raise CompiledRunError(f"{self.directory}: the binary wrote no last_run_info.txt; it did not finish")
            completed = float(info.read_text().split()[1])
            if completed < 1.0:
                raise CompiledRunError(f"{self.directory}: the binary stopped after {completed:.1%} of its run")
            out = {}
            for name, spec in self.outputs.items():
                data = np.fromfile(results / spec.file, dtype=np.dtype(spec.dtype))
                out[name] = data.reshape(-1, spec.columns) if spec.columns else data
            return out
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)

    @staticmethod
    def kill_running() -> None:
        """Kill every binary this process has started that is still running (after an interrupt)."""
        with _RUNNING_LOCK:
            for proc in list(_RUNNING):
                proc.kill()

    def _execute(self, argv: list[str]) -> None:
        proc = subprocess.Popen(argv, cwd=self.directory, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with _RUNNING_LOCK:
            _RUNNING.add(proc)
        try:
            while True:  # both pipes drained (a chatty binary cannot block); its memory read meanwhile
                try:
                    stdout, stderr = proc.communicate(timeout=_POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    _note_peak(proc.pid)
            code = proc.returncode
        except BaseException:  # Ctrl-C or any error here: the binary must not outlive us
            proc.kill()
            proc.wait()
            raise
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(proc)
        if code < 0:
            raise CompiledRunError(f"{self.directory}/main was killed (signal {-code}); its results were discarded")
        errors = [ln for ln in stderr.splitlines() if "rror" in ln or "ould not" in ln]
        if code != 0 or errors:
            tail = "\n".join(stdout.splitlines()[-5:]) + "\n" + stderr[-2000:]
            raise CompiledRunError(f"{self.directory}/main failed (exit status {code}):\n{tail.strip()}")


def _note_peak(pid: int) -> None:
    """Fold a running binary's high-water mark (``VmHWM``, its own since ``exec``) into :data:`_PEAK`."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    with _RUNNING_LOCK:
                        _PEAK["bytes"] = max(_PEAK["bytes"], int(line.split()[1]) * 1024)
                    return
    except (OSError, ValueError, IndexError):  # exited meanwhile, or no /proc (not Linux)
        return


def binary_peak_bytes(reset: bool = False) -> int:
    """Largest resident memory (bytes) any compiled binary run by this process reached.

    Read from ``/proc/PID/status`` (``VmHWM``) every 50 ms while a binary runs, so it
    is the binary's own peak (``ru_maxrss`` of a child forked from Python also counts
    the Python pages it held before ``exec``); a binary shorter than one reading
    leaves no figure, and growth in its last 50 ms may be missed.  Linux only (0
    elsewhere).  ``reset`` starts a new measurement after returning the current one.
    """
    peak = _PEAK["bytes"]
    if reset:
        _PEAK["bytes"] = 0
    return peak
