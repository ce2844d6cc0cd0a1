"""``spikevid ablate``: multi-run studies of a config (parallel, resumable).

* ``spikevid ablate heterogeneity CONFIG --out DIR --seeds N [--jobs J]`` runs the
  variants HoNHoS, HeNHoS, HoNHeS and HeNHeS with seeds 0..N-1 into
  ``DIR/<variant>/seed<k>/`` and writes ``ablation.json``, ``ablation.md``,
  ``ablation.png`` and ``report.md``;
* ``spikevid ablate train-fraction CONFIG --out DIR --fractions 0.1,0.25,0.5,1.0
  --seeds N [--variants HeNHeS,HoNHoS]`` trains on stratified subsets of the
  training split (unsupervised phase and readout) into ``DIR/<variant>/frac<f>/seed<k>/``
  and writes ``train_fraction.json``, ``.md``, ``.png`` and ``report.md``;
* ``spikevid ablate encoder CONFIG --out DIR --encoders poisson,ttfs,gaussian,delta
  --seeds N`` runs the configured model (reservoir or column) with each encoder into
  ``DIR/<encoder>/seed<k>/``, each beside the input baseline of its own spikes, and
  writes ``encoders.json``, ``.md``, ``.png`` and ``report.md``.  Encoders that do not
  apply to the dataset (frame codes on event recordings) are skipped with a message.
  The config's encoder keeps its parameters, the others take its ``frame_duration``
  and ``dt`` and their defaults; ``--encoder-set poisson.max_rate=200`` sets one.

* ``spikevid ablate hybrid CONFIG --out DIR --seeds N`` (``model.kind: hybrid``) runs
  seeds 0..N-1 into ``DIR/seed<k>/``; every run fits the hybrid in its four modes
  (key frames only, spiking branch only, concatenated, cross-attention) on one
  simulation of its branch, and ``hybrid.json``, ``.md``, ``.png`` and ``report.md``
  summarise them beside the branch's linear readout and the input baseline.

Heterogeneity and training-fraction studies work for ``model.kind`` hrsnn and column.

Cells run in ``--jobs`` local processes (``--executor serial``: one after another here;
``--executor dask``: a local Dask cluster, or the cluster at ``--scheduler ADDRESS``).

Run the same command again to resume: finished cells are kept, interrupted ones
resume from their saved model and feature chunks.  ``--set key.sub=value``
overrides the config for every cell.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_executor_arguments, add_set_argument, executor_from_args, folder_path, positive_int


def _csv(text: str, cast=str) -> list:
    items = [x.strip() for x in str(text).split(",") if x.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    try:
        return [cast(x) for x in items]
    except ValueError:
        raise argparse.ArgumentTypeError(f"cannot read {text!r} as a list of {cast.__name__}") from None


def _variants(text: str) -> list[str]:
    """``--variants``: comma-separated heterogeneity variants, each checked by name."""
    from networks.hrsnn import VARIANTS  # noqa: PLC0415 -- heavy (Brian2): only when the option is given

    names = _csv(text)
    bad = [v for v in names if v not in VARIANTS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown variant(s) {bad}; choose from {sorted(VARIANTS)}")
    return names


def _config(args) -> dict:
    from spikevid.experiments.config import load_config  # noqa: PLC0415 -- heavy (Brian2): only when run

    cfg = load_config(args.config, args.overrides)
    kind = cfg["model"].get("kind", "hrsnn")
    if kind not in ("hrsnn", "column"):
        raise ValueError(f"ablate: the config must use model.kind hrsnn or column, not {kind}")
    return cfg


def _finish(summary: dict, out, stem: str) -> int:
    run = summary["run"]
    print(f"{len(run['executed'])} cell(s) run, {len(run['skipped'])} reused, {len(run['failed'])} failed")
    print((out / f"{stem}.md").read_text())
    print(f"results in {out}/ ({stem}.json, {stem}.md, {stem}.png, report.md)")
    for name, msg in run["failed"].items():
        print(f"FAILED {name}: {msg} (see {out / name / 'log.txt'})")
    return 1 if run["failed"] else 0


def _study(args, cfg: dict, study, stem: str, **options) -> int:
    """Run ``study(cfg, out, seeds=, executor=, progress=, **options)`` on the requested executor; report it."""
    out = Path(args.out)
    with executor_from_args(args) as executor:
        summary = study(cfg, out, seeds=args.seeds, executor=executor, progress=not args.no_progress, **options)
    return _finish(summary, out, stem)


def _heterogeneity(args) -> int:
    from spikevid.experiments.studies import ABLATION_VARIANTS, heterogeneity_ablation  # noqa: PLC0415

    variants = args.variants or list(ABLATION_VARIANTS)
    return _study(args, _config(args), heterogeneity_ablation, "ablation", variants=variants)


def _train_fraction(args) -> int:
    from spikevid.experiments.studies import FRACTION_VARIANTS, train_fraction_study  # noqa: PLC0415

    variants = args.variants or list(FRACTION_VARIANTS)
    return _study(
        args, _config(args), train_fraction_study, "train_fraction", fractions=args.fractions, variants=variants
    )


def _encoders(args) -> int:
    from spikevid.experiments.studies import encoder_study  # noqa: PLC0415 -- heavy (Brian2): only when run

    return _study(
        args, _config(args), encoder_study, "encoders", encoders=args.encoders, settings=args.encoder_settings
    )


def _hybrid(args) -> int:
    from spikevid.experiments.config import load_config  # noqa: PLC0415 -- heavy (Brian2): only when run
    from spikevid.experiments.studies import hybrid_study  # noqa: PLC0415

    return _study(args, load_config(args.config, args.overrides), hybrid_study, "hybrid")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", metavar="CONFIG", help="YAML config file (see configs/)")
    p.add_argument("--out", type=folder_path, required=True, help="study folder (resumed if it exists)")
    p.add_argument("--seeds", type=positive_int, default=3, help="seeds 0..N-1 per cell (default 3)")
    add_executor_arguments(p, default="processes", what="the study's cells")
    add_set_argument(p, scope=" for every cell")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(subparsers) -> None:
    """Add the ``ablate`` command group to the ``spikevid`` parser."""
    group = subparsers.add_parser(
        "ablate",
        help="heterogeneity ablation, training-fraction, encoding and hybrid studies",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = group.add_subparsers(dest="ablate_command", metavar="SUBCOMMAND")
    group.set_defaults(func=lambda args: (group.print_help(), 2)[1])

    p = sub.add_parser("heterogeneity", help="HoNHoS, HeNHoS, HoNHeS, HeNHeS x seeds")
    _common(p)
    p.add_argument(
        "--variants", type=_variants, default=None, help="comma-separated subset of the variants (default: all four)"
    )
    p.set_defaults(func=_heterogeneity)

    p = sub.add_parser("train-fraction", help="accuracy against the fraction of training clips")
    _common(p)
    p.add_argument(
        "--fractions",
        type=lambda s: _csv(s, float),
        default=[0.1, 0.25, 0.5, 1.0],
        help="comma-separated fractions in (0, 1] (default 0.1,0.25,0.5,1.0)",
    )
    p.add_argument("--variants", type=_variants, default=None, help="comma-separated variants (default HeNHeS,HoNHoS)")
    p.set_defaults(func=_train_fraction)

    p = sub.add_parser("encoder", help="the same model fed by each video-to-spike encoder x seeds")
    _common(p)
    p.add_argument(
        "--encoders",
        type=_csv,
        default=["poisson", "ttfs", "gaussian", "delta"],
        help="comma-separated encoders (default poisson,ttfs,gaussian,delta)",
    )
    p.add_argument(
        "--encoder-set",
        dest="encoder_settings",
        action="append",
        default=[],
        metavar="ENCODER.PARAM=VALUE",
        help="a parameter of one encoder, e.g. poisson.max_rate=200 (repeatable)",
    )
    p.set_defaults(func=_encoders)

    p = sub.add_parser("hybrid", help="the ReSpike hybrid's four modes x seeds (model.kind: hybrid)")
    _common(p)
    p.set_defaults(func=_hybrid)
