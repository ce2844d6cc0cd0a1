"""A generic folder of clips: ``<root>/<class>/<clip>``.

A clip is a video file or a folder of frames.  Classes are the sorted subfolder names.
"""

from __future__ import annotations

import os

import numpy as np

from stimuli.types import StimulusError

from .base import VIDEO_EXTENSIONS, ClipDataset, Item, check_root, frame_folder_images


class ClipFolder(ClipDataset):
    """One subfolder per class holding videos and/or frame folders.

    Parameters
    ----------
    root : path
        ``<root>/<class>/<clip>.avi`` or ``<root>/<class>/<clip>/<frames>.jpg``.
    size, crop, step, max_frames, skip_bad, progress
        See :class:`~stimuli.datasets.base.ClipDataset`.

    Notes
    -----
    ``split(name, test_fraction=0.25, val_fraction=0.0, seed=0)`` is a seeded
    stratified split: within each class the clips are shuffled with ``seed`` and
    ``round(n * test_fraction)`` go to ``test``, the next ``round(n * val_fraction)``
    to ``val``, the rest (at least one) to ``train``.  The same arguments always
    give the same partition.
    """

    name = "folder"
    split_names = ("train", "val", "test")

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
        found: dict[str, list] = {}
        broken: list[tuple[str, str]] = []
        for cdir in sorted(p for p in root.iterdir() if p.is_dir()):
            for p in sorted(cdir.iterdir()):
                if p.is_symlink() and not p.exists():
                    broken.append((str(p), f"broken link (its target {os.readlink(p)} does not exist)"))
                    if not skip_bad:
                        raise StimulusError(f"{p}: broken link (its target {os.readlink(p)} does not exist)")
                elif p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS:
                    found.setdefault(cdir.name, []).append(p)
                elif p.is_dir() and frame_folder_images(p):
                    found.setdefault(cdir.name, []).append(p)
        if not found:
            raise StimulusError(
                f"{self.name}: no clips under {root}; expected "
                "<root>/<class>/<clip>.avi or <root>/<class>/<clip>/<frames>.jpg"
            )
        classes = sorted(found)
        items = [
            Item(p, k, dict(id=f"{c}/{p.stem if p.is_file() else p.name}", subject=None))
            for k, c in enumerate(classes)
            for p in found[c]
        ]
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
        self._report_bad(broken)

    def _split_indices(self, name, test_fraction: float = 0.25, val_fraction: float = 0.0, seed: int = 0):
        test_fraction, val_fraction = float(test_fraction), float(val_fraction)
        if not (0 <= test_fraction < 1 and 0 <= val_fraction < 1 and test_fraction + val_fraction < 1):
            raise ValueError(
                f"{self.name}: need 0 <= test_fraction, val_fraction and "
                f"test_fraction + val_fraction < 1, got {test_fraction}, {val_fraction}"
            )
        rng = np.random.default_rng(seed)
        labels = self.labels
        out = []
        for k in range(len(self.classes)):
            members = np.flatnonzero(labels == k)
            members = members[rng.permutation(members.size)]
            n = members.size
            n_test = min(int(round(n * test_fraction)), max(n - 1, 0))
            n_val = min(int(round(n * val_fraction)), max(n - 1 - n_test, 0))
            parts = {
                "test": members[:n_test],
                "val": members[n_test : n_test + n_val],
                "train": members[n_test + n_val :],
            }
            out.append(parts[name])
        return np.concatenate(out) if out else np.array([], dtype=np.int64)
