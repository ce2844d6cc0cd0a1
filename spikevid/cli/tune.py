"""``spikevid tune CONFIG --trials N --out DIR [--sampler auto|gp|tpe] [--space YAML] [--enqueue YAML] [--jobs J]``.

The defaults here (samplers, ``--max-rate``, the probe's 16 clips) are
:mod:`spikevid.experiments.tuning`'s constants, written out so that ``--help`` does not
import Brian2; ``tests/test_tune.py`` checks that they agree.
"""

from __future__ import annotations

from .arguments import add_executor_arguments, add_set_argument, executor_from_args, folder_path, positive_int


def register(subparsers) -> None:
    """Add the ``tune`` command to the ``spikevid`` parser."""
    p = subparsers.add_parser(
        "tune",
        help="Bayesian optimisation of a config by cross-validation on its training split (resumable)",
        description=(
            "Search the reservoir's heterogeneity, input gain, connection probabilities, input wiring and "
            "readout bins by the cross-validated accuracy on the training split (the test split is never read). "
            "The study lives in DIR/study.db: run the command again to continue it. Writes DIR/best.yaml."
        ),
    )
    p.add_argument("config", help="YAML config file (see configs/)")
    p.add_argument("--out", type=folder_path, required=True, help="study folder (continued if it holds this study)")
    p.add_argument("--trials", type=positive_int, required=True, help="trials to add to the study")
    p.add_argument("--sampler", choices=("auto", "gp", "tpe"), default="auto", help="auto: GP with PyTorch, else TPE")
    add_executor_arguments(p, default="processes", what="trials", jobs=1)
    p.add_argument("--seed", type=int, default=0, help="seeds the sampler")
    p.add_argument(
        "--seeds",
        type=positive_int,
        default=1,
        help="networks per trial (model seeds model.seed onwards); a trial scores their pooled CV accuracy",
    )
    p.add_argument(
        "--max-rate",
        type=float,
        default=100.0,
        metavar="HZ",
        help="prune a draw whose network fires above HZ spikes/neuron/s on 16 probe clips (0: no probe; default 100)",
    )
    p.add_argument(
        "--space",
        metavar="YAML",
        help=(
            "change the search space of a new study: {config key: {low, high[, log][, type]} | {choices: [...]} | "
            "null (not searched)}, keys under model., encoder.params. or readout. (a study keeps its space)"
        ),
    )
    p.add_argument(
        "--enqueue",
        action="append",
        default=[],
        metavar="YAML",
        help="a config whose values of the searched keys are tried first (e.g. one tuned on similar data); repeatable",
    )
    add_set_argument(p, scope=" before tuning")
    p.set_defaults(func=_tune)


def _tune(args) -> int:
    from spikevid.experiments.config import load_config  # noqa: PLC0415 -- heavy (Brian2): only when run
    from spikevid.experiments.tuning import load_space, tune  # noqa: PLC0415

    cfg = load_config(args.config, list(args.overrides) + ["run.progress=false"])
    space = load_space(args.space) if args.space else None
    starts = {path: load_config(path) for path in args.enqueue}
    with executor_from_args(args) as executor:
        tune(
            cfg,
            args.out,
            trials=args.trials,
            sampler=args.sampler,
            executor=executor,
            seed=args.seed,
            networks=args.seeds,
            max_rate=args.max_rate,
            space=space,
            enqueue_configs=starts,
        )
    return 0
