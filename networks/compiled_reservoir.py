"""The HRSNN reservoir as a compiled program: built once per shape, run with new data.

On ``cpp_standalone`` an :class:`~networks.hrsnn.HRSNN` does not write a new C++
project per phase.  It compiles, once per *shape* (sizes, synapse model, learning
rule, clip slots), a program whose every value arrives on the command line
(:mod:`cortex.standalone`): per-neuron parameters, connectivity tables (the program
creates its synapses from them), weights, STDP parameters and input spikes.  Later
phases, runs and study cells of the same shape compile nothing.

Layout of one run: ``slots`` consecutive slots of ``slot_steps`` steps, each a silent
gap then a window long enough for the longest clip; every slot starts with a reset of
every neuron (:func:`cortex.neurons.lif_reset_code`), so with frozen weights a clip's
spikes are those of a fresh network.  Frozen runs hold ``copies`` identical
reservoirs side by side (one group, block-diagonal connectivity, each copy fed its
own clip), which simulates several clips per time step and equals one copy spike for
spike.  Input spikes come from a table: input neuron ``c`` fires when the step of its
next spike, ``events[ptr]``, is reached, then moves ``ptr`` on.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from brian2 import Clock, Network, NeuronGroup, SpikeMonitor, StateMonitor, TimedArray, defaultclock, ms, mV, nA, second
from tqdm.auto import tqdm

from cortex.neurons import lif_group, lif_parameter_names, lif_reset_code, set_decay_factors
from cortex.standalone import CompiledProgram, ProgramSpec, apply_values_here, compile_program
from cortex.synapses import ConnectAtRun, STDPParams, static_synapses, stdp_synapses
from stimuli.sequence import stimulus_headers
from stimuli.types import SpikeStimulus

from .reservoir import ReservoirDraws, assemble_result, draw_reservoir, pathway_J
from .simulation import SimulationResult
from .timeline import MergedSpikesWarning, Timeline
from .topology import PATHWAYS, fan_out

if TYPE_CHECKING:
    from .hrsnn import HRSNN

__all__ = [
    "COMPILED_DEVICES",
    "auto_copies",
    "learning_slots",
    "reservoir_program",
    "simulate_compiled",
    "window_length",
]

#: Devices whose programs take values on the command line (Brian2's ``run_args``; brian2cuda
#: 1.0b1 copies each value to the GPU after reading it).
COMPILED_DEVICES = ("cpp_standalone", "cuda_standalone")
#: Pathways leaving each group.
_OUTGOING = {src: [pw for pw, (s, _, _) in PATHWAYS.items() if s == src] for src in ("input", "exc", "inh")}
#: Smallest table of input spikes (values): keeps small data sets on one shape.
_MIN_EVENTS = 1 << 16
#: Per-synapse state of a plastic pathway that a learning run hands to the next.
_LEARNING_STATE = ("w", "apre", "apost", "lastupdate")
#: Clips one frozen run simulates (slots x copies, rounded up); several runs go in parallel.
CLIPS_PER_RUN = 32
#: Most clip slots of one learning run (a power of two); see :func:`learning_slots`.
LEARN_SLOTS = 32


# --------------------------------------------------------------------------- shape
def _pow2(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


def window_length(steps: int) -> int:
    """A clip window of ``steps`` rounded up to a coarse grid (at most 25 % longer).

    Data sets whose longest clips differ a little share one compiled shape.
    """
    steps = max(int(steps), 1)
    grain = max(1 << max(steps.bit_length() - 3, 0), 1)
    return -(-steps // grain) * grain


def learning_slots(n_clips: int, snapshots: int) -> int:
    """Clip slots of each learning run: a power of two, at most :data:`LEARN_SLOTS`.

    The largest power of two that still gives ``snapshots`` runs (one snapshot after
    each), so a learning program's shape takes one of six values whatever the number
    of training clips: training sets of other sizes (a training-fraction study, a
    larger data set) reuse it.  The last run's unused slots are silent.
    """
    want = max(-(-int(n_clips) // max(int(snapshots), 1)), 1)
    return min(LEARN_SLOTS, 1 << (want.bit_length() - 1))


def _spaced(n_runs: int, keep: int) -> np.ndarray:
    """Indices of ``keep`` runs spread evenly over ``n_runs``, the last one always among them."""
    if keep >= n_runs:
        return np.arange(n_runs)
    return np.unique(np.rint(np.linspace(n_runs / keep - 1, n_runs - 1, keep)).astype(int))


def auto_copies(device: str, n_neurons: int, n_synapses: int) -> int:
    """Copies of the reservoir simulated side by side in a frozen run.

    On a GPU, up to 256 copies within about 2 GB; on a CPU one: copies share only the
    small per-step cost of each code object, which measured no faster
    (``benchmarks/bench_reservoir_throughput.py``), and parallel binaries use the cores.
    Independent of the number of clips, so every set of one data set runs one program.
    """
    if device != "cuda_standalone":
        return 1
    per_copy = 64 * n_neurons + 24 * n_synapses  # bytes: state + weights, indices, queues
    return int(max(1, min(256, (2 << 30) // max(per_copy, 1))))


def reservoir_program(
    *,
    synapse: str,
    rule: str,
    plastic: Sequence[str],
    n_exc: int,
    n_inh: int,
    n_input: int,
    copies: int,
    slots: int,
    slot_steps: int,
    dt: float,
    tables: dict,
    events: int,
    record_v: int,
) -> ProgramSpec:
    """Brian2 objects of the compiled reservoir (a builder for :func:`cortex.standalone.compile_program`).

    Parameters
    ----------
    plastic : sequence of str
        Pathways with STDP; empty for a frozen program (static synapses: the same
        spikes as STDP synapses with ``plastic = 0``, at a fraction of the cost).
    copies : int
        Reservoirs side by side.
    slots, slot_steps : int
        Clip slots per run and their length (steps).
    dt : float
        Time step, ms.
    tables : dict of str -> int
        Capacity of each pathway's connectivity table (targets).
    events : int
        Capacity of the input spike table.
    record_v : int
        Membranes recorded per copy (the first excitatory neurons), frozen programs.
    """
    dt_q = dt * ms
    defaultclock.dt = dt_q
    B = int(copies)

    def table_eqs(src):
        return "".join(f"\nstart_{pw} : integer (constant)\ncount_{pw} : integer (constant)" for pw in _OUTGOING[src])

    # current-based: exp(-dt/tau) per neuron once per run, not three per neuron and step
    method = "decay_factors" if synapse == "current" else "exponential_euler"
    groups = {
        pop: lif_group(n * B, synapse=synapse, name=pop, dt=dt_q, extra_eqs=table_eqs(pop), method=method)
        for pop, n in (("exc", n_exc), ("inh", n_inh))
    }
    spike_table = TimedArray(np.zeros(int(events)), dt=1 * second, name="events")
    groups["input"] = NeuronGroup(
        n_input * B,
        "next_step : integer\nptr : integer\nstop : integer" + table_eqs("input"),
        threshold="next_step == timestep(t, dt)",
        reset="ptr += 1\nnext_step = int(events(ptr*second)) * int(ptr < stop) - int(ptr >= stop)",
        namespace={"events": spike_table},
        name="input",
    )
    targets = {pw: TimedArray(np.zeros(int(tables[pw])), dt=1 * second, name=f"targets_{pw}") for pw in PATHWAYS}
    apply_values_here("early")
    synapses = {}
    for pw, (src, tgt, excitatory) in PATHWAYS.items():
        connect = ConnectAtRun(
            f"int(targets((start_{pw}_pre + k)*second)) for k in range(count_{pw}_pre)", {"targets": targets[pw]}
        )
        common = dict(
            target="e" if excitatory else "i", J=nA if synapse == "current" else 1.0, connect=connect, name=pw
        )
        if pw in plastic:
            synapses[pw] = stdp_synapses(groups[src], groups[tgt], STDPParams(), rule=rule, dt=dt_q, **common)
        else:
            synapses[pw] = static_synapses(groups[src], groups[tgt], **common)
    apply_values_here("late")
    if method == "decay_factors":  # from the time constants just set
        for pop in ("exc", "inh"):
            set_decay_factors(groups[pop])
    slot_clock = Clock(dt=slot_steps * dt_q, name="slot_clock")
    for pop in ("exc", "inh"):  # first thing of a slot's first step, before any monitor
        groups[pop].run_regularly(
            lif_reset_code(synapse), clock=slot_clock, when="start", order=-10, name=f"slot_reset_{pop}"
        )
    monitors = {pop: SpikeMonitor(groups[pop], name=f"spikes_{pop}") for pop in ("exc", "inh")}
    if record_v and not plastic:
        rec = (np.arange(B)[:, None] * n_exc + np.arange(record_v)[None, :]).ravel()
        monitors["v"] = StateMonitor(groups["exc"], "v", record=rec, name="v_exc")
    args, outputs = _interface(synapse, groups, synapses, monitors, spike_table, targets, plastic)
    net = Network(*groups.values(), *synapses.values(), *monitors.values())
    net.run(slots * slot_steps * dt_q, namespace={})
    return ProgramSpec(args=args, outputs=outputs, info={"copies": B, "slots": int(slots)})


def _interface(synapse, groups, synapses, monitors, spike_table, targets, plastic) -> tuple[dict, dict]:
    """The program's values (``args``) and outputs, keyed by the names :class:`_Program` uses."""
    outputs = {}
    for pop in ("exc", "inh"):
        outputs[f"{pop}_i"] = (monitors[pop].variables["i"], None)
        outputs[f"{pop}_t"] = (monitors[pop].variables["t"], None)
        outputs[f"{pop}_v"] = (groups[pop].variables["v"], None)
    if "v" in monitors:
        outputs["v"] = (monitors["v"].variables["v"], len(monitors["v"].record))
    for pw in plastic:  # the learning state, carried from one run to the next
        for name in _LEARNING_STATE:
            outputs[f"{pw}.{name}"] = (synapses[pw].variables[name], None)
    args = {}
    for pop in ("exc", "inh"):
        for name in ("v", *lif_parameter_names(synapse)):
            args[f"{pop}.{name}"] = (groups[pop].variables[name], "late")
    for name in ("next_step", "ptr", "stop"):
        args[f"input.{name}"] = (groups["input"].variables[name], "late")
    args["events"] = (spike_table, "late")
    for pw, (src, _, _) in PATHWAYS.items():
        args[f"targets_{pw}"] = (targets[pw], "early")
        args[f"{src}.start_{pw}"] = (groups[src].variables[f"start_{pw}"], "early")
        args[f"{src}.count_{pw}"] = (groups[src].variables[f"count_{pw}"], "early")
        args[f"{pw}.w"] = (synapses[pw].variables["w"], "late")
        args[f"{pw}.J"] = (synapses[pw].variables["J"], "late")
        if pw in plastic:
            for name in ("A_plus", "A_minus", "taupre", "taupost", "w_max", "plastic", *_LEARNING_STATE[1:]):
                args[f"{pw}.{name}"] = (synapses[pw].variables[name], "late")
    return args, outputs


