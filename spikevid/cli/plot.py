"""``spikevid plot``: figures of a finished run.

* ``spikevid plot raster RUN_DIR``  input and reservoir spikes with the population rate;
* ``spikevid plot weights RUN_DIR`` weight dynamics of every plastic pathway and the
  weight matrices before and after learning;
* ``spikevid plot attention RUN_DIR`` attention per time bin and class (``readout.kind: attention``);
* ``spikevid plot receptive-fields RUN_DIR`` a column's learned input weights on the frame;
* ``spikevid plot reward RUN_DIR``  a column's R-STDP weights and votes during the reward phase;
* ``spikevid plot all RUN_DIR``     every figure plus ``RUN_DIR/report.md``.

Figures go to ``RUN_DIR/figures/`` as PNG and PDF (``--out`` to choose another folder).
"""

from __future__ import annotations

import argparse

from .arguments import folder_path

_WHICH = {
    "raster": ("raster",),
    "weights": ("weights",),
    "activity": ("activity",),
    "confusion": ("confusion",),
    "attention": ("attention",),
    "receptive-fields": ("receptive_fields",),
    "reward": ("reward",),
}


def _plot(args) -> int:
    from analysis.report import FIGURES, run_figures, write_run_report  # noqa: PLC0415 -- heavy: only when run

    which = FIGURES if args.plot_command == "all" else _WHICH[args.plot_command]
    made = run_figures(args.run_dir, which, out=args.out, strict=args.plot_command != "all")
    for name, (paths, _) in made.items():
        print(f"{name}: " + ", ".join(str(p) for p in paths))
    if args.plot_command == "all":
        print(f"report: {write_run_report(args.run_dir, made)}")
    return 0


def register(subparsers) -> None:
    """Add the ``plot`` command group to the ``spikevid`` parser."""
    group = subparsers.add_parser(
        "plot",
        help="figures of a run directory (PNG and PDF)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = group.add_subparsers(dest="plot_command", metavar="SUBCOMMAND")
    group.set_defaults(func=lambda args: (group.print_help(), 2)[1])
    helps = {
        "raster": "spike raster of the first test clips (reservoir: with the population rate; column: the vote)",
        "weights": "weight dynamics during learning and weight matrices before/after",
        "activity": "firing-rate, ISI-CV and tau_m distributions",
        "confusion": "confusion matrix of the test clips",
        "attention": "which time bins an attention readout looks at, per class (readout.kind attention)",
        "receptive-fields": "a column run's learned receptive fields (input weights on the frame grid)",
        "reward": "a column run's layer -> class weights and reward-phase votes (R-STDP)",
        "all": "every figure and RUN_DIR/report.md",
    }
    for name, text in helps.items():
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("run_dir", metavar="RUN_DIR", help="directory written by 'spikevid run'")
        p.add_argument("--out", type=folder_path, default=None, help="figure folder (default RUN_DIR/figures)")
        p.set_defaults(func=_plot)
