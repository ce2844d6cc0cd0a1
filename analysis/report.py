"""Reports of results: the console table of a run, Markdown reports with figures embedded.

``spikevid run`` prints :func:`summary_table`; ``spikevid plot all RUN_DIR`` writes
``RUN_DIR/figures/*.png|pdf`` and ``RUN_DIR/report.md``; the studies of
:mod:`spikevid.experiments.studies` write ``DIR/report.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from stimuli.io import atomic_write_text
from stimuli.timebase import ms_to_seconds

from .accuracy import plot_confusion
from .activity import plot_activity, plot_membrane_traces
from .attention import plot_attention
from .energy import format_energy, format_nj, run_energy
from .figures import save_figure
from .raster import plot_column_raster, plot_run_raster
from .receptive_fields import plot_column_receptive_fields, plot_reward_dynamics
from .rundata import class_names, load_attention, load_config_file, load_metrics, load_model, load_raster
from .weights import plot_weight_dynamics, plot_weight_matrices

__all__ = [
    "FIGURES",
    "summary_table",
    "run_figures",
    "write_run_report",
    "write_ablation_report",
    "write_fraction_report",
    "write_encoder_report",
    "model_name",
    "result_rows",
    "cv_cells",
    "result_label",
    "write_hybrid_report",
]

#: Figures of ``spikevid plot all`` (in this order); the last two for column runs only.
FIGURES = ("raster", "weights", "activity", "confusion", "attention", "receptive_fields", "reward")
#: Figures that need a trained model of one kind.
_KIND_FIGURES = {"activity": ("hrsnn",), "receptive_fields": ("column",), "reward": ("column",)}


#: The hybrid's modes in words (``networks.hybrid.MODES``).
HYBRID_MODE_WORDS = {
    "frames": "key frames only",
    "spikes": "spiking branch only",
    "concat": "both, concatenated",
    "cross": "both, cross-attention",
}


def model_name(model: dict) -> str:
    """A run's network in words (``metrics["model"]``)."""
    kind = model.get("kind")
    if kind == "hrsnn":
        return f"HRSNN {model.get('variant', '')} (n={model.get('n')})"
    if kind == "column":
        gx, gy = model.get("tiles") or (1, 1)
        cols = f"{gx}x{gy} columns of " if (gx, gy) != (1, 1) else ""
        return f"column {model.get('variant', '')} ({cols}{model.get('n_layer')} neurons)"
    if kind == "hybrid":
        return model_name({**model, "kind": model.get("branch")}) + " on residual frames"
    return "input counts"


def result_rows(metrics: dict) -> list[tuple[str, float, float, object]]:
    """``(what, train accuracy, test accuracy, features)`` of every readout of a run, the reported one first."""
    readouts = metrics.get("readouts")
    if readouts is None:  # a run written before every readout was recorded
        rows = [
            (model_name(metrics["model"]), metrics["train_accuracy"], metrics["test_accuracy"], metrics["n_features"])
        ]
        if "baseline" in metrics:
            b = metrics["baseline"]
            rows.append(("input counts (no SNN)", b["train_accuracy"], b["test_accuracy"], b["n_features"]))
        return rows
    return [
        (result_label(metrics["model"], name, readouts[name]["readout"]), *(readouts[name][k] for k in _ROW_KEYS))
        for name in _order(metrics)
    ]


def _order(metrics: dict) -> list[str]:
    """Names of ``metrics["readouts"]``: the reported one, the others, network+input, the input baseline."""
    main = metrics["model"].get("result")
    return sorted(metrics["readouts"], key=lambda k: (k != main, k.endswith("+input"), k == "input"))


def cv_cells(metrics: dict) -> list[str] | None:
    """Cross-validated training-split accuracy of every row of :func:`result_rows` (``mean ± fold sd``).

    None when the run did no cross-validation.
    """
    readouts = metrics.get("readouts")
    if not readouts or not any("cv" in r for r in readouts.values()):
        return None
    cells = []
    for name in _order(metrics):
        cv = readouts[name].get("cv")
        cells.append(f"{cv['mean']:.1%} ± {cv['fold_sd']:.1%}" if cv else "")
    return cells