# --------------------------------------------------------------------------- values
@dataclass
class _Layout:
    """Where clips go in one program's runs."""

    copies: int
    slots: int
    slot_steps: int
    gap_steps: int

    @property
    def per_run(self) -> int:
        return self.copies * self.slots

    @property
    def total_steps(self) -> int:
        return self.slots * self.slot_steps


def _input_values(clips: Sequence[SpikeStimulus], layout: _Layout, n_input: int, dt: float, capacity: int):
    """Spike table and per-channel pointers for up to ``layout.per_run`` clips.

    Returns the values, the number of merged input spikes, each clip's window (steps) and
    the input spikes per channel after merging (what reaches the synapses).
    """
    B, total = layout.copies, layout.total_steps
    chans, steps, lengths = [], [], []
    for c, stim in enumerate(clips):
        idx, local, length = Timeline.clip_steps(stim, dt)
        lengths.append(length)
        b, slot = c % B, c // B
        chans.append(idx + b * n_input)
        steps.append(local + slot * layout.slot_steps + layout.gap_steps)
    chans = np.concatenate(chans) if chans else np.zeros(0, np.int64)
    steps = np.concatenate(steps) if steps else np.zeros(0, np.int64)
    key = np.unique(chans * total + steps)  # sorted by (channel, step), duplicates merged
    merged = chans.size - key.size
    chan, step = key // total, key % total
    if key.size > capacity:
        raise ValueError(f"events: {key.size} input spikes exceed the program's table of {capacity}")
    table = np.zeros(capacity)
    table[: key.size] = step
    n_ch = n_input * B
    ptr = np.searchsorted(chan, np.arange(n_ch)).astype(np.int32)
    stop = np.searchsorted(chan, np.arange(n_ch), side="right").astype(np.int32)
    nxt = np.where(ptr < stop, table[np.minimum(ptr, capacity - 1)], -1).astype(np.int32)
    values = {"events": table, "input.ptr": ptr, "input.stop": stop, "input.next_step": nxt}
    return values, merged, lengths, np.bincount(chan % n_input, minlength=n_input)


