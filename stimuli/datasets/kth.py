"""KTH human actions (Schuldt, Laptev & Caputo, ICPR 2004).

Layout: ``<root>/<action>/personPP_<action>_dS_uncomp.avi`` (a flat ``<root>/*.avi``
is accepted too): six actions, 25 persons, four scenarios (d1 outdoors, d2 outdoors
with scale variation, d3 outdoors with different clothes, d4 indoors), 160x120 at
25 fps.  The subsequence list ``00sequences.txt`` has lines such as::

    person01_boxing_d1		frames	1-95, 96-185, 186-245, 246-360

(frame ranges 1-based and inclusive); when present (or given) each video is split
into its listed subsequences, one item each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from stimuli.types import StimulusError

from .base import ClipDataset, Item, check_root, parse_int_set

#: The six KTH actions, in label order.
KTH_ACTIONS = ("boxing", "handclapping", "handwaving", "jogging", "running", "walking")
#: Standard person split (Schuldt et al. 2004).
KTH_PERSONS = {
    "train": (11, 12, 13, 14, 15, 16, 17, 18),
    "val": (19, 20, 21, 23, 24, 25, 1, 4),
    "test": (22, 2, 3, 5, 6, 7, 8, 9, 10),
}
#: Scenario names of the ``dS`` field.
KTH_SCENARIOS = {1: "outdoors", 2: "outdoors, scale variation", 3: "outdoors, different clothes", 4: "indoors"}

_VIDEO_RE = re.compile(r"^person(\d+)_([A-Za-z]+)_d(\d+)(?:_uncomp)?\.avi$", re.IGNORECASE)
_SEQ_LINE_RE = re.compile(r"^\s*(person\d+_[A-Za-z]+_d\d+)\s+frames\s+(.*)$", re.IGNORECASE)
_RANGE_RE = re.compile(r"(\d+)\s*-\s*(\d+)")


def parse_kth_sequences(path) -> dict[str, list[tuple[int, int]]]:
    """Parse ``00sequences.txt`` into ``{"person01_boxing_d1": [(1, 95), ...]}``.

    Ranges are 1-based and inclusive.  Lines that are not sequence entries (the
    file's free-text header, blank lines) are ignored; an entry with a malformed
    range (end before start) raises StimulusError naming the file and line.
    """
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise StimulusError(f"{path}: cannot read the KTH sequence list ({exc})") from None
    out: dict[str, list[tuple[int, int]]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _SEQ_LINE_RE.match(line)
        if not m:
            continue
        ranges = [(int(a), int(b)) for a, b in _RANGE_RE.findall(m.group(2))]
        for a, b in ranges:
            if a < 1 or b < a:
                raise StimulusError(f"{path}:{lineno}: bad frame range {a}-{b}")
        if ranges:
            out[m.group(1).lower()] = ranges
    if not out:
        raise StimulusError(f"{path}: no 'personPP_action_dS  frames  a-b, ...' lines found")
    return out


class KTH(ClipDataset):
    """KTH actions; one item per video or, with the sequence list, per subsequence.

    Parameters
    ----------
    root : path
        Folder holding ``<action>/personPP_<action>_dS_uncomp.avi``.
    persons : iterable of int, optional
        Keep only these persons (1..25).
    scenarios : iterable of int, optional
        Keep only these scenarios (1..4).
    actions : sequence of str, optional
        Class names, in label order (default the six KTH actions); videos of other
        actions are ignored.
    subsequences : bool, optional
        ``None`` (default): split videos into the subsequences of the sequence list
        when one is found; ``True``: require it; ``False``: whole videos.
    sequences_file : path, optional
        The sequence list (default ``<root>/00sequences.txt``).
    size, crop, step, max_frames, skip_bad, progress
        See :class:`~stimuli.datasets.base.ClipDataset`.

    Notes
    -----
    ``split(name)`` with ``name`` in ``train``/``val``/``test`` follows the standard
    person split (:data:`KTH_PERSONS`); ``trainval`` is train plus val.  Pass
    ``persons=[...]`` to ``split`` for a custom test/held-out set (e.g. leave one
    person out: ``split("test", persons=[7])`` and ``split("train", persons=[7])``
    gives everyone else).  Subsequence items decode their video once and keep the
    last decoded video in memory, so iterate in index order.
    """

    name = "kth"
    split_names = ("train", "val", "test", "trainval")
    fps = 25.0

    def __init__(
        self,
        root,
        *,
        persons: int | Sequence[int] | None = None,
        scenarios: int | Sequence[int] | None = None,
        actions: str | Sequence[str] | None = None,
        subsequences: bool | None = None,
        sequences_file=None,
        size: tuple[int, int] | None = None,
        crop: tuple[int, int, int, int] | None = None,
        step: int = 1,
        max_frames: int | None = None,
        skip_bad: bool = False,
        progress: bool | None = None,
    ):
        root = check_root(root, self.name)
        actions = tuple(a.lower() for a in (actions or KTH_ACTIONS))
        keep_persons = parse_int_set(persons, "persons", self.name)
        keep_scen = parse_int_set(scenarios, "scenarios", self.name)
        videos = sorted(p for p in list(root.glob("*.avi")) + list(root.glob("*/*.avi")) if _VIDEO_RE.match(p.name))
        if not videos:
            raise StimulusError(
                f"{self.name}: no KTH videos under {root}; expected "
                "<root>/<action>/personPP_<action>_dS_uncomp.avi "
                f"with action in {', '.join(actions)}"
            )
        seq_path = Path(sequences_file) if sequences_file is not None else root / "00sequences.txt"
        if subsequences is None:
            subsequences = seq_path.is_file()
        ranges = {}
        if subsequences:
            if not seq_path.is_file():
                raise FileNotFoundError(f"{self.name}: sequence list not found: {seq_path}")
            ranges = parse_kth_sequences(seq_path)
        self.sequences_file = seq_path if subsequences else None

        items, seen = [], set()
        for path in videos:
            person, action, scen = _VIDEO_RE.match(path.name).groups()
            person, action, scen = int(person), action.lower(), int(scen)
            if (
                action not in actions
                or (keep_persons is not None and person not in keep_persons)
                or (keep_scen is not None and scen not in keep_scen)
            ):
                continue
            video_id = f"person{person:02d}_{action}_d{scen}"
            if video_id in seen:
                raise StimulusError(f"{self.name}: {video_id} found twice under {root} (second copy: {path})")
            seen.add(video_id)
            base = dict(
                subject=person, person=person, group=person, scenario=scen, action=action, video=video_id, fps=self.fps
            )
            label = actions.index(action)
            if video_id in ranges:
                items += [
                    Item(path, label, dict(base, id=f"{video_id}_s{k}", frames=(a, b)))
                    for k, (a, b) in enumerate(ranges[video_id], 1)
                ]
            else:
                items.append(Item(path, label, dict(base, id=video_id)))
        if not items:
            raise StimulusError(
                f"{self.name}: no videos under {root} match the selection "
                f"(persons={persons}, scenarios={scenarios}, actions={actions})"
            )
        self.missing_in_sequences = sorted(seen - set(ranges)) if subsequences else []
        super().__init__(
            items,
            actions,
            root=root,
            size=size,
            crop=crop,
            step=step,
            max_frames=max_frames,
            skip_bad=skip_bad,
            progress=progress,
        )

    def _split_indices(self, name, persons: int | Sequence[int] | None = None):
        if persons is not None:
            held = parse_int_set(persons, "persons", self.name)
            rest = {p for p in self.meta_values("person")} - held
            return self._indices_where("person", rest if name in ("train", "trainval") else held)
        if name == "trainval":
            return self._indices_where("person", KTH_PERSONS["train"] + KTH_PERSONS["val"])
        return self._indices_where("person", KTH_PERSONS[name])


def kth_video_name(person: int, action: str, scenario: int) -> str:
    """File name of a KTH video, e.g. ``person01_boxing_d1_uncomp.avi``."""
    return f"person{int(person):02d}_{action}_d{int(scenario)}_uncomp.avi"


def format_kth_sequence_line(person: int, action: str, scenario: int, ranges) -> str:
    """One ``00sequences.txt`` line for 1-based inclusive ``ranges``."""
    spans = ", ".join(f"{int(a)}-{int(b)}" for a, b in ranges)
    return f"person{int(person):02d}_{action}_d{int(scenario)}\t\tframes\t{spans}"


__all__ = [
    "KTH",
    "KTH_ACTIONS",
    "KTH_PERSONS",
    "KTH_SCENARIOS",
    "parse_kth_sequences",
    "kth_video_name",
    "format_kth_sequence_line",
]
