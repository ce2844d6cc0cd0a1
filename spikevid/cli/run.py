"""``spikevid run CONFIG --out DIR [--set key.sub=value ...]``."""

from __future__ import annotations

from .arguments import add_executor_arguments, add_set_argument, executor_from_args, folder_path


def register(subparsers) -> None:
    """Add the ``run`` command to the ``spikevid`` parser."""
    p = subparsers.add_parser(
        "run",
        help="run an experiment from a YAML config (resumable)",
        description="Encode a dataset, train the reservoir without labels, read it out, and write metrics into DIR.",
    )
    p.add_argument("config", help="YAML config file (see configs/)")
    p.add_argument("--out", type=folder_path, required=True, help="result directory (resumed if it holds the same run)")
    add_set_argument(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_executor_arguments(p, default="serial", what="feature-extraction chunks")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from spikevid.experiments.config import load_config  # noqa: PLC0415 -- heavy (Brian2): only when run
    from spikevid.experiments.runner import run_experiment  # noqa: PLC0415

    overrides = list(args.overrides)
    if args.no_progress:
        overrides.append("run.progress=false")
    cfg = load_config(args.config, overrides)
    with executor_from_args(args) as executor:
        run_experiment(cfg, args.out, executor=executor)
    return 0
