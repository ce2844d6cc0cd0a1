"""DVS128 Gesture (Amir et al., CVPR 2017).

Layout: ``<root>/user<NN>_<lighting>.aedat`` (AEDAT 3.1) with ``user<NN>_<lighting>_labels.csv``
beside each (header ``class,startTime_usec,endTime_usec``, classes 1..11); also
found one level down in ``<root>/DvsGesture/``.  29 users, lighting conditions
``fluorescent``, ``fluorescent_led``, ``lab``, ``led``, ``natural``; each labelled
gesture of a recording is one item.  Official split: users 1-23 train, 24-29 test,
or the file lists ``trials_to_train.txt`` / ``trials_to_test.txt`` when present.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stimuli.events import read_dvs_gesture
from stimuli.types import StimulusError

from .base import ClipDataset, Item, check_root, check_split_lists, parse_int_set

#: Gesture names of classes 1..11 (label = class - 1).
DVS_GESTURE_CLASSES = (
    "hand_clapping",
    "right_hand_wave",
    "left_hand_wave",
    "right_arm_clockwise",
    "right_arm_counter_clockwise",
    "left_arm_clockwise",
    "left_arm_counter_clockwise",
    "arm_roll",
    "air_drums",
    "air_guitar",
    "other_gestures",
)
#: Users of the official split.
DVS_GESTURE_USERS = {"train": tuple(range(1, 24)), "test": tuple(range(24, 30))}
#: ``(width, height, polarities)`` of the DVS128.
SENSOR_SIZE = (128, 128, 2)

_FILE_RE = re.compile(r"^user(\d+)_(.+)\.aedat$", re.IGNORECASE)


def _read_trial_list(path: Path) -> list[str]:
    return [
        line.strip()
        for line in path.read_text(errors="replace").splitlines()
        if line.strip().lower().endswith(".aedat")
    ]


def read_gesture_labels(path) -> list[tuple[int, int, int]]:
    """``(class 1..11, start_us, end_us)`` rows of a ``*_labels.csv`` file.

    Raises StimulusError naming the file for a wrong header, a non-integer field,
    a class outside 1..11 or an empty window.
    """
    path = Path(path)
    lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    if not lines or [c.strip() for c in lines[0].split(",")][:3] != ["class", "startTime_usec", "endTime_usec"]:
        raise StimulusError(f"{path}: expected the header 'class,startTime_usec,endTime_usec'")
    rows = []
    for lineno, line in enumerate(lines[1:], 2):
        try:
            cls, start, end = (int(float(v)) for v in line.split(",")[:3])
        except ValueError:
            raise StimulusError(f"{path}:{lineno}: expected three integers, got {line!r}") from None
        if not 1 <= cls <= len(DVS_GESTURE_CLASSES) or end <= start:
            raise StimulusError(f"{path}:{lineno}: bad row {line!r} (class 1..11, end > start)")
        rows.append((cls, start, end))
    return rows


def _gesture_items(f: Path, user: int, light: str) -> list[Item]:
    """One item per labelled gesture of recording ``f`` (its ``_labels.csv`` beside it)."""
    csv_path = f.with_name(f.stem + "_labels.csv")
    if not csv_path.is_file():
        raise StimulusError(f"{csv_path}: DVS Gesture labels csv not found")
    return [
        Item(
            f,
            cls - 1,
            dict(
                id=f"{f.stem}_{k:02d}",
                user=user,
                subject=user,
                group=user,
                lighting=light,
                segment=k,
                start_us=start,
                end_us=end,
                labels_csv=str(csv_path),
                sensor_size=SENSOR_SIZE,
                file=f.name,
            ),
        )
        for k, (cls, start, end) in enumerate(read_gesture_labels(csv_path))
    ]


class DVSGesture(ClipDataset):
    """DVS128 Gesture, one item per labelled gesture (an event array).

    Parameters
    ----------
    root : path
        Folder holding ``user<NN>_<lighting>.aedat`` and the label csv files.
    users : iterable of int, optional
        Keep only these users (1..29).
    lightings : iterable of str, optional
        Keep only these lighting conditions.
    skip_bad, progress
        See :class:`~stimuli.datasets.base.ClipDataset`; a recording whose label csv
        is missing or malformed is bad.

    Notes
    -----
    Sample events have ``t`` in µs from the gesture start; ``meta`` holds
    ``start_us``/``end_us`` (absolute), ``user``, ``lighting`` and
    ``sensor_size = (128, 128, 2)``.  ``split(name)`` uses the official trial lists
    when present, else users 1-23 / 24-29.  Consecutive items of one recording share
    a one-file cache, so iterating in order decodes each recording once.
    """

    name = "dvs_gesture"
    split_names = ("train", "test")
    data_kind = "events"
    sensor_size = SENSOR_SIZE

    def __init__(
        self,
        root,
        *,
        users: int | Sequence[int] | None = None,
        lightings: str | Sequence[str] | None = None,
        skip_bad: bool = False,
        progress: bool | None = None,
    ):
        root = check_root(root, self.name)
        if not any(_FILE_RE.match(p.name) for p in root.glob("*.aedat")) and (root / "DvsGesture").is_dir():
            root = root / "DvsGesture"
        files = sorted(p for p in root.glob("*.aedat") if _FILE_RE.match(p.name))
        if not files:
            raise StimulusError(
                f"{self.name}: no recordings under {root}; expected "
                "<root>/user<NN>_<lighting>.aedat with user<NN>_<lighting>_labels.csv"
            )
        keep_users = parse_int_set(users, "users", self.name)
        keep_light = None if lightings is None else {str(v) for v in np.atleast_1d(lightings)}
        self.trial_lists = {
            s: _read_trial_list(root / f"trials_to_{s}.txt")
            for s in self.split_names
            if (root / f"trials_to_{s}.txt").is_file()
        }
        check_split_lists(f"{self.name} trial lists in {root}", self.trial_lists)
        listed = {name for names in self.trial_lists.values() for name in names}
        unknown = sorted(listed - {f.name for f in files})
        if unknown:
            raise StimulusError(
                f"{self.name}: the trial lists in {root} name recordings that are not there: "
                f"{', '.join(unknown[:5])}" + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            )
        items, bad = [], []
        for f in files:
            user, light = _FILE_RE.match(f.name).groups()
            if (keep_users is not None and int(user) not in keep_users) or (keep_light and light not in keep_light):
                continue
            try:
                items += _gesture_items(f, int(user), light)
            except StimulusError as exc:
                if not skip_bad:
                    raise
                bad.append((str(f), str(exc)))
        self._cache: tuple[str, list] | None = None
        super().__init__(items, DVS_GESTURE_CLASSES, root=root, skip_bad=skip_bad, progress=progress)
        if bad:
            self._report_bad(bad)
        if not self.items:
            raise StimulusError(f"{self.name}: no usable recordings under {root}")

    def _probe(self, item: Item) -> None:
        path = Path(item.path)
        if not path.is_file() or path.stat().st_size == 0:
            raise StimulusError(f"{path}: missing or empty recording")
        with open(path, "rb") as fh:
            if not fh.read(10).startswith(b"#!AER-DAT3"):
                raise StimulusError(f"{path}: not an AEDAT 3.x file")

    def _read(self, item: Item) -> np.ndarray:
        key = str(item.path)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, read_dvs_gesture(item.path, item.meta["labels_csv"]))
        segments = self._cache[1]
        k = item.meta["segment"]
        if k >= len(segments):
            raise StimulusError(f"{item.path}: gesture {k} not in its labels csv any more")
        events, label, _, _ = segments[k]
        if label != item.label:
            raise StimulusError(f"{item.path}: gesture {k} label changed since indexing")
        return events

    def _split_indices(self, name):
        if name in self.trial_lists:
            return self._indices_where("file", self.trial_lists[name])
        return self._indices_where("user", DVS_GESTURE_USERS[name])