_ROW_KEYS = ("train_accuracy", "test_accuracy", "n_features")


def result_label(model: dict, name: str, readout: str) -> str:
    """A result of a run in words: ``name`` from ``metrics["readouts"]``, read by ``readout``."""
    if name == "populations":
        return f"{model_name(model)}: class populations (R-STDP vote)"
    if name.startswith("hybrid_"):
        mode = name.removeprefix("hybrid_")
        return f"ReSpike hybrid, {HYBRID_MODE_WORDS.get(mode, mode)}"
    if name == "input":
        return f"input counts (no SNN) + {readout}" if model["kind"] != "input" else "input counts"
    if name.endswith("+input"):
        return f"{model_name(model)} and input counts + {readout}"
    return f"{model_name(model)} + {readout}"


def summary_table(metrics: dict) -> str:
    """A small text table of a run's accuracies (network beside the input baseline)."""
    rows = [("model", "train acc", "test acc", "features")]
    rows += [(what, f"{tr:.1%}", f"{te:.1%}", str(n)) for what, tr, te, n in result_rows(metrics)]
    cv = cv_cells(metrics)
    if cv is not None:
        rows = [(*rows[0], "CV on train split"), *((*r, c) for r, c in zip(rows[1:], cv, strict=True))]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]

    def line(r):
        return "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True))

    text = [
        f"{metrics['dataset']}: {metrics['n_train']} train / {metrics['n_test']} test clips, "
        f"{len(metrics['classes'])} classes",
        line(rows[0]),
        line(["-" * w for w in widths]),
    ]
    text += [line(r) for r in rows[1:]]
    if cv is not None:
        text.append(f"CV: {metrics.get('cv', 'on the training split')}; the test split is not used for it")
    if "spikes_per_neuron_per_sample" in metrics:
        where = "layer" if metrics["model"]["kind"] == "column" else "reservoir"
        text.append(
            f"{where} activity: {metrics['spikes_per_neuron_per_sample']:.2f} spikes/neuron/clip; "
            f"time (s): " + ", ".join(f"{k} {v:.1f}" for k, v in metrics["seconds"].items())
        )
    return "\n".join(text)


def _tau_m(model) -> np.ndarray:
    return np.concatenate([model.neuron_params_[p]["tau_m"] for p in ("exc", "inh") if p in model.neuron_params_])


def run_figures(run_dir, which=None, *, out=None, strict: bool = True) -> dict:
    """Draw the figures of a run into ``run_dir/figures`` (PNG and PDF).

    Parameters
    ----------
    run_dir : path
        A finished run directory.
    which : sequence of :data:`FIGURES`, optional
        Default: every figure of :data:`FIGURES` whose input files the run has.
    out : path, optional
        Figure folder (default ``run_dir/figures``).
    strict : bool
        Raise when a requested figure's input file is missing; otherwise skip it
        (a run without a network has no raster and no model; receptive fields and
        reward dynamics are a column's, the activity figure a reservoir's).

    Returns
    -------
    dict of str -> (list of Path, dict)
        Figure name -> (written files, the data it plotted).  Weight figures are
        named ``weights_<pathway>`` and ``weight_matrices``; ``membrane`` appears
        when the run recorded membrane traces.
    """
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "figures"
    if which is None:
        which = _drawable(run_dir, FIGURES)
    unknown = set(which) - set(FIGURES)
    if unknown:
        raise ValueError(f"unknown figure(s) {sorted(unknown)}; choose from {FIGURES}")
    metrics = load_metrics(run_dir)
    which = list(which) if strict else _drawable(run_dir, which)
    kind = metrics["model"].get("kind")
    wrong = [w for w in which if kind not in _KIND_FIGURES.get(w, (kind,))]
    if wrong:
        raise ValueError(f"figure(s) {wrong} need a {' or '.join(_KIND_FIGURES[wrong[0]])} run; {run_dir} is {kind}")
    raster = load_raster(run_dir) if {"raster", "activity"} & set(which) else None
    model = load_model(run_dir) if {"weights", "activity", "receptive_fields", "reward"} & set(which) else None
    if "raster" in which and raster is None:
        raise FileNotFoundError(f"raster.npz not found in {run_dir}")
    attention = load_attention(run_dir) if "attention" in which else None
    made = {}
    for name, (fig, data) in _figures(which, metrics, raster, model, attention):
        made[name] = (save_figure(fig, out / name), data)
    return made


