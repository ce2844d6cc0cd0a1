"""Synthetic actions: articulated stick figures rendered in memory.

A small, fast stand-in for KTH used by the demo and the tests.  Each clip is a
``(n_frames, height, width)`` float32 array in ``[0, 1]`` showing one stick figure
(head, torso, two-segment arms and legs) performing an action:

======================  ==========  =================================================
action                  view        what moves
======================  ==========  =================================================
``boxing``              side        alternate punches: arm straightens to horizontal
``handclapping``        front       forearms meet in front of the chest
``handwaving``          front       both arms sweep above shoulder height
``jogging``             side        gait, medium tempo and stride, bent elbows
``running``             side        gait, fast tempo, long stride, forward lean
``walking``             side        gait, slow tempo, short stride, straight arms
``jumping`` (extra)     front       jumps in place, knees bend on landing
``bending`` (extra)     side        bends forward at the hip and straightens
======================  ==========  =================================================

The six defaults are the KTH actions, so :meth:`SyntheticActions.write_to` can
write a KTH-like tree that the real :class:`~stimuli.datasets.kth.KTH` loader reads.

Variation, so that the problem is learnable but not trivial:

* per **subject** (:class:`SubjectStyle`): body size and limb proportions, tempo,
  movement amplitude, line thickness, figure contrast (darker or lighter than the
  background), background level and texture;
* per **clip**: direction (left/right facing), start phase, position, tempo
  jitter, camera panning (how far the figure travels), pixel noise, frame-wise
  brightness flicker and, with probability ``distractor_prob``, a small moving blob;
* per **scenario** (KTH's d1-d4): d1 plain, d2 zoom during the clip, d3 different
  clothes (contrast flipped, thicker lines), d4 indoors (brighter, more textured
  background, lower contrast).

Walking, jogging and running overlap in tempo across subjects; they differ in
stride, knee and elbow bend, lean and speed, so the temporal dynamics matter.
Everything is drawn from ``numpy.random.SeedSequence([seed, subject, ...])``, so a
clip depends only on the seed and its own identity, not on generation order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from stimuli.types import StimulusError
from stimuli.video import write_video

from .base import ClipDataset, Item
from .kth import format_kth_sequence_line, kth_video_name

#: Default classes (the KTH actions), in label order.
SYNTHETIC_ACTIONS = ("boxing", "handclapping", "handwaving", "jogging", "running", "walking")
#: Extra actions that can be requested with ``actions=``.
EXTRA_ACTIONS = ("jumping", "bending")
#: Frame rate written by :meth:`SyntheticActions.write_to` and reported in ``meta``.
SYNTHETIC_FPS = 25.0

# Gait parameters per locomotion action: tempo f (cycles per frame), thigh swing A
# (rad), knee bend K0 + K1 * max(0, cos phase) (rad), torso lean (rad), arm swing
# (rad), elbow bend (rad), vertical bounce (body heights).
_GAITS = {
    "walking": dict(f=0.07, A=0.38, K0=0.08, K1=0.35, lean=0.03, arm=0.35, elbow=0.25, bounce=0.010),
    "jogging": dict(f=0.095, A=0.55, K0=0.25, K1=0.85, lean=0.12, arm=0.50, elbow=1.40, bounce=0.025),
    "running": dict(f=0.12, A=0.75, K0=0.30, K1=1.30, lean=0.25, arm=0.80, elbow=1.60, bounce=0.040),
}
# Tempo (cycles per frame) of the in-place actions.
_TEMPO = {"boxing": 0.09, "handclapping": 0.10, "handwaving": 0.07, "jumping": 0.06, "bending": 0.045}

_SHIFT = 4  # cv2 fixed-point bits for sub-pixel drawing
_ONE = float(1 << _SHIFT)


@dataclass(frozen=True)
class SubjectStyle:
    """How one synthetic subject looks and moves (body units are figure heights).

    Attributes
    ----------
    height : float
        Figure height as a fraction of the frame height.
    leg, torso, upper_arm, forearm, head : float
        Segment lengths (head: radius), in figure heights.
    tempo : float
        Multiplies every action tempo.
    amplitude : float
        Multiplies limb swing amplitudes.
    thickness : int
        Line thickness in pixels.
    contrast : float
        Figure brightness minus background (signed, grey levels).
    background : float
        Mean background grey level.
    texture : float
        Amplitude of the smooth background texture (grey levels).
    texture_seed : int
        Seed of the background texture pattern.
    """

    height: float
    leg: float
    torso: float
    upper_arm: float
    forearm: float
    head: float
    tempo: float
    amplitude: float
    thickness: int
    contrast: float
    background: float
    texture: float
    texture_seed: int

    @classmethod
    def sample(cls, rng: np.random.Generator, variation: float = 1.0) -> SubjectStyle:
        """Draw a random subject; ``variation`` scales every range about its centre."""
        leg = _spread(rng, 0.44, 0.52, variation)
        return cls(
            height=_spread(rng, 0.50, 0.70, variation),
            leg=leg,
            torso=_spread(rng, 0.27, 0.33, variation),
            upper_arm=_spread(rng, 0.16, 0.20, variation),
            forearm=_spread(rng, 0.15, 0.19, variation),
            head=_spread(rng, 0.055, 0.08, variation),
            tempo=_spread(rng, 0.8, 1.25, variation),
            amplitude=_spread(rng, 0.8, 1.2, variation),
            thickness=int(rng.integers(1, 3)),
            contrast=float(rng.choice([-1.0, 1.0]) * _spread(rng, 0.25, 0.5, variation)),
            background=_spread(rng, 0.3, 0.7, variation),
            texture=_spread(rng, 0.02, 0.08, variation),
            texture_seed=int(rng.integers(2**31)),
        )


def _spread(rng: np.random.Generator, low: float, high: float, variation: float) -> float:
    """A uniform draw on ``[low, high]`` shrunk towards the centre by ``variation``.

    The draw consumes the generator exactly as ``rng.uniform(low, high)`` does, so
    changing ``variation`` changes how far values lie from the centre, not which
    random numbers later draws see.
    """
    centre = 0.5 * (low + high)
    return float(centre + variation * (rng.uniform(low, high) - centre))


def _seed_int(seed) -> int:
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**63 - 1))
    if seed is None:
        raise ValueError("synthetic: seed must be an int or a numpy Generator, not None")
    return int(seed)


def subject_style(seed, subject: int, variation: float = 1.0) -> SubjectStyle:
    """The :class:`SubjectStyle` of ``subject`` under integer ``seed``."""
    return SubjectStyle.sample(np.random.default_rng(np.random.SeedSequence([seed, 7, subject])), variation)


def _texture(shape, seed: int, cells: int = 6) -> np.ndarray:
    """Smooth zero-mean texture in about [-1, 1], shape ``shape``."""
    g = np.random.default_rng(seed).uniform(-1, 1, size=(cells, cells)).astype(np.float32)
    return cv2.resize(g, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


# -- poses ------------------------------------------------------------------------------
# A pose is (segments, head_centre) in body units: x forward (or to the right in front
# view), y up, origin at the hip.


def _limb(origin, angle, length):
    """End point of a segment hanging at ``angle`` from straight down (positive forward)."""
    return origin[0] + length * np.sin(angle), origin[1] - length * np.cos(angle)


def _side_figure(st: SubjectStyle, thighs, knees, lean, uppers, elbows):
    hip = (0.0, 0.0)
    segs = []
    for th, kn in zip(thighs, knees, strict=True):
        knee = _limb(hip, th, st.leg / 2)
        segs += [(hip, knee), (knee, _limb(knee, th - kn, st.leg / 2))]
    neck = (st.torso * np.sin(lean), st.torso * np.cos(lean))
    segs.append((hip, neck))
    shoulder = (0.92 * neck[0], 0.92 * neck[1])
    for ua, el in zip(uppers, elbows, strict=True):
        elbow = _limb(shoulder, ua, st.upper_arm)
        segs += [(shoulder, elbow), (elbow, _limb(elbow, ua + el, st.forearm))]
    head = (neck[0] + 1.2 * st.head * np.sin(lean), neck[1] + 1.2 * st.head * np.cos(lean))
    return segs, head


def _front_figure(st: SubjectStyle, arm_pairs, knee=0.0):
    """Front view; ``arm_pairs`` are (elbow, hand) per side (right side x > 0)."""
    hip = (0.0, 0.0)
    segs = []
    for s in (-1, 1):
        h = (0.04 * s, 0.0)
        kx = 0.07 * s + 0.5 * knee * s * st.leg
        knee_pt = (kx, -st.leg / 2 * np.cos(knee))
        segs += [(h, knee_pt), (knee_pt, (0.08 * s, -st.leg / 2 * np.cos(knee) - st.leg / 2))]
    neck = (0.0, st.torso)
    segs += [((-0.04, 0.0), (0.04, 0.0)), (hip, neck)]
    for s, (elbow, hand) in zip((-1, 1), arm_pairs, strict=True):
        shoulder = (0.08 * s, 0.93 * st.torso)
        segs += [(neck, shoulder), (shoulder, elbow), (elbow, hand)]
    return segs, (0.0, st.torso + 1.2 * st.head)


def _pose(action: str, st: SubjectStyle, phase: float, amp: float):
    """Segments and head of ``action`` at gait/cycle ``phase`` (radians)."""
    if action in _GAITS:
        g = _GAITS[action]
        phases = (phase, phase + np.pi)
        thighs = [g["A"] * amp * np.sin(p) for p in phases]
        knees = [g["K0"] + g["K1"] * max(0.0, np.cos(p)) for p in phases]
        uppers = [-g["arm"] * amp * np.sin(p) for p in phases]
        return _side_figure(st, thighs, knees, g["lean"], uppers, [g["elbow"]] * 2)
    if action == "boxing":
        punches = [max(0.0, np.sin(phase)) ** 2, max(0.0, np.sin(phase + np.pi)) ** 2]
        uppers = [0.5 + 1.0 * amp * p for p in punches]
        elbows = [2.2 * (1 - p) + 0.05 for p in punches]
        return _side_figure(st, [0.15, -0.15], [0.1, 0.1], 0.05 + 0.03 * np.sin(phase), uppers, elbows)
    if action == "handclapping":
        g = (1 - np.cos(phase)) / 2  # 0: hands together, 1: apart
        arms = []
        for s in (-1, 1):
            elbow = (0.14 * s, 0.55 * st.torso)
            hand = ((0.01 + 0.15 * amp * g) * s, 0.55 * st.torso + 0.7 * st.forearm)
            arms.append((elbow, hand))
        return _front_figure(st, arms)
    if action == "handwaving":
        beta = 1.9 + 0.6 * amp * np.sin(phase)  # angle of the upper arm from straight down
        arms = []
        for s in (-1, 1):
            shoulder = (0.08 * s, 0.93 * st.torso)
            elbow = (shoulder[0] + s * st.upper_arm * np.sin(beta), shoulder[1] - st.upper_arm * np.cos(beta))
            hand = (elbow[0] + s * st.forearm * np.sin(beta + 0.3), elbow[1] - st.forearm * np.cos(beta + 0.3))
            arms.append((elbow, hand))
        return _front_figure(st, arms)
    if action == "jumping":
        up = max(0.0, np.sin(phase))
        knee = 0.6 * max(0.0, -np.sin(phase))
        arms = []
        for s in (-1, 1):
            shoulder = (0.08 * s, 0.93 * st.torso)
            beta = 0.4 + 1.2 * up * amp
            elbow = (shoulder[0] + s * st.upper_arm * np.sin(beta), shoulder[1] - st.upper_arm * np.cos(beta))
            hand = (elbow[0] + s * st.forearm * np.sin(beta), elbow[1] - st.forearm * np.cos(beta))
            arms.append((elbow, hand))
        segs, head = _front_figure(st, arms, knee=knee)
        lift = 0.18 * amp * up - 0.25 * st.leg * (1 - np.cos(knee))
        segs = [((a[0], a[1] + lift), (b[0], b[1] + lift)) for a, b in segs]
        return segs, (head[0], head[1] + lift)
    if action == "bending":
        lean = 1.3 * amp * (1 - np.cos(phase)) / 2
        hang = -lean * 0.9  # arms hang roughly straight down
        return _side_figure(st, [0.05, -0.05], [0.0, 0.0], lean, [hang + 0.1, hang - 0.1], [0.1, 0.1])
    raise ValueError(f"synthetic: unknown action {action!r}; known: {', '.join(SYNTHETIC_ACTIONS + EXTRA_ACTIONS)}")


def _scenario_look(st: SubjectStyle, scenario: int, rng: np.random.Generator, variation: float):
    """``(contrast, thickness, background, texture, zoom_end)`` of a clip in ``scenario`` (see module docstring)."""
    contrast, thick, background, texture, zoom_end = st.contrast, st.thickness, st.background, st.texture, 1.0
    if scenario == 2:
        zoom_end = _spread(rng, 0.75, 1.3, variation)
    elif scenario == 3:
        contrast, thick = -contrast, 3 - thick
    elif scenario == 4:
        background = min(background + 0.15, 0.85)
        texture, contrast = 2.0 * texture, 0.75 * contrast
    return contrast, thick, background, texture, zoom_end


def render_action(
    action: str,
    *,
    n_frames: int = 24,
    frame_shape: tuple[int, int] = (48, 48),
    style: SubjectStyle | None = None,
    scenario: int = 1,
    noise: float = 0.05,
    distractor_prob: float = 0.3,
    variation: float = 1.0,
    rng=0,
) -> np.ndarray:
    """Render one clip of a stick figure performing ``action``.

    Parameters
    ----------
    action : str
        One of :data:`SYNTHETIC_ACTIONS` or :data:`EXTRA_ACTIONS`.
    n_frames : int
        Number of frames ``T``.
    frame_shape : (int, int)
        ``(height, width)`` in pixels.
    style : SubjectStyle, optional
        The subject (default: drawn from ``rng``).
    scenario : int
        KTH-like scenario 1..4 (see module docstring).
    noise : float
        Standard deviation of the per-pixel Gaussian noise (grey levels).
    distractor_prob : float
        Probability of a small moving blob in the clip.
    rng : int or numpy.random.Generator
        Randomness for the per-clip variation.

    Returns
    -------
    ndarray, shape (n_frames, height, width), float32 in [0, 1]
    """
    if action not in SYNTHETIC_ACTIONS + EXTRA_ACTIONS:
        raise ValueError(f"synthetic: unknown action {action!r}; known: {', '.join(SYNTHETIC_ACTIONS + EXTRA_ACTIONS)}")
    if scenario not in (1, 2, 3, 4):
        raise ValueError(f"synthetic: scenario must be 1..4, got {scenario}")
    H, W = (int(v) for v in frame_shape)
    T = int(n_frames)
    if T < 1 or H < 8 or W < 8:
        raise ValueError(f"synthetic: need n_frames >= 1 and frames of at least 8x8, got {T} x {H} x {W}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    st = style if style is not None else SubjectStyle.sample(rng, variation)

    # -- per-clip and per-scenario variation --
    direction = rng.choice([-1.0, 1.0])
    phase0 = rng.uniform(0, 2 * np.pi)
    tempo = _GAITS[action]["f"] if action in _GAITS else _TEMPO[action]
    freq = tempo * st.tempo * _spread(rng, 0.9, 1.1, variation)
    amp = st.amplitude * _spread(rng, 0.9, 1.1, variation)
    contrast, thick, background, texture, zoom_end = _scenario_look(st, scenario, rng, variation)
    zoom = np.linspace(1.0, zoom_end, T)
    scale0 = st.height * H
    ground = _spread(rng, 0.84, 0.96, variation) * H
    if action in _GAITS:
        g = _GAITS[action]
        # natural speed: two steps of length ~2 L sin A per cycle; a panning camera
        # keeps a random fraction of it
        natural = freq * 4 * st.leg * np.sin(g["A"] * amp) * scale0
        speed = natural * _spread(rng, 0.15, 0.3, variation)
    else:
        speed = _spread(rng, -0.08, 0.08, variation)
    x_mid = W / 2 + _spread(rng, -0.12, 0.12, variation) * W
    x_hip = x_mid + direction * speed * (np.arange(T) - (T - 1) / 2)

    bg = (background + texture * _texture((H, W), st.texture_seed)).astype(np.float32)
    mask = np.zeros((T, H, W), dtype=np.uint8)
    for t in range(T):
        phase = phase0 + 2 * np.pi * freq * t
        segs, head = _pose(action, st, phase, amp)
        s = scale0 * zoom[t]
        bounce = _GAITS[action]["bounce"] * abs(np.cos(phase)) if action in _GAITS else 0.0
        y_hip = ground - s * (st.leg + bounce)

        def px(p, s=s, y_hip=y_hip, x0=x_hip[t]):
            return (int(round((x0 + direction * s * p[0]) * _ONE)), int(round((y_hip - s * p[1]) * _ONE)))

        m = mask[t]
        for a, b in segs:
            cv2.line(m, px(a), px(b), 255, thick, cv2.LINE_AA, _SHIFT)
        r = max(1, int(round(st.head * s * _ONE)))
        cv2.circle(m, px(head), r, 255, -1, cv2.LINE_AA, _SHIFT)

    clip = bg[None] + np.float32(contrast / 255.0) * mask.astype(np.float32)
    if rng.random() < distractor_prob:
        blob = np.zeros((T, H, W), dtype=np.uint8)
        pos = rng.uniform([0, 0], [W, H])
        vel = rng.uniform(0.3, 1.5) * np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a)])
        rad = rng.uniform(1.5, 3.0)
        for t in range(T):
            c = pos + vel * t
            cv2.circle(blob[t], (int(c[0] * _ONE), int(c[1] * _ONE)), int(rad * _ONE), 255, -1, cv2.LINE_AA, _SHIFT)
        clip += np.float32(rng.choice([-1, 1]) * rng.uniform(0.1, 0.25) / 255.0) * blob
    clip += rng.normal(0.0, 0.01, size=(T, 1, 1)).astype(np.float32)  # flicker
    clip += rng.normal(0.0, noise * rng.uniform(0.8, 1.2), size=clip.shape).astype(np.float32)
    return np.clip(clip, 0.0, 1.0, out=clip)


class SyntheticActions(ClipDataset):
    """In-memory dataset of synthetic stick-figure actions, split by subject.

    Parameters
    ----------
    root : None
        Unused (kept for the registry's ``get_dataset(name, root, ...)``); must be None.
    n_subjects : int
        Subjects ``1..n_subjects``.
    actions : sequence of str
        Class names in label order (default :data:`SYNTHETIC_ACTIONS`).
    scenarios : sequence of int
        KTH-like scenarios (1..4) recorded for every subject and action.
    repeats : int
        Clips per (subject, action, scenario).
    n_frames : int
        Frames per clip.
    frame_shape : (int, int)
        ``(height, width)`` in pixels.
    noise : float
        Pixel noise standard deviation (grey levels).
    distractor_prob : float
        Probability of a moving distractor blob per clip.
    variation : float
        In ``[0, 1]``: scales the spread of every subject and clip parameter
        (size, proportions, tempo, amplitude, contrast, position, speed, zoom)
        about its centre; 1 (default) is the full range, lower values make
        subjects more alike and the classes easier to tell apart.
    test_subjects, val_subjects : iterable of int, optional
        Subjects of the ``test`` and ``val`` splits (default: the last third of the
        subjects are test, none are val); all other subjects are ``train``.
    seed : int or numpy.random.Generator
        Everything is determined by it (a Generator is consumed once to draw an int).
    step, max_frames, skip_bad, progress
        See :class:`~stimuli.datasets.base.ClipDataset`.

    Notes
    -----
    ``len(ds) == n_subjects * len(actions) * len(scenarios) * repeats``; items are
    ordered by subject, action, scenario, repeat.  Clips are rendered on access
    (about a millisecond each at 48x48x24).
    """

    name = "synthetic"
    split_names = ("train", "val", "test")
    fps = SYNTHETIC_FPS

    def __init__(
        self,
        root=None,
        *,
        n_subjects: int = 12,
        actions: Sequence[str] = SYNTHETIC_ACTIONS,
        scenarios: Sequence[int] = (1, 2),
        repeats: int = 1,
        n_frames: int = 24,
        frame_shape: tuple[int, int] = (48, 48),
        noise: float = 0.05,
        distractor_prob: float = 0.3,
        test_subjects: int | Sequence[int] | None = None,
        val_subjects: int | Sequence[int] | None = None,
        variation: float = 1.0,
        seed: int | np.random.Generator = 0,
        step: int = 1,
        max_frames: int | None = None,
        skip_bad: bool = False,
        progress: bool | None = None,
    ):
        if root is not None:
            raise ValueError(f"{self.name}: generated in memory, takes no root (got {root!r})")
        actions, scenarios = tuple(actions), tuple(int(s) for s in scenarios)
        self._check_arguments(n_subjects, actions, scenarios, noise, variation)
        self.seed = _seed_int(seed)
        self.n_subjects = int(n_subjects)
        self.n_frames = int(n_frames)
        self.frame_shape = tuple(int(v) for v in frame_shape)
        self.noise = float(noise)
        self.distractor_prob = float(distractor_prob)
        self.repeats = int(repeats)
        subjects = list(range(1, self.n_subjects + 1))
        if test_subjects is None:
            n_test = max(1, self.n_subjects // 3)
            test_subjects = subjects[-n_test:]
        self.test_subjects = sorted(int(s) for s in np.atleast_1d(test_subjects))
        self.val_subjects = sorted(int(s) for s in np.atleast_1d(val_subjects or []))
        if set(self.test_subjects) & set(self.val_subjects):
            raise ValueError(f"{self.name}: test and val subjects overlap")
        for s in self.test_subjects + self.val_subjects:
            if s not in subjects:
                raise ValueError(f"{self.name}: subject {s} not in 1..{self.n_subjects}")
        self.train_subjects = [s for s in subjects if s not in self.test_subjects + self.val_subjects]
        self.variation = float(variation)
        self.styles = {s: subject_style(self.seed, s, self.variation) for s in subjects}
        items = []
        for s in subjects:
            for k, a in enumerate(actions):
                for sc in scenarios:
                    for r in range(self.repeats):
                        vid = f"person{s:02d}_{a}_d{sc}" + (f"_r{r}" if self.repeats > 1 else "")
                        items.append(
                            Item(
                                f"synthetic://{vid}",
                                k,
                                dict(
                                    id=vid,
                                    subject=s,
                                    person=s,
                                    group=s,
                                    scenario=sc,
                                    action=a,
                                    repeat=r,
                                    fps=SYNTHETIC_FPS,
                                    action_index=k,
                                ),
                            )
                        )
        super().__init__(
            items, actions, root=None, step=step, max_frames=max_frames, skip_bad=skip_bad, progress=progress
        )

    @classmethod
    def _check_arguments(cls, n_subjects, actions, scenarios, noise, variation) -> None:
        if int(n_subjects) < 2:
            raise ValueError(f"{cls.name}: need n_subjects >= 2, got {n_subjects}")
        for a in actions:
            if a not in SYNTHETIC_ACTIONS + EXTRA_ACTIONS:
                raise ValueError(
                    f"{cls.name}: unknown action {a!r}; known: {', '.join(SYNTHETIC_ACTIONS + EXTRA_ACTIONS)}"
                )
        if not scenarios or any(s not in (1, 2, 3, 4) for s in scenarios):
            raise ValueError(f"{cls.name}: scenarios must be in 1..4, got {scenarios}")
        if not 0 <= noise <= 1:
            raise ValueError(f"{cls.name}: noise must be in [0, 1], got {noise}")
        if not 0 <= float(variation) <= 1:
            raise ValueError(f"{cls.name}: variation must lie in [0, 1], got {variation}")

    def _probe(self, item: Item) -> None:
        return None

    def render(self, item: Item) -> np.ndarray:
        """The full clip ``(n_frames, H, W)`` of ``item`` (no step/max_frames)."""
        m = item.meta
        ss = np.random.SeedSequence([self.seed, 11, m["subject"], m["action_index"], m["scenario"], m["repeat"]])
        return render_action(
            m["action"],
            n_frames=self.n_frames,
            frame_shape=self.frame_shape,
            style=self.styles[m["subject"]],
            scenario=m["scenario"],
            noise=self.noise,
            distractor_prob=self.distractor_prob,
            variation=self.variation,
            rng=np.random.default_rng(ss),
        )

    def _read(self, item: Item) -> np.ndarray:
        clip = self.render(item)[:: self.step]
        if self.max_frames is not None:
            clip = clip[: self.max_frames]
        return np.ascontiguousarray(clip)

    def _split_indices(
        self, name, test_subjects: int | Sequence[int] | None = None, val_subjects: int | Sequence[int] | None = None
    ):
        test = self.test_subjects if test_subjects is None else sorted(int(s) for s in np.atleast_1d(test_subjects))
        val = self.val_subjects if val_subjects is None else sorted(int(s) for s in np.atleast_1d(val_subjects))
        if name == "val" and not val:
            raise ValueError(f"{self.name}: no validation subjects; pass val_subjects=")
        chosen = {"test": set(test), "val": set(val)}.get(name)
        if chosen is None:
            chosen = set(range(1, self.n_subjects + 1)) - set(test) - set(val)
        return self._indices_where("subject", chosen)

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All clips stacked, ``(n_items, T, H, W)`` float32, and labels ``(n_items,)``."""
        clips = np.stack([self._read(it) for it in self.items])
        return clips, self.labels

    def write_to(
        self, folder, *, fps: float = SYNTHETIC_FPS, codec: str = "MJPG", sequences: bool = True
    ) -> list[Path]:
        """Write every clip as a KTH-named AVI, ``<folder>/<action>/personPP_<action>_dS_uncomp.avi``.

        Parameters
        ----------
        folder : path
            Created if needed.
        fps : float
            Frame rate stored in the files.
        codec : str
            FourCC passed to :func:`stimuli.video.write_video`.
        sequences : bool
            Also write ``00sequences.txt`` splitting each clip into two halves.

        Returns
        -------
        list of Path
            The files written (videos, then the sequence list).
        """
        if self.repeats > 1:
            raise StimulusError(
                f"{self.name}: KTH naming has one video per person, action "
                f"and scenario; write_to needs repeats=1 (got {self.repeats})"
            )
        folder = Path(folder)
        written, lines = [], []
        for it in tqdm(self.items, desc=f"{self.name}: writing", unit="clip", disable=self._no_bar(len(self.items))):
            m = it.meta
            path = folder / m["action"] / kth_video_name(m["subject"], m["action"], m["scenario"])
            path.parent.mkdir(parents=True, exist_ok=True)
            clip = self._read(it)
            write_video(path, clip, fps=fps, codec=codec)
            written.append(path)
            n = clip.shape[0]
            half = max(1, n // 2)
            ranges = [(1, half), (half + 1, n)] if n >= 2 else [(1, 1)]
            lines.append(format_kth_sequence_line(m["subject"], m["action"], m["scenario"], ranges))
        if sequences:
            seq = folder / "00sequences.txt"
            seq.write_text(
                "Synthetic KTH-like subsequences (1-based inclusive frame ranges)\n\n" + "\n".join(lines) + "\n"
            )
            written.append(seq)
        return written
