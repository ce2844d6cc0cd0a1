"""Choose where Brian2 runs a simulation: runtime (numpy/Cython), C++ or CUDA standalone.

Every choice goes through :func:`use_device`; :func:`reset_device` (or leaving a
:func:`device_scope`) brings Brian2 back to its runtime device and restores every
preference changed here.

Compiled code is cached under ``$SPIKEVID_CACHE_DIR`` (the Makefile sets it to
``<repo>/.brian_cache``): Brian2's Cython extensions go to ``<cache>/cython`` and
standalone projects to ``<cache>/<device name>`` (``~/.cache/spikevid/<device name>``
when the variable is unset), so rebuilding unchanged code recompiles nothing.

Examples
--------
>>> from cortex.devices import device_scope
>>> with device_scope("cpp_standalone", threads=2, seed=1):
...     net.run(1 * second)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import brian2
from brian2 import prefs

# ``brian2.devices.device`` the attribute is the active-device proxy; we need the module
_brian_device = importlib.import_module("brian2.devices.device")

__all__ = [
    "DEVICES",
    "RUNTIME_DEVICES",
    "STANDALONE_DEVICES",
    "DeviceUnavailable",
    "available_devices",
    "build",
    "cache_dir",
    "current_device",
    "device_scope",
    "gpu_compute_capability",
    "reset_device",
    "use_device",
]

RUNTIME_DEVICES = ("runtime", "numpy", "cython")
STANDALONE_DEVICES = ("cpp_standalone", "cuda_standalone")
DEVICES = RUNTIME_DEVICES + STANDALONE_DEVICES

CACHE_ENV = "SPIKEVID_CACHE_DIR"
# Where a CUDA toolkit is looked for when ``nvcc`` is not on PATH and CUDA_PATH is unset.
CUDA_DEFAULT_ROOTS = ("/usr/local/cuda",)
# Compute capability compiled for when no GPU is visible (A100 = 8.0, H100 = 9.0).
DEFAULT_COMPUTE_CAPABILITY = 8.0
# CUDA 12/13 headers (CCCL, Thrust) need C++17; brian2cuda's makefile asks for C++11.
NVCC_STD_FLAG = "-std=c++17"
# Layouts of the ``nvidia-curand`` wheel: ``nvidia/curand`` up to CUDA 12, ``nvidia/cu13`` since.
_CURAND_WHEEL_DIRS = ("curand", "cu13", "cu12")

# Preference name -> value before this module first changed it.
_saved_prefs: dict[str, object] = {}
# Build options of the active standalone device (directory, compile_only, name).
_standalone: dict[str, object] = {}


class DeviceUnavailable(RuntimeError):
    """A requested device cannot be used here (missing package, compiler or GPU)."""


# --------------------------------------------------------------------------- caches
def cache_dir() -> Path | None:
    """Project cache directory from ``$SPIKEVID_CACHE_DIR``, or None when unset."""
    value = os.environ.get(CACHE_ENV)
    return Path(value).expanduser().resolve() if value else None


def _build_root() -> Path:
    """Directory holding standalone projects: the cache dir, else ``~/.cache/spikevid``."""
    root = cache_dir()
    if root is None:
        xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(xdg) / "spikevid"
    return root


# --------------------------------------------------------------------------- project locks
#: The lock file held on the standalone project in use (one per process).
_project_lock: dict[str, object] = {}


def _try_lock(project: Path, block: bool):
    """Open and flock ``project/.lock``; the open file, or None when another process holds it."""
    project.mkdir(parents=True, exist_ok=True)
    fh = open(project / ".lock", "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    except BlockingIOError:
        fh.close()
        return None
    return fh


def _claim_project(directory: Path | None, name: str) -> Path:
    """Lock a standalone project folder for this process until :func:`reset_device`.

    Two processes building into one folder corrupt each other's build.  An explicit
    ``directory`` is waited for; the default ``<cache>/<name>`` falls back to
    ``<name>-1``, ``<name>-2``, ... when busy (each reused later, so unchanged code is
    still not recompiled).
    """
    _release_project()
    if directory is not None:
        fh = _try_lock(directory, block=False)
        if fh is None:
            warnings.warn(
                f"standalone project {directory} is in use by another process; waiting", RuntimeWarning, stacklevel=4
            )
            fh = _try_lock(directory, block=True)
        project = directory
    else:
        root = _build_root()
        for k in range(64):
            project = root / (name if k == 0 else f"{name}-{k}")
            fh = _try_lock(project, block=False)
            if fh is not None:
                break
        else:  # pragma: no cover - 64 concurrent builds
            raise DeviceUnavailable(f"all standalone project folders under {root} are busy")
    _project_lock["file"] = fh
    return project


def _release_project() -> None:
    fh = _project_lock.pop("file", None)
    if fh is not None:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


# --------------------------------------------------------------------------- prefs
def _set_pref(name: str, value) -> None:
    """Set a Brian2 preference, remembering its original value for :func:`reset_device`."""
    if name not in _saved_prefs:
        original = prefs[name]
        _saved_prefs[name] = list(original) if isinstance(original, list) else original
    prefs[name] = value


def _add_to_list_pref(name: str, *items: str) -> None:
    """Append ``items`` not yet present to a list-valued preference."""
    current = list(prefs[name])
    _set_pref(name, current + [item for item in items if item not in current])


def _restore_prefs() -> None:
    for name, value in _saved_prefs.items():
        prefs[name] = value
    _saved_prefs.clear()


# --------------------------------------------------------------------------- probes
def _cython_failure() -> str | None:
    """Compile and import a tiny Cython module the way Brian2 does; return why it failed."""
    try:
        # a probe: Cython may be missing or broken, so its machinery is imported here
        from brian2.codegen.cpp_prefs import get_compiler_and_args  # noqa: PLC0415
        from brian2.codegen.runtime.cython_rt.extension_manager import (  # noqa: PLC0415
            cython_extension_manager,
        )

        compiler, compile_args = get_compiler_and_args()
        module = cython_extension_manager.create_extension(
            "#cython: language_level=3\ndef main():\n    cdef int x = 0\n    return x\n",
            compiler=compiler,
            extra_compile_args=compile_args,
            extra_link_args=prefs["codegen.cpp.extra_link_args"],
            include_dirs=prefs["codegen.cpp.include_dirs"],
            library_dirs=prefs["codegen.cpp.library_dirs"],
            runtime_library_dirs=prefs["codegen.cpp.runtime_library_dirs"],
        )
        module.main()
    except Exception as exc:  # any failure means: no Cython here
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def _importable(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # in sys.modules without a spec
        return sys.modules.get(module) is not None


def _cxx_compiler() -> str | None:
    """Path of the C++ compiler Brian2 would call (``$CXX`` or ``c++``/``g++``)."""
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and (path := shutil.which(name.split()[0])):
            return path
    return None


def _find_nvcc() -> tuple[Path | None, list[str]]:
    """Locate ``nvcc``; return (path or None, the places searched)."""
    searched = ["PATH"]
    on_path = shutil.which("nvcc")
    if on_path:
        return Path(on_path), searched
    roots = []
    if os.environ.get("CUDA_PATH"):
        roots.append(Path(os.environ["CUDA_PATH"]))
        searched.append(f"CUDA_PATH={os.environ['CUDA_PATH']}")
    else:
        searched.append("CUDA_PATH (unset)")
    for root in CUDA_DEFAULT_ROOTS:
        roots.append(Path(root))
        searched.append(root)
    for root in roots:
        if (root / "bin" / "nvcc").is_file():
            return root / "bin" / "nvcc", searched
    return None, searched


def _has_curand(include: Path, lib: Path) -> bool:
    return (include / "curand.h").is_file() and any(lib.glob("libcurand.so*"))


def _find_curand(cuda_root: Path) -> tuple[Path, Path] | None:
    """(include dir, lib dir) of cuRAND: the CUDA toolkit's own, else the pip wheel's.

    Returns None when the toolkit provides cuRAND itself (nvcc finds it unaided),
    raises DeviceUnavailable when neither does.
    """
    for include, lib in [
        (cuda_root / "include", cuda_root / "lib64"),
        (cuda_root / "include", cuda_root / "lib"),
        *((t / "include", t / "lib") for t in sorted((cuda_root / "targets").glob("*"))),
    ]:
        if _has_curand(include, lib):
            return None
    spec = importlib.util.find_spec("nvidia")
    for base in (spec.submodule_search_locations or []) if spec else []:
        for sub in _CURAND_WHEEL_DIRS:
            include, lib = Path(base) / sub / "include", Path(base) / sub / "lib"
            if _has_curand(include, lib):
                return include, lib
    raise DeviceUnavailable(
        f"cuRAND not found: neither the CUDA toolkit at {cuda_root} nor the "
        "'nvidia-curand' wheel (nvidia/curand or nvidia/cu13) provides curand.h and "
        "libcurand.so. Install it with: pip install 'spikevid[cuda]'"
    )


def _gpu_problem() -> str | None:
    """Why no NVIDIA GPU is visible (None when ``nvidia-smi -L`` lists one)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "nvidia-smi not found"
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"nvidia-smi failed: {exc}"
    if out.returncode != 0 or not out.stdout.strip().startswith("GPU "):
        return f"nvidia-smi found no GPU ({(out.stderr or out.stdout).strip()[:200]})"
    return None


