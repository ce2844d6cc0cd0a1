"""Clips back to back on one time axis: gaps, clip-boundary resets and feature windows.

Simulating every clip in its own ``run`` (or rebuilding the network per clip) is what
makes hand-written Brian2 scripts slow.  A :class:`Timeline` instead lays the clips of
one or more *phases* (say, an unsupervised learning phase, then a feature phase) out on
one axis of network steps::

    | gap | clip 0 | gap | clip 1 | ... | gap | clip n-1 |(+1 step)
          ^ window [start, end)

Each clip is preceded by a silent gap of ``gap`` ms.  At the end of the step before a
clip's window a *reset* fires (:meth:`Timeline.reset_group`): every neuron it reaches
returns to its initial state (:func:`cortex.neurons.lif_reset_code`), so with frozen
weights each clip's spikes are exactly those of a fresh network run on that clip
alone.  Any network that presents clips -- the reservoir, the cortical column -- uses
the same timeline: :meth:`input_group` emits the clips' spikes, :meth:`reset_group`
the boundary resets, :meth:`phase_runs` says how long each ``run`` is, and
:meth:`phase_windows` where each clip's spikes lie.

Times are in ms (:mod:`stimuli.timebase`); positions on the axis are integer steps
of the network's ``dt``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from brian2 import SpikeGeneratorGroup, Synapses

from stimuli.sequence import stimulus_headers
from stimuli.timebase import to_brian
from stimuli.types import SpikeStimulus

__all__ = ["Timeline", "IncompleteSimulation", "MergedSpikesWarning", "clip_reset_synapses", "count_in_windows"]


class MergedSpikesWarning(UserWarning):
    """Input spikes of one channel in one network step were merged (the encoder's dt is finer)."""


class IncompleteSimulation(RuntimeError):
    """A simulation ended before the end of its timeline (interrupted or stopped)."""


class Timeline:
    """Clips of several phases on one axis of network steps.

    Parameters
    ----------
    phases : sequence of (sequence of SpikeStimulus, bool)
        The clips of each phase and whether the phase is plastic (learning).
    dt : float
        Network time step, ms.
    gap : float
        Silent time before each clip, ms (rounded to whole steps).
    with_input : bool
        Merge every clip's input spikes into :attr:`indices` and :attr:`steps` (default).
        Without, only the layout is computed, from the clips' lengths
        (:func:`stimuli.sequence.stimulus_headers`: a
        :class:`~stimuli.sequence.StoredStimuli` is not read), for a simulation that
        feeds the clips itself; :attr:`indices` and :attr:`steps` are then empty.

    Attributes
    ----------
    indices, steps : ndarray of int64, shape (n_spikes,)
        Input spikes (channel, network step), sorted by step; a (channel, step)
        pair that a coarser network step creates twice is merged.
    starts : ndarray of int64, shape (n_clips,)
        First step of every clip window, over all phases.
    total_steps : int
        Steps simulated in all (the last phase runs one step past its last window).
    train_steps : int
        Steps of the plastic phases.
    """

    def __init__(
        self, phases: Sequence[tuple[Sequence[SpikeStimulus], bool]], dt: float, gap: float, *, with_input=True
    ):
        self.dt, self.gap = float(dt), float(gap)
        gap_steps = int(round(self.gap / self.dt))
        idx_parts, step_parts, starts, self._phases = [], [], [], []
        cursor = 0
        for stims, plastic in phases:
            head = stimulus_headers(stims)
            lengths = np.maximum(np.ceil(head["n_steps"] * head["dt"] / self.dt - 1e-9).astype(np.int64), 1)
            windows = np.zeros((len(lengths), 2), dtype=np.int64)
            windows[:, 0] = cursor + gap_steps * np.arange(1, len(lengths) + 1) + np.cumsum(lengths) - lengths
            windows[:, 1] = windows[:, 0] + lengths
            if with_input:
                for s, (start, _) in zip(stims, windows, strict=True):
                    indices, local, _ = self.clip_steps(s, self.dt)
                    step_parts.append(local + start)
                    idx_parts.append(indices)
            starts.extend(windows[:, 0].tolist())
            cursor = int(windows[-1, 1]) if len(windows) else cursor
            self._phases.append((windows, bool(plastic), cursor))
        self.total_steps = cursor + 1
        indices = np.concatenate(idx_parts) if idx_parts else np.zeros(0, np.int64)
        steps = np.concatenate(step_parts) if step_parts else np.zeros(0, np.int64)
        n_ch = int(indices.max()) + 1 if indices.size else 1
        key = np.unique(steps * n_ch + indices)  # sorted by step, duplicates merged
        self.steps, self.indices = key // n_ch, (key % n_ch).astype(np.int64)
        #: Input spikes lost because a coarser network step merged them.
        self.n_merged = int(steps.size - key.size)
        if self.n_merged:
            warnings.warn(
                f"{self.n_merged} of {steps.size} input spikes ({self.n_merged / steps.size:.1%}) fall into a "
                f"network step of {self.dt:g} ms together with another spike of their channel and are merged; "
                "encode with dt >= the network dt to keep them",
                MergedSpikesWarning,
                stacklevel=2,
            )
        self.starts = np.asarray(starts, dtype=np.int64)
        ends = [end for _, _, end in self._phases]
        self.train_steps = sum(
            end - (ends[k - 1] if k else 0) for k, (_, plastic, end) in enumerate(self._phases) if plastic
        )

    @staticmethod
    def net_steps(stim: SpikeStimulus, dt: float) -> np.ndarray:
        """Spike times of ``stim`` on a network grid of ``dt`` ms (``round(t / dt)``)."""
        return np.rint(stim.steps * stim.dt / dt).astype(np.int64)

    @classmethod
    def clip_steps(cls, stim: SpikeStimulus, dt: float) -> tuple[np.ndarray, np.ndarray, int]:
        """``(channels, steps, length)`` of one clip on a network grid of ``dt`` ms.

        ``length`` is the clip's window in steps (at least 1); steps lie in
        ``[0, length)`` and may repeat for a channel (merged by the caller).
        """
        length = max(int(np.ceil(stim.n_steps * stim.dt / dt - 1e-9)), 1)
        return stim.indices.astype(np.int64), np.minimum(cls.net_steps(stim, dt), length - 1), length

    @property
    def n_clips(self) -> int:
        return len(self.starts)

    @property
    def reset_steps(self) -> np.ndarray:
        """Steps at whose end the clip-boundary reset fires (the step before each window).

        A clip starting at step 0 needs none: the network starts in its initial state.
        """
        return self.starts[self.starts >= 1] - 1

    def phase_windows(self) -> list[tuple[np.ndarray, bool]]:
        """``(windows, plastic)`` per phase; windows ``(n_clips, 2)`` are ``[start, end)`` steps."""
        return [(w, p) for w, p, _ in self._phases]

    def feature_windows(self) -> np.ndarray:
        """Windows of the non-plastic phases, in order (all windows if every phase is plastic)."""
        frozen = [w for w, p in self.phase_windows() if not p]
        return np.concatenate(frozen or [w for w, _ in self.phase_windows()] or [np.zeros((0, 2), np.int64)])

    def phase_runs(self) -> list[tuple[int, bool]]:
        """``(n_steps, plastic)`` of each phase's ``run``; the last includes one extra step."""
        runs, prev = [], 0
        for k, (_, plastic, end) in enumerate(self._phases):
            stop = end + (1 if k == len(self._phases) - 1 else 0)
            runs.append((stop - prev, plastic))
            prev = stop
        return runs

    def snapshot_period(self, snapshots: int) -> int:
        """Steps between ``snapshots`` weight snapshots over the learning phases (at least 1).

        About ``train_steps / snapshots``, shortened until every phase run ends on a
        snapshot tick or clear of one.  Brian2 rounds a clock's end to a tick within
        ``1e-4`` of the clock's own ``dt`` (:meth:`brian2.Clock.set_interval`); a slow
        snapshot clock whose tick fell a few steps before a run's end would be ended
        one tick early and then advanced past it (``StopIteration: Clock has reached
        the end of its available times``).
        """
        period = max(self.train_steps // max(int(snapshots), 1), 1)
        ends, total = [], 0
        for n_steps, _ in self.phase_runs():
            total += n_steps
            ends.append(total)

        def clear(p: int) -> bool:
            margin = 2e-4 * p
            return all(e % p == 0 or margin < e % p < p - margin for e in ends)

        while period > 1 and not clear(period):
            period -= 1
        return period

    def input_group(self, n_input: int, name: str = "input") -> SpikeGeneratorGroup:
        """A ``SpikeGeneratorGroup`` of ``n_input`` channels emitting every clip's spikes."""
        return SpikeGeneratorGroup(int(n_input), self.indices, to_brian(self.steps * self.dt), name=name, sorted=True)

    @property
    def marker_steps(self) -> np.ndarray:
        """Every step at which the reset generator spikes: :attr:`reset_steps`, then the last step.

        The final spike (after the last window, so it resets nothing that is read) marks
        the end of the timeline: :meth:`check_complete` asks for all of them.
        """
        return np.append(self.reset_steps, self.total_steps - 1)

    def reset_group(self, name: str = "reset") -> SpikeGeneratorGroup:
        """A one-neuron generator that spikes at every :attr:`marker_steps` step."""
        steps = self.marker_steps
        return SpikeGeneratorGroup(1, np.zeros(len(steps), dtype=int), to_brian(steps * self.dt), name=name)

    def check_complete(self, marker_steps) -> None:
        """Raise :class:`IncompleteSimulation` unless every marker spike was recorded.

        Parameters
        ----------
        marker_steps : array of int
            Steps of the spikes a ``SpikeMonitor`` recorded from :meth:`reset_group`.
            A run stopped early (Ctrl-C inside Brian2 or a compiled program, a killed
            process) misses the end marker, whichever phase it stopped in.
        """
        got = np.sort(np.asarray(marker_steps, dtype=np.int64))
        planned = self.marker_steps
        if got.shape != planned.shape or not np.array_equal(got, planned):
            reached = int(got.max()) + 1 if got.size else 0
            raise IncompleteSimulation(
                f"the simulation stopped after about {reached} of {self.total_steps} steps "
                f"({len(got)} of {len(planned)} clip markers); its results were discarded"
            )


def clip_reset_synapses(reset: SpikeGeneratorGroup, group, code: str, name: str) -> Synapses:
    """Synapses from the reset generator onto every neuron of ``group`` running ``code``.

    The code runs in the ``end`` slot of the step, after that step's spikes, deliveries
    and neuron resets, so the next step starts from the reset state.

    Parameters
    ----------
    reset : SpikeGeneratorGroup
        From :meth:`Timeline.reset_group`.
    group : NeuronGroup
    code : str
        ``on_pre`` statements on ``*_post`` variables
        (:func:`cortex.neurons.lif_reset_code` with ``suffix="_post"``).
    name : str
        Brian2 object name.
    """
    syn = Synapses(reset, group, on_pre=code, name=name)
    syn.connect(i=np.zeros(len(group), dtype=int), j=np.arange(len(group)))
    syn.pre.when = "end"
    return syn


def count_in_windows(steps: np.ndarray, windows: np.ndarray) -> int:
    """Number of ``steps`` lying in any of the ``[start, end)`` windows (disjoint)."""
    s = np.sort(np.asarray(steps))
    windows = np.asarray(windows).reshape(-1, 2)
    return int((np.searchsorted(s, windows[:, 1]) - np.searchsorted(s, windows[:, 0])).sum())