def _drawable(run_dir: Path, which) -> list[str]:
    """The figures of ``which`` whose input files exist and that apply to the run's model."""
    has_model, has_raster = (run_dir / "model.npz").is_file(), (run_dir / "raster.npz").is_file()
    has_attention = (run_dir / "attention.npz").is_file()
    kind = load_metrics(run_dir)["model"].get("kind")
    return [
        w
        for w in which
        if (w != "raster" or has_raster)
        and (w not in ("weights", "activity", "receptive_fields", "reward") or has_model)
        and (w != "attention" or has_attention)
        and kind in _KIND_FIGURES.get(w, (kind,))
    ]


def _figures(which, metrics: dict, raster: dict | None, model, attention: dict | None = None):
    """Yield ``(name, (fig, data))`` of every requested figure, one at a time."""
    if "raster" in which:
        if "layer_i" in raster:
            yield "raster", plot_column_raster(raster, class_names=class_names(metrics, range(raster["n_class_pops"])))
        else:
            yield "raster", plot_run_raster(raster, class_names=class_names(metrics, raster["labels"]))
    if "weights" in which:
        for p, snaps in model.snapshots_.items():
            if snaps.size:
                yield f"weights_{p}", plot_weight_dynamics(snaps, model.snapshot_times_, pathway=p, w_max=model.w_max)
        shown = [p for p in ("ee", "in_exc", "in_inh") if p in model.weights_]
        if shown:
            yield "weight_matrices", plot_weight_matrices(model, shown)
    if "activity" in which and raster is not None:
        yield from _activity_figures(metrics, raster, model)
    if "confusion" in which:
        yield "confusion", plot_confusion(metrics["confusion_matrix"], metrics["classes"])
    if "attention" in which:
        per_class = {k.removesuffix("_per_class"): v for k, v in attention.items() if k.endswith("_per_class")}
        yield "attention", plot_attention(per_class, metrics["classes"], bin_ms=attention.get("bin_ms"))
    if "receptive_fields" in which:
        yield "receptive_fields", plot_column_receptive_fields(model)
    if "reward" in which:
        yield "reward", plot_reward_dynamics(model)


def _activity_figures(metrics: dict, raster: dict, model):
    """The reservoir's activity figure, and its membrane traces where the run recorded them."""
    label = metrics["model"].get("variant", "reservoir")
    yield "activity", plot_activity({label: {"raster": raster, "tau_m": _tau_m(model)}})
    if "v" in raster:
        v_th = model.neuron_params_["exc"]["v_th"][np.asarray(raster["v_i"], dtype=int)]
        t = np.arange(raster["v"].shape[1]) * raster["dt"]
        windows = np.asarray(raster["windows"]) * raster["dt"]
        yield "membrane", plot_membrane_traces(t, raster["v"], neurons=raster["v_i"], v_th=v_th, windows=windows)


def _model_sentence(model: dict) -> str:
    where = f"(device {model.get('device')}, dt {model.get('dt')} ms, seed {model.get('seed')})."
    if model.get("kind") == "hrsnn":
        return f"reservoir **HRSNN {model.get('variant')}** with {model.get('n')} neurons {where}"
    if model.get("kind") == "hybrid":
        return (
            f"**ReSpike hybrid**: key frames (Gabor/HOG tokens on {model.get('scales')} grids) and the residual "
            f"frames' {_model_sentence({**model, 'kind': model.get('branch')})}"
        )
    if model.get("kind") == "column":
        gx, gy = model.get("tiles") or (1, 1)
        return (
            f"**cortical column** {model.get('variant')}: {gx} x {gy} column(s) of {model.get('n_layer')} layer "
            f"neurons ({model.get('lateral')} inhibition), class populations of {model.get('n_per_class')} {where}"
        )
    return "no network (input counts)."


