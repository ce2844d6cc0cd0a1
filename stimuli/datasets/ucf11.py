"""UCF11 / UCF YouTube Action (Liu, Luo & Shah, CVPR 2009).

Layout: ``<root>/<class>/v_<name>_<gg>/v_<name>_<gg>_<cc>.avi`` (``.mpg`` too): 11
classes, each split into 25 *groups* of clips that share actor, background or
viewpoint.  ``<name>`` is not always the class folder name (``basketball`` holds
``v_shooting_01``), so the group number is read from the trailing ``_<gg>`` of the
group folder.  Annotation folders and other files are ignored.

Protocol: clips of one group must never be split between training and testing;
the authors use leave-one-group-out cross-validation (25 folds).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from stimuli.types import StimulusError

from .base import VIDEO_EXTENSIONS, ClipDataset, Item, check_root

#: Number of groups per class in UCF11.
UCF11_N_GROUPS = 25

_GROUP_RE = re.compile(r"^v_(.+)_(\d+)$")


class UCF11(ClipDataset):
    """UCF11 YouTube actions, one item per clip.

    Parameters
    ----------
    root : path
        Folder holding ``<class>/v_<name>_<gg>/`` group folders.
    groups : iterable of int, optional
        Keep only these groups (1..25).
    size, crop, step, max_frames, skip_bad, progress
        See :class:`~stimuli.datasets.base.ClipDataset`.

    Notes
    -----
    ``split(name, fold=1, n_folds=None)``:

    * ``n_folds=None`` (default): leave-one-group-out; fold ``k`` tests group ``k``
      (1..25) and trains on all other groups.
    * ``n_folds=K``: grouped K-fold; the sorted groups are cut into ``K`` contiguous
      chunks and fold ``k`` (1..K) tests chunk ``k``.

    Either way a group is never in both train and test.
    """

    name = "ucf11"
    split_names = ("train", "test")

    def __init__(
        self,
        root,
        *,
        groups: int | Sequence[int] | None = None,
        size: tuple[int, int] | None = None,
        crop: tuple[int, int, int, int] | None = None,
        step: int = 1,
        max_frames: int | None = None,
        skip_bad: bool = False,
        progress: bool | None = None,
    ):
        root = check_root(root, self.name)
        keep = None if groups is None else {int(g) for g in np.atleast_1d(groups)}
        found: dict[str, list[tuple]] = {}
        for cdir in sorted(p for p in root.iterdir() if p.is_dir()):
            for gdir in sorted(p for p in cdir.iterdir() if p.is_dir()):
                m = _GROUP_RE.match(gdir.name)
                if not m:
                    continue
                group = int(m.group(2))
                for f in sorted(gdir.iterdir()):
                    if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS:
                        found.setdefault(cdir.name, []).append((f, group, m.group(1)))
        if not found:
            raise StimulusError(
                f"{self.name}: no clips under {root}; expected <root>/<class>/v_<name>_<gg>/v_<name>_<gg>_<cc>.avi"
            )
        classes = sorted(found)
        items = []
        for label, cname in enumerate(classes):
            for f, group, short in found[cname]:
                if keep is not None and group not in keep:
                    continue
                items.append(
                    Item(f, label, dict(id=f.stem, group=group, subject=group, class_folder=cname, group_name=short))
                )
        if not items:
            raise StimulusError(f"{self.name}: no clips under {root} in groups {sorted(keep)}")
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

    @property
    def groups(self) -> list[int]:
        """Sorted group numbers present."""
        return sorted(set(self.meta_values("group")))

    def test_groups(self, fold: int = 1, n_folds: int | None = None) -> list[int]:
        """Groups held out for testing in ``fold`` (see class Notes)."""
        groups = self.groups
        fold = int(fold)
        if n_folds is None:
            if fold not in groups:
                raise ValueError(
                    f"{self.name}: leave-one-group-out fold {fold} is not a group present (groups: {groups})"
                )
            return [fold]
        n_folds = int(n_folds)
        if not 2 <= n_folds <= len(groups):
            raise ValueError(f"{self.name}: n_folds must be in 2..{len(groups)}, got {n_folds}")
        if not 1 <= fold <= n_folds:
            raise ValueError(f"{self.name}: fold must be in 1..{n_folds}, got {fold}")
        return [int(g) for g in np.array_split(np.array(groups), n_folds)[fold - 1]]

    def _split_indices(self, name, fold: int = 1, n_folds: int | None = None):
        test = set(self.test_groups(fold, n_folds))
        if name == "test":
            return self._indices_where("group", test)
        return self._indices_where("group", set(self.groups) - test)
