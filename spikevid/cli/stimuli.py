"""``spikevid stimuli``: inspect datasets and encoders.

* ``spikevid stimuli list --dataset NAME [--root PATH] [--split train]`` prints the
  classes and the number of items per class and per split;
* ``spikevid stimuli show --dataset NAME [--root PATH] --encoder delta [--index 0]
  [--set threshold=0.05] --out raster.png`` encodes one sample and writes a spike
  raster with the sample's first and last frame beside it.

``--option KEY=VALUE`` passes dataset options (``size=[80,60]``, ``max_frames=20``,
``skip_bad=true``), ``--split-option KEY=VALUE`` split protocol options (``fold=3``)
and ``--set KEY=VALUE`` encoder parameters; values are read as YAML scalars/lists.
"""

from __future__ import annotations

import argparse

import yaml

from .arguments import folder_path


def parse_assignments(pairs, what: str) -> dict:
    """``["a=1", "b=[2,3]"]`` -> ``{"a": 1, "b": [2, 3]}`` (values parsed as config YAML: ``5e-1`` is a number)."""
    from spikevid.experiments.config import parse_value  # noqa: PLC0415 -- heavy: only when a command runs

    out = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{what}: expected KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = parse_value(value) if value.strip() else None
        except yaml.YAMLError:
            raise ValueError(f"{what}: cannot parse the value of {pair!r}") from None
    return out


def _dataset(args):
    from stimuli.datasets import get_dataset  # noqa: PLC0415 -- loaded only when a command runs

    options = parse_assignments(args.option, "--option")
    for key in ("size", "crop"):
        if isinstance(options.get(key), list):
            options[key] = tuple(options[key])
    ds = get_dataset(args.dataset, args.root, **options)
    if args.split:
        ds = ds.split(args.split, **parse_assignments(args.split_option, "--split-option"))
    elif args.split_option:
        raise ValueError("--split-option needs --split")
    return ds


def cmd_list(args) -> int:
    ds = _dataset(args)
    print(ds.describe())
    opts = ds.split_options()
    print(f"  splits: {', '.join(ds.split_names)}" + (f" (split options: {', '.join(opts)})" if opts else ""))
    return 0


def cmd_show(args) -> int:
    from analysis.stimulus_plots import save_stimulus_figure  # noqa: PLC0415 -- heavy: only when run
    from stimuli.encoders import get_encoder  # noqa: PLC0415

    ds = _dataset(args)
    if len(ds) == 0:
        raise ValueError(f"{ds.name}: no items to show")
    if not -len(ds) <= args.index < len(ds):
        raise ValueError(f"--index {args.index} out of range for {len(ds)} items")
    name = args.encoder or ("events" if ds.data_kind == "events" else "delta")
    encoder = get_encoder(name, **parse_assignments(args.set, "--set"))
    sample = ds[args.index]
    stim = encoder(sample.data, label=sample.label, meta=sample.meta)
    out = save_stimulus_figure(sample, stim, args.out, class_name=ds.classes[sample.label])
    print(
        f"{sample.meta.get('id')} ({ds.classes[sample.label]}): {stim.n_spikes} spikes on "
        f"{stim.n_channels} channels over {stim.duration:g} ms -> {out}"
    )
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset",
        required=True,
        help="registry name (kth, ucf11, ucf101, dvs_gesture, nmnist, weizmann, folder, synthetic)",
    )
    p.add_argument("--root", default=None, help="dataset folder (not for synthetic)")
    p.add_argument("--split", default=None, help="show only this split (train, val, test)")
    p.add_argument(
        "--option", action="append", metavar="KEY=VALUE", help="dataset option, repeatable (e.g. size=[80,60])"
    )
    p.add_argument(
        "--split-option", action="append", metavar="KEY=VALUE", help="split protocol option, repeatable (e.g. fold=2)"
    )


def register(subparsers) -> None:
    """Add the ``stimuli`` command group to the ``spikevid`` parser."""
    group = subparsers.add_parser(
        "stimuli",
        help="inspect datasets and spike encoders",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = group.add_subparsers(dest="stimuli_command", metavar="SUBCOMMAND")
    group.set_defaults(func=lambda args: (group.print_help(), 2)[1])

    p = sub.add_parser("list", help="classes and counts per class and split")
    _common(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="encode one sample and plot its spike raster")
    _common(p)
    p.add_argument("--encoder", default=None, help="encoder name (default: delta for clips, events for event data)")
    p.add_argument("--index", type=int, default=0, help="sample index within the (split) dataset")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="encoder parameter, repeatable (e.g. threshold=0.05)"
    )
    p.add_argument("--out", type=folder_path, required=True, help="output image (PNG)")
    p.set_defaults(func=cmd_show)
