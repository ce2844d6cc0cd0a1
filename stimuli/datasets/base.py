"""The :class:`ClipDataset` base shared by every dataset loader.

A dataset is an *index* of :class:`Item` s (source path, class index, metadata)
built once from the files on disk, plus a reader that turns one item into a
:class:`~stimuli.types.Sample` on demand.  Nothing is decoded at index time, so
building a dataset of thousands of videos takes a directory scan, not a decode.

Subclasses provide three things:

* ``__init__``: scan ``root``, build the items, call ``ClipDataset.__init__``;
* ``_split_indices(name, **protocol_options)``: the dataset's official protocol;
* optionally ``_read(item)`` (events instead of frames) and ``_probe(item)``
  (a cheap validity check used by ``skip_bad=True``).
"""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from stimuli.options import annotations_of, check_options
from stimuli.types import Sample, StimulusError
from stimuli.video import IMAGE_EXTENSIONS, list_frame_files, read_frame_folder, read_video

#: File name endings read as videos by the clip loaders.
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mpg", ".mpeg", ".mov", ".mkv", ".m4v", ".webm")
# IMAGE_EXTENSIONS (still frames inside a frame folder) comes from stimuli.video: one list


class BadFileWarning(UserWarning):
    """Issued when ``skip_bad=True`` drops unreadable files; names how many and which."""


@dataclass
class Item:
    """One entry of a dataset index.

    Attributes
    ----------
    path : pathlib.Path or str
        Video file, frame folder or event file (a pseudo path for generated data).
    label : int
        Class index into the dataset's ``classes``.
    meta : dict
        At least ``"id"``; loaders add ``"subject"``, ``"group"``, ``"scenario"``,
        ``"frames"`` (1-based inclusive frame range) and the like.
    """

    path: Path | str
    label: int
    meta: dict[str, Any] = field(default_factory=dict)


def check_root(root, dataset: str) -> Path:
    """Return ``root`` as a Path, or raise FileNotFoundError naming it."""
    if root is None:
        raise ValueError(f"{dataset}: a root folder is required")
    path = Path(root).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{dataset}: root folder not found: {path}")
    if not path.is_dir():
        raise StimulusError(f"{dataset}: root is not a folder: {path}")
    return path


def check_split_lists(source: str, lists: dict[str, list[str]]) -> None:
    """Split lists name every item once and no item in two splits.

    Parameters
    ----------
    source : str
        What the lists are (a file or a dataset name), for the message.
    lists : dict of str -> list of str
        Split name -> item names as listed.

    Raises
    ------
    StimulusError
        Naming the repeated or shared items.
    """
    seen: dict[str, str] = {}
    for split, names in lists.items():
        counts: dict[str, int] = {}
        for n in names:
            counts[n] = counts.get(n, 0) + 1
        repeated = [n for n, c in counts.items() if c > 1]
        if repeated:
            raise StimulusError(f"{source}: listed twice in the {split} split: {_few(repeated)}")
        shared = [n for n in counts if n in seen]
        if shared:
            raise StimulusError(f"{source}: in both the {seen[shared[0]]} and the {split} split: {_few(shared)}")
        seen.update(dict.fromkeys(counts, split))


def _few(names: list[str]) -> str:
    return ", ".join(map(str, names[:5])) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def parse_int_set(values, what: str, dataset: str) -> set[int] | None:
    """``None`` -> ``None``; an int or an iterable of ints (or int strings) -> set of int."""
    if values is None:
        return None
    if isinstance(values, (int, np.integer, str)):
        values = [values]
    try:
        return {int(v) for v in values}
    except (TypeError, ValueError):
        raise ValueError(f"{dataset}: {what} must be integers, got {values!r}") from None


