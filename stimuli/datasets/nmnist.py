"""N-MNIST (Orchard et al., 2015): MNIST digits recorded by an ATIS during saccades.

Two layouts are recognised:

* full: ``<root>/Train/<digit>/<id>.bin`` and ``<root>/Test/<digit>/<id>.bin``;
* ``nmnist_small`` (slayerPytorch's subset): ``<root>/<id>.bs2`` with the lists
  ``train1K.txt`` / ``test100.txt`` (any ``train*.txt`` / ``test*.txt``): a
  ``#sample #class`` header, then ``id<TAB>label`` lines.

Events are 5-byte N-MNIST words (see :func:`stimuli.events.read_nmnist`); sensor
34x34, two polarities.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stimuli.events import event_frames, read_nmnist
from stimuli.types import StimulusError

from .base import ClipDataset, Item, check_root, check_split_lists

#: ``(width, height, polarities)`` of N-MNIST.
SENSOR_SIZE = (34, 34, 2)
DIGITS = tuple(str(d) for d in range(10))


def read_sample_list(path) -> list[tuple[str, int]]:
    """``(id, label)`` pairs of an nmnist_small list file (``#`` lines skipped)."""
    path = Path(path)
    out = []
    for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.split()
        if len(parts) != 2 or not parts[1].isdigit() or not 0 <= int(parts[1]) <= 9:
            raise StimulusError(f"{path}:{lineno}: expected '<id><TAB><digit 0-9>', got {line!r}")
        out.append((parts[0], int(parts[1])))
    if not out:
        raise StimulusError(f"{path}: no samples listed")
    return out


def _full_items(full: dict) -> list[Item]:
    """Items of the full layout: ``<split>/<digit>/<id>.bin``."""
    items = []
    for split, folder in full.items():
        for d in DIGITS:
            sub = folder / d
            if not sub.is_dir():
                continue
            for f in sorted(sub.glob("*.bin")):
                meta = dict(id=f"{split.lower()}/{d}/{f.stem}", split=split.lower(), sensor_size=SENSOR_SIZE)
                items.append(Item(f, int(d), meta))
    return items


def _list_items(root: Path, lists: dict, name: str) -> list[Item]:
    """Items of the nmnist_small layout: ``<id>.bs2`` files named by the list files."""
    listed = {split: [sid for lst in files for sid, _ in read_sample_list(lst)] for split, files in lists.items()}
    check_split_lists(f"{name} lists in {root}", listed)
    items = []
    for split, files in lists.items():
        for lst in files:
            for sid, label in read_sample_list(lst):
                f = root / f"{sid}.bs2"
                if not f.exists() and (root / f"{sid}.bin").exists():
                    f = root / f"{sid}.bin"
                meta = dict(id=f"{split}/{sid}", split=split, list_file=lst.name, sensor_size=SENSOR_SIZE)
                items.append(Item(f, label, meta))
    return items


class NMNIST(ClipDataset):
    """N-MNIST, one item per recording (an event array).

    Parameters
    ----------
    root : path
        Either layout described in the module docstring.
    frames : int or None
        None: each item is the event array.  An int: the events accumulated into
        that many grey frames ``(frames, 34, 34)`` float32 in [0, 1]
        (:func:`stimuli.events.event_frames`), for frame encoders (the ReSpike
        hybrid's key frames: the accumulated frame of a group's first bin).
    skip_bad, progress
        See :class:`~stimuli.datasets.base.ClipDataset`; a file whose size is zero or
        not a multiple of 5 bytes is bad.

    Notes
    -----
    ``split("train")`` / ``split("test")`` follow the layout (Train/Test folders or
    the two list files).  ``meta["sensor_size"] = (34, 34, 2)``.
    """

    name = "nmnist"
    data_kind = "events"
    split_names = ("train", "test")
    sensor_size = SENSOR_SIZE

    def __init__(self, root, *, frames: int | None = None, skip_bad: bool = False, progress: bool | None = None):
        if frames is not None and (isinstance(frames, bool) or not isinstance(frames, int) or frames < 1):
            raise ValueError(f"{self.name}: frames must be None or an integer >= 1, got {frames!r}")
        self.frames = frames
        if frames is not None:
            self.data_kind = "clip"
        root = check_root(root, self.name)
        full = {s: root / s for s in ("Train", "Test") if (root / s).is_dir()}
        lists = {s: sorted(root.glob(f"{s}*.txt")) for s in self.split_names}
        if full:
            self.layout, items = "full", _full_items(full)
            if not items:
                raise StimulusError(f"{self.name}: {root} has Train/Test folders but no <digit>/<id>.bin files in them")
        elif lists["train"] or lists["test"]:
            self.layout, items = "small", _list_items(root, lists, self.name)
        else:
            raise StimulusError(
                f"{self.name}: unrecognised layout in {root}; expected Train/<digit>/<id>.bin "
                "and Test/<digit>/<id>.bin, or <id>.bs2 files with train*.txt / test*.txt lists"
            )
        super().__init__(items, DIGITS, root=root, skip_bad=skip_bad, progress=progress)

    def _probe(self, item: Item) -> None:
        path = Path(item.path)
        if not path.is_file():
            raise StimulusError(f"{path}: file not found")
        size = path.stat().st_size
        if size == 0 or size % 5:
            raise StimulusError(f"{path}: size {size} bytes is not a positive multiple of 5")

    def _read(self, item: Item) -> np.ndarray:
        events = read_nmnist(item.path)
        if events.size == 0:
            raise StimulusError(f"{item.path}: no events")
        if self.frames is not None:
            return event_frames(events, self.frames, SENSOR_SIZE)
        return events

    def _split_indices(self, name):
        return self._indices_where("split", {name})
