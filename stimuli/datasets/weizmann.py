"""Weizmann "Actions as Space-Time Shapes" as frame folders (Blank et al., ICCV 2005).

Layout (the shared ``data/weizmann`` folder): ``grayscale/<class>/<sequence>/imageN.jpg``
(N from 1, sorted numerically), ``index.csv`` (``class,sequence,n_frames,split,frames_dir``)
and ``split_by_sequence.json`` (``{class: {sequence: "train" | "test"}}``; the last two
sequences of each class are test).  Without ``index.csv`` the frame folders are
scanned.  Ten classes, 93 sequences, 180x144 frames at about 5.9 fps.

Sequence numbers are probably actors in alphabetical order (not verified), so the
``subject`` of an item is its sequence number and leave-one-subject-out is approximate.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from stimuli.types import StimulusError

from .base import ClipDataset, Item, check_root, frame_folder_images

#: The ten Weizmann actions.
WEIZMANN_CLASSES = ("bend", "jack", "jump", "pjump", "run", "side", "skip", "walk", "wave1", "wave2")
#: Approximate frame rate of the shared frames (one frame every 0.17 s).
WEIZMANN_FPS = 1.0 / 0.17


class Weizmann(ClipDataset):
    """Weizmann actions, one item per sequence (a frame folder).

    Parameters
    ----------
    root : path
        Folder holding ``grayscale/`` (and ideally ``index.csv``, ``split_by_sequence.json``).
    size, crop, step, max_frames, skip_bad, progress
        See :class:`~stimuli.datasets.base.ClipDataset`.

    Notes
    -----
    ``split(name)``: the split of ``split_by_sequence.json`` (else the ``split``
    column of ``index.csv``).  ``split(name, subject="03")``: leave-one-subject-out,
    ``test`` holds sequence 03 of every class and ``train`` all others.
    """

    name = "weizmann"
    split_names = ("train", "test")
    fps = WEIZMANN_FPS

    def __init__(
        self,
        root,
        *,
        size: tuple[int, int] | None = None,
        crop: tuple[int, int, int, int] | None = None,
        step: int = 1,
        max_frames: int | None = None,
        skip_bad: bool = False,
        progress: bool | None = None,
    ):
        root = check_root(root, self.name)
        gdir = root / "grayscale"
        if not gdir.is_dir():
            raise StimulusError(
                f"{self.name}: {gdir} not found; expected <root>/grayscale/<class>/<sequence>/imageN.jpg"
            )
        rows = self._index_rows(root, gdir)
        split_json = root / "split_by_sequence.json"
        official = {}
        if split_json.is_file():
            try:
                data = json.loads(split_json.read_text())
                official = {(c, str(s)): v for c, d in data.items() for s, v in d.items()}
            except (ValueError, AttributeError) as exc:
                raise StimulusError(f"{split_json}: not a {{class: {{sequence: split}}}} json ({exc})") from None
            bad = sorted(f"{c}/{s}: {v!r}" for (c, s), v in official.items() if v not in self.split_names)
            if bad:
                raise StimulusError(f"{split_json}: split must be one of {self.split_names}, got {', '.join(bad[:5])}")
        seen = {}
        for r in rows:
            key = (r["class"], r["sequence"])
            if key in seen:
                raise StimulusError(f"{self.name}: sequence {key[0]}/{key[1]} is listed twice in the index")
            seen[key] = r
            split = official.get(key, r.get("split") or None)
            if split is not None and split not in self.split_names:
                raise StimulusError(
                    f"{self.name}: sequence {key[0]}/{key[1]} has split {split!r}; expected one of {self.split_names}"
                )
        unknown = sorted(f"{c}/{s}" for c, s in official if (c, s) not in seen)
        if unknown:
            raise StimulusError(f"{split_json}: names sequences that are not in the data: {', '.join(unknown[:5])}")
        classes = sorted(
            {r["class"] for r in rows},
            key=lambda c: (WEIZMANN_CLASSES.index(c) if c in WEIZMANN_CLASSES else len(WEIZMANN_CLASSES), c),
        )
        items = []
        for r in rows:
            cls, seq = r["class"], r["sequence"]
            split = official.get((cls, seq), r.get("split") or None)
            meta = dict(id=f"{cls}_{seq}", subject=seq, sequence=seq, group=seq, official_split=split, fps=WEIZMANN_FPS)
            if r.get("n_frames"):
                try:
                    meta["n_frames"] = int(r["n_frames"])
                except ValueError:
                    raise StimulusError(
                        f"{self.name}: index row of {cls}/{seq} has n_frames {r['n_frames']!r}, not an integer"
                    ) from None
            items.append(Item(r["path"], classes.index(cls), meta))
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

    def _index_rows(self, root: Path, gdir: Path) -> list[dict]:
        index = root / "index.csv"
        rows = []
        if index.is_file():
            with open(index, newline="") as fh:
                reader = csv.DictReader(fh)
                need = {"class", "sequence", "frames_dir"}
                if not need <= set(reader.fieldnames or ()):
                    raise StimulusError(f"{index}: needs columns {sorted(need)}, has {reader.fieldnames}")
                for r in reader:
                    r["path"] = root / r["frames_dir"]
                    rows.append(r)
            if not rows:
                raise StimulusError(f"{index}: no sequences listed")
            return rows
        for cdir in sorted(p for p in gdir.iterdir() if p.is_dir()):
            for sdir in sorted(p for p in cdir.iterdir() if p.is_dir()):
                if frame_folder_images(sdir):
                    rows.append({"class": cdir.name, "sequence": sdir.name, "path": sdir})
        if not rows:
            raise StimulusError(f"{self.name}: no frame folders under {gdir}; expected <class>/<sequence>/imageN.jpg")
        return rows

    def _split_indices(self, name, subject: int | str | None = None):
        if subject is not None:
            subj = str(subject)
            subjects = set(self.meta_values("subject"))
            if subj not in subjects and subj.isdigit():
                subj = f"{int(subj):02d}"
            if subj not in subjects:
                raise ValueError(
                    f"{self.name}: subject {subject!r} not present (subjects: {', '.join(sorted(subjects))})"
                )
            return self._indices_where("subject", {subj} if name == "test" else subjects - {subj})
        if any(v is None for v in self.meta_values("official_split")):
            raise StimulusError(
                f"{self.name}: no official split for some sequences; "
                f"split_by_sequence.json or index.csv 'split' column needed "
                f"(or use split(name, subject=...))"
            )
        return self._indices_where("official_split", {name})