def _column_lines(rel: dict, m: dict) -> list[str]:
    """Report paragraphs of a column run's receptive fields and reward dynamics."""
    lines = []
    if "receptive_fields" in rel:
        lines.append(
            _img(
                rel["receptive_fields"],
                "Learned receptive fields: each layer neuron's input weights on the frame grid, one grid per "
                "input map (grey: pixels outside its column's tile).",
            )
        )
    if "reward" in rel:
        acc = m.get("reward_accuracy") or []
        if acc:
            lines.append(
                "During the reward phase the rewarded class won the vote in "
                + ", ".join(f"{a:.0%}" for a in acc)
                + " of the training clips (per epoch).\n"
            )
        lines.append(
            _img(
                rel["reward"],
                "R-STDP: mean layer \u2192 class weight onto each class population over learning, and the "
                "share of reward-phase clips the rewarded class won.",
            )
        )
    return lines


def _img(rel: str, caption: str) -> str:
    return f"![{Path(rel).stem}]({rel})\n\n*{caption}*\n"


def write_run_report(run_dir, made: dict | None = None) -> Path:
    """Write ``run_dir/report.md``: what was run, accuracies, activity, energy and figures.

    Parameters
    ----------
    run_dir : path
    made : dict, optional
        Output of :func:`run_figures` (drawn here if not given).
    """
    run_dir = Path(run_dir)
    made = run_figures(run_dir, strict=False) if made is None else made
    m, cfg = load_metrics(run_dir), load_config_file(run_dir)
    model = m["model"]
    rel = {k: Path(os.path.relpath(p[0], run_dir)).as_posix() for k, (p, _) in made.items()}
    lines = [
        f"# Run report: {run_dir.name}",
        "",
        f"Dataset **{m.get('dataset')}** ({m['n_train']} training / {m['n_test']} test clips, "
        f"{len(m['classes'])} classes), encoder **{m.get('encoder')}** ({m.get('n_input', '?')} input channels), "
        + _model_sentence(model),
        "",
        "## Accuracy",
        "",
    ]
    cv = cv_cells(m)
    if cv is None:
        lines += ["| model | train | test | features |", "|---|---|---|---|"]
        lines += [f"| {what} | {tr:.1%} | {te:.1%} | {n} |" for what, tr, te, n in result_rows(m)]
    else:
        lines += [
            f"| model | train | test | features | CV on train split ({m.get('cv', '')}) |",
            "|---|---|---|---|---|",
        ]
        rows = zip(result_rows(m), cv, strict=True)
        lines += [f"| {what} | {tr:.1%} | {te:.1%} | {n} | {c} |" for (what, tr, te, n), c in rows]
    lines += [
        "",
        "Per-class test accuracy: " + ", ".join(f"{c} {a:.0%}" for c, a in m["per_class_accuracy"].items()) + ".",
        "",
    ]
    if "confusion" in rel:
        lines.append(
            _img(
                rel["confusion"],
                "Confusion matrix of the test clips (numbers: counts; colour: fraction of the true class).",
            )
        )
    if "attention" in rel:
        lines.append(
            _img(
                rel["attention"],
                "Attention readout: weight each time bin receives (last block, mean over heads and queries), "
                "averaged over the test clips of each class; the cyan mark on the colour bar is uniform attention.",
            )
        )
    if "synaptic_events_per_sample" in m:
        lines += ["## Activity and energy (estimate)", "", format_energy(run_energy(run_dir)), ""]
    if "raster" in rel and model.get("kind") == "column":
        lines.append(
            _img(
                rel["raster"],
                "First test clips: input spikes, layer spikes and the class populations (shaded: the clip's "
                "class; above each clip: true class \u2192 the populations' vote).",
            )
        )
    elif "raster" in rel:
        lines.append(
            _img(
                rel["raster"],
                "First test clips: input spikes (top), reservoir spikes (E blue, I red) "
                "and the population rate (bottom); shaded: clip windows.",
            )
        )
    lines += _column_lines(rel, m)
    if "activity" in rel:
        d = next(iter(made["activity"][1].values()))
        rate = d["stats"]["rate"]
        lines.append(
            f"Firing rate over these clips: median {np.median(rate):.1f} Hz (range {rate.min():.1f}-"
            f"{rate.max():.1f} Hz); ISI CV defined for {d['n_cv']} of {len(rate)} neurons; "
            f"\u03c4_m {d['tau_m_ms'].mean():.1f} \u00b1 {d['tau_m_ms'].std():.1f} ms (mean \u00b1 std).\n"
        )
        lines.append(
            _img(
                rel["activity"],
                "Firing-rate and ISI-CV distributions over the raster clips, and the "
                "membrane time constants of all reservoir neurons.",
            )
        )
    if "membrane" in rel:
        lines.append(_img(rel["membrane"], "Membrane potential of a few excitatory neurons."))
    weights = [k for k in rel if k.startswith("weights_")]
    if weights or "weight_matrices" in rel:
        lines += ["## Weights (learning phases)", ""]
        for k in weights:
            d = made[k][1]
            lines.append(
                f"`{k[8:]}`: mean weight {d['mean'][0]:.3f} \u2192 {d['mean'][-1]:.3f}, std "
                f"{d['std'][0]:.3f} \u2192 {d['std'][-1]:.3f} over {ms_to_seconds(d['times'][-1]):.2f} s.\n"
            )
            lines.append(
                _img(
                    rel[k],
                    f"Pathway {k[8:]}: weight distribution over training, mean \u00b1 std, "
                    f"sample trajectories, before/after.",
                )
            )
        if "weight_matrices" in rel:
            lines.append(_img(rel["weight_matrices"], "Weight matrices before and after learning."))
    lines += [
        "## Configuration",
        "",
        "```yaml",
        (run_dir / "config.yaml").read_text().rstrip() if (run_dir / "config.yaml").is_file() else str(cfg),
        "```",
        "",
    ]
    return atomic_write_text(run_dir / "report.md", "\n".join(lines))