def gpu_compute_capability(gpu: int = 0) -> float | None:
    """Compute capability of GPU ``gpu`` as ``nvidia-smi`` reports it (e.g. 9.0), or None without one."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run(
            [smi, f"--id={gpu}", "--query-gpu=compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return float(out.stdout.strip().splitlines()[0]) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def _linkable_curand(lib: Path) -> Path:
    """Directory with a ``libcurand.so`` for ``-lcurand`` (wheels ship only ``.so.N``)."""
    if (lib / "libcurand.so").exists():
        return lib
    target = sorted(lib.glob("libcurand.so.*"))[0]
    link_dir = _build_root() / "cuda_link"
    link_dir.mkdir(parents=True, exist_ok=True)
    link = link_dir / "libcurand.so"
    if link.is_symlink() and link.resolve() != target.resolve():
        link.unlink()
    if not link.exists():
        link.symlink_to(target)
    return link_dir


# --------------------------------------------------------------------------- selection
def _use_runtime(name: str) -> None:
    root = cache_dir()
    if root is not None:
        _set_pref("codegen.runtime.cython.cache_dir", str(root / "cython"))
    target = "numpy"
    if name in ("runtime", "cython"):
        reason = _cython_failure()
        if reason is None:
            target = "cython"
        elif name == "cython":
            raise DeviceUnavailable(f"Cython code generation is unavailable: {reason}")
        else:
            warnings.warn(
                f"Cython cannot compile here ({reason}); falling back to numpy code "
                "generation, which is several times slower.",
                RuntimeWarning,
                stacklevel=4,  # the caller of use_device
            )
    _set_pref("codegen.target", target)  # reset_device() already activated runtime


def _prepare_cuda(compile_only: bool, compute_capability: float | None) -> str | None:
    """Check brian2cuda, nvcc, cuRAND and GPU; set the CUDA prefs. Return the GPU problem."""
    try:
        importlib.import_module("brian2cuda")
    except ImportError as exc:
        raise DeviceUnavailable(
            f"cuda_standalone needs brian2cuda, which cannot be imported ({exc}). "
            "Install it with: pip install 'spikevid[cuda]'"
        ) from None
    nvcc, searched = _find_nvcc()
    if nvcc is None:
        raise DeviceUnavailable(
            "cuda_standalone needs the CUDA compiler nvcc, which was not found; looked "
            f"in: {', '.join(searched)}. Install the CUDA toolkit or set CUDA_PATH."
        )
    gpu_problem = _gpu_problem()
    if gpu_problem and not compile_only:
        raise DeviceUnavailable(
            f"cuda_standalone cannot run: no GPU visible ({gpu_problem}). Use "
            "compile_only=True to generate and compile the CUDA project without running it."
        )
    cuda_root = nvcc.parent.parent
    curand = _find_curand(cuda_root)

    from brian2cuda.utils import gputools  # noqa: PLC0415 -- optional dependency

    backend = "devices.cuda_standalone.cuda_backend"
    _set_pref(f"{backend}.cuda_path", str(cuda_root))
    _add_to_list_pref(f"{backend}.extra_compile_args_nvcc", NVCC_STD_FLAG)
    # the host compiler sees Brian2's gcc flags (with -std=c++11) through -Xcompiler
    gcc_args = [a for a in prefs["codegen.cpp.extra_compile_args_gcc"] if not a.startswith("-std=")]
    _set_pref("codegen.cpp.extra_compile_args_gcc", gcc_args + [NVCC_STD_FLAG])
    if curand is not None:
        include, lib = curand
        # nvcc compiles the device code itself, so the include dir goes to it directly
        _add_to_list_pref(f"{backend}.extra_compile_args_nvcc", f"-I{include}")
        _add_to_list_pref("codegen.cpp.include_dirs", str(include))
        _add_to_list_pref("codegen.cpp.library_dirs", str(_linkable_curand(lib)))
        _add_to_list_pref("codegen.cpp.runtime_library_dirs", str(lib))
    if gpu_problem:
        _set_pref(f"{backend}.detect_gpus", False)
        _set_pref(f"{backend}.gpu_id", 0)
        _set_pref(
            f"{backend}.compute_capability",
            float(compute_capability or DEFAULT_COMPUTE_CAPABILITY),
        )
    elif compute_capability is not None:
        _set_pref(f"{backend}.compute_capability", float(compute_capability))
    # brian2cuda caches what it detected once per process; detect again with these prefs
    gputools.reset_cuda_installation()
    gputools.reset_gpu_selection()
    return gpu_problem


def use_device(
    name: str = "runtime",
    *,
    directory: str | os.PathLike | None = None,
    build_on_run: bool = True,
    compile_only: bool = False,
    threads: int | None = None,
    seed: int | None = None,
    **options,
) -> str:
    """Select the Brian2 device for the following simulations.

    Parameters
    ----------
    name : {"runtime", "numpy", "cython", "cpp_standalone", "cuda_standalone"}
        ``"runtime"`` uses Cython code generation and falls back to numpy (with a
        RuntimeWarning saying why) when Cython cannot compile; ``"numpy"`` and
        ``"cython"`` force one target (``"cython"`` raises instead of falling back).
    directory : path, optional
        Standalone project directory; default ``<cache>/<name>``, reused so that
        unchanged code is not recompiled.
    build_on_run : bool
        Standalone only: build (and run) at the first ``run`` call. With False,
        call :func:`build` after the last ``run``.
    compile_only : bool
        Standalone only: generate and compile but do not run the binary. For
        ``cuda_standalone`` this is what allows compiling on a machine without a GPU.
    threads : int, optional
        ``cpp_standalone`` only: number of OpenMP threads (0 or None: no OpenMP).
    seed : int, optional
        Passed to ``brian2.seed`` after the device is set.
    **options
        ``cuda_standalone`` accepts ``compute_capability`` (float, default
        8.0 when no GPU is visible). Anything else is passed to the standalone
        ``device.build`` call (e.g. ``debug``, ``clean``, ``with_output``).

    Returns
    -------
    str
        :func:`current_device` after the switch.

    Raises
    ------
    ValueError
        Unknown name, or an option that does not apply to the device.
    DeviceUnavailable
        Missing Cython (for ``"cython"``), brian2cuda, nvcc, cuRAND or GPU.
    """
    if name not in DEVICES:
        raise ValueError(f"unknown device {name!r}; valid devices: {', '.join(DEVICES)}")
    standalone_only = {
        "directory": directory is not None,
        "build_on_run": build_on_run is not True,
        "compile_only": compile_only,
    }
    if name in RUNTIME_DEVICES:
        wrong = [k for k, given in standalone_only.items() if given] + sorted(options)
        if threads is not None:
            wrong.append("threads")
        if wrong:
            raise ValueError(f"options {wrong} apply to standalone devices, not {name!r}")
    elif threads is not None and name != "cpp_standalone":
        raise ValueError("threads applies to cpp_standalone only")

    reset_device()
    try:
        _activate(name, directory, build_on_run, compile_only, threads, options)
    except BaseException:
        reset_device()  # leave nothing half-configured
        raise
    if seed is not None:
        brian2.seed(seed)
    return current_device()


def _activate(name, directory, build_on_run, compile_only, threads, options) -> None:
    """Configure prefs and set the Brian2 device (checks done in :func:`use_device`)."""
    if name in RUNTIME_DEVICES:
        _use_runtime(name)
        return
    options = dict(options)
    compute_capability = options.pop("compute_capability", None)
    if name == "cuda_standalone":
        _prepare_cuda(compile_only, compute_capability)
    elif compute_capability is not None:
        raise ValueError("compute_capability applies to cuda_standalone only")
    else:
        _set_pref("devices.cpp_standalone.openmp_threads", int(threads or 0))
    project = _claim_project(Path(directory) if directory is not None else None, name)
    _standalone.update(name=name, directory=project, compile_only=compile_only, options=options)
    build_options = dict(options)
    if build_on_run:
        build_options.update(directory=str(project), run=not compile_only)
    brian2.set_device(name, build_on_run=build_on_run, **build_options)


def build(directory: str | os.PathLike | None = None, run: bool = True, **options) -> Path:
    """Build the active standalone project (for ``build_on_run=False``).

    Parameters
    ----------
    directory : path, optional
        Project directory; default: the one chosen by :func:`use_device`.
    run : bool
        Run the binary after compiling (forced False with ``compile_only=True``).
    **options
        Further ``device.build`` arguments.

    Returns
    -------
    Path
        The project directory.
    """
    if not _standalone:
        raise RuntimeError("build() needs a standalone device: call use_device() first")
    project = Path(directory or _standalone["directory"])
    run = run and not _standalone["compile_only"]
    kwargs = {**_standalone["options"], **options}
    brian2.get_device().build(directory=str(project), run=run, **kwargs)
    return project


def reset_device() -> None:
    """Return to Brian2's runtime device with fresh state and the original preferences."""
    active = brian2.get_device()
    if active is not _brian_device.runtime_device:
        active.reinit()
        active.activate(build_on_run=active.build_on_run, **active.build_options)
    _brian_device.reset_device("runtime")
    # set_device keeps a history stack; ours never goes back through it
    _brian_device.previous_devices.clear()
    _standalone.clear()
    _release_project()
    _restore_prefs()


