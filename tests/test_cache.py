"""Stimulus cache: hits and misses, keys that change with data, file and parameters, atomic writes."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import stimuli.cache as cache_mod
from stimuli.cache import StimulusCache
from stimuli.encoders import PoissonEncoder, ResidualEncoder, TTFSEncoder
from stimuli.types import Sample


def clip_sample(seed=0, sid="a", path=None, label=1):
    clip = np.random.default_rng(seed).random((3, 6, 5)).astype(np.float32)
    meta = {"id": sid}
    if path is not None:
        meta["path"] = str(path)
    return Sample(clip, label, meta)


def same(a, b):
    return (
        np.array_equal(a.indices, b.indices)
        and np.array_equal(a.steps, b.steps)
        and a.n_channels == b.n_channels
        and a.n_steps == b.n_steps
        and a.dt == b.dt
    )


def test_miss_then_hit_returns_identical_stimulus(tmp_path):
    cache = StimulusCache(tmp_path / "c")
    sample, enc = clip_sample(), PoissonEncoder(seed=5)
    first = cache.get_or_encode(sample, enc)
    assert (cache.hits, cache.misses) == (0, 1)
    assert cache.path_for(cache.key(sample, enc)).is_file()
    second = cache.get_or_encode(sample, enc)
    assert (cache.hits, cache.misses) == (1, 1)
    assert same(first, second) and same(first, enc(sample.data, meta=sample.meta))
    assert second.label == 1 and second.meta["encoder"] == "poisson" and second.meta["id"] == "a"
    # the label is not part of the key: a relabelled sample gets its own label back
    relabelled = Sample(sample.data, 7, sample.meta)
    assert cache.get_or_encode(relabelled, enc).label == 7 and cache.hits == 2


def test_changed_parameter_or_encoder_never_reuses_entry(tmp_path):
    cache = StimulusCache(tmp_path)
    sample = clip_sample()
    base = cache.get_or_encode(sample, PoissonEncoder(max_rate=100.0))
    other = cache.get_or_encode(sample, PoissonEncoder(max_rate=300.0))
    assert cache.misses == 2 and cache.hits == 0
    assert other.n_spikes > base.n_spikes  # really encoded with the new rate
    cache.get_or_encode(sample, TTFSEncoder())
    cache.get_or_encode(sample, ResidualEncoder(stride=2, inner=TTFSEncoder()))
    cache.get_or_encode(sample, ResidualEncoder(stride=2, inner=TTFSEncoder(threshold=0.1)))
    assert cache.misses == 5 and cache.hits == 0
    keys = {cache.key(sample, e) for e in (PoissonEncoder(), PoissonEncoder(seed=1), PoissonEncoder(dt=2.0))}
    assert len(keys) == 3


def test_key_follows_file_identity_id_and_data(tmp_path):
    cache = StimulusCache(tmp_path / "c")
    src = tmp_path / "clip.avi"
    src.write_bytes(b"0" * 100)
    enc = TTFSEncoder()
    sample = clip_sample(path=src)
    k0 = cache.key(sample, enc)
    assert cache.key(clip_sample(path=src), enc) == k0  # deterministic
    assert cache.key(clip_sample(path=src, sid="b"), enc) != k0  # id
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    k1 = cache.key(sample, enc)
    assert k1 != k0  # mtime
    src.write_bytes(b"0" * 101)
    assert cache.key(sample, enc) not in (k0, k1)  # size
    # in-memory samples: the data bytes decide
    assert cache.key(clip_sample(seed=1), enc) != cache.key(clip_sample(seed=2), enc)
    # same file read with other options: caught by the data digest (default) ...
    a, b = clip_sample(seed=1, path=src), clip_sample(seed=2, path=src)
    assert cache.key(a, enc) != cache.key(b, enc)
    # ... and not without it (documented trade-off)
    fast = StimulusCache(tmp_path / "c", hash_data=False)
    assert fast.key(a, enc) == fast.key(b, enc)


def test_frame_folder_identity(tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    (folder / "image1.png").write_bytes(b"x" * 10)
    cache = StimulusCache(tmp_path / "c", hash_data=False)
    sample = clip_sample(path=folder)
    k0 = cache.key(sample, TTFSEncoder())
    (folder / "image1.png").write_bytes(b"x" * 11)  # a frame changed inside the folder
    assert cache.key(sample, TTFSEncoder()) != k0


def test_write_is_atomic(tmp_path, monkeypatch):
    cache = StimulusCache(tmp_path)
    sample, enc = clip_sample(), PoissonEncoder()
    path = cache.path_for(cache.key(sample, enc))

    def crash(src, dst):
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(cache_mod.os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        cache.get_or_encode(sample, enc)
    assert not path.exists()  # never a partial entry under the final name
    assert list(path.parent.iterdir()) == []  # temporary file cleaned up
    monkeypatch.undo()
    cache.get_or_encode(sample, enc)
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == [path.name]


def test_corrupt_entry_is_reencoded(tmp_path):
    cache = StimulusCache(tmp_path)
    sample, enc = clip_sample(), PoissonEncoder(seed=2)
    good = cache.get_or_encode(sample, enc)
    path = cache.path_for(cache.key(sample, enc))
    path.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.warns(RuntimeWarning, match="corrupt"):
        again = cache.get_or_encode(sample, enc)
    assert same(again, good) and cache.repairs == 1 and cache.misses == 2
    assert same(cache.get_or_encode(sample, enc), good) and cache.hits == 1  # rewritten entry is valid
    # an entry holding another key (e.g. a copied file) is not trusted either
    other = clip_sample(seed=9, sid="z")
    cache.get_or_encode(other, enc)
    shutil.copy(cache.path_for(cache.key(other, enc)), path)
    with pytest.warns(RuntimeWarning, match="key"):
        assert same(cache.get_or_encode(sample, enc), good)
    path.write_bytes(b"")  # truncated to nothing
    with pytest.warns(RuntimeWarning):
        assert same(cache.get_or_encode(sample, enc), good)


def test_meta_arrays_survive(tmp_path):
    cache = StimulusCache(tmp_path)
    sample = clip_sample()
    enc = ResidualEncoder(stride=2, inner=TTFSEncoder())
    first = cache.get_or_encode(sample, enc)
    loaded = cache.get_or_encode(sample, enc)
    assert cache.hits == 1
    np.testing.assert_array_equal(loaded.meta["key_frames"], sample.data[::2])
    np.testing.assert_array_equal(loaded.meta["key_frames"], first.meta["key_frames"])
    assert loaded.meta["stride"] == 2 and loaded.meta["encoder_params"] == enc.params()