def _run_note(summary: dict) -> str:
    r = summary.get("run") or {}
    text = (
        f"{summary['n_finished']} of {summary['n_cells']} cells finished "
        f"({len(r.get('executed', []))} run now, {len(r.get('skipped', []))} reused)."
    )
    if r.get("failed"):
        text += "\n\nFailed cells:\n\n" + "\n".join(f"- `{k}`: {v}" for k, v in r["failed"].items())
    return text


def write_ablation_report(out, summary: dict, table: str) -> Path:
    """``out/report.md`` of the heterogeneity ablation."""
    out = Path(out)
    lines = [
        "# Heterogeneity ablation",
        "",
        "Four reservoirs that differ only in heterogeneity: homogeneous or heterogeneous neurons "
        "(membrane time constants, `N`) and synapses (STDP parameters, `S`). For a given seed all "
        "variants share connectivity and initial weights. Accuracy: test set; CI: 95 % "
        "(t-distribution over seeds, clipped to [0, 1]).",
        "",
        _run_note(summary),
        "",
        table,
        "",
    ]
    if (out / "ablation.png").is_file():
        lines.append(
            _img(
                "ablation.png",
                "Test accuracy per variant: bars = mean, whiskers = 95 % CI, dots = "
                "seeds, dashed line = input-count baseline without SNN.",
            )
        )
    est = next((s.get("energy") for s in summary["variants"].values() if s.get("energy")), None)
    if est:
        lines += ["## Energy (estimate)", "", est["assumptions"], ""]
        for v, s in summary["variants"].items():
            e = s.get("energy")
            if e:
                lines.append(
                    f"- {v}: {format_nj(e['snn_nJ'])} nJ per clip (SNN) vs {format_nj(e['ann_frame_nJ'])}"
                    f" nJ for the rate-based reference updated once per frame, "
                    f"{format_nj(e['ann_step_nJ'])} nJ once per step"
                )
        lines.append("")
    lines += ["Files: `ablation.json` (all numbers), `ablation.md` (table), `<variant>/seed<k>/` (runs).", ""]
    return atomic_write_text(out / "report.md", "\n".join(lines))


