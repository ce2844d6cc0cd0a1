"""Experiments: YAML configs, the phased runner and multi-run studies.

``spikevid.experiments.config``   load, override and validate a config (``ConfigError`` names the key)
``spikevid.experiments.data``     the configured splits and their encoded stimuli
``spikevid.experiments.runner``   ``run_experiment`` and its phases (prepare, encode, reservoir,
                                  baseline, readouts, write_results)
``spikevid.experiments.runlog``   the run's ``log.txt`` and phase timings
``spikevid.experiments.studies``  heterogeneity ablation and training-fraction study (parallel, resumable)
"""

from .config import ConfigError, apply_overrides, dump_config, load_config, resolve_config
from .runner import run_experiment
from .studies import heterogeneity_ablation, train_fraction_study

__all__ = [
    "ConfigError",
    "load_config",
    "resolve_config",
    "apply_overrides",
    "dump_config",
    "run_experiment",
    "heterogeneity_ablation",
    "train_fraction_study",
]