def frame_folder_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder`` (unsorted)."""
    return [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]


class ClipDataset:
    """A labelled, lazily loaded collection of clips or event recordings.

    Parameters
    ----------
    items : sequence of Item
        The index; ``items[i].label`` indexes ``classes``.
    classes : sequence of str
        Class names, in label order.
    root : path, optional
        Where the data came from (shown by :meth:`describe`).
    size : (int, int), optional
        Resize every frame to this size, passed to the frame reader
        (:func:`stimuli.video.read_video`).
    crop : tuple, optional
        Crop box passed to the frame reader.
    step : int
        Keep every ``step``-th frame (temporal subsampling).
    max_frames : int, optional
        Keep at most this many frames (after ``step``).
    skip_bad : bool
        ``False`` (default): a bad file raises :class:`StimulusError` naming it.
        ``True``: every item is probed at index time and bad ones are dropped;
        iterating also skips items that fail to load.  Dropped files are listed in
        :attr:`bad_files` and announced by a :class:`BadFileWarning`.
    progress : bool, optional
        Show a progress bar for index probing (``None``: only on a terminal).

    Attributes
    ----------
    classes : list of str
    items : list of Item
    bad_files : list of (str, str)
        ``(path, reason)`` of every file dropped because of ``skip_bad=True``.
    split_name : str or None
        Name of the split this dataset is (``None`` for a whole dataset).
    """

    #: Short registry name, used in messages.
    name = "clips"
    #: Split names the dataset protocol knows, in display order.
    split_names: tuple[str, ...] = ("train", "test")
    #: ``"clip"`` (frames) or ``"events"``.
    data_kind = "clip"

    def __init__(
        self,
        items: Sequence[Item],
        classes: Sequence[str],
        *,
        root=None,
        size: tuple[int, int] | None = None,
        crop: tuple[int, int, int, int] | None = None,
        step: int = 1,
        max_frames: int | None = None,
        skip_bad: bool = False,
        progress: bool | None = None,
    ):
        self.classes = [str(c) for c in classes]
        self.root = Path(root) if root is not None else None
        if int(step) < 1:
            raise ValueError(f"{self.name}: step must be >= 1, got {step}")
        if max_frames is not None and int(max_frames) < 1:
            raise ValueError(f"{self.name}: max_frames must be >= 1, got {max_frames}")
        self.size = tuple(size) if size is not None else None
        self.crop = tuple(crop) if crop is not None else None
        self.step = int(step)
        self.max_frames = int(max_frames) if max_frames is not None else None
        self.skip_bad = bool(skip_bad)
        self.progress = progress
        self.split_name: str | None = None
        self.bad_files: list[tuple[str, str]] = []
        items = list(items)
        for it in items:
            if not 0 <= it.label < len(self.classes):
                raise StimulusError(f"{self.name}: label {it.label} of {it.path} outside 0..{len(self.classes) - 1}")
            it.meta.setdefault("id", Path(str(it.path)).stem)
        if self.skip_bad:
            items = self._probe_all(items)
        self.items: list[Item] = items

    # -- hooks for subclasses -------------------------------------------------------
    def _split_indices(self, name: str) -> np.ndarray:
        """Indices (into ``self.items``) of split ``name``; subclasses implement."""
        raise NotImplementedError(f"{self.name}: no split protocol defined")

    def _probe(self, item: Item) -> None:
        """Raise StimulusError if ``item`` is obviously unreadable (cheap check)."""
        path = Path(str(item.path))
        if not path.exists():
            raise StimulusError(f"{path}: file not found")
        if path.is_dir():
            if not frame_folder_images(path):
                raise StimulusError(f"{path}: frame folder holds no images")
            return
        if path.stat().st_size == 0:
            raise StimulusError(f"{path}: empty file")
        clip = read_video(path, grey=True, max_frames=1)
        if clip.shape[0] == 0:
            raise StimulusError(f"{path}: video has no frames")

    def _read(self, item: Item) -> np.ndarray:
        """Decode ``item`` into a clip ``(frames, height, width)`` float32 in [0, 1]."""
        path = Path(str(item.path))
        if not path.exists():
            raise StimulusError(f"{path}: file not found")
        listed = item.meta.get("n_frames")
        if path.is_dir() and listed is not None and len(list_frame_files(path)) != int(listed):
            raise StimulusError(
                f"{path}: {len(list_frame_files(path))} frame files, but the dataset index lists {int(listed)}"
            )
        frames = item.meta.get("frames")
        opts = dict(grey=True, size=self.size, crop=self.crop)
        reader = read_frame_folder if path.is_dir() else read_video
        if frames is None:
            clip = reader(path, step=self.step, max_frames=self.max_frames, **opts)
        else:
            # Subsequences of one video come in runs: decode the file once and slice.
            start, end = (int(f) for f in frames)
            cached = getattr(self, "_clip_cache", None)
            if cached is not None and cached[0] == str(path):
                clip = cached[1]
            else:
                clip = reader(path, step=1, **opts)
                self._clip_cache = (str(path), clip)
            if clip.shape[0] < end:  # never cut a listed range short without a word
                raise StimulusError(
                    f"{path}: frames {start}-{end} requested (dataset index of {item.meta.get('id')}) but the file "
                    f"holds {clip.shape[0]} frame(s); correct the range or skip it with skip_bad"
                )
            clip = clip[start - 1 : end : self.step].copy()  # never hand out the cache
            if self.max_frames is not None:
                clip = clip[: self.max_frames]
        if clip.ndim != 3 or clip.shape[0] == 0:
            raise StimulusError(f"{path}: no frames could be read")
        return np.ascontiguousarray(clip, dtype=np.float32)

    # -- index probing --------------------------------------------------------------
    def _probe_all(self, items: list[Item]) -> list[Item]:
        good, seen_bad = [], {}
        for it in tqdm(items, desc=f"{self.name}: checking files", unit="file", disable=self._no_bar(len(items))):
            key = str(it.path)
            if key in seen_bad:
                continue
            try:
                self._probe(it)
            except (StimulusError, OSError) as exc:
                seen_bad[key] = str(exc)
                continue
            good.append(it)
        # Items whose file failed earlier share the verdict (several items per file).
        good = [it for it in good if str(it.path) not in seen_bad]
        self._report_bad(list(seen_bad.items()))
        return good

    def _no_bar(self, n: int) -> bool | None:
        if self.progress is None:
            return None if n > 50 else True
        return not self.progress

    def _report_bad(self, bad: list[tuple[str, str]]) -> None:
        if not bad:
            return
        self.bad_files.extend(bad)
        shown = "; ".join(f"{p} ({r})" for p, r in bad[:5])
        more = f"; and {len(bad) - 5} more (see .bad_files)" if len(bad) > 5 else ""
        warnings.warn(f"{self.name}: skipped {len(bad)} bad file(s): {shown}{more}", BadFileWarning, stacklevel=3)

    # -- container protocol ---------------------------------------------------------
    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i) -> Sample:
        """Load item ``i`` (an int, negative allowed) as a :class:`Sample`."""
        if not isinstance(i, (int, np.integer)):
            raise TypeError(
                f"{self.name}: index must be an int, got {type(i).__name__}; use .subset(indices) for several items"
            )
        n = len(self.items)
        if not -n <= i < n:
            raise IndexError(f"{self.name}: index {i} out of range for {n} items")
        item = self.items[int(i)]
        data = self._read(item)
        meta = dict(item.meta)
        meta["path"] = str(item.path)
        meta.setdefault("dataset", self.name)
        meta.setdefault("class_name", self.classes[item.label])
        return Sample(data=data, label=int(item.label), meta=meta)

    def __iter__(self) -> Iterator[Sample]:
        """Yield every sample.

        With ``skip_bad=True`` unloadable items are skipped (and added to
        :attr:`bad_files` with a warning once iteration ends).
        """
        bad = []
        for i in range(len(self)):
            if not self.skip_bad:
                yield self[i]
                continue
            try:
                sample = self[i]
            except (StimulusError, OSError) as exc:
                bad.append((str(self.items[i].path), str(exc)))
                continue
            yield sample
        self._report_bad(bad)

    @property
    def labels(self) -> np.ndarray:
        """Class index of every item, shape ``(len(self),)``, int64."""
        return np.array([it.label for it in self.items], dtype=np.int64)

    @property
    def ids(self) -> list[str]:
        """Stable string id of every item."""
        return [str(it.meta["id"]) for it in self.items]

    def meta_values(self, key: str) -> list:
        """``item.meta[key]`` for every item (``None`` where absent)."""
        return [it.meta.get(key) for it in self.items]

    # -- subsets and splits ---------------------------------------------------------
    def subset(self, indices) -> ClipDataset:
        """A dataset of the same type holding ``items[indices]`` (shares settings)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self.items)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"{self.name}: subset index out of range for {n} items")
        new = copy.copy(self)
        new.items = [self.items[int(i)] for i in idx]
        new.bad_files = list(self.bad_files)
        return new

    def split_options(self) -> list[str]:
        """Names of the protocol options :meth:`split` accepts."""
        sig = inspect.signature(self._split_indices)
        return [p for p in list(sig.parameters)[1:]]

    def split(self, name: str = "train", **protocol_options) -> ClipDataset:
        """The subset ``name`` (e.g. ``"train"``, ``"val"``, ``"test"``) of the official protocol.

        ``protocol_options`` select a fold or variant (see the subclass docstring).
        Unknown names or options raise ValueError.
        """
        name = str(name).lower()
        if name == "validation":
            name = "val"
        if name not in self.split_names:
            raise ValueError(f"{self.name}: unknown split {name!r}; known: {', '.join(self.split_names)}")
        allowed = self.split_options()
        unknown = sorted(set(protocol_options) - set(allowed))
        if unknown:
            raise ValueError(
                f"{self.name}: unknown split option(s) {', '.join(unknown)}; known: {', '.join(allowed) or 'none'}"
            )
        check_options(self.name, protocol_options, annotations_of(self._split_indices), "split option")
        idx = np.asarray(self._split_indices(name, **protocol_options), dtype=np.int64)
        new = self.subset(np.sort(idx))
        new.split_name = name
        return new

    def _indices_where(self, key: str, values) -> np.ndarray:
        values = set(values)
        return np.array([i for i, it in enumerate(self.items) if it.meta.get(key) in values], dtype=np.int64)

    # -- reporting ------------------------------------------------------------------
    def class_counts(self) -> np.ndarray:
        """Number of items per class, shape ``(n_classes,)``."""
        return np.bincount(self.labels, minlength=len(self.classes))

    def describe(self) -> str:
        """Short text: size, items per class and per split of the default protocol."""
        labels = self.labels
        columns = {"all": labels}
        if self.split_name is None:
            for s in self.split_names:
                try:
                    idx = self._split_indices(s)
                except (ValueError, StimulusError, FileNotFoundError):
                    continue
                columns[s] = labels[np.asarray(idx, dtype=np.int64)]
        kind = "recordings" if self.data_kind == "events" else "clips"
        head = f"{self.name}"
        if self.split_name:
            head += f" [{self.split_name}]"
        head += f": {len(self)} {kind}, {len(self.classes)} classes"
        if self.root is not None:
            head += f", root {self.root}"
        width = max([5] + [len(c) for c in self.classes])
        lines = [head, f"  {'class':<{width}} " + " ".join(f"{c:>6}" for c in columns)]
        counts = {c: np.bincount(v, minlength=len(self.classes)) for c, v in columns.items()}
        for k, cname in enumerate(self.classes):
            lines.append(f"  {cname:<{width}} " + " ".join(f"{counts[c][k]:>6d}" for c in columns))
        lines.append(f"  {'total':<{width}} " + " ".join(f"{len(v):>6d}" for v in columns.values()))
        if self.bad_files:
            lines.append(
                f"  skipped {len(self.bad_files)} bad file(s): "
                + ", ".join(p for p, _ in self.bad_files[:5])
                + (" ..." if len(self.bad_files) > 5 else "")
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        split = f", split={self.split_name!r}" if self.split_name else ""
        return (
            f"{type(self).__name__}(n={len(self)}, classes={len(self.classes)}"
            f"{split}, root={str(self.root) if self.root else None!r})"
        )