def current_device() -> str:
    """Name of the active device.

    For the runtime device this is the code generation target in effect
    (``"numpy"`` or ``"cython"``), or ``"runtime"`` while Brian2 chooses itself.
    """
    active = brian2.get_device()
    for name, dev in _brian_device.all_devices.items():
        if dev is active:
            if name == "runtime":
                target = prefs["codegen.target"]
                return target if isinstance(target, str) and target != "auto" else "runtime"
            return name
    return type(active).__name__


def available_devices() -> dict[str, tuple[bool, str]]:
    """Which devices can run here, without changing any state.

    Returns
    -------
    dict
        Device name -> (usable, reason). ``cuda_standalone`` is False when no GPU
        is visible even if it can compile (the reason says so).
    """
    cxx = _cxx_compiler()
    has_cython = _importable("Cython")
    result: dict[str, tuple[bool, str]] = {"numpy": (True, "always available")}
    if has_cython and cxx:
        result["cython"] = (True, f"Cython and {cxx}")
    else:
        result["cython"] = (False, "Cython not installed" if cxx else "no C++ compiler found")
    result["runtime"] = (True, "cython" if result["cython"][0] else "numpy fallback")
    make = shutil.which("make")
    if cxx and make:
        result["cpp_standalone"] = (True, f"{cxx} and {make}")
    else:
        result["cpp_standalone"] = (False, "needs a C++ compiler and make")

    nvcc, searched = _find_nvcc()
    if not _importable("brian2cuda"):
        result["cuda_standalone"] = (False, "brian2cuda missing: pip install 'spikevid[cuda]'")
    elif nvcc is None:
        result["cuda_standalone"] = (False, f"nvcc not found in {', '.join(searched)}")
    else:
        try:
            _find_curand(nvcc.parent.parent)
        except DeviceUnavailable as exc:
            result["cuda_standalone"] = (False, str(exc))
        else:
            problem = _gpu_problem()
            result["cuda_standalone"] = (
                (False, f"compile_only=True works ({nvcc}), but no GPU: {problem}")
                if problem
                else (True, f"{nvcc} and a GPU")
            )
    return {name: result[name] for name in DEVICES}


@contextlib.contextmanager
def device_scope(name: str = "runtime", **kwargs):
    """Context manager: :func:`use_device` on entry, :func:`reset_device` on exit.

    Yields
    ------
    str
        The active device name.
    """
    try:
        yield use_device(name, **kwargs)
    finally:
        reset_device()
