"""UCF101 (Soomro, Zamir & Shah, 2012).

Layout: videos ``<root>/<Class>/v_<Class>_gGG_cCC.avi`` (or under ``<root>/UCF-101/``)
and the official split lists in ``<root>/ucfTrainTestlist/`` (or a folder given as
``splits_dir``):

* ``classInd.txt``: ``1 ApplyEyeMakeup`` (1-based class numbers);
* ``trainlist0N.txt``: ``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1``;
* ``testlist0N.txt``: ``ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi`` (no label);

for the three splits N = 1, 2, 3 (groups 1-7, 8-14, 15-21 are the test groups).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from stimuli.types import StimulusError

from .base import VIDEO_EXTENSIONS, ClipDataset, Item, check_root

_CLIP_RE = re.compile(r"^v_(.+)_g(\d+)_c(\d+)$", re.IGNORECASE)


def read_class_index(path) -> list[str]:
    """Class names from ``classInd.txt``, in label order (number 1 -> label 0)."""
    path = Path(path)
    pairs = []
    for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[0].isdigit():
            raise StimulusError(f"{path}:{lineno}: expected '<number> <ClassName>', got {line!r}")
        pairs.append((int(parts[0]), parts[1]))
    numbers = sorted(n for n, _ in pairs)
    if not pairs or numbers != list(range(1, len(pairs) + 1)):
        raise StimulusError(f"{path}: class numbers must run 1..N without gaps")
    return [c for _, c in sorted(pairs)]


def read_split_list(path) -> list[tuple[str, int | None]]:
    """``(relative_path, class_number or None)`` for each line of a train/test list."""
    path = Path(path)
    out = []
    for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
            raise StimulusError(f"{path}:{lineno}: expected '<Class>/<file>.avi [number]', got {line!r}")
        out.append((parts[0].replace("\\", "/"), int(parts[1]) if len(parts) == 2 else None))
    return out


class UCF101(ClipDataset):
    """UCF101, one item per video found under the root.

    Parameters
    ----------
    root : path
        Folder holding the class folders (directly or in ``UCF-101/``).
    splits_dir : path, optional
        Folder holding ``classInd.txt`` and the lists (default
        ``<root>/ucfTrainTestlist``, then ``<root>``).
    size, crop, step, max_frames, skip_bad, progress
        See :class:`~stimuli.datasets.base.ClipDataset`.

    Notes
    -----
    ``split(name, fold=1)`` returns the videos of ``trainlist0{fold}.txt`` or
    ``testlist0{fold}.txt`` that exist under the root; listed videos that are
    absent are counted in a warning.  A train-list label that disagrees with
    ``classInd.txt`` raises StimulusError.
    """

    name = "ucf101"
    split_names = ("train", "test")

    def __init__(
        self,
        root,
        *,
        splits_dir=None,
        size: tuple[int, int] | None = None,
        crop: tuple[int, int, int, int] | None = None,
        step: int = 1,
        max_frames: int | None = None,
        skip_bad: bool = False,
        progress: bool | None = None,
    ):
        root = check_root(root, self.name)
        if splits_dir is not None:
            sdir = Path(splits_dir)
            if not (sdir / "classInd.txt").is_file():
                raise FileNotFoundError(f"{self.name}: classInd.txt not found in {sdir}")
        else:
            cands = [root / "ucfTrainTestlist", root, root.parent / "ucfTrainTestlist"]
            sdir = next((c for c in cands if (c / "classInd.txt").is_file()), None)
            if sdir is None:
                raise StimulusError(
                    f"{self.name}: classInd.txt not found; expected "
                    f"{root / 'ucfTrainTestlist' / 'classInd.txt'} (or pass splits_dir=)"
                )
        self.splits_dir = sdir
        classes = read_class_index(sdir / "classInd.txt")
        video_root = root / "UCF-101" if (root / "UCF-101").is_dir() else root
        self.video_root = video_root
        lookup = {c.lower(): k for k, c in enumerate(classes)}
        items = []
        for cdir in sorted(p for p in video_root.iterdir() if p.is_dir()):
            label = lookup.get(cdir.name.lower())
            if label is None:
                continue
            for f in sorted(cdir.iterdir()):
                if not (f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS):
                    continue
                m = _CLIP_RE.match(f.stem)
                group, clip = (int(m.group(2)), int(m.group(3))) if m else (None, None)
                items.append(
                    Item(
                        f,
                        label,
                        dict(id=f.stem, group=group, subject=group, clip=clip, relpath=f"{cdir.name}/{f.name}"),
                    )
                )
        if not items:
            raise StimulusError(
                f"{self.name}: no videos under {video_root}; expected "
                "<root>/<Class>/v_<Class>_gGG_cCC.avi with <Class> from classInd.txt"
            )
        super().__init__(
            items,
            classes,
            root=root,
            size=size,
            crop=crop,
            step=step,
            max_frames=max_frames,
            skip_bad=skip_bad,
            progress=progress,
        )

    def _split_indices(self, name, fold: int = 1):
        fold = int(fold)
        if fold not in (1, 2, 3):
            raise ValueError(f"{self.name}: fold must be 1, 2 or 3, got {fold}")
        lst = self.splits_dir / f"{name}list{fold:02d}.txt"
        if not lst.is_file():
            raise FileNotFoundError(f"{self.name}: split list not found: {lst}")
        where = {it.meta["relpath"].lower(): i for i, it in enumerate(self.items)}
        idx, missing = [], 0
        for rel, number in read_split_list(lst):
            i = where.get(rel.lower())
            if i is None:
                missing += 1
                continue
            if number is not None and number - 1 != self.items[i].label:
                raise StimulusError(
                    f"{lst}: {rel} labelled {number} but classInd.txt gives "
                    f"{self.items[i].label + 1} ({self.classes[self.items[i].label]})"
                )
            idx.append(i)
        self.missing_listed = missing
        if missing and self.split_name is None:
            warnings.warn(
                f"{self.name}: {missing} video(s) listed in {lst} are not under "
                f"{self.video_root} (or not in this subset)",
                stacklevel=3,
            )
        return np.array(idx, dtype=np.int64)
