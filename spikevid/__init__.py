"""spikevid, the application: the command line and the experiments built on the libraries.

The four library packages form a one-way flow, ``stimuli`` -> ``cortex`` ->
``networks`` -> ``analysis``; this package sits on top and may import all of them,
while none of them imports it (``docs/architecture.md``).

``spikevid.cli``          the ``spikevid`` command (``stimuli``, ``run``, ``plot``, ``ablate``)
``spikevid.experiments``  YAML configs, the phased experiment runner, multi-run studies
``spikevid.executors``    where feature chunks and study cells run (serial, processes, Dask)
``spikevid.interrupts``   Ctrl-C and SIGTERM that cannot get lost
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("spikevid")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
