"""Figures, reports, study summaries and energy estimates of finished runs.

``analysis`` reads what runs wrote (``metrics.json``, ``raster.npz``, ``model.npz``);
it may import ``stimuli``, ``cortex`` and ``networks``, never ``spikevid``.  Every
plotting function returns ``(fig, data)``, ``data`` holding the numbers it drew.

``analysis.rundata``         read a run folder
``analysis.raster``          input and reservoir spike rasters with the population rate
``analysis.weights``         weight dynamics and weight matrices
``analysis.receptive_fields`` cortical columns: receptive fields, class rasters, R-STDP dynamics
``analysis.activity``        firing-rate, ISI-CV and tau_m distributions; membrane traces
``analysis.accuracy``        confusion matrix, ablation and training-fraction figures
``analysis.stimulus_plots``  one encoded sample beside its frames
``analysis.summaries``       statistics and tables of multi-run studies
``analysis.energy``          synaptic operations and a 45 nm energy estimate
``analysis.report``          the run table and Markdown reports
``analysis.figures``         the shared paper style and atomic figure saving
"""

from .accuracy import plot_ablation, plot_accuracy_vs_fraction, plot_confusion
from .activity import plot_activity, plot_membrane_traces, spike_statistics
from .energy import energy_estimate, run_energy, synaptic_operations
from .figures import paper_style, save_figure
from .raster import plot_run_raster, population_rate
from .receptive_fields import (
    plot_class_raster,
    plot_column_receptive_fields,
    plot_receptive_fields,
    plot_reward_dynamics,
    receptive_field_images,
)
from .report import run_figures, summary_table, write_run_report
from .rundata import load_config_file, load_metrics, load_model, load_raster
from .stimulus_plots import plot_stimulus, save_stimulus_figure
from .summaries import mean_ci, summarize_ablation, summarize_train_fraction
from .weights import plot_weight_dynamics, plot_weight_matrices

__all__ = [
    "plot_confusion",
    "plot_ablation",
    "plot_accuracy_vs_fraction",
    "plot_activity",
    "plot_membrane_traces",
    "spike_statistics",
    "energy_estimate",
    "run_energy",
    "synaptic_operations",
    "paper_style",
    "save_figure",
    "plot_run_raster",
    "population_rate",
    "run_figures",
    "summary_table",
    "write_run_report",
    "load_config_file",
    "load_metrics",
    "load_model",
    "load_raster",
    "plot_stimulus",
    "save_stimulus_figure",
    "mean_ci",
    "summarize_ablation",
    "summarize_train_fraction",
    "plot_weight_dynamics",
    "plot_weight_matrices",
    "receptive_field_images",
    "plot_receptive_fields",
    "plot_column_receptive_fields",
    "plot_class_raster",
    "plot_reward_dynamics",
]