class _Program:
    """One compiled reservoir program and the values every run of it shares."""

    def __init__(self, model: HRSNN, draws: ReservoirDraws, *, n_input, layout, plastic, weights, events, record_v):
        self.model, self.layout, self.n_input = model, layout, n_input
        #: Input spikes per channel this program has been fed (synaptic events of the input pathways).
        self.input_counts = np.zeros(int(n_input), dtype=np.int64)
        self._lock = threading.Lock()
        B = layout.copies
        group_sizes = {"input": n_input, "exc": model.n_exc, "inh": model.n_inh}
        self.order, self.sizes, values = {}, {}, {}
        tables = {}
        for pw, (src, tgt, _) in PATHWAYS.items():
            i, j = (np.asarray(a, dtype=np.int64) for a in draws.structure[pw])
            order = np.argsort(i, kind="stable")  # the program creates synapses in source order
            self.order[pw] = order
            n_syn = len(i)
            ib = (i[order][None, :] + group_sizes[src] * np.arange(B)[:, None]).ravel()
            jb = (j[order][None, :] + group_sizes[tgt] * np.arange(B)[:, None]).ravel()
            tables[pw] = _pow2(max(ib.size, 1))
            table = np.zeros(tables[pw])
            table[: jb.size] = jb
            values[f"targets_{pw}"] = table
            n_src = group_sizes[src] * B
            values[f"{src}.start_{pw}"] = np.searchsorted(ib, np.arange(n_src)).astype(np.int32)
            values[f"{src}.count_{pw}"] = np.bincount(ib, minlength=n_src).astype(np.int32)
            w = weights[pw] if pw in weights else draws.weights_init[pw]
            values[f"{pw}.w"] = np.tile(np.asarray(w, dtype=float)[order], B)
            values[f"{pw}.J"] = float(np.asarray(pathway_J(model, pw)))
            self.sizes[f"{pw}.w"] = n_syn * B
            if pw in plastic:
                for name, v in draws.synapse_values[pw].items():
                    values[f"{pw}.{name}"] = np.tile(np.asarray(v, dtype=float)[order], B)
                    self.sizes[f"{pw}.{name}"] = n_syn * B
                values[f"{pw}.w_max"] = float(model.w_max)
                values[f"{pw}.plastic"] = 1.0
                for name in _LEARNING_STATE[1:]:
                    values[f"{pw}.{name}"] = np.zeros(n_syn * B)
                    self.sizes[f"{pw}.{name}"] = n_syn * B
        for pop, drawn in draws.neurons.items():
            for name, v in drawn.items():
                values[f"{pop}.{name}"] = np.tile(np.asarray(v, dtype=float), B)
        self.values = values
        shape = dict(
            synapse=model.synapse,
            rule=model.rule,
            plastic=list(plastic),
            n_exc=model.n_exc,
            n_inh=model.n_inh,
            n_input=int(n_input),
            copies=B,
            slots=layout.slots,
            slot_steps=layout.slot_steps,
            dt=float(model.dt),
            tables=tables,
            events=int(events),
            record_v=int(record_v),
        )
        self.events = int(events)
        self.program: CompiledProgram = compile_program(
            reservoir_program,
            shape,
            device=model.device,
            root=model.build_dir,
            modules=("networks.topology",),  # the pathways the program creates
            log=(lambda line: print(line, flush=True)) if model.progress else None,
        )

    def run(self, clips: Sequence[SpikeStimulus]) -> tuple[list[dict], dict, int]:
        """One run on up to ``layout.per_run`` clips.

        Returns each clip's spikes (:func:`_clip_spikes`), the program's outputs and the
        number of merged input spikes.
        """
        inputs, merged, lengths, counts = _input_values(clips, self.layout, self.n_input, self.model.dt, self.events)
        with self._lock:
            self.input_counts += counts
        out = self.program.run({**self.values, **inputs}, sizes=self.sizes)
        n = {"exc": self.model.n_exc, "inh": self.model.n_inh}
        return _clip_spikes(out, self.layout, n, self.model.dt, lengths), out, merged

    def carry(self, out: dict, plastic, used_slots: int) -> None:
        """Start the next run from the learning state at the end of ``out``'s first ``used_slots`` slots.

        Slots after those are silent (no input, no spike, so no synaptic event): the next
        run continues from the end of the last clip.
        """
        seconds = used_slots * self.layout.slot_steps * self.model.dt * 1e-3
        for pw in plastic:
            for name in _LEARNING_STATE:
                value = out[f"{pw}.{name}"]
                # event-driven traces decay from ``lastupdate``: move it onto the next run's clock
                self.values[f"{pw}.{name}"] = value - seconds if name == "lastupdate" else value