def write_encoder_report(out, summary: dict, table: str) -> Path:
    """``out/report.md`` of the encoding study."""
    out = Path(out)
    lines = [
        "# Encoding study",
        "",
        f"One {summary.get('model')} configuration fed by different video-to-spike encoders; every other "
        "entry of the configuration is the same. Each encoder is compared with the input-count baseline of "
        "its own spikes (the same readout without a network), since encoders differ in what they give "
        "any classifier. Accuracy: test set; CI: 95 % (t-distribution over seeds, clipped to [0, 1]).",
        "",
        _run_note(summary),
        "",
        table,
        "",
    ]
    if (out / "encoders.png").is_file():
        lines.append(
            _img(
                "encoders.png",
                "Test accuracy per encoder: network (bars = mean, whiskers = 95 % CI, dots = seeds) beside the "
                "input-count baseline of the same spikes.",
            )
        )
    lines += ["## Encoder parameters", ""]
    for e, s in summary["encoders"].items():
        lines.append(f"- `{e}`: " + (", ".join(f"{k}={v}" for k, v in (s.get("params") or {}).items()) or "defaults"))
    for e, why in (summary.get("skipped") or {}).items():
        lines.append(f"- `{e}`: skipped ({why})")
    lines += ["", "Files: `encoders.json` (all numbers), `encoders.md` (table), `<encoder>/seed<k>/` (runs).", ""]
    return atomic_write_text(out / "report.md", "\n".join(lines))


def write_hybrid_report(out, summary: dict, table: str) -> Path:
    """``out/report.md`` of the hybrid ablation."""
    out = Path(out)
    lines = [
        "# Hybrid ablation (ReSpike)",
        "",
        "Each seed runs the spiking branch once on the residual frames; the hybrid classifier is then fitted "
        "in its four modes on the same tokens: key frames only, spiking branch only, both concatenated, and "
        "both fused by cross-attention (queries from the spike tokens, keys/values from the key-frame tokens). "
        "Beside them: a linear readout of the branch network's features and the input-count baseline of the "
        "residual spikes. Accuracy: test set; CI: 95 % (t-distribution over seeds, clipped to [0, 1]).",
        "",
        _run_note(summary),
        "",
        table,
        "",
    ]
    if (out / "hybrid.png").is_file():
        lines.append(
            _img("hybrid.png", "Test accuracy of every result: bars = mean, whiskers = 95 % CI, dots = seeds.")
        )
    lines += ["Files: `hybrid.json` (all numbers), `hybrid.md` (table), `seed<k>/` (runs).", ""]
    return atomic_write_text(out / "report.md", "\n".join(lines))


def write_fraction_report(out, summary: dict, table: str) -> Path:
    """``out/report.md`` of the training-fraction study."""
    out = Path(out)
    lines = [
        "# Accuracy against the amount of training data",
        "",
        "Each cell trains on a stratified subset of the training split (the fraction of every "
        "class, at least one clip, drawn with the cell's seed); the unsupervised STDP phase and the "
        "readout both see only that subset; the test set is always complete. CI: 95 % "
        "(t-distribution over seeds, clipped to [0, 1]).",
        "",
        _run_note(summary),
        "",
        table,
        "",
    ]
    if (out / "train_fraction.png").is_file():
        lines.append(
            _img(
                "train_fraction.png",
                "Test accuracy against the fraction of training clips (lines: mean; bands: 95 % CI).",
            )
        )
    lines += [
        "Files: `train_fraction.json` (all numbers), `train_fraction.md` (table), `<variant>/frac<f>/seed<k>/` (runs).",
        "",
    ]
    return atomic_write_text(out / "report.md", "\n".join(lines))
