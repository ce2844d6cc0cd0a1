"""Still images as one-frame clips: scikit-learn's 8x8 handwritten digits.

``get_dataset("images")`` loads ``sklearn.datasets.load_digits`` (1,797 images of the
ten digits, 8x8 pixels, grey levels 0-16, shipped with scikit-learn) as clips of one
frame ``(1, 8, 8)`` float32 in [0, 1]; an encoder presents each for its
``frame_duration`` (Poisson, TTFS or Gaussian codes).  The split is the fixed, seeded,
stratified one of ``sklearn.model_selection.train_test_split`` (``test_fraction`` 0.25,
``seed`` 0: 1,347 training and 450 test images), so every run sees the same images.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from .base import ClipDataset, Item

__all__ = ["Digits", "IMAGE_SOURCES"]

#: Image collections this dataset can load (all ship with scikit-learn).
IMAGE_SOURCES = ("digits",)


class Digits(ClipDataset):
    """The 8x8 digits of scikit-learn, one item per image.

    Parameters
    ----------
    root : None
        Not used (the images ship with scikit-learn).
    source : {"digits"}
        Which image collection.
    test_fraction : float
        Share of each class held out for testing.
    seed : int
        Seed of the stratified split.
    skip_bad, progress
        See :class:`~stimuli.datasets.base.ClipDataset`.
    """

    name = "images"
    split_names = ("train", "test")

    def __init__(
        self,
        root=None,
        *,
        source: str = "digits",
        test_fraction: float = 0.25,
        seed: int = 0,
        skip_bad: bool = False,
        progress: bool | None = None,
    ):
        if root is not None:
            raise ValueError(f"{self.name}: the images ship with scikit-learn, so no root (got {root!r})")
        if source not in IMAGE_SOURCES:
            raise ValueError(f"{self.name}: source must be one of {IMAGE_SOURCES}, got {source!r}")
        if not 0 < float(test_fraction) < 1:
            raise ValueError(f"{self.name}: test_fraction must lie in (0, 1), got {test_fraction}")
        bunch = load_digits()
        self.images = (bunch.images / 16.0).astype(np.float32)  # (n, 8, 8) in [0, 1]
        labels = bunch.target.astype(int)
        index = np.arange(len(labels))
        train, test = train_test_split(index, test_size=float(test_fraction), stratify=labels, random_state=int(seed))
        split = np.empty(len(labels), dtype=object)
        split[train], split[test] = "train", "test"
        items = [
            Item(f"digits://{k}", int(labels[k]), dict(id=f"digit{k:04d}", split=str(split[k]), index=k)) for k in index
        ]
        self.test_fraction, self.seed = float(test_fraction), int(seed)
        super().__init__(items, [str(d) for d in range(10)], root=None, skip_bad=skip_bad, progress=progress)

    def _probe(self, item: Item) -> None:
        return None

    def _read(self, item: Item) -> np.ndarray:
        return self.images[item.meta["index"]][None].copy()

    def _split_indices(self, name):
        return self._indices_where("split", {name})