# --------------------------------------------------------------------------- reading back
def _clip_spikes(out: dict, layout: _Layout, n: dict, dt: float, lengths: list[int]):
    """Per clip of a run: ``{pop: (neuron, local step)}`` inside the clip's window."""
    B, P, g = layout.copies, layout.slot_steps, layout.gap_steps
    per_clip = [dict() for _ in lengths]
    for pop in ("exc", "inh"):
        i = out[f"{pop}_i"].astype(np.int64)
        step = np.rint(out[f"{pop}_t"] / (dt * 1e-3)).astype(np.int64)
        clip = (step // P) * B + i // n[pop]
        local = step % P - g
        keep = (clip < len(lengths)) & (local >= 0)
        keep[keep] &= local[keep] < np.asarray(lengths)[clip[keep]]
        order = np.argsort(clip[keep], kind="stable")  # spikes stay in time order within a clip
        neuron, local, clip = (i % n[pop])[keep][order], local[keep][order], clip[keep][order]
        bounds = np.searchsorted(clip, np.arange(len(lengths) + 1))
        for c in range(len(lengths)):
            per_clip[c][pop] = (neuron[bounds[c] : bounds[c + 1]], local[bounds[c] : bounds[c + 1]])
    if "v" in out:  # (steps, copies * record_v), volts
        v = out["v"].reshape(layout.slots, P, B, -1)
        for c, length in enumerate(lengths):
            per_clip[c]["v"] = v[c // B, g : g + length, c % B, :].T / 1e-3  # (record_v, length), mV
    return per_clip


def _run_all(prog: _Program, clips: list, *, n_jobs: int, desc: str, show: bool):
    """Run ``clips`` in chunks of ``prog.layout.per_run``, ``n_jobs`` binaries at once.

    Returns the per-clip spikes (in order), the outputs of the last run, and the
    number of merged input spikes.
    """
    chunk = prog.layout.per_run
    starts = list(range(0, len(clips), chunk))
    bar = tqdm(total=len(clips), desc=desc, unit="clip", disable=not show)
    lock = threading.Lock()

    def task(s):
        part = clips[s : s + chunk]
        spikes, out, merged = prog.run(part)
        with lock:
            bar.update(len(part))
        return spikes, out, merged

    try:
        if n_jobs == 1 or len(starts) == 1:
            results = [task(s) for s in starts]
        else:
            with ThreadPoolExecutor(max_workers=n_jobs) as pool:
                futures = [pool.submit(task, s) for s in starts]
                try:
                    results = [f.result() for f in futures]
                except BaseException:
                    for f in futures:
                        f.cancel()
                    CompiledProgram.kill_running()
                    raise
    finally:
        bar.close()
    per_clip = [sp for spikes, _, _ in results for sp in spikes]
    return per_clip, results[-1][1], sum(m for _, _, m in results)


def _n_jobs(n_jobs) -> int:
    if n_jobs is None:
        return 1
    if int(n_jobs) == -1:
        return max(len(os.sched_getaffinity(0)), 1)
    return int(n_jobs)


def simulate_compiled(
    model: HRSNN, *, train: list, extract: list[list], seed: int, n_input: int, weights, keep_train_spikes=True
) -> SimulationResult:
    """:meth:`HRSNN._simulate` on a standalone device, through compiled programs.

    The learning phase (all training clips, every epoch) runs a plastic program
    (:func:`_learn`); each feature phase runs a frozen program in chunks of
    :data:`CLIPS_PER_RUN` clips, ``model.n_jobs`` binaries at once.  Spikes are
    placed on the same axis of steps as the :class:`~networks.timeline.Timeline` of
    the per-phase path (spikes outside a clip's window are not kept).  Without
    ``keep_train_spikes`` (and without feature phases) the training phase's spikes are
    counted and dropped: the result's activity is the same, its spike arrays empty.
    """
    if extract and not keep_train_spikes:
        raise ValueError("keep_train_spikes=False: only for a training phase alone (its activity is then counted)")
    dt, epochs = float(model.dt), int(model.epochs) if train else 0
    # the layout only: clips are read (from a StoredStimuli, a run's worth at a time) as they are simulated
    timeline = Timeline(
        [(train, True)] * epochs + [(s, False) for s in extract], dt=dt, gap=model.gap, with_input=False
    )
    draws = draw_reservoir(model, n_input=n_input, seed=seed)
    window = window_length(max(int(np.diff(w, axis=1).max()) for w, _ in timeline.phase_windows() if len(w)))
    jobs = _n_jobs(model.n_jobs)
    record_v = int(model.record_v) if not epochs else 0
    plastic = model.plastic_pathways()
    learned = {pw: np.asarray(w) for pw, w in (weights or {}).items()}
    per_phase, last_out, merged = [], {}, 0
    snapshots, snap_t = {}, np.zeros(0)
    dropped = (0, 0.0)
    input_counts = np.zeros(int(n_input), dtype=np.int64)  # input spikes fed, per channel
    if epochs:
        spikes, learned, snapshots, snap_t, merged, last_out, dropped, fed = _learn(
            model, draws, train, epochs, n_input, window, keep=keep_train_spikes
        )
        per_phase.extend(spikes[k * len(train) : (k + 1) * len(train)] for k in range(epochs))
        input_counts += fed
    if extract:
        n_syn = sum(len(draws.structure[pw][0]) for pw in PATHWAYS)
        batch = model.batch
        B = auto_copies(model.device, model.n, n_syn) if batch == "auto" else int(batch)
        slots = -(-CLIPS_PER_RUN // B)  # fixed: a short last chunk runs silent slots, not a new program
        layout = _Layout(copies=B, slots=slots, slot_steps=window, gap_steps=0)
        per_chunk = [
            np.add.reduceat(n, np.arange(0, len(n), layout.per_run))
            for n in (stimulus_headers(s)["n_spikes"] for s in extract)
        ]
        events = _pow2(max(_MIN_EVENTS, int(max(c.max() for c in per_chunk))))
        prog = _Program(
            model,
            draws,
            n_input=n_input,
            layout=layout,
            plastic=(),
            weights=learned,
            events=events,
            record_v=record_v,
        )
        for k, clips in enumerate(extract):
            spikes, out, m = _run_all(
                prog, clips, n_jobs=jobs, desc=f"extract set {k + 1} (compiled)", show=model.progress
            )
            per_phase.append(spikes)
            last_out, merged = out, merged + m
        input_counts += prog.input_counts
    if merged:
        warnings.warn(
            f"{merged} input spikes fall into a network step of {dt:g} ms together with another spike of their "
            "channel and are merged; encode with dt >= the network dt to keep them",
            MergedSpikesWarning,
            stacklevel=3,
        )
    spikes, v = _place(per_phase, timeline, record_v)
    result = assemble_result(
        model,
        timeline,
        spikes=spikes,
        final_v={pop: last_out[f"{pop}_v"] / 1e-3 for pop in ("exc", "inh")},
        weights={pw: learned[pw] for pw in plastic if pw in learned},
        weights_init={pw: draws.weights_init[pw] for pw in plastic} if epochs else {},
        snapshots=snapshots,
        snapshot_times=snap_t,
        structure=draws.structure,
        neuron_params={
            pop: {
                "tau_m": np.asarray(values["tau_m"] / ms),
                "v_th": np.asarray(values["v_th"] / mV),
                "tau_ref": np.asarray(values["tau_ref"] / ms),
            }
            for pop, values in draws.neurons.items()
        },
        n_input=n_input,
        v=v,
    )
    if not keep_train_spikes:  # the counted activity of the spikes _learn dropped
        result.extra["spikes_per_neuron"] = dropped[0] / (model.n * max(len(timeline.feature_windows()), 1))
        result.extra["synaptic_events"] += dropped[1]
    # the input spikes' events (the layout-only timeline holds no input): each merged spike times its fan-out
    fan_in = fan_out(draws.structure, {"input": n_input, "exc": model.n_exc, "inh": model.n_inh})["input"]
    result.extra["synaptic_events"] += float(fan_in @ input_counts)
    return result


def _learn(model: HRSNN, draws: ReservoirDraws, train, epochs: int, n_input: int, window: int, *, keep: bool = True):
    """The learning phase (``epochs`` passes over ``train``) as consecutive runs of a plastic program.

    Each run continues the last.  Clips are read run by run (a
    :class:`~stimuli.sequence.StoredStimuli` is never read whole).  Runs of
    :func:`learning_slots` clips end on clip boundaries and hand their weights
    and STDP traces to the next, so the runs together equal one long run; the weights
    after ``model.snapshots`` runs spread evenly (the last included) are the snapshots,
    after the initial weights.

    Returns
    -------
    spikes : list of dict
        Per clip, as :func:`_clip_spikes`.
    weights, snapshots : dict of str -> ndarray
    snapshot_times : ndarray
        ms from the start of learning.
    merged : int
    last_out : dict
        Outputs of the last run.
    dropped : (int, float)
        With ``keep=False``: the spikes and their synaptic events (spikes times fan-out),
        counted instead of kept (``spikes`` then holds empty arrays per clip).
    """
    if not keep:
        fan = fan_out(draws.structure, {"input": n_input, "exc": model.n_exc, "inh": model.n_inh})
        empty = {pop: (np.zeros(0, np.int64), np.zeros(0, np.int64)) for pop in ("exc", "inh")}
    n_dropped, events_dropped = 0, 0.0
    dt, plastic = float(model.dt), model.plastic_pathways()
    gap_steps = int(round(model.gap / dt))
    n_train, total = len(train), len(train) * int(epochs)
    per_run = learning_slots(total, model.snapshots)
    layout = _Layout(copies=1, slots=per_run, slot_steps=gap_steps + window, gap_steps=gap_steps)
    runs = [range(k, min(k + per_run, total)) for k in range(0, total, per_run)]
    kept = set(_spaced(len(runs), int(model.snapshots)).tolist()) if int(model.snapshots) > 0 else set()
    n_spikes = np.tile(stimulus_headers(train)["n_spikes"], int(epochs))
    events = _pow2(max(_MIN_EVENTS, int(np.add.reduceat(n_spikes, np.arange(0, total, per_run)).max())))
    prog = _Program(
        model, draws, n_input=n_input, layout=layout, plastic=plastic, weights={}, events=events, record_v=0
    )
    spikes, merged, step, snap_steps, late = [], 0, 0, [0], 0
    snaps = {pw: [np.asarray(draws.weights_init[pw], dtype=float)] for pw in plastic}
    end_of_clips = (np.arange(per_run) + 1) * layout.slot_steps * dt * 1e-3  # s, per number of clips
    with tqdm(total=total, desc="train (compiled)", unit="clip", disable=not model.progress) as bar:
        for k, positions in enumerate(runs):
            run = [train[p % n_train] for p in positions]
            clip_spikes, out, m = prog.run(run)
            silent_from = end_of_clips[len(run) - 1] - 0.5e-3 * dt  # s: the first silent slot's first step
            late += sum(int(np.sum(out[f"{pop}_t"] > silent_from)) for pop in ("exc", "inh"))
            if not keep:
                for c in clip_spikes:
                    n_dropped += sum(len(c[pop][0]) for pop in ("exc", "inh"))
                    events_dropped += float(sum(fan[pop][c[pop][0]].sum() for pop in ("exc", "inh")))
                clip_spikes = [empty] * len(clip_spikes)
            spikes.extend(clip_spikes)
            merged += m
            prog.carry(out, plastic, len(run))
            step += len(run) * layout.slot_steps
            last = {pw: _unsort(out[f"{pw}.w"], prog.order[pw]) for pw in plastic}
            if k in kept:
                snap_steps.append(step)
                for pw in plastic:
                    snaps[pw].append(last[pw])
            bar.update(len(run))
    if late:
        warnings.warn(
            f"{late} spikes in the silent slots after the last clip of a learning run (activity without "
            "input): learning was not the same as one run without those slots",
            RuntimeWarning,
            stacklevel=3,
        )
    weights = last if runs else {pw: s[-1] for pw, s in snaps.items()}
    snapshots = {pw: np.stack(s) for pw, s in snaps.items()} if kept else {}
    snap_t = np.asarray(snap_steps, dtype=float) * dt if snapshots else np.zeros(0)
    return spikes, weights, snapshots, snap_t, merged, out, (n_dropped, events_dropped), prog.input_counts


def _unsort(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Values of the first copy, from the program's (source-sorted) order back to the structure's."""
    out = np.empty(len(order))
    out[order] = values[: len(order)]
    return out


def _place(per_phase: list[list[dict]], timeline: Timeline, record_v: int) -> tuple[dict, np.ndarray | None]:
    """Per-clip spikes (and membranes) of every phase on the timeline's axis of steps.

    Returns the spikes sorted by step, and the recorded membranes ``(record_v, steps)``
    in mV (NaN outside the clip windows) or None.
    """
    parts = {"exc": ([], []), "inh": ([], [])}
    v = np.full((record_v, timeline.total_steps), np.nan) if record_v else None
    for clips, (windows, _) in zip(per_phase, timeline.phase_windows(), strict=True):
        for spikes, (start, _) in zip(clips, windows, strict=True):
            for pop in ("exc", "inh"):
                idx, local = spikes[pop]
                parts[pop][0].append(idx)
                parts[pop][1].append(local + start)
            if v is not None and "v" in spikes:
                v[:, start : start + spikes["v"].shape[1]] = spikes["v"]
    out = {}
    for pop, (idx, steps) in parts.items():
        idx = np.concatenate(idx) if idx else np.zeros(0, np.int64)
        steps = np.concatenate(steps) if steps else np.zeros(0, np.int64)
        order = np.lexsort((idx, steps))
        out[pop] = (idx[order].astype(np.int64), steps[order].astype(np.int64))
    return out, v
